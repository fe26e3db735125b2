#!/usr/bin/env bash
# benches/put_cpu.sh: a PUT's server CPU per GiB against the bare
# recv+write loop (benches/put_sink.c), issue 34. The root is a tmpfs
# mounted for the run (as root; else /dev/shm), where a write never waits
# on a device, so what is left is the receive path's own cost per byte.
# One `ferry serve --workers 1` per --pool-writes mode and the sink run
# side by side; each repetition uploads SIZE bytes (default 1 GiB) once to
# each, in turn, with curl -T (HTTP) and with benches/compare_client.py
# (FERRY/1, sendfile from the page cache), and reads the server's
# utime+stime (/proc/PID/stat, all its threads) before and after. The
# sink takes both curl's upload and the same Python client's (an HTTP PUT
# it sends the same way, `sendfile`): a receiver's cost per byte moves
# with how its sender sends, so each ferry row is compared with the sink
# row of the same sender ("× sink"). Then
# one counting pass per server and client under `strace -c -f` (slower,
# so only the counts are kept): system calls, writes and futex calls per
# GiB. Prints a table of medians.
#
#   benches/put_cpu.sh [--reps N] [--size BYTES] [--modes 'auto always never']
#                      [--baseline BIN] [--sink-offset N]
#
# --baseline BIN adds a ferry built before a change (one per mode), so
# that before and after are measured in one interleaved run;
# --sink-offset N adds a second sink whose buffer starts N bytes past a
# page boundary (16: where glibc puts a large heap buffer).
#
# FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh. Needs curl, a C
# compiler and strace (installed from Debian if missing, as root). Bounded
# (15 minutes); servers, files and the tmpfs go on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=put_cpu.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REPS=5 SIZE=$((1 << 30)) MODES='auto always never' BASELINE="" SINK_OFFSET=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --size) SIZE=${2:?}; shift ;;
    --modes) MODES=${2:?}; shift ;;
    --baseline) BASELINE=${2:?}; shift ;;
    --sink-offset) SINK_OFFSET=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

clean_up_at_exit 900
install_missing curl strace cc
find_ferry
make_work put-cpu "" "$((SIZE * 3 / 1048576 + 256))m"
CLIENT=$SCRIPT_DIR/compare_client.py
TICK=$(getconf CLK_TCK)
GIB=$((1 << 30))

cc -O2 -o "$WORK/put_sink" "$SCRIPT_DIR/put_sink.c"
head -c "$SIZE" /dev/urandom >"$WORK/big.bin"

# The servers: one ferry per mode (HTTP and FERRY/1 listeners), the sink.
SERVERS=()
for mode in $MODES; do
  start_server "$mode" "$FERRY" "$WORK/$mode.log" --http 127.0.0.1:0 \
    --pool-writes "$mode" --log-level warn
  http=$(port_of HTTP "$SERVED")
  printf -v "HTTP_$mode" '%s' "$http"
  SERVERS+=("$mode")
done
if [[ -n $BASELINE ]]; then
  [[ -x $BASELINE ]] || die "no baseline binary at $BASELINE"
  for mode in $MODES; do
    http=$(free_port)
    start_server "base_$mode" "$BASELINE" "$WORK/base_$mode.log" \
      --http "127.0.0.1:$http" --pool-writes "$mode" --log-level warn
    printf -v "HTTP_base_$mode" '%s' "$http"
    SERVERS+=("base_$mode")
  done
fi
start_sink() { # name [offset]: a sink, its port in HTTP_<name>
  local name=$1 i
  mkdir -p "$WORK/$name"
  "$WORK/put_sink" "$WORK/$name" "${2:-0}" >"$WORK/$name.port" &
  printf -v "PID_$name" '%s' "$!"
  PIDS+=("$!")
  for ((i = 0; i < 50; i++)); do
    [[ -s $WORK/$name.port ]] && break
    sleep 0.1
  done
  printf -v "HTTP_$name" '%s' "$(cat "$WORK/$name.port")"
  local port="HTTP_$name"
  wait_port "${!port}"
}
SINKS=(sink)
start_sink sink
if [[ -n $SINK_OFFSET ]]; then
  start_sink sink_off "$SINK_OFFSET"
  SINKS+=(sink_off)
fi

# The runs: "<server> <client>" pairs; the sink speaks HTTP only, which
# the Python client sends as it sends FERRY/1 ("pyhttp").
RUNS=()
for s in "${SERVERS[@]}"; do RUNS+=("$s http" "$s ferry"); done
for s in "${SINKS[@]}"; do RUNS+=("$s http" "$s pyhttp"); done

put() { # server client: one upload of big.bin
  local server=$1 client=$2 port
  if [[ $client == http ]]; then
    port="HTTP_$server"
    timeout 120 curl -sf -o /dev/null -H 'Expect:' -T "$WORK/big.bin" \
      "http://127.0.0.1:${!port}/up.bin"
  elif [[ $client == pyhttp ]]; then
    port="HTTP_$server"
    timeout 120 python3 "$CLIENT" xfer --proto http --op put --port "${!port}" \
      --name up.bin --file "$WORK/big.bin" >/dev/null
  else
    port="PORT_$server"
    timeout 120 python3 "$CLIENT" xfer --proto ferry --op put --port "${!port}" \
      --name up.bin --file "$WORK/big.bin" >/dev/null
  fi
}
ticks() { # pid field: utime (14) or stime (15) in clock ticks
  sed 's/.*) //' "/proc/$1/stat" | awk -v f="$(($2 - 2))" '{print $f}'
}

declare -A USER SYS
say "$REPS repetitions of a $SIZE-byte PUT to each of: ${RUNS[*]}"
for ((rep = 0; rep < REPS; rep++)); do
  for run in "${RUNS[@]}"; do
    read -r server client <<<"$run"
    pid="PID_$server"
    u0=$(ticks "${!pid}" 14) s0=$(ticks "${!pid}" 15)
    put "$server" "$client"
    u1=$(ticks "${!pid}" 14) s1=$(ticks "${!pid}" 15)
    rm -f "$WORK/$server/up.bin" "$WORK/$server/sink.bin" # one upload's room is enough
    USER[$run]+="$(calc "($u1 - $u0) / $TICK * $GIB / $SIZE" 3) "
    SYS[$run]+="$(calc "($s1 - $s0) / $TICK * $GIB / $SIZE" 3) "
  done
  say "repetition $((rep + 1)) of $REPS done"
done

# Counting passes: strace -c -f attached to the server for one upload.
declare -A CALLS WRITES FUTEX
per_gib() { calc "${1:-0} * $GIB / $SIZE" 0; }
for run in "${RUNS[@]}"; do
  read -r server client <<<"$run"
  pid="PID_$server"
  out=$WORK/strace.txt
  strace -c -f -p "${!pid}" -o "$out" 2>"$WORK/strace.err" &
  tracer=$!
  # Attached once it says so (on standard error), not after a guess.
  for ((i = 0; i < 100; i++)); do
    grep -q attached "$WORK/strace.err" 2>/dev/null && break
    sleep 0.05
  done
  put "$server" "$client"
  kill -INT "$tracer"
  wait "$tracer" 2>/dev/null || true
  rm -f "$WORK/$server/up.bin" "$WORK/$server/sink.bin"
  # strace -c: "% time, seconds, usecs/call, calls, [errors,] syscall".
  CALLS[$run]=$(per_gib "$(awk '$NF == "total" {print $4}' "$out")")
  WRITES[$run]=$(per_gib "$(awk '$NF ~ /^(write|pwrite64|writev|splice)$/ {n += $4} END {print n + 0}' "$out")")
  FUTEX[$run]=$(per_gib "$(awk '$NF == "futex" {print $4}' "$out")")
done

# The sink's totals, the yardsticks: one per sender.
sink_total() { # client: the sink's server CPU per GiB with that sender
  local run="sink $1"
  [[ $1 == ferry ]] && run="sink pyhttp"
  # shellcheck disable=SC2086 # the lists are space-separated on purpose
  calc "$(median ${USER[$run]}) + $(median ${SYS[$run]})" 3
}
echo
echo "PUT of $SIZE bytes, root on $(stat -f -c %T "$WORK"), medians of $REPS interleaved repetitions,"
echo "server CPU per GiB (s; utime+stime of every thread), system calls per GiB (one strace -c -f pass)"
echo
echo "| server | client | user | system | total | × sink (same sender) | syscalls | writes | futex |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in "${RUNS[@]}"; do
  read -r server client <<<"$run"
  # shellcheck disable=SC2086 # the lists are space-separated on purpose
  u=$(median ${USER[$run]}) s=$(median ${SYS[$run]})
  total=$(calc "$u + $s" 3)
  case $server in
    sink) label=sink ;;
    sink_off) label="sink, buffer $SINK_OFFSET bytes past a page" ;;
    base_*) label="ferry (baseline build) --pool-writes ${server#base_}" ;;
    *) label="ferry --pool-writes $server" ;;
  esac
  yardstick=$(sink_total "$client")
  case $client in
    http) client="curl -T" ;;
    pyhttp) client="HTTP (python, sendfile)" ;;
    *) client="FERRY/1 (python, sendfile)" ;;
  esac
  echo "| $label | $client | $u | $s | $total | $(calc "$total / $yardstick" 2) | ${CALLS[$run]} | ${WRITES[$run]} | ${FUTEX[$run]} |"
  if [[ $server == auto ]]; then # ferry's default
    x=$(calc "$total / $yardstick" 2)
    headline "PUT $(calc "$SIZE / 1048576" 0) MiB, $client: server CPU per GiB (s)" "$total" \
      "the C sink $yardstick (same sender)" "×$x" "≤1.1×" "$(verdict "$x <= 1.1")"
  fi
done
