#!/usr/bin/env bash
# benches/log_cost.sh: what the access log costs. ferry servers run side
# by side for the whole run (an idle one costs nothing), all `--workers 1`:
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   off    --no-access-log
#   text   the access log, text, to a file
#   json   the access log, JSON, to a file
#   base   with --base PATH: that binary as it logs by default (e.g. main
#          before the access log, whose info level wrote a line per request
#          with one system call each), its stderr to a file
#
# `ferry bench` drives 4 KiB GETs at each in turn (order rotated every
# repetition). Requests/s, and the server's CPU time per request
# (utime+stime from /proc/<pid>/stat over the run, divided by the
# requests), both as medians, and the paired ratios against `off`.
#
#   benches/log_cost.sh [--reps N] [--seconds S] [--connections C]
#                       [--base PATH] [--dir DIR]
#
# The logs are written to --dir (default: a directory under /var/tmp, on
# disk: the point is the write), the roots are on /dev/shm where writable.
# FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh. Bounded in time; servers
# and files are removed on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=log_cost.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

LOG_DIR=
cost_defaults
while [[ $# -gt 0 ]]; do
  cost_option "$1" "${2-}" && { shift 2; continue; }
  case $1 in
    --dir) LOG_DIR=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

CLK_TCK=$(getconf CLK_TCK)
TMP_BASE=/tmp
[[ -w /dev/shm ]] && TMP_BASE=/dev/shm
WORK=$(mktemp -d "$TMP_BASE/ferry-log-cost.XXXXXX")
LOGS=$(mktemp -d "${LOG_DIR:-/var/tmp}/ferry-log-cost.XXXXXX")
release() { rm -rf -- "$LOGS"; } # at exit (lib.sh's cleanup), WORK too
clean_up_at_exit $((REPS * 4 * (SECS + 20) + 120))
find_ferry

# Each server's stderr goes to $LOGS/<name>.stderr.
CASES=(off text json)
start_server off "$FERRY" "$LOGS/off.stderr" --no-access-log
start_server text "$FERRY" "$LOGS/text.stderr" --log-file "$LOGS/text.log"
start_server json "$FERRY" "$LOGS/json.stderr" --log-format json --log-file "$LOGS/json.log"
if [[ -n $BASE ]]; then
  CASES+=(base)
  start_server base "$BASE" "$LOGS/base.stderr"
fi

declare -A CPU RATE
run() { # name: one bench run; appends CPU µs per request and requests/s
  local name=$1 pid port before after out=$WORK/$1.json ops
  pid=PID_$name port=PORT_$name
  before=$(cpu_ticks "${!pid}")
  timeout $((SECS + 60)) "$FERRY" bench --server "127.0.0.1:${!port}" --op get --size 4K \
    --connections "$CONNS" --duration "$SECS" --json >"$out"
  after=$(cpu_ticks "${!pid}")
  ops=$(jget "$out" ops)
  CPU[$name]+="$(calc "($after - $before) * 1e6 / $CLK_TCK / $ops" 2) "
  RATE[$name]+="$(jget "$out" ops_per_sec) "
  say "$name: $(jget "$out" ops_per_sec) requests/s, errors $(jget "$out" errors)"
}
for ((rep = 0; rep < REPS; rep++)); do
  n=${#CASES[@]}
  for ((i = 0; i < n; i++)); do run "${CASES[(rep + i) % n]}"; done
done
stop_watchdog

read -ra OFF_CPU <<<"${CPU[off]}"
read -ra OFF_RATE <<<"${RATE[off]}"
echo
echo "4 KiB GETs, $CONNS connections, ${SECS}s x $REPS, --workers 1; logs on $(df --output=source "$LOGS" | tail -n 1)"
echo "| log | requests/s, median [min–max] | server CPU per request, µs | CPU / off (paired) | requests/s / off (paired) |"
echo "|---|---|---|---|---|"
for name in "${CASES[@]}"; do
  read -ra C <<<"${CPU[$name]}"
  read -ra R <<<"${RATE[$name]}"
  echo "| $name | $(spread 0 "${R[@]}") | $(spread 2 "${C[@]}") | ×$(paired C OFF_CPU) | ×$(paired R OFF_RATE) |"
done
echo
for name in text json; do
  say "$name: $(wc -l <"$LOGS/$name.log") lines, $(du -h "$LOGS/$name.log" | cut -f1)"
done
[[ -n $BASE ]] && say "base: $(wc -l <"$LOGS/base.stderr") lines on stderr"
exit 0
