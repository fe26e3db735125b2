#!/usr/bin/env bash
# benches/slowfs.sh: 4 KiB PUT and GET rates when the root is on a slow
# file system (issue 10: "4 KiB PUTs on the slow filesystem ≥ 10× today's
# rate").
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/slowfs.sh [--delay-us 1000] [--secs 10] [--connections 100]
#
# Compiles benches/slowfs.c (a passthrough FUSE file system that sleeps
# --delay-us in every call it serves, with up to 64 calls in flight), mounts
# it over a directory, serves that with `ferry serve --root`, and measures
# with `ferry bench --op put|get --size 4K --connections N --duration S`:
# requests/s, latency, errors. Each binary gets a fresh server and a fresh,
# empty root. Run it with the binary to measure and, optionally, a
# baseline to compare with (the ratio is printed):
#
#   FERRY_BIN=target/release/ferry FERRY_BASELINE=/work/ferry-inline benches/slowfs.sh
#
# Needs root (for /dev/fuse and mount); installs libfuse3-dev, pkg-config
# and gcc with apt-get where missing. On exit the servers are stopped, the
# file system unmounted and the work directory removed.
#
# Environment:
#   FERRY_BIN            binary to measure (default: cargo build --release)
#   FERRY_BASELINE       another binary, measured the same way first
#   SLOWFS_TMPDIR        where the work directory goes (default /work if it
#                        exists, else /var/tmp)
#   SLOWFS_MAX_SECONDS   hard limit for the whole run (default 600)
#   SLOWFS_IO_THREADS    --io-threads for binaries that have it

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

DELAY_US=1000
SECS=10
CONNS=100
while [[ $# -gt 0 ]]; do
  case $1 in
    --delay-us) DELAY_US=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "slowfs.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done
MAX_SECONDS=${SLOWFS_MAX_SECONDS:-600}
if [[ -n ${SLOWFS_TMPDIR:-} ]]; then
  BASE=$SLOWFS_TMPDIR
elif [[ -d /work ]]; then
  BASE=/work
else
  BASE=/var/tmp
fi

STARTED=$SECONDS
NAME=slowfs.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

SERVER_PID="" FS_PID="" MNT=""
PID_VARS=(SERVER_PID)

unmount() {
  if [[ -n $MNT ]] && mountpoint -q "$MNT"; then
    umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  fi
  stop_pid "$FS_PID"
  FS_PID=""
}

release() { # at exit (lib.sh's cleanup), after the server has stopped
  unmount
  # never remove anything through a mount that is still there
  if [[ -n $MNT ]] && mountpoint -q "$MNT"; then WORK=""; fi
}
clean_up_at_exit "$MAX_SECONDS"

[[ $EUID -eq 0 ]] || die "needs root (FUSE mount)"
[[ -e /dev/fuse ]] || die "no /dev/fuse"
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists fuse3 2>/dev/null || need+=(libfuse3-dev)
if [[ ${#need[@]} -gt 0 ]]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get to install them"
  say "installing ${need[*]} with apt-get"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d "$BASE/ferry-slowfs.XXXXXX")
MNT="$WORK/mnt"
mkdir -p "$WORK/backing" "$MNT"
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -O2 -Wall -o "$WORK/slowfs" "$SCRIPT_DIR/slowfs.c" $(pkg-config --cflags --libs fuse3) ||
  die "cannot compile slowfs.c"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

find_ferry
BINS=()
[[ -n ${FERRY_BASELINE:-} ]] && BINS+=("$FERRY_BASELINE")
BINS+=("$FERRY")

mount_fs() {
  rm -rf "$WORK/backing" && mkdir -p "$WORK/backing"
  "$WORK/slowfs" "$WORK/backing" "$DELAY_US" "$MNT" >"$WORK/slowfs.log" 2>&1 &
  FS_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    mountpoint -q "$MNT" && return 0
    kill -0 "$FS_PID" 2>/dev/null || die "slowfs exited: $(cat "$WORK/slowfs.log")"
    sleep 0.05
  done
  die "slowfs did not mount in 10 s"
}

jget() {
  python3 -c '
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}
ROWS=()
declare -A RATE
for bin in "${BINS[@]}"; do
  extra=()
  if "$bin" serve --help | grep -q -- '--io-threads'; then
    kind="I/O pool"
    [[ -n ${SLOWFS_IO_THREADS:-} ]] && extra+=(--io-threads "$SLOWFS_IO_THREADS")
  else
    kind="inline (no I/O pool)"
  fi
  for op in put put-folders get; do
    mount_fs
    log="$WORK/server.log"
    : >"$log"
    "$bin" serve --root "$MNT" --listen 127.0.0.1:0 $(no_fsync "$bin") "${extra[@]}" >"$log" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 1000; i++)); do
      grep -q 'serving ' "$log" && break
      kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -n 3 "$log")"
      sleep 0.02
    done
    port=$(grep -m1 'serving ' "$log" | grep -o ' on 127\.0\.0\.1:[0-9]*' | head -n 1 | cut -d: -f2 || true)
    [[ -n $port ]] || die "cannot find the server's port"
    say "$kind ($bin): $op 4 KiB, $CONNS connections, ${SECS}s, ${DELAY_US} µs per file-system call"
    out="$WORK/bench.json"
    # What the event loop (the server's main thread) is doing, 1,000 times a
    # second while the bench runs: the share of samples in each system call
    # (epoll_wait = idle; a file-system call = the loop waits on the disk).
    python3 - "$SERVER_PID" "$SECS" >"$WORK/loop.txt" <<'PYEOF' &
import collections, sys, time
pid, secs = sys.argv[1], float(sys.argv[2])
names = {"232": "epoll_wait", "281": "epoll_pwait", "0": "read", "1": "write", "17": "pread64",
         "18": "pwrite64", "40": "sendfile", "45": "recvfrom", "44": "sendto", "257": "openat",
         "437": "openat2", "262": "newfstatat", "332": "statx", "3": "close", "202": "futex",
         "188": "setxattr", "190": "fsetxattr", "191": "getxattr", "193": "fgetxattr",
         "316": "renameat2", "264": "renameat", "263": "unlinkat", "327": "preadv2",
         "328": "pwritev2", "74": "fsync", "77": "ftruncate", "47": "recvmsg", "46": "sendmsg"}
seen = collections.Counter()
end = time.monotonic() + secs
while time.monotonic() < end:
    try:
        with open(f"/proc/{pid}/task/{pid}/syscall") as f:
            first = f.read().split(" ", 1)[0].strip()
    except OSError:
        break
    seen[names.get(first, "on CPU" if first == "running" else "syscall " + first)] += 1
    time.sleep(0.001)
total = sum(seen.values()) or 1
print(", ".join(f"{k} {v * 100 // total}%" for k, v in seen.most_common(4)))
PYEOF
    sampler=$!
    # The load comes from the measured checkout's client, whichever server
    # it measures: put-folders PUTs each connection's file into a folder
    # of its own (the kernel serializes creates and renames in one folder).
    bench_args=(--op "${op%-folders}")
    [[ $op == put-folders ]] && bench_args+=(--folder-per-connection)
    timeout $((SECS + 120)) "$FERRY" bench --server "127.0.0.1:$port" "${bench_args[@]}" --size 4K \
      --connections "$CONNS" --duration "$SECS" --json >"$out" 2>"$WORK/bench.err" || true
    [[ -s $out ]] || die "ferry bench failed: $(tail -n 3 "$WORK/bench.err")"
    wait "$sampler" || true
    loop=$(cat "$WORK/loop.txt")
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    unmount
    calls=$(grep -o '[0-9]* calls' "$WORK/slowfs.log" | cut -d' ' -f1 || true)
    rps=$(python3 -c 'import sys; print(round(float(sys.argv[1])))' "$(jget "$out" ops_per_sec)")
    RATE[$bin-$op]=$rps
    lat=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["latency_us"]
p50, p99 = d["p50"] / 1000, d["p99"] / 1000
print(f"p50 {p50:.1f}, p99 {p99:.1f}")' "$out")
    ROWS+=("| $kind | $op | $rps | $(jget "$out" errors) | $lat | ${calls:-?} | $loop |")
    say "   $rps requests/s, $(jget "$out" errors) errors; $lat; $calls file-system calls; loop: $loop"
  done
done

echo
echo "## 4 KiB PUT and GET on a slow file system (FUSE, ${DELAY_US} µs per call)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) CPUs; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- ferry bench --size 4K --connections $CONNS --duration $SECS; root on benches/slowfs.c over $(stat -f -c %T "$WORK/backing")"
echo
echo "| server | op | requests/s | errors | latency (ms) | file-system calls | event loop thread (share of 1 ms samples) |"
echo "|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
if [[ -n ${FERRY_BASELINE:-} ]]; then
  echo
  for op in put put-folders get; do
    echo "- $op: $(python3 -c 'import sys; print(f"×{float(sys.argv[1]) / max(1.0, float(sys.argv[2])):.1f}")' \
      "${RATE[$FERRY-$op]}" "${RATE[$FERRY_BASELINE-$op]}") the baseline's rate$([[ $op == put* ]] && echo ' (target ≥ ×10)')"
  done
fi
