#!/usr/bin/env bash
# benches/metrics_cost.sh: what --metrics costs per request. Two ferry
# servers run side by side for the whole run (an idle one costs nothing),
# one with `--metrics` and one without, both `--workers 1`; `ferry bench`
# drives 4 KiB GETs at each in turn (order rotated every repetition) and
# the server's CPU time per request is utime+stime from /proc/<pid>/stat
# over the run, divided by the requests. Medians over the repetitions, and
# the median of the paired ratios (with / without).
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/metrics_cost.sh [--reps N] [--seconds S] [--connections C]
#                           [--base PATH]
#
# The counters are always kept (--metrics only adds the listener), so the
# cost of counting shows against a build without them: --base names such a
# binary (e.g. main's before metrics) for the server without --metrics.
#
# FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh. The root is on /dev/shm
# where writable. Bounded in time; servers and files are removed on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=metrics_cost.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

cost_defaults
while [[ $# -gt 0 ]]; do
  cost_option "$1" "${2-}" && { shift 2; continue; }
  case $1 in
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

CLK_TCK=$(getconf CLK_TCK)
TMP_BASE=/tmp
[[ -w /dev/shm ]] && TMP_BASE=/dev/shm
WORK=$(mktemp -d "$TMP_BASE/ferry-metrics-cost.XXXXXX")
clean_up_at_exit
find_ferry

start_server plain "${BASE:-$FERRY}" "$WORK/plain.log" --log-level warn
start_server metrics "$FERRY" "$WORK/metrics.log" --log-level warn --metrics 127.0.0.1:0
METRICS_PORT=$(port_of METRICS "$SERVED_metrics")

declare -A CPU
run() { # name: one bench run, appends the CPU µs per request to CPU[name]
  local name=$1 pid port before after out=$WORK/$1.json ops
  pid=PID_$name port=PORT_$name
  before=$(cpu_ticks "${!pid}")
  timeout $((SECS + 60)) "$FERRY" bench --server "127.0.0.1:${!port}" --op get --size 4K \
    --connections "$CONNS" --duration "$SECS" --json >"$out"
  after=$(cpu_ticks "${!pid}")
  ops=$(jget "$out" ops)
  CPU[$name]+="$(calc "($after - $before) * 1e6 / $CLK_TCK / $ops" 2) "
  say "$name: $(jget "$out" ops_per_sec) requests/s, errors $(jget "$out" errors)"
}
for ((rep = 0; rep < REPS; rep++)); do
  if ((rep % 2)); then run metrics; run plain; else run plain; run metrics; fi
done

read -ra WITH <<<"${CPU[metrics]}"
read -ra WITHOUT <<<"${CPU[plain]}"
scrape=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$METRICS_PORT/metrics').read().decode())")
gets=$(grep '^ferry_requests_total{operation="get",outcome="ok"}' <<<"$scrape" | awk '{print $2}')
echo
echo "4 KiB GETs, $CONNS connections, ${SECS}s x $REPS, --workers 1 (server CPU per request, µs)"
echo "| | median [min–max] |"
echo "|---|---|"
echo "| without --metrics${BASE:+ ($BASE)} | $(spread 2 "${WITHOUT[@]}") |"
echo "| with --metrics | $(spread 2 "${WITH[@]}") |"
echo "| with / without (paired) | ×$(paired WITH WITHOUT) |"
echo
echo "GETs counted by the metrics server: $gets"
