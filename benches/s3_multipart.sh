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
# 10737418240 where the disk has room for it twice). Builds ferry in
# release mode (honouring CARGO_TARGET_DIR; FERRY_BIN skips the build),
# serves a fresh root with `ferry serve --workers 1 --s3 ...` and a token
# with an S3 key, and runs `aws s3 cp` of a file of SIZE random bytes with
# multipart_chunksize = PART (the CLI's default concurrency, 10 parts at
# once), then `aws s3 cp` back and cmp. Reported: the upload's time and
# throughput, the server's VmRSS after start-up (a first small request
# served) and its peak (VmHWM) after the upload, sampled VmRSS every
# 0.2 s during it (max), and what is left staged. Memory per upload is
# constant whatever its size (parts are staged on disk as ferry sessions,
# docs/s3.md), so the peak should not grow with SIZE: compare two sizes.
# Bounded by a watchdog (S3_MULTIPART_MAX_SECONDS, default 1200).

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
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  stop_watchdog
  rm -rf "$WORK"
}
trap cleanup EXIT
start_watchdog "${S3_MULTIPART_MAX_SECONDS:-1200}"
find_ferry

mkdir -p "$WORK/home" "$WORK/root"
eval "$("$FERRY" token add bench --tokens "$WORK/tokens" --grant read:/ --grant write:/ --s3 | grep '^AWS_')"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export HOME=$WORK/home AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$WORK/home/config AWS_SHARED_CREDENTIALS_FILE=$WORK/home/credentials
printf '[default]\ns3 =\n  multipart_threshold = %s\n  multipart_chunksize = %s\n' \
  "$PART" "$PART" >"$AWS_CONFIG_FILE"

S3_PORT=$(free_port)
FERRY_PORT=$(free_port)
"$FERRY" serve --listen "127.0.0.1:$FERRY_PORT" --s3 "127.0.0.1:$S3_PORT" $(no_fsync "$FERRY") \
  --root "$WORK/root" --tokens "$WORK/tokens" --workers 1 2>"$WORK/server.log" &
SERVER=$!
PIDS+=("$SERVER")
wait_port "$S3_PORT"
ENDPOINT=http://127.0.0.1:$S3_PORT
s3() { aws --endpoint-url "$ENDPOINT" s3 "$@" >/dev/null; }

say "making $SIZE random bytes"
head -c "$SIZE" /dev/urandom >"$WORK/src.bin"
s3 mb s3://bench
s3 ls s3://bench
RSS_START=$(status_kb VmRSS "$SERVER")

say "aws s3 cp: $SIZE bytes in parts of $PART"
(
  max=0
  while kill -0 "$SERVER" 2>/dev/null; do
    v=$(status_kb VmRSS "$SERVER")
    ((v > max)) && max=$v && echo "$max" >"$WORK/rss.max"
    sleep 0.2
  done
) &
SAMPLER=$!
PIDS+=("$SAMPLER")
T0=$(date +%s.%N)
s3 cp "$WORK/src.bin" s3://bench/big.bin
T1=$(date +%s.%N)
stop_pid "$SAMPLER"
PEAK=$(status_kb VmHWM "$SERVER")
SAMPLED=$(cat "$WORK/rss.max" 2>/dev/null || echo 0)
cmp "$WORK/src.bin" "$WORK/root/bench/big.bin" || die "the stored object differs"
s3 cp s3://bench/big.bin "$WORK/back.bin"
cmp "$WORK/src.bin" "$WORK/back.bin" || die "the object read back differs"
LEFT=$(find "$WORK/root/.ferry-uploads" -mindepth 1 ! -name lock | wc -l)

SECS=$(calc "$T1 - $T0" 2)
echo
echo "| object | part | upload s | MB/s | RSS at start | peak RSS (VmHWM) | max sampled RSS | left staged |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $((SIZE >> 20)) MiB | $((PART >> 20)) MiB | $SECS | $(calc "$SIZE / 1000000 / $SECS" 0) | $((RSS_START / 1024)) MiB | $((PEAK / 1024)) MiB | $((SAMPLED / 1024)) MiB | $LEFT |"
