#!/usr/bin/env bash
# benches/callgrind.sh: the server's instructions per 4 KiB request, exact
# enough to compare two builds (valgrind's callgrind counts instructions,
# not time, so a shared or busy machine does not move it).
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
# For each of FERRY/1 GET, FERRY/1 PUT, HTTP GET and HTTP PUT, `ferry serve
# --workers 1` runs under callgrind twice: once serving N requests of a
# 4 KiB file on one keep-alive connection, once 2N. The difference of the
# two totals over N is what one more request costs, start-up and shutdown
# cancelled out.
#
#   benches/callgrind.sh [--requests N] [--base PATH] [--serve-args 'ARGS'] [--tls]
#
# --base PATH: measure that binary too (e.g. a release build of main before
# a change) and print the ratio. The difference of two runs still moves by
# a few per cent from run to run (threads beside the loop: the pool, the
# checksum threads, the log): with 200 requests a binary measured against
# itself read 0.98 to 1.05; take the median of three runs at the default
# 1000 before judging a change of a few per cent. FERRY_BIN, CARGO_TARGET_DIR: as for
# compare.sh. Needs valgrind (installed with apt-get where missing, as
# root). Bounded in time; servers and files are removed on exit.
#
# --tls: the same requests over TLS (`ferry cert`'s certificate, the
# client trusting it), for what a change to TLS's reading or sealing
# costs per request (the handshake is one per run, so cancelled out).
#
# --serve-args 'ARGS': more flags for every `ferry serve` measured (split
# on spaces), e.g. '--quota bench/=1T' for what quota accounting costs
# (benches/notes/quota.md, issue 52).

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=callgrind.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REQUESTS=1000 BASE= SERVE_ARGS= TLS=
while [[ $# -gt 0 ]]; do
  case $1 in
    --requests) REQUESTS=${2:?}; shift ;;
    --serve-args) SERVE_ARGS=${2:?}; shift ;;
    --base) BASE=${2:?}; shift ;;
    --tls) TLS=1 ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

install_missing valgrind
WORK=$(mktemp -d /tmp/ferry-callgrind.XXXXXX)
clean_up_at_exit 1800
find_ferry
head -c 4096 /dev/urandom >"$WORK/body"
TLS_SERVE=() TLS_CLIENT=()
if [[ -n $TLS ]]; then
  (cd "$WORK" && "$FERRY" cert localhost 127.0.0.1 2>/dev/null)
  TLS_SERVE=(--tls-cert "$WORK/ferry-cert.pem" --tls-key "$WORK/ferry-key.pem")
  TLS_CLIENT=(--ca "$WORK/ferry-cert.pem")
fi

# total <binary> <proto> <op> <count>: instructions of one server run.
total() {
  local binary=$1 proto=$2 op=$3 count=$4 out=$WORK/callgrind.out pid port
  rm -rf "$WORK/root" && mkdir -p "$WORK/root/bench"
  cp "$WORK/body" "$WORK/root/bench/4k"
  launch pid "$WORK/server.log" \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" serve \
    --root "$WORK/root" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
    --workers 1 --no-access-log $(no_fsync "$binary") "${TLS_SERVE[@]}" $SERVE_ARGS
  PIDS+=("$pid")
  port=$(port_of FERRY "$SERVED")
  [[ $proto == http ]] && port=$(port_of HTTP "$SERVED")
  python3 "$SCRIPT_DIR/compare_client.py" xfer --proto "$proto" --op "$op" --port "$port" \
    --name bench/4k --file "$WORK/body" --count "$count" "${TLS_CLIENT[@]}" >/dev/null
  stop_pid "$pid" TERM
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

# per_request <binary> <proto> <op>: instructions one more request costs.
per_request() {
  local one two
  one=$(total "$1" "$2" "$3" "$REQUESTS")
  two=$(total "$1" "$2" "$3" $((REQUESTS * 2)))
  echo $(((two - one) / REQUESTS))
}

printf '%-12s %14s' "request" "instructions"
[[ -n $BASE ]] && printf ' %14s %8s' "base" "ratio"
printf '\n'
for proto in ferry http; do
  for op in get put; do
    say "$proto $op"
    now=$(per_request "$FERRY" "$proto" "$op")
    printf '%-12s %14s' "$proto-$op" "$now"
    if [[ -n $BASE ]]; then
      base=$(per_request "$BASE" "$proto" "$op")
      printf ' %14s %8s' "$base" "$(calc "$now / $base" 3)"
    fi
    printf '\n'
  done
done
