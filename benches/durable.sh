#!/usr/bin/env bash
# benches/durable.sh: what durable acknowledgements (--fsync) cost, and
# what group commit (storage/posix/flush.rs) wins back (issue 30). Three servers
# run side by side on a disk-backed folder (not tmpfs: a flush there is
# free): with --no-fsync (start_server's default here), with --fsync as
# before group commit (--base, a binary built before it), and with --fsync
# (ferry's default since) and group commit (this checkout). `ferry bench --op put` drives 4 KiB and 1 MiB PUTs over 1 and
# 50 connections (each connection a file of its own, all in one folder) at
# each in turn, the order rotated every repetition: a disk's speed varies
# several-fold from run to run, so the figures are medians of interleaved
# repetitions, each run after a `sync`. Then one counting pass per server under
# `strace -f -c -e trace=fsync,fdatasync,syncfs` (slower, so only the
# counts are kept): flushes per upload.
#
#   benches/durable.sh --base PATH [--reps N] [--seconds S] [--dir DIR]
#                      [--slow-flush MS] [--group-args 'ARGS']
#
# --dir: where the roots go (default /var/tmp; refused if tmpfs/ramfs).
# --slow-flush MS: the roots go on a slow-flush disk made for the run, an
# SD card's stand-in: ext4 on a loop device whose file lies on a FUSE
# file system (benches/slowfs.c) that adds MS ms to each fsync, under
# --dir. The loop device turns every cache flush ext4 sends it (each
# journal commit's, each fsync's) into an fsync of its file, so a flush
# costs MS ms and more; writes pass through at the disk's speed. Device
# mapper's `delay` target would do the same, but kernels without device
# mapper (this machine's) are common in VMs; a loop device and FUSE are
# not. Needs root, /dev/fuse, losetup, mkfs.ext4 and a C compiler with
# libfuse3 (installed from Debian if missing); skipped with a message
# otherwise. Torn down on exit.
# --group-args: more options for the group-commit server only (e.g.
# '--io-threads 64', to see whether the I/O pool bounds it).
# Without --base the "before" column is left out. FERRY_BIN,
# CARGO_TARGET_DIR: as for compare.sh. Bounded in time; servers and files
# are removed on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=durable.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REPS=5 SECS=3 BASE='' DIR=/var/tmp SLOW='' GROUP_ARGS=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --seconds) SECS=${2:?}; shift ;;
    --base) BASE=${2:?}; shift ;;
    --dir) DIR=${2:?}; shift ;;
    --slow-flush) SLOW=${2:?}; shift ;;
    --group-args) GROUP_ARGS=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

fs=$(stat -f -c %T "$DIR")
case $fs in tmpfs | ramfs) die "$DIR is on $fs: flushes are free there; give --dir on a disk" ;; esac
command -v strace >/dev/null || install_missing strace
PIDS=() WORK='' DEV='' LOOP='' FS_PID=''
cleanup() {
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  # Else it outlives the script, holding its standard error open: a
  # caller reading the output (`| tail`) waited for the time limit.
  stop_watchdog
  [[ -n $WORK ]] && rm -rf "$WORK"
  [[ -n $DEV ]] && slow_device_down
}
trap cleanup EXIT

skip() {
  echo "$NAME: skipped: $*" >&2
  exit 0
}

# --slow-flush: makes the slow-flush disk under $DIR (see the header) and
# points DIR at its ext4.
slow_device_up() {
  [[ $EUID -eq 0 ]] || skip "--slow-flush needs root (a loop device and a FUSE mount)"
  [[ -e /dev/fuse ]] || skip "--slow-flush needs /dev/fuse"
  if ! command -v losetup >/dev/null || ! command -v mkfs.ext4 >/dev/null; then
    skip "--slow-flush needs losetup and mkfs.ext4"
  fi
  command -v cc >/dev/null || install_missing gcc
  pkg-config --exists fuse3 2>/dev/null || install_missing pkg-config libfuse3-dev
  DEV=$(mktemp -d "$DIR/ferry-slowdev.XXXXXX")
  mkdir "$DEV/backing" "$DEV/fuse" "$DEV/mnt"
  # shellcheck disable=SC2046 # pkg-config's flags are words
  cc -O2 -Wall -o "$DEV/slowfs" "$SCRIPT_DIR/slowfs.c" $(pkg-config --cflags --libs fuse3) ||
    skip "cannot compile slowfs.c"
  "$DEV/slowfs" "$DEV/backing" 0 "$DEV/fuse" 4 "$((SLOW * 1000))" >"$DEV/slowfs.log" 2>&1 &
  FS_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    mountpoint -q "$DEV/fuse" && break
    sleep 0.05
  done
  mountpoint -q "$DEV/fuse" || skip "slowfs did not mount: $(cat "$DEV/slowfs.log")"
  truncate -s 2G "$DEV/fuse/disk"
  LOOP=$(losetup -f --show --direct-io=off "$DEV/fuse/disk") || skip "no loop device"
  # Initialised now, not by a kernel thread during the runs.
  mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
  mount "$LOOP" "$DEV/mnt"
  DIR=$DEV/mnt
  fs="ext4 on a loop device, ${SLOW} ms per flush"
}

slow_device_down() {
  mountpoint -q "$DEV/mnt" && { umount "$DEV/mnt" || umount -l "$DEV/mnt"; }
  [[ -n $LOOP ]] && losetup -d "$LOOP"
  mountpoint -q "$DEV/fuse" && { umount "$DEV/fuse" || umount -l "$DEV/fuse"; }
  stop_pid "$FS_PID"
  # Never remove anything through a mount that is still there.
  mountpoint -q "$DEV/mnt" || mountpoint -q "$DEV/fuse" || rm -rf "$DEV"
}

[[ -n $SLOW ]] && slow_device_up
WORK=$(mktemp -d "$DIR/ferry-durable.XXXXXX")
start_watchdog $((REPS * 12 * (SECS + 5) + 600))
find_ferry

SERVERS=(plain group)
start_server plain "$FERRY" "$WORK/plain.log" --log-level warn
# shellcheck disable=SC2086 # the extra options are words
start_server group "$FERRY" "$WORK/group.log" --log-level warn --fsync $GROUP_ARGS
if [[ -n $BASE ]]; then
  SERVERS=(plain before group)
  start_server before "$BASE" "$WORK/before.log" --log-level warn --fsync
fi
say "roots under $WORK ($fs)"

declare -A RATE
bench() { # server size connections seconds -> the JSON report's path
  local port=PORT_$1 out=$WORK/$1-$2-$3.json
  # Each run starts with no dirty pages of the last one: a journal commit
  # (any flush) writes out what an earlier run left unflushed.
  sync
  timeout $(($4 + 60)) "$FERRY" bench --server "127.0.0.1:${!port}" --op put --size "$2" \
    --connections "$3" --duration "$4" --json >"$out"
  echo "$out"
}
for ((rep = 0; rep < REPS; rep++)); do
  for size in 4K 1M; do
    for conns in 1 50; do
      n=${#SERVERS[@]}
      for ((i = 0; i < n; i++)); do
        server=${SERVERS[(i + rep) % n]}
        out=$(bench "$server" "$size" "$conns" "$SECS")
        RATE[$server-$size-$conns]+="$(jget "$out" ops_per_sec) "
        say "rep $rep $server $size x$conns: $(jget "$out" ops_per_sec) PUTs/s, errors $(jget "$out" errors)"
      done
    done
  done
done

# Flushes per upload: strace attached to each server for one more run.
declare -A FLUSHES
for size in 4K 1M; do
  for conns in 1 50; do
    for server in "${SERVERS[@]}"; do
      pid=PID_$server
      # -qq: no "attached"/"detached" line per thread on the terminal.
      strace -qq -f -c -e trace=fsync,fdatasync,syncfs -p "${!pid}" -o "$WORK/strace" &
      tracer=$!
      sleep 0.5 # strace attaches to every thread before the run starts
      out=$(bench "$server" "$size" "$conns" 2)
      kill -INT "$tracer"
      wait "$tracer" || true
      calls=$(awk '$NF ~ /^(fsync|fdatasync|syncfs)$/ { n += $4 } END { print n + 0 }' "$WORK/strace")
      FLUSHES[$server-$size-$conns]=$(calc "$calls / $(jget "$out" ops)" 2)
    done
  done
done

label() {
  case $1 in
    plain) echo "--no-fsync" ;;
    before) echo "--fsync, before group commit" ;;
    group) echo "--fsync, group commit${GROUP_ARGS:+ ($GROUP_ARGS)}" ;;
  esac
}
echo
echo "PUTs/s on $fs ($DIR), ${SECS}s x $REPS interleaved, median [min–max]; flushes per upload (strace pass)"
echo "| | 4 KiB x1 | 4 KiB x50 | 1 MiB x1 | 1 MiB x50 |"
echo "|---|---|---|---|---|"
for server in "${SERVERS[@]}"; do
  row="| $(label "$server") |"
  for case in 4K-1 4K-50 1M-1 1M-50; do
    read -ra values <<<"${RATE[$server-$case]}"
    row+=" $(spread 0 "${values[@]}") (${FLUSHES[$server-$case]}) |"
  done
  echo "$row"
done
# shellcheck disable=SC2034 # read by name in `paired`
for case in 4K-50 4K-1; do
  read -ra p <<<"${RATE[plain-$case]}"
  read -ra g <<<"${RATE[group-$case]}"
  echo "$case: group commit / no --fsync: $(paired g p)"
  if [[ -n $BASE ]]; then
    read -ra b <<<"${RATE[before-$case]}"
    echo "$case: group commit / before: $(paired g b)"
  fi
done
