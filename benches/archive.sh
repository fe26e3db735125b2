#!/usr/bin/env bash
# benches/archive.sh: a folder's ?zip against its ?tar (issue 32, "Measure
# it"), on 127.0.0.1, files on a tmpfs (or in --dir, on a disk).
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/archive.sh [--files N] [--size BYTES] [--reps N] [--dir DIR] [--cold]
#
# Builds ferry in release mode (honouring CARGO_TARGET_DIR; FERRY_BIN skips
# the build), fills a folder on /dev/shm (else $TMPDIR; in DIR with --dir,
# to measure a disk's file system, its files in the page cache) with N
# files (default 1,000) of BYTES each (default 1 MiB: 1 GiB in all), serves
# it with `ferry serve --workers 1 --http ...` and downloads `?tar` and
# `?zip` with curl to /dev/null, REPS times each (default 5, interleaved,
# after one unmeasured warm-up of each): GB/s and the server's CPU seconds
# (all its threads, /proc/PID/stat) per GiB of archive per run, the
# medians, and the ratio zip / tar of the median rates (target >= 0.9).
# A first zip costs one more read of every file (its CRC-32, on a
# checksum thread while the file is sent), and records each CRC-32 with
# its file; a zip again (the records kept) reads them back instead, as
# a folder downloaded twice does; the tar only sends. Each repetition
# times all three, in rotated order; the records are removed (untimed)
# before each first zip. One archive of each
# is checked (python3's zipfile testzip, tar -t) before anything is timed.
# With --cold (and --dir; needs root), the page cache is dropped (sync,
# /proc/sys/vm/drop_caches, untimed) before every timed download, so each
# reads its files from the disk, as a folder nobody has read lately is.
# The load average is printed before and after: the ratio, taken from
# interleaved runs, is what a loaded machine leaves comparable.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=archive.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

FILES=1000 SIZE=$((1 << 20)) REPS=5 DIR= COLD=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) FILES=${2:?--files needs a number}; shift ;;
    --size) SIZE=${2:?--size needs bytes}; shift ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    --dir) DIR=${2:?--dir needs a folder}; shift ;;
    --cold) COLD=1 ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
command -v curl >/dev/null || die "needs curl"
if [[ $COLD -eq 1 ]]; then
  [[ -n $DIR ]] || die "--cold needs --dir (a tmpfs has no disk to read from)"
  [[ -w /proc/sys/vm/drop_caches ]] || die "--cold needs root (/proc/sys/vm/drop_caches)"
fi

FERRY_PID=""
cleanup() {
  stop_pid "$FERRY_PID"
  [[ -n ${WORK:-} ]] && rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM

find_ferry
if [[ -n $DIR ]]; then
  WORK=$(mktemp -d "$DIR/ferry-archive.XXXXXX")
elif [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
  WORK=$(mktemp -d /dev/shm/ferry-archive.XXXXXX)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-archive.XXXXXX")
fi
say "work directory $WORK ($(stat -f -c %T "$WORK")), $FILES files of $SIZE bytes$( ((COLD)) && echo ", the page cache dropped before each download")"
mkdir -p "$WORK/root/set"
head -c "$SIZE" /dev/urandom >"$WORK/one"
for ((i = 0; i < FILES; i++)); do
  cp "$WORK/one" "$WORK/root/set/f$i.bin"
  # A byte of its own per file, so no two members are the same.
  printf '%08d' "$i" | dd of="$WORK/root/set/f$i.bin" conv=notrunc status=none
done
rm "$WORK/one"

launch FERRY_PID "$WORK/ferry.log" \
  "$FERRY" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 $(no_fsync "$FERRY") \
  --root "$WORK/root" --workers 1
HTTP=$(port_of HTTP "$SERVED")
URL="http://127.0.0.1:$HTTP/set/"

# Checked once: what is timed is a whole, readable archive.
curl -sf "$URL?zip" -o "$WORK/set.zip"
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.infolist()), "zip members")' "$WORK/set.zip" >&2
curl -sf "$URL?tar" -o "$WORK/set.tar"
say "$(tar -tf "$WORK/set.tar" | wc -l) tar members"
rm -f "$WORK/set.zip" "$WORK/set.tar"

# run <tar|zip>: "<GB/s> <server CPU s per GiB>" of one download to
# /dev/null.
TICK=$(getconf CLK_TCK)
run() {
  local before after
  if [[ $COLD -eq 1 ]]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
  fi
  before=$(cpu_ticks "$FERRY_PID")
  curl -sf "$URL?$1" -o /dev/null -w '%{size_download} %{time_total}\n' >"$WORK/run"
  after=$(cpu_ticks "$FERRY_PID")
  awk -v cpu=$((after - before)) -v tick="$TICK" \
    '{ printf "%.3f %.3f\n", $1 / $2 / 1e9, cpu / tick / ($1 / 2^30) }' "$WORK/run"
}
# forget: removes the zip CRC-32 records a zip leaves on its files
# (user.ferry.crc32, docs/http.md), so that the next zip is a first one,
# reading every file for its CRC-32. Not timed.
forget() {
  python3 - "$WORK/root/set" <<'PY'
import os, sys
for name in os.listdir(sys.argv[1]):
    try:
        os.removexattr(os.path.join(sys.argv[1], name), "user.ferry.crc32")
    except OSError:
        pass
PY
}
# first: a zip of files without records; again: with the records the
# zip before left (a folder zipped a second time).
first() {
  forget
  run zip
}
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run tar >/dev/null
first >/dev/null
TAR=() ZIP=() AGAIN=() TAR_CPU=() ZIP_CPU=() AGAIN_CPU=()
for ((r = 0; r < REPS; r++)); do
  case $((r % 3)) in
    0) t=$(run tar); z=$(first); a=$(run zip) ;;
    1) z=$(first); a=$(run zip); t=$(run tar) ;;
    2) a=$(run zip); t=$(run tar); z=$(first) ;;
  esac
  TAR+=("${t% *}") ZIP+=("${z% *}") AGAIN+=("${a% *}")
  TAR_CPU+=("${t#* }") ZIP_CPU+=("${z#* }") AGAIN_CPU+=("${a#* }")
  say "run $((r + 1)): tar ${t% *} GB/s ${t#* } CPU s/GiB, zip ${z% *} GB/s ${z#* } CPU s/GiB, zip again ${a% *} GB/s ${a#* } CPU s/GiB"
done
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
mt=$(median "${TAR[@]}")
mz=$(median "${ZIP[@]}")
ma=$(median "${AGAIN[@]}")
echo "tar median $mt GB/s $(median "${TAR_CPU[@]}") CPU s/GiB; zip (first) median $mz GB/s $(median "${ZIP_CPU[@]}") CPU s/GiB, zip/tar $(calc "$mz / $mt" 2); zip again median $ma GB/s $(median "${AGAIN_CPU[@]}") CPU s/GiB, zip again/tar $(calc "$ma / $mt" 2) (target >= 0.9)"
