#!/usr/bin/env bash
# benches/webdav.sh: ferry's WebDAV against `rclone serve webdav` (issue 28,
# "Measure it"), on 127.0.0.1, one tree on a tmpfs served by both.
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`), as the
# servers it is compared with run: none of them flushes before answering.
# What durable acknowledgements (ferry's default) cost: benches/durable.sh.
#
#   benches/webdav.sh [--quick] [--reps N]
#
# Builds ferry in release mode (honouring CARGO_TARGET_DIR; FERRY_BIN skips
# the build), makes a work directory on a tmpfs (a private one mounted for
# the run when root, else /dev/shm, else $TMPDIR) holding folders of 1,000
# and 20,000 files of 64 bytes, and serves that one root with
#
#   ferry:            `ferry serve --http` (defaults: one worker per core,
#                     the access log on, to a file), no tokens (loopback);
#   rclone:           `rclone serve webdav` (defaults: its directory cache
#                     keeps a listing for 5 minutes, so repeated PROPFINDs
#                     of a folder are answered from memory; with
#                     `--dir-cache-time 0s` one PROPFIND of the 1,000 files
#                     took 12.9 s and one of the 20,000 did not end in 120 s,
#                     so the default is what is measured).
#
# Then, N interleaved repetitions (default 5; the servers' order rotates
# each repetition), each server in turn:
#
#   1. PROPFIND Depth 1 of the 1,000-file folder, B1 = 20 requests one
#      after the other on fresh curl processes, and of the 20,000-file
#      folder, B20 = 3 requests; the body asks for the properties rclone's
#      client asks for. Per request: wall time (curl's time_total), server
#      CPU (the sum of /proc/<pid>/task/*/schedstat run times: nanoseconds,
#      finer than the 10 ms of /proc/<pid>/stat), and the server's peak RSS
#      (VmHWM after `echo 5 > /proc/<pid>/clear_refs` reset it before the
#      batch: the peak during these requests, baseline included). The
#      first answer of each kind is checked: 207 and one <response> per
#      file plus the folder's own.
#   2. `rclone copy` of 1,000 files of 4 KiB (the rclone client, webdav
#      backend, vendor other, defaults: 4 transfers, 8 checkers) into a
#      fresh folder: wall time, server CPU (utime+stime from /proc/<pid>/stat,
#      which counts threads that have exited), peak RSS; the copy is checked
#      (1,000 files, 4 MiB on the root). The rclone client paces its calls
#      to a WebDAV server (10 ms apart at least, not configurable in 1.60)
#      and makes three per file (MKCOL of the folder, PUT, PROPFIND), so
#      the wall time is the client's (~32 s) on either server: compare the
#      servers' CPU and memory.
#
# Figures are medians over the repetitions (range in brackets); a markdown
# table comes last on standard output, progress on stderr. A default run
# takes about 7 minutes (--quick: 1 repetition, under 2); it is
# bounded by a watchdog (WEBDAV_MAX_SECONDS, default 900), and servers, the
# tmpfs and the work directory go on exit.
#
# Environment: WEBDAV_TMPDIR (use this directory instead of a tmpfs: to put
# the disk in the picture), WEBDAV_MAX_SECONDS, FERRY_BIN, CARGO_TARGET_DIR.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

QUICK=0 NREPS=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) NREPS=${2:?--reps needs a number}; shift ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "webdav.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then NREPS=${NREPS:-1}; else NREPS=${NREPS:-5}; fi
[[ $NREPS =~ ^[1-9][0-9]*$ ]] || { echo "webdav.sh: --reps takes a positive integer" >&2; exit 2; }
B1=20 B20=3
MAX_SECONDS=${WEBDAV_MAX_SECONDS:-900}

STARTED=$SECONDS
NAME=webdav.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------- cleanup

clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- setup

command -v rclone >/dev/null 2>&1 || die "rclone is needed (apt-get install rclone)"
command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"
find_ferry
make_work webdav "${WEBDAV_TMPDIR:-}" 1g
say "work directory $WORK ($(stat -f -c %T "$WORK")), ferry $FERRY, $(rclone version | head -n 1)"

ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/src"
say "making the tree: 1,000 and 20,000 files of 64 B, and 1,000 of 4 KiB to copy"
python3 - "$ROOT" "$WORK/src" <<'EOF'
import os, sys
root, src = sys.argv[1], sys.argv[2]
for count in (1000, 20000):
    folder = os.path.join(root, f"files{count}")
    os.makedirs(folder)
    for i in range(count):
        with open(os.path.join(folder, f"file-{i:05d}.txt"), "wb") as f:
            f.write(b"%063d\n" % i)
for i in range(1000):
    with open(os.path.join(src, f"small-{i:04d}.bin"), "wb") as f:
        f.write(os.urandom(4096))
EOF

# ---------------------------------------------------------------- servers

SERVERS=(ferry rclone)
declare -A PORT PID
PID_VARS=("PID[ferry]" "PID[rclone]")
launch "PID[ferry]" "$WORK/ferry.log" \
  "$FERRY" serve --root "$ROOT" --listen 127.0.0.1:0 --http 127.0.0.1:0 $(no_fsync "$FERRY")
PORT[ferry]=$(port_of HTTP "$SERVED")
# rclone cannot say which port it took: one chosen beforehand.
PORT[rclone]=$(free_port)
spawn "PID[rclone]" "${PORT[rclone]}" "$WORK/rclone.log" \
  rclone serve webdav "$ROOT" --addr "127.0.0.1:${PORT[rclone]}"

PROPS='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:getlastmodified/><D:getcontentlength/><D:resourcetype/><D:getcontenttype/><D:getetag/></D:prop></D:propfind>'

sched_ns() { # pid: on-CPU nanoseconds of its live threads
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
reset_peak() { echo 5 >"/proc/$1/clear_refs"; }

# propfind <server> <folder> <n>: n PROPFINDs; prints "wall_ms cpu_ms peak_kb"
# (wall and CPU per request, the peak over the batch).
propfind() {
  local server=$1 folder=$2 n=$3 pid=${PID[$1]} i t wall=0 cpu0 cpu1
  reset_peak "$pid"
  cpu0=$(sched_ns "$pid")
  for ((i = 0; i < n; i++)); do
    t=$(curl -sS --max-time 120 -o /dev/null -w '%{time_total}' -X PROPFIND \
      -H 'Depth: 1' -H 'Content-Type: application/xml' --data "$PROPS" \
      "http://127.0.0.1:${PORT[$server]}/$folder/")
    wall=$(calc "$wall + $t" 6)
  done
  cpu1=$(sched_ns "$pid")
  echo "$(calc "$wall * 1000 / $n" 2) $(calc "($cpu1 - $cpu0) / 1e6 / $n" 2) $(status_kb VmHWM "$pid")"
}

# check_propfind <server> <folder> <files>: the answer is 207 with one
# <response> per file and the folder's own.
check_propfind() {
  local server=$1 folder=$2 files=$3 out code count
  out=$WORK/answer.xml
  code=$(curl -sS --max-time 120 -o "$out" -w '%{http_code}' -X PROPFIND -H 'Depth: 1' \
    -H 'Content-Type: application/xml' --data "$PROPS" "http://127.0.0.1:${PORT[$server]}/$folder/")
  count=$(grep -o '<[^/>]*response>' "$out" | wc -l)
  [[ $code == 207 && $count -eq $((files + 1)) ]] ||
    die "$server: PROPFIND $folder answered $code with $count responses (want 207, $((files + 1)))"
}

# copy <server> <dest>: rclone copy of the 1,000 small files; prints
# "wall_s cpu_s peak_kb".
copy() {
  local server=$1 dest=$2 pid=${PID[$1]} t0 t1 c0 c1 files bytes
  reset_peak "$pid"
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  RCLONE_CONFIG=/nonexistent RCLONE_CONFIG_B_TYPE=webdav \
    RCLONE_CONFIG_B_URL="http://127.0.0.1:${PORT[$server]}/" RCLONE_CONFIG_B_VENDOR=other \
    timeout 300 rclone copy --retries 1 --low-level-retries 1 "$WORK/src" "B:$dest" 2>>"$WORK/client.log" ||
    die "$server: rclone copy failed (see $WORK/client.log)"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  files=$(find "$ROOT/$dest" -type f | wc -l)
  bytes=$(du -sb "$ROOT/$dest" | awk '{print $1}')
  [[ $files -eq 1000 ]] || die "$server: $files files copied, want 1000"
  ((bytes >= 4096000)) || die "$server: $bytes bytes copied"
  echo "$(calc "$t1 - $t0" 3) $(calc "($c1 - $c0) / $(getconf CLK_TCK)" 2) $(status_kb VmHWM "$pid")"
}

say "warming up and checking the answers"
for server in "${SERVERS[@]}"; do
  check_propfind "$server" files1000 1000
  propfind "$server" files1000 2 >/dev/null
  check_propfind "$server" files20000 20000
  propfind "$server" files20000 1 >/dev/null
done

# ---------------------------------------------------------------- runs

declare -A R # R[server,measure] = space-separated values over repetitions
add() { R[$1,$2]="${R[$1,$2]:-} $3"; }
for ((rep = 0; rep < NREPS; rep++)); do
  order=("${SERVERS[@]:rep % ${#SERVERS[@]}}" "${SERVERS[@]:0:rep % ${#SERVERS[@]}}")
  for server in "${order[@]}"; do
    read -r w c p < <(propfind "$server" files1000 "$B1")
    add "$server" p1w "$w"; add "$server" p1c "$c"; add "$server" p1m "$p"
    read -r w c p < <(propfind "$server" files20000 "$B20")
    add "$server" p20w "$w"; add "$server" p20c "$c"; add "$server" p20m "$p"
    read -r w c p < <(copy "$server" "copy-$server-$rep")
    add "$server" cw "$w"; add "$server" cc "$c"; add "$server" cm "$p"
    say "rep $((rep + 1))/$NREPS $server done"
  done
done

# ---------------------------------------------------------------- report

cell() { # server measure decimals [divisor]
  local v=() x
  for x in ${R[$1,$2]:-}; do v+=("$(calc "$x / ${4:-1}" 6)"); done
  [[ ${#v[@]} -gt 0 ]] || { echo "–"; return; }
  spread "$3" "${v[@]}"
}
echo
echo "$(date -u +%F), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -r), $(stat -f -c %T "$WORK"); $NREPS repetitions, medians [range]"
echo
printf '| measurement |'
for server in "${SERVERS[@]}"; do printf ' %s |' "$server"; done
printf '\n|---|'
for server in "${SERVERS[@]}"; do printf -- '---:|'; done
echo
row() { # label measure decimals [divisor]
  printf '| %s |' "$1"
  for server in "${SERVERS[@]}"; do printf ' %s |' "$(cell "$server" "$2" "$3" "${4:-1}")"; done
  echo
}
row "PROPFIND Depth 1, 1,000 files: wall (ms)" p1w 2
row "… server CPU (ms)" p1c 2
row "… server peak RSS (MiB)" p1m 1 1024
row "PROPFIND Depth 1, 20,000 files: wall (ms)" p20w 1
row "… server CPU (ms)" p20c 1
row "… server peak RSS (MiB)" p20m 1 1024
row "rclone copy, 1,000 × 4 KiB: wall (s)" cw 2
row "… server CPU (s)" cc 2
row "… server peak RSS (MiB)" cm 1 1024
