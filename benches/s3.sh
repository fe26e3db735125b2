#!/usr/bin/env bash
# benches/s3.sh: the S3 listener against ferry's own HTTP (issue 29,
# "Measure it"), on 127.0.0.1, one server with --listen, --http and --s3
# and --workers 1, a token with an S3 key.
#
# Mode: ferry runs with durable acknowledgements, its default (each
# upload flushed before it is answered), for HTTP and S3 alike, so the
# ratios compare like with like; on a slow-flushing disk the PUT figures
# say as much about the flush as about S3 (benches/durable.sh has what
# the flush costs).
#
#   benches/s3.sh [--quick] [--reps N] [--size BYTES] [--requests N]
#                 [--keys N] [--layouts "flat folders"] [--multipart BYTES|auto|none]
#                 [--no-callgrind] [--sections "1 2 3 4"]
#
#   1. 1 GiB PutObject and GetObject against HTTP PUT and GET, N
#      interleaved repetitions (default 5; the order alternates), the root
#      on disk (S3_TMPDIR, default /var/tmp). The client is curl for both:
#      `curl -T` with `Authorization: Bearer` and with `--aws-sigv4`
#      (UNSIGNED-PAYLOAD: the server still computes the MD5 for the ETag).
#      boto3's put_object/get_object (signed payload over HTTP, with its
#      CRC-32: the SHA-256 and the CRC-32 checked by the server too) is a
#      third contender, to show which client is the bottleneck. Each
#      transfer: wall time, the client's CPU (getrusage of the command) and
#      the server's (utime+stime of all its threads, /proc/<pid>/stat);
#      every stored file compared with the source (cmp). Target: S3 ≥ 0.9×
#      HTTP, the ratio taken within each repetition, median.
#   2. 4 KiB GetObject: the server's CPU per request, against HTTP GET with
#      a token (and anonymous), REQUESTS GETs (default 20000) on one
#      keep-alive connection from benches/s3_client.py (the same socket
#      code, only the head differs: SigV4 in the header, signed anew for
#      every request but before the clock starts, so that the client's
#      pace is the same), N interleaved repetitions, the root on a tmpfs
#      (/dev/shm). Then, unless --no-callgrind or valgrind is missing, the
#      exact figure: instructions per request under callgrind (1000 and
#      2000 requests, the difference over 1000; benches/callgrind.sh's
#      method). Target: S3 ≤ 1.3× HTTP.
#   3. ListObjectsV2 of KEYS keys (default 100000) paged through (1000 a
#      page, continuation-token), flat (one folder) and in folders of 1000,
#      each on a fresh server: total time, pages, server CPU and peak RSS
#      (VmHWM, start-up included). Target: peak RSS < 64 MiB.
#   4. A multipart upload with 64 MiB parts through the AWS CLI
#      (benches/s3_multipart.sh): `auto` (the default) is 10 GiB when the
#      work folder's file system has ≥ 30 GB free, else 3 GiB (said in the
#      output); the server's VmRSS sampled during it. Runs last, after 5;
#      its data goes right after.
#   5. Issue 50's three targets, in one run. First (and again last) the
#      rates of ferry's own MD5 and SHA-256 on one core
#      (`cargo bench --bench hashes`, 1 MiB buffers; the faster of the two
#      measurements counts, the stricter for both targets). Then SIZE
#      bytes uploaded N times, interleaved (the order alternating): HTTP
#      PUT (curl), PutObject (curl, UNSIGNED-PAYLOAD: the MD5 alone),
#      PutObject with a signed payload (curl, the body's SHA-256 in
#      x-amz-content-sha256: the server checks it), and multipart uploads
#      by the AWS CLI and by rclone, each with its own defaults (parts
#      of 8 MiB, 10 at once; 5 MiB, 4 at once), whichever of the two is
#      installed. Every stored file compared with its source. Targets:
#      PutObject ≥ 0.9× the MD5's rate; each multipart upload ≥ 0.8× the
#      HTTP PUT (the median of the ratios within each repetition); the
#      signed PutObject's server CPU per GiB ≤ 1.1 × (the HTTP PUT's +
#      one MD5 + one SHA-256). The root is S3_TMPDIR's like section 1:
#      /dev/shm takes the disk out, which is the point of the first and
#      third targets.
#
# --sections: which of the five to run (default all), e.g. `--sections 2`
# for the 4 KiB GET alone.
#
# Figures are medians (range in brackets); a markdown table comes last on
# standard output, progress to standard error. The machine's load average
# is printed at the start and the end: the ratios are taken within one run
# so that a busy machine moves both sides. --quick: 1 repetition, 256 MiB,
# 5000 requests, 20000 keys, no multipart. Bounded by a watchdog
# (S3_MAX_SECONDS, default 3600); servers and data go on exit.
# FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/s3_client.py"
NAME=s3.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

QUICK=0 NREPS="" SIZE="" REQUESTS="" KEYS="" MULTIPART="" CALLGRIND=1 LAYOUTS="flat folders"
SECTIONS="1 2 3 4 5"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) NREPS=${2:?}; shift ;;
    --size) SIZE=${2:?}; shift ;;
    --requests) REQUESTS=${2:?}; shift ;;
    --keys) KEYS=${2:?}; shift ;;
    --multipart) MULTIPART=${2:?}; shift ;;
    --no-callgrind) CALLGRIND=0 ;;
    --layouts) LAYOUTS=${2:?}; shift ;;
    --sections) SECTIONS=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then
  NREPS=${NREPS:-1} SIZE=${SIZE:-$((256 << 20))} REQUESTS=${REQUESTS:-5000}
  KEYS=${KEYS:-20000} MULTIPART=${MULTIPART:-none}
else
  NREPS=${NREPS:-5} SIZE=${SIZE:-$((1 << 30))} REQUESTS=${REQUESTS:-20000}
  KEYS=${KEYS:-100000} MULTIPART=${MULTIPART:-auto}
fi
command -v curl >/dev/null || die "curl not found"
command -v valgrind >/dev/null || CALLGRIND=0
BOTO3=0
python3 -c 'import boto3' 2>/dev/null && BOTO3=1

SERVER="" SHM=""
PID_VARS=(SERVER)
# shellcheck disable=SC2317 # run by cleanup
release() { [[ -z $SHM ]] || rm -rf -- "$SHM"; }
WORK=$(mktemp -d "${S3_TMPDIR:-/var/tmp}/ferry-s3.XXXXXX")
clean_up_at_exit "${S3_MAX_SECONDS:-3600}"
SHM=$(mktemp -d "$([[ $(stat -f -c %T /dev/shm) == tmpfs ]] && echo /dev/shm || echo "$WORK")/ferry-s3.XXXXXX")
find_ferry
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "work folders $WORK ($(stat -f -c %T "$WORK")) and $SHM ($(stat -f -c %T "$SHM")); load $LOAD_START"

# A token with an S3 key; HTTP uses the token, S3 the key.
eval "$("$FERRY" token add bench --tokens "$WORK/tokens" --grant read:/ --grant write:/ \
  --grant delete:/ --s3 | grep -E '^(FERRY_TOKEN|AWS_)')"
KEY="$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"

# serve <root> [flags...]: a fresh server on the root (the one before
# stopped), on ports the kernel picks (read back from its log: `served`).
serve() {
  local root=$1
  shift
  stop_pid "$SERVER"
  : >"$WORK/server.log"
  "$FERRY" serve --root "$root" \
    --listen 127.0.0.1:0 --http 127.0.0.1:0 --s3 127.0.0.1:0 \
    --tokens "$WORK/tokens" --workers 1 --no-access-log "$@" \
    >>"$WORK/server.log" 2>&1 &
  SERVER=$!
  ports_of "$(served "$WORK/server.log" "$SERVER")"
}

# ports_of <served line>: sets HTTP_PORT and S3_PORT.
ports_of() {
  HTTP_PORT=$(port_of HTTP "$1")
  S3_PORT=$(port_of S3 "$1")
}

# timed <json var> command...: one run of a client, through s3_client.py.
timed() {
  local var=$1 json
  shift
  json=$(python3 "$CLIENT" timed --pid "$SERVER" -- "$@")
  printf -v "$var" '%s' "$json"
}

wants() { [[ " $SECTIONS " == *" $1 "* ]]; } # section number

# curl before 8.x signs no x-amz-content-sha256 by itself, which S3 requires.
SIGV4=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
BEARER=(-H "Authorization: Bearer $FERRY_TOKEN")

# Per transfer kind: seconds, server CPU and client CPU of each repetition.
declare -A SEC CPU CCPU
record() { # kind json: appends its figures
  SEC[$1]+="$(jget <(echo "$2") seconds) "
  CPU[$1]+="$(jget <(echo "$2") server_cpu) "
  CCPU[$1]+="$(jget <(echo "$2") client_cpu) "
}

# ------------------------------------------------------------ reports
# Each section's table goes out as soon as it is measured, so that a run
# cut short still says what it measured.

ratio() { ratio_of "${SEC[$1]}" "${SEC[$2]}"; } # seconds a / seconds b: b's throughput / a's
# per <expression of x> <values>: the expression of each value, as spread.
per() {
  local expr=$1 x v=()
  for x in $2; do v+=("$(calc "${expr//x/$x}" 3)"); done
  spread 2 "${v[@]}"
}
gbps() { per "$SIZE / 1e9 / x" "${SEC[$1]}"; }
ceiling() { # kind: nproc / (server + client CPU per GB), the medians
  calc "$(nproc) * $SIZE / 1e9 / ($(median ${CPU[$1]}) + $(median ${CCPU[$1]}))" 2
}
per_gib() { per "x * 1073741824 / $SIZE" "$1"; }

report_1() {
  echo
  echo "### 1. $((SIZE >> 20)) MiB, $NREPS repetitions, root on $(stat -f -c %T "$WORK"), load average $(cut -d" " -f1-3 /proc/loadavg)"
  echo
  echo "| transfer | GB/s | server CPU s/GiB | client CPU s/GiB | throughput / HTTP's |"
  echo "|---|---|---|---|---|"
  for op in put get; do
    for kind in "${KINDS[@]}"; do
      r="—"
      [[ $kind != http ]] && r="$(ratio "$op-http" "$op-$kind")"
      echo "| $op $kind | $(gbps "$op-$kind") | $(per_gib "${CPU[$op-$kind]}") | $(per_gib "${CCPU[$op-$kind]}") | $r |"
    done
  done
  for op in put get; do
    r=$(ratio_of "${SEC[$op-http]}" "${SEC[$op-s3]}")
    echo
    echo "S3 $op (curl) / HTTP $op throughput: $r (target ≥ 0.9: $(verdict "$r >= 0.9"))"
  done
}

report_2() {
  echo
  echo "### 2. 4 KiB GET, $REQUESTS requests a run, root on $(stat -f -c %T "$SHM"), load average $(cut -d" " -f1-3 /proc/loadavg)"
  echo
  echo "| GET | server µs/request | / HTTP with token |"
  echo "|---|---|---|"
  for kind in anonymous token s3; do
    echo "| $kind | $(per x "${US[$kind]}") | $(ratio_of "${US[$kind]}" "${US[token]}") |"
  done
  r=$(ratio_of "${US[s3]}" "${US[token]}")
  echo
  echo "S3 / HTTP (token) CPU per request: $r (target ≤ 1.3: $(verdict "$r <= 1.3"))"
  if [[ $CALLGRIND -eq 1 ]]; then
    r=$(calc "${INSNS[s3]} / ${INSNS[token]}" 2)
    echo
    echo "callgrind, instructions per request: HTTP GET with token ${INSNS[token]}, S3 GetObject ${INSNS[s3]}: $r (target ≤ 1.3: $(verdict "$r <= 1.3"))"
  fi
}

report_3() {
  echo
  echo "### 3. ListObjectsV2 of $KEYS keys, 1000 a page, root on $(stat -f -c %T "$WORK"), load average $(cut -d" " -f1-3 /proc/loadavg)"
  echo
  echo "| layout | seconds | pages | server CPU s | RSS before | peak RSS (VmHWM) | < 64 MiB |"
  echo "|---|---|---|---|---|---|---|"
  for layout in $LAYOUTS; do echo "| $layout | ${LIST[$layout]} |"; done
}

report_4() {
  if [[ -n $MP_TABLE ]]; then
    echo
    echo "### 4. multipart upload (aws s3 cp, 64 MiB parts)"
    echo
    echo "$MP_TABLE"
  fi
}

report_5() {
  local kind r md5_gbs put_gbs i ratios=() s3=() http=() signed=()
  echo
  echo "### 5. issue 50's targets: $((SIZE >> 20)) MiB, $NREPS repetitions, root on $(stat -f -c %T "$WORK"), load average $(cut -d" " -f1-3 /proc/loadavg)"
  echo
  if [[ -n $MD5_S ]]; then
    echo "ferry's hashes on one core (benches/hashes.rs, before and after the uploads): MD5 $MD5_RUNS s/GiB, SHA-256 $SHA_RUNS s/GiB; the faster counts."
    echo
  fi
  echo "| upload | GB/s | server CPU s/GiB | client CPU s/GiB | CPU-bound ceiling GB/s | throughput / HTTP PUT's |"
  echo "|---|---|---|---|---|---|"
  for kind in "${KINDS5[@]}"; do
    r="—"
    [[ $kind != http ]] && r="$(ratio "5-http" "5-$kind")"
    echo "| ${LABEL5[$kind]} | $(gbps "5-$kind") | $(per_gib "${CPU[5-$kind]}") | $(per_gib "${CCPU[5-$kind]}") | $(ceiling "5-$kind") | $r |"
  done
  echo
  echo "The ceiling: what this machine's $(nproc) CPUs would carry if client and server used nothing but CPU and shared them perfectly, $(nproc) / (server + client CPU per GB), the medians."
  echo
  if [[ -z $MD5_S ]]; then
    echo "No hash rates (cargo not found): the first and third targets are not judged."
  else
    md5_gbs=$(calc "1.073741824 / $MD5_S" 3)
    put_gbs=$(calc "$SIZE / 1e9 / $(median ${SEC[5-s3]})" 3)
    r=$(calc "$put_gbs / $md5_gbs" 2)
    echo "PutObject (curl) $put_gbs GB/s / ferry's MD5 $md5_gbs GB/s: $r (target ≥ 0.9: $(verdict "$r >= 0.9"))"
    read -r -a http <<<"${CPU[5-http]}"
    read -r -a signed <<<"${CPU[5-signed]}"
    for ((i = 0; i < ${#http[@]}; i++)); do
      ratios+=("$(calc "${signed[i]} * 1073741824 / $SIZE / (${http[i]} * 1073741824 / $SIZE + $MD5_S + $SHA_S)" 4)")
    done
    r=$(calc "$(median "${ratios[@]}")" 2)
    echo "signed PutObject's server CPU / (HTTP PUT's + one MD5 + one SHA-256): $r (target ≤ 1.1: $(verdict "$r <= 1.1"))"
  fi
  for kind in aws rclone; do
    [[ -n ${SEC[5-$kind]:-} ]] || continue
    r=$(ratio "5-http" "5-$kind")
    echo "multipart by ${LABEL5[$kind]} / HTTP PUT throughput: $r (target ≥ 0.8: $(verdict "$r >= 0.8"))"
  done
}

# ------------------------------------------------------------ 1. 1 GiB

if wants 1; then
  say "1. $SIZE bytes: PUT and GET, HTTP against S3 (curl), $NREPS repetitions"
  mkdir -p "$WORK/root/bench"
  head -c "$SIZE" /dev/urandom >"$WORK/src.bin"
  serve "$WORK/root"
  HTTP_URL=http://127.0.0.1:$HTTP_PORT/bench
  S3_URL=http://127.0.0.1:$S3_PORT/bench
  boto3_call() { # put|get key
    python3 "$CLIENT" boto3 "$1" --port "$S3_PORT" --pid "$SERVER" --key "$KEY" --name "$2" \
      --file "$WORK/src.bin"
  }
  one_put() { # kind
    local j
    case $1 in
      http) timed j curl -sS --fail -T "$WORK/src.bin" "${BEARER[@]}" "$HTTP_URL/http.bin" ;;
      s3) timed j curl -sS --fail -T "$WORK/src.bin" "${SIGV4[@]}" "$S3_URL/s3.bin" ;;
      boto3) j=$(boto3_call put boto3.bin) ;;
    esac
    record "put-$1" "$j"
    cmp -s "$WORK/src.bin" "$WORK/root/bench/$1.bin" || die "$1 PUT: the stored file differs"
  }
  one_get() { # kind
    local j
    case $1 in
      http) timed j curl -sS --fail -o /dev/null "${BEARER[@]}" "$HTTP_URL/http.bin" ;;
      s3) timed j curl -sS --fail -o /dev/null "${SIGV4[@]}" "$S3_URL/s3.bin" ;;
      boto3) j=$(boto3_call get boto3.bin) ;;
    esac
    record "get-$1" "$j"
  }
  KINDS=(http s3)
  [[ $BOTO3 -eq 1 ]] && KINDS+=(boto3)
  for ((rep = 0; rep < NREPS; rep++)); do
    order=("${KINDS[@]}")
    if ((rep % 2)); then mapfile -t order < <(printf '%s\n' "${KINDS[@]}" | tac); fi
    for kind in "${order[@]}"; do one_put "$kind"; done
    for kind in "${order[@]}"; do one_get "$kind"; done
    say "  repetition $((rep + 1)) done"
  done
  rm -f "$WORK/root/bench/"*.bin
  report_1
fi

# -------------------------------------------------------- 2. 4 KiB GET

if wants 2; then
  say "2. 4 KiB GET: server CPU per request, $REQUESTS requests a run"
  mkdir -p "$SHM/root/bench"
  head -c 4096 /dev/urandom >"$SHM/root/bench/4k"
  serve "$SHM/root" --anonymous read:bench/
  declare -A US
  gets_of() { # kind [count] -> the JSON of one run
    local auth=()
    case $1 in
      token) auth=(--token "$FERRY_TOKEN") ;;
      s3) auth=(--key "$KEY") ;;
    esac
    local port=$HTTP_PORT
    [[ $1 == s3 ]] && port=$S3_PORT
    python3 "$CLIENT" gets --port "$port" --pid "$SERVER" --path /bench/4k \
      --count "${2:-$REQUESTS}" "${auth[@]}"
  }
  for kind in anonymous token s3; do gets_of "$kind" 500 >/dev/null; done # warm
  for ((rep = 0; rep < NREPS; rep++)); do
    order=(anonymous token s3)
    if ((rep % 2)); then order=(s3 token anonymous); fi
    for kind in "${order[@]}"; do
      j=$(gets_of "$kind")
      US[$kind]+="$(calc "$(jget <(echo "$j") server_cpu) * 1000000 / $REQUESTS" 2) "
    done
  done

  declare -A INSNS
  if [[ $CALLGRIND -eq 1 ]]; then
    say "   callgrind: instructions per request"
    callgrind_total() { # kind count
      local out=$WORK/callgrind.out
      # valgrind's start takes seconds, tens of them on a busy machine:
      # `served` waits for the server's own word that it listens.
      valgrind --tool=callgrind --callgrind-out-file="$out" "$FERRY" serve --root "$SHM/root" \
        --listen 127.0.0.1:0 --http 127.0.0.1:0 --s3 127.0.0.1:0 \
        --tokens "$WORK/tokens" --workers 1 --no-access-log \
        --anonymous read:bench/ 2>"$WORK/callgrind.log" &
      SERVER=$!
      ports_of "$(served "$WORK/callgrind.log" "$SERVER" 300)"
      gets_of "$1" "$2" >/dev/null
      stop_pid "$SERVER"
      SERVER=""
      awk '/^(summary|totals):/ { print $2; exit }' "$out"
    }
    stop_pid "$SERVER"
    SERVER=""
    for kind in token s3; do
      one=$(callgrind_total "$kind" 1000)
      two=$(callgrind_total "$kind" 2000)
      INSNS[$kind]=$(((two - one) / 1000))
    done
  fi

  report_2
fi

# ---------------------------------------------------- 3. ListObjectsV2

if wants 3; then
  declare -A LIST
  for layout in $LAYOUTS; do
    say "3. ListObjectsV2 of $KEYS keys, $layout"
    rm -rf "$WORK/root" && mkdir -p "$WORK/root/many"
    per=0
    [[ $layout == folders ]] && per=1000
    python3 "$CLIENT" fill --dir "$WORK/root/many" --count "$KEYS" --per-folder "$per" >/dev/null
    serve "$WORK/root"
    python3 "$CLIENT" gets --port "$S3_PORT" --key "$KEY" --path / --count 1 >/dev/null
    rss0=$(status_kb VmRSS "$SERVER")
    j=$(python3 "$CLIENT" list --port "$S3_PORT" --pid "$SERVER" --key "$KEY" --bucket many)
    [[ $(jget <(echo "$j") keys) -eq $KEYS ]] || die "ListObjectsV2 listed $(jget <(echo "$j") keys) keys, not $KEYS"
    LIST[$layout]="$(calc "$(jget <(echo "$j") seconds)" 2) | $(jget <(echo "$j") pages) | \
  $(calc "$(jget <(echo "$j") server_cpu)" 2) | $((rss0 / 1024)) MiB | \
  $(($(jget <(echo "$j") vmhwm_kb) / 1024)) MiB | $(verdict "$(jget <(echo "$j") vmhwm_kb) < 65536")"
  done
  stop_pid "$SERVER"
  SERVER=""
  rm -rf "$WORK/root"

  report_3
fi

# ------------------------------------------------ 5. issue 50's targets

# hash_rates: seconds per GiB of ferry's MD5 and SHA-256 on one core
# (benches/hashes.rs), as "md5 sha256"; nothing without cargo.
hash_rates() {
  command -v cargo >/dev/null || return 0
  (cd "$REPO" && timeout 1200 cargo bench --bench hashes -- --warm-up-time 1 \
    --measurement-time 3 'hash_1MiB/(md5|sha256)' 2>/dev/null) | awk '
    $2 == "time:" {
      unit = ($6 == "ms") ? 1e-3 : ($6 == "µs") ? 1e-6 : ($6 == "ns") ? 1e-9 : 1
      sub(/.*\//, "", $1)
      per_gib[$1] = $5 * unit * 1024
    }
    END { if (("md5" in per_gib) && ("sha256" in per_gib)) printf "%.4f %.4f\n", per_gib["md5"], per_gib["sha256"] }'
}

if wants 5; then
  say "5. issue 50's targets: the hashes' rates, then $SIZE bytes $NREPS times"
  MD5_S="" SHA_S="" MD5_RUNS="" SHA_RUNS=""
  take_hash_rates() {
    local md5 sha
    read -r md5 sha <<<"$(hash_rates)" || true
    [[ -n ${md5:-} ]] || return 0
    MD5_RUNS+="${MD5_RUNS:+, }$md5" SHA_RUNS+="${SHA_RUNS:+, }$sha"
    if [[ -z $MD5_S ]] || (($(calc "$md5 < $MD5_S" 0))); then MD5_S=$md5; fi
    if [[ -z $SHA_S ]] || (($(calc "$sha < $SHA_S" 0))); then SHA_S=$sha; fi
  }
  take_hash_rates
  [[ -n $MD5_S ]] || say "   cargo not found: no hash rates, two targets not judged"
  mkdir -p "$WORK/root/bench"
  [[ -f $WORK/src.bin ]] || head -c "$SIZE" /dev/urandom >"$WORK/src.bin"
  BODY_SHA256=$(sha256sum "$WORK/src.bin" | cut -d' ' -f1)
  serve "$WORK/root"
  S3_ENDPOINT=http://127.0.0.1:$S3_PORT
  declare -A LABEL5=([http]="PUT, HTTP (curl)" [s3]="PutObject (curl)"
    [signed]="PutObject, signed payload (curl)" [aws]="aws s3 cp (multipart)"
    [rclone]="rclone copyto (multipart)")
  KINDS5=(http s3 signed)
  for tool in aws rclone; do
    if command -v "$tool" >/dev/null; then KINDS5+=("$tool"); else say "   $tool not found: left out"; fi
  done
  upload_5() { # kind
    local j target=$WORK/root/bench/5-$1.bin
    case $1 in
      http) timed j curl -sS --fail -T "$WORK/src.bin" "${BEARER[@]}" "http://127.0.0.1:$HTTP_PORT/bench/5-http.bin" ;;
      s3) timed j curl -sS --fail -T "$WORK/src.bin" "${SIGV4[@]}" "$S3_ENDPOINT/bench/5-s3.bin" ;;
      signed) timed j curl -sS --fail -T "$WORK/src.bin" --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$KEY" -H "x-amz-content-sha256: $BODY_SHA256" "$S3_ENDPOINT/bench/5-signed.bin" ;;
      aws) timed j env -u AWS_CA_BUNDLE AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
        AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" aws s3 cp --only-show-errors \
        --endpoint-url "$S3_ENDPOINT" "$WORK/src.bin" s3://bench/5-aws.bin ;;
      # rclone 1.60 refuses an AWS_CA_BUNDLE (../shared/CLIENTS.md).
      rclone) timed j env -u AWS_CA_BUNDLE RCLONE_CONFIG=/nonexistent RCLONE_CONFIG_F_TYPE=s3 \
        RCLONE_CONFIG_F_PROVIDER=Other RCLONE_CONFIG_F_ENDPOINT="$S3_ENDPOINT" \
        RCLONE_CONFIG_F_FORCE_PATH_STYLE=true RCLONE_CONFIG_F_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
        RCLONE_CONFIG_F_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
        rclone copyto "$WORK/src.bin" F:bench/5-rclone.bin ;;
    esac
    record "5-$1" "$j"
    cmp -s "$WORK/src.bin" "$target" || die "$1: the stored file differs"
    rm -f -- "$target"
  }
  for ((rep = 0; rep < NREPS; rep++)); do
    order=("${KINDS5[@]}")
    if ((rep % 2)); then mapfile -t order < <(printf '%s\n' "${KINDS5[@]}" | tac); fi
    for kind in "${order[@]}"; do upload_5 "$kind"; done
    say "  repetition $((rep + 1)) done"
  done
  stop_pid "$SERVER"
  SERVER=""
  take_hash_rates
  rm -rf "$WORK/root"
  report_5
fi

# ------------------------------------------------------ 4. multipart

if wants 4; then
  MP_TABLE=""
  if [[ $MULTIPART != none ]]; then
    if ! command -v aws >/dev/null; then
      say "4. multipart: skipped, aws not found (pip install awscli)"
    else
      MP_SIZE=$MULTIPART
      free_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
      if [[ $MULTIPART == auto ]]; then
        MP_SIZE=$((10 << 30))
        if ((free_kb < 30000000)); then
          MP_SIZE=$((3 << 30))
          say "4. only $((free_kb / 1000000)) GB free (< 30): 3 GiB instead of 10"
        fi
      fi
      say "4. multipart: $MP_SIZE bytes in 64 MiB parts ($((free_kb / 1000000)) GB free)"
      MP_TABLE=$(FERRY_BIN=$FERRY TMPDIR=$WORK "$SCRIPT_DIR/s3_multipart.sh" --size "$MP_SIZE" \
        --part $((64 << 20)) 2>&1 | grep '^|' || true)
    fi
  fi
  report_4
fi
echo
echo "load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
