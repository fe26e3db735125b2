#!/usr/bin/env bash
# benches/s3_multipart.sh: an S3 multipart upload through the AWS CLI
# (issue 29, "Measure it": a big object in 64 MiB parts, the server's
# memory flat), on 127.0.0.1, the root on disk ($TMPDIR).
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/s3_multipart.sh [--size BYTES] [--part BYTES]
#
# Defaults: 1 GiB in 64 MiB parts (the issue asks 10 GiB: --size
# 10737418240; the disk needs room for it twice, the parts and the
# assembled object). Builds ferry in release mode (honouring
# CARGO_TARGET_DIR; FERRY_BIN skips the build), serves a fresh root with
# `ferry serve --workers 1 --s3 ...` and a token with an S3 key, and runs
# `aws s3 cp - s3://...` of SIZE pseudo-random bytes (AES-CTR from
# openssl, piped: no source file on disk, its MD5 taken on the way) with
# multipart_chunksize = PART (the CLI's default concurrency, 10 parts at
# once), then checks the stored file's MD5 and the object's read back
# with `aws s3 cp s3://... -`. Reported: the upload's time and
# throughput, the CompleteMultipartUpload's share of it (the access log's
# time for it: the parts assembled into the object), the server's VmRSS
# after start-up (a first small request served), its VmRSS sampled every
# 0.5 s during the upload (at a quarter, half, three quarters of it, the
# median and the max) and its peak (VmHWM) after, and what is left
# staged. Memory per upload is constant whatever its
# size (parts are staged on disk as ferry sessions, docs/s3.md), so the
# samples should stay level and the peak should not grow with SIZE.
# Bounded by a watchdog (S3_MULTIPART_MAX_SECONDS, default 1800).

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=s3_multipart.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

SIZE=$((1 << 30))
PART=$((64 << 20))
while (($#)); do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --part) PART=$2; shift 2 ;;
    *) die "unknown option $1 (see the header)" ;;
  esac
done
command -v aws >/dev/null || die "aws not found (pip install awscli)"

PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-s3-multipart.XXXXXX")
cleanup() {
  local rc=$? pid
  if ((rc != 0)) && cp "$WORK/server.log" "${TMPDIR:-/tmp}/ferry-s3-multipart.log" 2>/dev/null; then
    echo "$NAME: the server's log is kept in ${TMPDIR:-/tmp}/ferry-s3-multipart.log" >&2
  fi
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  stop_watchdog
  rm -rf "$WORK"
}
trap cleanup EXIT
start_watchdog "${S3_MULTIPART_MAX_SECONDS:-1800}"
find_ferry

mkdir -p "$WORK/home" "$WORK/root"
eval "$("$FERRY" token add bench --tokens "$WORK/tokens" --grant read:/ --grant write:/ --s3 | grep '^AWS_')"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export HOME=$WORK/home AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$WORK/home/config AWS_SHARED_CREDENTIALS_FILE=$WORK/home/credentials
printf '[default]\ns3 =\n  multipart_threshold = %s\n  multipart_chunksize = %s\n' \
  "$PART" "$PART" >"$AWS_CONFIG_FILE"

"$FERRY" serve --listen 127.0.0.1:0 --s3 127.0.0.1:0 $(no_fsync "$FERRY") \
  --root "$WORK/root" --tokens "$WORK/tokens" --workers 1 2>"$WORK/server.log" &
SERVER=$!
PIDS+=("$SERVER")
S3_PORT=$(port_of S3 "$(served "$WORK/server.log" "$SERVER")")
ENDPOINT=http://127.0.0.1:$S3_PORT
s3() { aws --endpoint-url "$ENDPOINT" s3 "$@" >/dev/null; }

s3 mb s3://bench
s3 ls s3://bench
RSS_START=$(status_kb VmRSS "$SERVER")

# SIZE bytes of AES-CTR keystream: fast, and the same for every run.
source_bytes() {
  # openssl ends on SIGPIPE when head has enough: not a failure here.
  set +o pipefail
  openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
    -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null | head -c "$SIZE"
}

say "aws s3 cp -: $SIZE bytes in parts of $PART"
(
  t0=$SECONDS
  while kill -0 "$SERVER" 2>/dev/null; do
    echo "$((SECONDS - t0)) $(status_kb VmRSS "$SERVER")" >>"$WORK/rss.log"
    sleep 0.5
  done
) &
SAMPLER=$!
PIDS+=("$SAMPLER")
mkfifo "$WORK/tee"
md5sum <"$WORK/tee" >"$WORK/src.md5" &
HASHER=$!
T0=$(date +%s.%N)
# --cli-read-timeout 0: ferry answers CompleteMultipartUpload once the
# object is assembled (no early 200, docs/s3.md), which can outlast the
# CLI's 60 s on a busy machine; its retry would find the upload gone.
source_bytes | tee "$WORK/tee" |
  aws --endpoint-url "$ENDPOINT" --cli-read-timeout 0 s3 cp - s3://bench/big.bin >/dev/null
T1=$(date +%s.%N)
stop_pid "$SAMPLER"
wait "$HASHER"
PEAK=$(status_kb VmHWM "$SERVER")
SRC_MD5=$(cut -d' ' -f1 "$WORK/src.md5")
[[ $(stat -c %s "$WORK/root/bench/big.bin") -eq $SIZE ]] || die "the stored object is not $SIZE bytes"
say "checking the stored file and the object read back"
[[ $(md5sum <"$WORK/root/bench/big.bin" | cut -d' ' -f1) == "$SRC_MD5" ]] || die "the stored object differs"
[[ $(aws --endpoint-url "$ENDPOINT" s3 cp s3://bench/big.bin - | md5sum | cut -d' ' -f1) == "$SRC_MD5" ]] ||
  die "the object read back differs"
LEFT=$(find "$WORK/root/.ferry-uploads" -mindepth 1 ! -name lock ! -name id-key | wc -l)

# at <fraction>: the VmRSS sample nearest that fraction of the upload, MiB.
at() {
  awk -v f="$1" '{ t[NR] = $1; v[NR] = $2 } END {
    want = f * t[NR]; best = 1
    for (i = 1; i <= NR; i++) if ((t[i] - want)^2 < (t[best] - want)^2) best = i
    printf "%d", v[best] / 1024 }' "$WORK/rss.log"
}
SAMPLED=$(awk '$2 > m { m = $2 } END { printf "%d", m / 1024 }' "$WORK/rss.log")
mapfile -t SAMPLES < <(awk '{ print $2 }' "$WORK/rss.log")
MEDIAN_RSS=$(median "${SAMPLES[@]}")
# CompleteMultipartUpload's own time, from the access log (its last field):
# the assembly of the parts into the object.
COMPLETE=$(awk '/ s3 commit / { t = $NF } END { print t }' "$WORK/server.log")
SECS=$(calc "$T1 - $T0" 2)
echo
echo "| object | part | upload s | of which completion s | MB/s | RSS at start | RSS at 1/4, 1/2, 3/4 | median sampled RSS | max sampled RSS | peak RSS (VmHWM) | left staged |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
echo "| $((SIZE >> 20)) MiB | $((PART >> 20)) MiB | $SECS | ${COMPLETE:-?} | $(calc "$SIZE / 1000000 / $SECS" 0) | $((RSS_START / 1024)) MiB | $(at 0.25), $(at 0.5), $(at 0.75) MiB | $(calc "$MEDIAN_RSS / 1024" 0) MiB | $SAMPLED MiB | $((PEAK / 1024)) MiB | $LEFT |"
