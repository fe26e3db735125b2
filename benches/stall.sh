#!/usr/bin/env bash
# benches/stall.sh: the stall benchmark of issue 10. Does disk work hold up
# the event loop, and so every other client?
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/stall.sh [--quick] [--only 0,1,4]
#
# A probe (benches/stall_probe.py probe: 20 FERRY/1 connections, each
# doing GET or STAT of a 4 KiB file, one request in flight, a 5 ms pause
# between requests) runs alone, then beside each disturbance below, each on
# a fresh server whose root is on a disk-backed file system (not tmpfs).
# For each it prints the probe's p50 / p99 / max latency over the requests
# made while the disturbance ran (a request the server sits on is waited
# for, not dropped), and whether the worst is within 20 ms:
#
#   0. nothing (the probe alone, STALL_BASE_SECS)
#   1. the first GET of a big file placed in the root by other means (real
#      data, dropped from the page cache with posix_fadvise): the server
#      reads it all for its CRC-32C before answering
#   2. COMMIT of a big resumable upload (UPLOAD + APPEND, server restarted,
#      staged bytes dropped from the page cache): the CRC is read again
#   3. a PUT replacing a big file (the rename frees the old file's blocks)
#   4. 20 connections sending LIST on a root of many files and never reading
#      the answer (+ the server's RSS growth meanwhile); "took" is a 21st
#      LIST, read to the end, sent after them
#   5. one HTTP PUT of many one-byte chunks
#   6. UPLOADs with many abandoned upload sessions present (sessions made on
#      disk in the server's layout: via the protocol each UPLOAD rescans the
#      sessions folder, so making 64k of them would take hours); notes give
#      the UPLOADs' own median and max latency
#   7. start-up with the tree of 4 plus stale .ferry-tmp-* files: time from
#      exec to the first answered request; the probe keeps connecting from
#      before the start and runs until the start-up sweep is over (the log's
#      "start-up sweep done"; a binary without the pool sweeps before it
#      listens)
#
# Beside the probe's latencies the table reads the server's event-loop
# thread from /proc (time on a CPU and waiting for one; longest stretch
# awake; longest stretch in one system call, named), which tells a loop
# doing disk work (on a CPU, or blocked in pread/renameat/...) from one
# starved of a CPU, or from a probe request waiting elsewhere (an idle
# loop). As root the server runs at nice -10 and the probe SCHED_FIFO, so a
# busy shared machine adds less noise.
#
# Run it once per binary to compare (the table says which binary it used):
#
#   FERRY_BIN=/work/ferry-inline benches/stall.sh    # before the I/O pool
#   benches/stall.sh                                 # builds this checkout
#
# Installs nothing (needs python3 and a ferry binary; builds one with cargo
# when FERRY_BIN is not set). Runs as any user; as root it also raises the
# open-files limit. Everything it starts is stopped on exit and the work
# directory removed, except the cached file tree of 4 and 7.
#
# Environment (sizes in bytes, K/M/G suffixes allowed):
#   FERRY_BIN            ferry binary to measure (default: cargo build --release)
#   CARGO_TARGET_DIR     as for cargo
#   STALL_TMPDIR         where the work directory goes (default /work if it
#                        exists, else /var/tmp); must not be tmpfs
#   STALL_CACHE          the cached tree of many files (default
#                        $STALL_TMPDIR/ferry-stall-cache); reused when present,
#                        remove it with `rm -rf` when done
#   STALL_BIG=2G         file of 1 (GET) and of 3 (PUT, and the file it replaces)
#   STALL_COMMIT=1G      upload of 2
#   STALL_LIST_FILES=200000 STALL_LIST_DIRS=200   tree of 4 and 7
#   STALL_CHUNKS=8388608 one-byte chunks of 5
#   STALL_SESSIONS=65536 abandoned sessions of 6; STALL_UPLOADS=50 UPLOADs timed
#   STALL_STALE=2000     stale temp files of 7
#   STALL_PROBE_CONNS=20 STALL_PROBE_GAP_MS=5 STALL_BASE_SECS=5
#   STALL_DROP_CACHES=0  1: also drop the kernel's clean caches (echo 1 before
#                        1 and 2, echo 2 before 4 and 7: cold directory walks);
#                        machine-wide, so off by default on shared machines
#   STALL_IO_THREADS     --io-threads for binaries that have it (default: theirs)
#   STALL_LOG_LEVEL=info the servers' --log-level
#   STALL_NICE=-10       niceness of the server (as root; 0 for others), so
#                        that unrelated work on a shared machine (a compile)
#                        adds less noise; the disturbances' own clients run at
#                        the default priority
#   STALL_PROBE_RT=1     as root, run the probe SCHED_FIFO (chrt -f 1) so its
#                        own waits for a CPU are not counted as the server's
#   STALL_OUT            keep server logs and probe JSON in this directory
#   STALL_MAX_SECONDS    hard limit for the whole run (default 1500; 600 quick)
#   --quick              small sizes, for a smoke run (its own cache tree)

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
HELPER="$SCRIPT_DIR/stall_probe.py"

QUICK=0
ONLY=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --only)
      [[ $# -ge 2 ]] || { echo "stall.sh: --only needs a list, e.g. 0,1,4" >&2; exit 2; }
      ONLY=$2
      shift
      ;;
    --only=*) ONLY=${1#--only=} ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "stall.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done

bytes() { # 2G -> 2147483648
  local v=$1
  case $v in
    *[kK]) echo $((${v%?} * 1024)) ;;
    *[mM]) echo $((${v%?} * 1048576)) ;;
    *[gG]) echo $((${v%?} * 1073741824)) ;;
    *) echo $((v)) ;;
  esac
}

if [[ $QUICK -eq 1 ]]; then
  BIG=$(bytes "${STALL_BIG:-256M}")
  COMMIT=$(bytes "${STALL_COMMIT:-128M}")
  LIST_FILES=${STALL_LIST_FILES:-20000}
  LIST_DIRS=${STALL_LIST_DIRS:-20}
  CHUNKS=${STALL_CHUNKS:-1048576}
  SESSIONS=${STALL_SESSIONS:-4096}
  STALE=${STALL_STALE:-200}
  BASE_SECS=${STALL_BASE_SECS:-2}
  MAX_SECONDS=${STALL_MAX_SECONDS:-600}
else
  BIG=$(bytes "${STALL_BIG:-2G}")
  COMMIT=$(bytes "${STALL_COMMIT:-1G}")
  LIST_FILES=${STALL_LIST_FILES:-200000}
  LIST_DIRS=${STALL_LIST_DIRS:-200}
  CHUNKS=${STALL_CHUNKS:-8388608}
  SESSIONS=${STALL_SESSIONS:-65536}
  STALE=${STALL_STALE:-2000}
  BASE_SECS=${STALL_BASE_SECS:-5}
  MAX_SECONDS=${STALL_MAX_SECONDS:-1500}
fi
UPLOADS=${STALL_UPLOADS:-50}
PROBE_CONNS=${STALL_PROBE_CONNS:-20}
PROBE_GAP_MS=${STALL_PROBE_GAP_MS:-5}
DROP_CACHES=${STALL_DROP_CACHES:-0}
LOG_LEVEL=${STALL_LOG_LEVEL:-info}
if [[ $EUID -eq 0 ]]; then NICE=${STALL_NICE:--10}; else NICE=${STALL_NICE:-0}; fi
# The probe measures; as root it runs SCHED_FIFO (chrt -f 1), so its own
# waits for a CPU do not count as the server's latency. It mostly sleeps.
PROBE_RUN=(nice -n "$NICE")
if [[ $EUID -eq 0 && ${STALL_PROBE_RT:-1} == 1 ]] && command -v chrt >/dev/null 2>&1; then
  PROBE_RUN=(chrt -f 1)
fi
TARGET_MS=20
if [[ -n ${STALL_TMPDIR:-} ]]; then
  BASE=$STALL_TMPDIR
elif [[ -d /work ]]; then
  BASE=/work
else
  BASE=/var/tmp
fi
CACHE=${STALL_CACHE:-$BASE/ferry-stall-cache}
TREE="$CACHE/tree-${LIST_FILES}-${LIST_DIRS}"

STARTED=$SECONDS
NAME=stall.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
wanted() { [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]; }

# ---------------------------------------------------------------- cleanup

SERVER_PID="" PROBE_PID=""
PID_VARS=(PROBE_PID SERVER_PID)
release() { # at exit (lib.sh's cleanup): the cached tree gets back the state it was made in
  if [[ -d $TREE ]]; then
    find "$TREE" -name '.ferry-*' -prune -exec rm -rf {} + 2>/dev/null || true
  fi
}
clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- set-up

command -v python3 >/dev/null 2>&1 || die "needs python3"
mkdir -p "$BASE"
fstype=$(stat -f -c %T "$BASE")
case $fstype in
  tmpfs | ramfs) die "$BASE is on $fstype: set STALL_TMPDIR to a disk-backed directory" ;;
esac
WORK=$(mktemp -d "$BASE/ferry-stall.XXXXXX")
mkdir -p "$WORK/out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

find_ferry
SERVE_HELP=$("$FERRY" serve --help)
EXTRA=()
if grep -q -- '--io-threads' <<<"$SERVE_HELP"; then
  KIND="I/O pool (--io-threads ${STALL_IO_THREADS:-default})"
  SWEPT='start-up sweep done' # the start-up sweep runs beside the loop
  [[ -n ${STALL_IO_THREADS:-} ]] && EXTRA+=(--io-threads "$STALL_IO_THREADS")
else
  KIND="no I/O pool (no --io-threads)"
  SWEPT='serving ' # the start-up sweep is over before it listens
fi
say "binary $FERRY: $KIND; work directory $WORK ($fstype)"

jget() { # file key -> value (empty if missing or null)
  python3 -c '
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}
ms() { # a number of ms or "" -> 2-3 significant places
  [[ -n $1 ]] || { echo "–"; return; }
  python3 -c 'import sys; v = float(sys.argv[1]); print(f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}")' "$1"
}
secs() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f} s")' "$1"; }
now() { date +%s.%N; }
since() { python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$1" "$(now)"; }

# A file of real data (no holes), flushed to disk and dropped from the page
# cache, so whoever reads it first reads the disk.
make_file() { # path bytes
  python3 - "$1" "$2" <<'EOF'
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
block = os.urandom(1 << 20)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
left = size
while left:
    left -= os.write(fd, block[: min(left, len(block))])
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
EOF
}
uncache() { # files...: drop them from the page cache
  python3 - "$@" <<'EOF'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
EOF
}
drop_caches() { # 1 = page cache, 2 = dentries and inodes
  [[ $DROP_CACHES == 1 ]] || return 0
  sync
  if ! echo "$1" >/proc/sys/vm/drop_caches 2>/dev/null; then
    say "   (cannot write /proc/sys/vm/drop_caches; caches not dropped)"
  fi
}
small_file() { head -c 4096 /dev/urandom >"$1/small.bin"; }

# ---------------------------------------------------------------- server and probe

PORT="" HTTP_PORT="" LOG=""
start_server() { # label root [extra serve args...]: sets SERVER_PID PORT HTTP_PORT LOG
  local label=$1 root=$2 i
  shift 2
  LOG="$WORK/out/server-$label.log"
  : >"$LOG"
  nice -n "$NICE" "$FERRY" serve --root "$root" --listen 127.0.0.1:0 --log-level "$LOG_LEVEL" $(no_fsync "$FERRY") \
    --upload-ttl 315360000 "${EXTRA[@]}" "$@" >"$LOG" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 3000; i++)); do
    grep -q 'serving ' "$LOG" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -n 3 "$LOG")"
    sleep 0.02
  done
  grep -q 'serving ' "$LOG" || die "server did not start listening in 60 s"
  PORT=$(grep -m1 'serving ' "$LOG" | grep -o ' on 127\.0\.0\.1:[0-9]*' | head -n 1 | cut -d: -f2)
  HTTP_PORT=$(grep -m1 'serving ' "$LOG" | sed -n 's/.*HTTP on 127\.0\.0\.1:\([0-9]*\).*/\1/p')
}
stop_server() {
  stop_pid "$SERVER_PID"
  SERVER_PID=""
}
wait_log() { # pattern seconds: wait until the server log has the pattern
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    grep -q -- "$1" "$LOG" && return 0
    sleep 0.05
  done
  return 1
}

PROBE_OUT=""
start_probe() { # label [extra probe args]: starts the probe, waits until it runs
  local label=$1 i
  shift
  PROBE_OUT="$WORK/out/probe-$label.json"
  rm -f "$WORK/stop" "$WORK/ready" "$WORK/start"
  local counting=(--start-file "$WORK/start")
  [[ $label == startup ]] && counting=() # counts from its first request
  "${PROBE_RUN[@]}" python3 "$HELPER" probe --port "$PORT" --conns "$PROBE_CONNS" \
    --gap-ms "$PROBE_GAP_MS" --stop-file "$WORK/stop" --ready-file "$WORK/ready" \
    --max-secs 600 --drain-secs 60 --slow-ms "$TARGET_MS" \
    ${SERVER_PID:+--server-pid "$SERVER_PID"} "${counting[@]}" "$@" >"$PROBE_OUT" &
  PROBE_PID=$!
  [[ $label == startup ]] && return 0 # counts from its first request
  wait_probe
  LOOP_BEFORE=$(loop_sched)
  touch "$WORK/start"
}
wait_probe() {
  local i
  for ((i = 0; i < 1200; i++)); do
    [[ -f $WORK/ready ]] && return 0
    kill -0 "$PROBE_PID" 2>/dev/null || die "probe failed: $(cat "$PROBE_OUT")"
    sleep 0.05
  done
  die "probe not running after 60 s"
}
# The event loop is the server's main thread: its time on a CPU and waiting
# for one (ns, /proc/PID/task/PID/schedstat) tell work done on the loop from
# a loop starved of CPU by other threads or processes.
LOOP_BEFORE="" LOOP_CPU="" LOOP_WAIT=""
loop_sched() { cut -d' ' -f1-2 "/proc/$SERVER_PID/task/$SERVER_PID/schedstat" 2>/dev/null || echo "0 0"; }
stop_probe() {
  local after
  after=$(loop_sched)
  if [[ -n $LOOP_BEFORE ]]; then
    # shellcheck disable=SC2086 # two numbers each
    read -r LOOP_CPU LOOP_WAIT < <(python3 -c 'import sys; a, b, c, d = map(int, sys.argv[1:]); print(round((c - a) / 1e6), round((d - b) / 1e6))' $LOOP_BEFORE $after)
  else
    LOOP_CPU="" LOOP_WAIT=""
  fi
  LOOP_BEFORE=""
  touch "$WORK/start" "$WORK/stop"
  local i
  for ((i = 0; i < 1300; i++)); do
    kill -0 "$PROBE_PID" 2>/dev/null || break
    sleep 0.05
  done
  stop_pid "$PROBE_PID"
  PROBE_PID=""
}

# results, one row per disturbance
declare -a ROWS=()
FAILED=0
orx() { echo "${1:-–}"; }
blocked_in() { # probe json -> " (in CALL)" when the loop was blocked in one
  local call
  call=$(jget "$1" loop_blocked_in)
  [[ -n $call ]] && echo " (in $call)"
  return 0
}
row() { # number label took notes
  local p=$PROBE_OUT max met
  max=$(jget "$p" max_ms)
  if [[ -z $max ]]; then
    met="no data"
  elif python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$max" "$TARGET_MS"; then
    met="met"
  else
    met="**missed**"
    FAILED=$((FAILED + 1))
  fi
  local extra=""
  [[ $(jget "$p" unanswered) =~ ^[1-9] ]] && extra+="; $(jget "$p" unanswered) probe requests unanswered after 60 s"
  [[ $(jget "$p" errors) =~ ^[1-9] ]] && extra+="; $(jget "$p" errors) probe errors"
  ROWS+=("| $1 | $2 | $3 | $(jget "$p" n) | $(ms "$(jget "$p" p50_ms)") | $(ms "$(jget "$p" p99_ms)") | $(ms "$max") | $(jget "$p" over_slow_ms) | $met | ${LOOP_CPU:-?} / ${LOOP_WAIT:-?} | $(orx "$(jget "$p" loop_busy_ms)") ($(orx "$(jget "$p" loop_starved_ms)")) / $(orx "$(jget "$p" loop_blocked_ms)")$(blocked_in "$p") | $(jget "$p" probe_runqueue_wait_ms) | $4$extra |")
  say "   $2: took $3; probe n=$(jget "$p" n) p50 $(ms "$(jget "$p" p50_ms)") ms, p99 $(ms "$(jget "$p" p99_ms)") ms, max $(ms "$max") ms ($met); loop on CPU ${LOOP_CPU:-?} ms, waiting ${LOOP_WAIT:-?} ms, longest awake $(jget "$p" loop_busy_ms) ms (waiting for CPU $(jget "$p" loop_starved_ms) ms), in one call $(jget "$p" loop_blocked_ms) ms$(blocked_in "$p"); $4$extra"
}
fresh_root() { # name -> path of a new root with small.bin
  local r="$WORK/$1"
  mkdir -p "$r"
  small_file "$r"
  echo "$r"
}
check_ok() { # json label
  [[ $(jget "$1" ok) == True ]] || die "$2 failed: $(cat "$1")"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 0. alone

if wanted 0; then
  say "0. the probe alone for ${BASE_SECS}s"
  root=$(fresh_root r0)
  start_server base "$root"
  start_probe base
  sleep "$BASE_SECS"
  stop_probe
  stop_server
  row 0 "none (probe alone, ${BASE_SECS} s)" "–" ""
fi

# ---------------------------------------------------------------- 1. first GET of a big file

HUMAN_BIG=$(numfmt --to=iec "$BIG")
if wanted 1; then
  say "1. first GET of a $HUMAN_BIG file placed in the root (cold, no CRC record)"
  root=$(fresh_root r1)
  make_file "$root/big.bin" "$BIG"
  drop_caches 1
  start_server get "$root"
  start_probe get
  python3 "$HELPER" get --port "$PORT" --name big.bin --timeout 600 >"$WORK/out/d1.json"
  stop_probe
  stop_server
  row 1 "first GET of a $HUMAN_BIG file (CRC-32C computed)" "$(secs "$(jget "$WORK/out/d1.json" took_s)")" ""
  # kept as the source of 3
  mv "$root/big.bin" "$WORK/put-source.bin"
  rm -rf "$root"
fi

# ---------------------------------------------------------------- 2. COMMIT after a restart

HUMAN_COMMIT=$(numfmt --to=iec "$COMMIT")
if wanted 2; then
  say "2. COMMIT of a $HUMAN_COMMIT resumable upload after a restart"
  root=$(fresh_root r2)
  make_file "$WORK/upload-source.bin" "$COMMIT"
  # its CRC-32C, from the server itself (UPLOAD needs it): a hard link in a
  # root of its own
  mkdir -p "$WORK/crc"
  ln "$WORK/upload-source.bin" "$WORK/crc/source.bin"
  start_server crc "$WORK/crc"
  python3 "$HELPER" stat --port "$PORT" --name source.bin --timeout 600 >"$WORK/out/d2-crc.json"
  stop_server
  crc=$(jget "$WORK/out/d2-crc.json" crc)
  start_server stage "$root"
  python3 "$HELPER" stage --port "$PORT" --name resumed.bin --src "$WORK/upload-source.bin" \
    --crc "$crc" --timeout 600 >"$WORK/out/d2-stage.json"
  stop_server
  id=$(jget "$WORK/out/d2-stage.json" id)
  uncache "$root/.ferry-uploads/$id.data"
  drop_caches 1
  start_server commit "$root"
  wait_log "$SWEPT" 60 || true
  start_probe commit
  python3 "$HELPER" commit --port "$PORT" --id "$id" --timeout 600 >"$WORK/out/d2.json"
  stop_probe
  stop_server
  check_ok "$WORK/out/d2.json" COMMIT
  row 2 "COMMIT of a $HUMAN_COMMIT upload after a restart (CRC re-read)" "$(secs "$(jget "$WORK/out/d2.json" took_s)")" ""
  rm -rf "$root" "$WORK/crc" "$WORK/upload-source.bin"
fi

# ---------------------------------------------------------------- 3. PUT replacing a big file

if wanted 3; then
  say "3. PUT replacing a $HUMAN_BIG file"
  root=$(fresh_root r3)
  [[ -f $WORK/put-source.bin ]] || make_file "$WORK/put-source.bin" "$BIG"
  make_file "$root/replaced.bin" "$BIG"
  # the client sends from the page cache: the server's side is measured
  cat "$WORK/put-source.bin" >/dev/null
  start_server put "$root"
  start_probe put
  python3 "$HELPER" put --port "$PORT" --name replaced.bin --src "$WORK/put-source.bin" \
    --timeout 600 >"$WORK/out/d3.json"
  stop_probe
  stop_server
  check_ok "$WORK/out/d3.json" PUT
  row 3 "PUT replacing a $HUMAN_BIG file" "$(secs "$(jget "$WORK/out/d3.json" took_s)")" ""
  rm -rf "$root"
fi
rm -f "$WORK/put-source.bin"

# ---------------------------------------------------------------- the tree of 4 and 7

if wanted 4 || wanted 7; then
  if [[ -f $TREE/.complete ]]; then
    say "   reusing the cached tree $TREE"
  else
    say "   making $LIST_FILES files in $LIST_DIRS folders in $TREE (cached for later runs)"
    rm -rf "$TREE"
    mkdir -p "$TREE"
    python3 - "$TREE" "$LIST_FILES" "$LIST_DIRS" <<'EOF'
import os, sys
root, files, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = -(-files // dirs)
made = 0
for d in range(dirs):
    path = os.path.join(root, f"dir{d:04d}")
    os.mkdir(path)
    for i in range(min(per, files - made)):
        fd = os.open(os.path.join(path, f"file{i:06d}.csv"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"t,1\n")
        os.close(fd)
        made += 1
EOF
    small_file "$TREE"
    touch "$TREE/.complete"
  fi
  find "$TREE" -name '.ferry-*' -prune -exec rm -rf {} +
fi

# ---------------------------------------------------------------- 4. LIST flood

if wanted 4; then
  say "4. $PROBE_CONNS connections sending LIST over $LIST_FILES files, never reading"
  drop_caches 2
  start_server list "$TREE"
  start_probe list
  python3 "$HELPER" list-flood --port "$PORT" --conns 20 --pid "$SERVER_PID" --hold-secs 2 \
    --timeout 600 >"$WORK/out/d4.json"
  stop_probe
  stop_server
  row 4 "20 × LIST of $LIST_FILES files, never read" "$(secs "$(jget "$WORK/out/d4.json" took_s)")" \
    "server RSS +$(jget "$WORK/out/d4.json" rss_growth_mib) MiB (peak $(($(jget "$WORK/out/d4.json" rss_peak_kb) / 1024)) MiB); $(jget "$WORK/out/d4.json" files_listed) files listed"
fi

# ---------------------------------------------------------------- 5. chunked HTTP upload

if wanted 5; then
  say "5. one HTTP PUT of $CHUNKS one-byte chunks"
  root=$(fresh_root r5)
  start_server chunked "$root" --http 127.0.0.1:0
  [[ -n $HTTP_PORT ]] || die "no HTTP port in the server log"
  start_probe chunked
  python3 "$HELPER" chunked --port "$HTTP_PORT" --name chunked.bin --chunks "$CHUNKS" \
    --timeout 600 >"$WORK/out/d5.json"
  stop_probe
  stop_server
  check_ok "$WORK/out/d5.json" "chunked PUT"
  row 5 "HTTP PUT of $CHUNKS one-byte chunks ($(jget "$WORK/out/d5.json" wire_mib) MiB on the wire)" \
    "$(secs "$(jget "$WORK/out/d5.json" took_s)")" "$(jget "$WORK/out/d5.json" answer)"
  rm -rf "$root"
fi

# ---------------------------------------------------------------- 6. UPLOAD beside abandoned sessions

if wanted 6; then
  say "6. $UPLOADS UPLOADs beside $SESSIONS abandoned upload sessions"
  root=$(fresh_root r6)
  python3 "$HELPER" sessions --root "$root" --count "$SESSIONS" >"$WORK/out/d6-setup.json"
  check_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["check"]["id"])' "$WORK/out/d6-setup.json")
  caps=()
  # Room for every abandoned session where the binary caps them.
  grep -q -- '--max-upload-sessions' <<<"$SERVE_HELP" &&
    caps=(--max-upload-sessions "$((SESSIONS + UPLOADS + 1))")
  start_server uploads "$root" "${caps[@]}"
  wait_log "$SWEPT" 120 || true
  start_probe uploads
  t0=$(now)
  python3 "$HELPER" uploads --port "$PORT" --count "$UPLOADS" --check-id "$check_id" \
    --timeout 600 >"$WORK/out/d6.json"
  took=$(since "$t0")
  stop_probe
  stop_server
  [[ $(jget "$WORK/out/d6.json" found_existing) == True ]] ||
    say "   warning: the server did not find a session made on disk: $(cat "$WORK/out/d6.json")"
  row 6 "$UPLOADS UPLOADs beside $SESSIONS abandoned sessions" "$(secs "$took")" \
    "UPLOAD p50 $(ms "$(jget "$WORK/out/d6.json" p50_ms)") ms, max $(ms "$(jget "$WORK/out/d6.json" max_ms)") ms"
  rm -rf "$root"
fi

# ---------------------------------------------------------------- 7. start-up

if wanted 7; then
  say "7. start-up with $LIST_FILES files and $STALE stale temp files"
  python3 - "$TREE" "$STALE" "$LIST_DIRS" <<'EOF'
import os, sys
root, stale, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(stale):
    d = os.path.join(root, f"dir{i % dirs:04d}")
    with open(os.path.join(d, f".ferry-tmp-5ta1e{i:x}-1"), "wb") as f:
        f.write(b"partial upload of a killed server\n")
EOF
  drop_caches 2
  # the probe starts first, on a port chosen here, and keeps connecting
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  start_probe startup --connect-secs 60
  sleep 0.5 # python's start-up, out of the measurement
  LOG="$WORK/out/server-startup.log"
  : >"$LOG"
  t0=$(now)
  nice -n "$NICE" "$FERRY" serve --root "$TREE" --listen "127.0.0.1:$PORT" --log-level "$LOG_LEVEL" $(no_fsync "$FERRY") \
    --upload-ttl 315360000 "${EXTRA[@]}" >"$LOG" 2>&1 &
  SERVER_PID=$!
  LOOP_BEFORE=$(loop_sched)
  for ((i = 0; i < 6000; i++)); do
    grep -q 'serving ' "$LOG" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -n 3 "$LOG")"
    sleep 0.01
  done
  listening=$(since "$t0")
  grep -q 'serving ' "$LOG" || die "server did not start listening in 60 s"
  wait_probe
  wait_log "$SWEPT" 120 || say "   no '$SWEPT' in the log after 120 s"
  swept=$(since "$t0")
  stop_probe
  stop_server
  first=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["first_answer_epoch"] - float(sys.argv[2]))' "$PROBE_OUT" "$t0")
  left=$(find "$TREE" -name '.ferry-tmp-*' | wc -l)
  row 7 "start-up: $LIST_FILES files, $STALE stale temp files" "$(secs "$swept") to sweep done" \
    "listening after $(secs "$listening"), first answer after $(secs "$first"); $left stale files left"
fi

# ---------------------------------------------------------------- report

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -n ${STALL_OUT:-} ]]; then
  mkdir -p "$STALL_OUT"
  cp -r "$WORK/out/." "$STALL_OUT/"
fi

echo
echo "## stall benchmark: $(basename "$FERRY") ($KIND)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); binary: $FERRY"
echo "- machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
  "$(awk '/^MemTotal:/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
echo "- load average at start / end: $LOAD_START / $LOAD_END"
echo "- roots on $fstype ($BASE); probe: $PROBE_CONNS FERRY/1 connections, GET/STAT of a 4 KiB file," \
  "one request in flight each, ${PROBE_GAP_MS} ms pause; global cache drops: $([[ $DROP_CACHES == 1 ]] && echo on || echo "off (posix_fadvise only)")"
echo "- run took $((SECONDS - STARTED)) s$([[ $QUICK -eq 1 ]] && echo ' (--quick)')"
echo
echo "| # | disturbance | disturbance took | probe requests | p50 (ms) | p99 (ms) | max (ms) | > $TARGET_MS ms | target met (max ≤ $TARGET_MS ms) | loop thread: on CPU / waiting for CPU, total (ms) | loop thread: longest awake stretch (of it waiting for CPU) / longest in one system call (ms) | probe waiting for CPU (ms) | notes |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
echo
echo "Latencies are the probe's, over the requests it sent while the disturbance ran. The loop"
echo "columns read the server's main thread (its event loop) from /proc: total time on a CPU and"
echo "waiting for one over the same window, and, sampled every 2 ms, its longest stretch awake"
echo "(never asleep in epoll_wait: working, which may still serve the probe turn by turn, or"
echo "runnable but waiting for a CPU, in brackets: starved by its own I/O threads or other"
echo "processes), and its longest stretch in one system call other than epoll_wait (the loop"
echo "blocked on the disk or a lock; the call is named). 'probe waiting for CPU' is the"
echo "probe's own time runnable but not running: noise from the machine, not the server."
echo
if [[ $FAILED -gt 0 ]]; then
  echo "$FAILED disturbance(s) missed the target."
fi
exit 0
