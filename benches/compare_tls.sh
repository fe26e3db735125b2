#!/usr/bin/env bash
# benches/compare_tls.sh: ferry against nginx over TLS, on 127.0.0.1. The
# TLS rows of the comparison (benches/compare.sh has the plaintext ones).
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`), as the
# servers it is compared with run: none of them flushes before answering.
# What durable acknowledgements (ferry's default) cost: benches/durable.sh.
#
#   benches/compare_tls.sh [--quick] [--reps N]
#
# Installs nginx, wrk and openssl with apt-get where missing (needs root),
# builds ferry in release mode, makes one certificate with `ferry cert`
# (ECDSA P-256) that both servers use, and serves a 1 GiB and a 4 KiB file
# over HTTPS with nginx (1 worker, TLS 1.3/1.2) and `ferry serve --http
# --tls-cert`. Both negotiate TLS 1.3, TLS_AES_256_GCM_SHA384, X25519 with
# every client below (the report prints what each server chose). Measures:
#
#   1. GET of the hot 1 GiB file over one connection, GB/s (one Python
#      client, the same for both: benches/compare_client.py xfer --ca);
#   2. 4 KiB GETs over 100 keep-alive connections (wrk -t2): requests/s and
#      the server's CPU time per request;
#   3. 10,000 idle TLS connections, each after one 4 KiB GET: server RSS
#      growth per connection (compare_client.py hold --ca);
#   4. full handshakes (openssl s_time -new, no resumption): handshakes/s
#      and the server's CPU time per handshake.
#
# Figures are medians over the repetitions (default 3), run in alternating
# order; a markdown table with the targets comes last. Bounded in time;
# servers and the work directory are removed on exit.
#
#   COMPARE_TMPDIR, COMPARE_MAX_SECONDS (default 1200), CARGO_TARGET_DIR,
#   FERRY_BIN: as for compare.sh.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/compare_client.py"

QUICK=0
REPS=${COMPARE_REPS:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_tls.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then
  REPS=${REPS:-1} SECS=2 GET_COUNT=1
else
  REPS=${REPS:-3} SECS=5 GET_COUNT=2
fi
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "compare_tls.sh: bad --reps '$REPS'" >&2; exit 2; }
IDLE_CONNS=10000
MAX_SECONDS=${COMPARE_MAX_SECONDS:-1200}

STARTED=$SECONDS
NAME=compare_tls.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
SAY_FD=1 # progress goes to standard output, with the table

FERRY_PID="" NGINX_PID="" HOLD_PID=""
PID_VARS=(HOLD_PID FERRY_PID NGINX_PID)
clean_up_at_exit "$MAX_SECONDS"

install_missing python3 nginx wrk openssl
PATH=$PATH:/usr/sbin:/sbin
find_ferry
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
CLK_TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d "${COMPARE_TMPDIR:-${TMPDIR:-/tmp}}/ferry-compare-tls.XXXXXX")
FILES=$WORK/files
mkdir -p "$FILES" "$WORK/nginx/logs" "$WORK/nginx/tmp" "$WORK/out"
say "work dir $WORK; creating big.bin (1 GiB) and small.bin (4 KiB)"
head -c $((1 << 30)) /dev/urandom >"$FILES/big.bin"
head -c 4096 /dev/urandom >"$FILES/small.bin"
(cd "$WORK" && "$FERRY" cert localhost 127.0.0.1 2>/dev/null)
CERT=$WORK/ferry-cert.pem KEY=$WORK/ferry-key.pem

read -r FERRY_PORT FERRY_HTTPS NGINX_PORT < <(python3 "$CLIENT" port --count 3)
WORKER_CONNECTIONS=$((NOFILE - 100))
((WORKER_CONNECTIONS > 16384)) && WORKER_CONNECTIONS=16384
cat >"$WORK/nginx/nginx.conf" <<EOF
$([[ $EUID -eq 0 ]] && echo "user root;")
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections $WORKER_CONNECTIONS; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  default_type application/octet-stream;
  ssl_certificate $CERT;
  ssl_certificate_key $KEY;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl backlog=4096;
    root $FILES;
  }
}
EOF

start_ferry() { # one worker, as nginx here (ferry's default is one per core)
  spawn FERRY_PID "$FERRY_HTTPS" "$WORK/ferry.log" \
    "$FERRY" serve --listen "127.0.0.1:$FERRY_PORT" --http "127.0.0.1:$FERRY_HTTPS" --workers 1 $(no_fsync "$FERRY") \
    --tls-cert "$CERT" --tls-key "$KEY" --root "$FILES" --log-level warn
}
start_nginx() {
  spawn NGINX_PID "$NGINX_PORT" "$WORK/nginx/logs/stdout.log" \
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
}
restart_servers() {
  stop_pid "$FERRY_PID"
  stop_pid "$NGINX_PID"
  start_ferry
  start_nginx
}
pids_of() { # server -> its pids (nginx: master and workers)
  if [[ $1 == ferry ]]; then echo "$FERRY_PID"; else echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; fi
}
port_of() { if [[ $1 == ferry ]]; then echo "$FERRY_HTTPS"; else echo "$NGINX_PORT"; fi; }
cpu_of() { # server output command...: runs the command (bounded) into output;
  # prints the server's CPU time meanwhile, in µs
  local server=$1 output=$2 before after
  shift 2
  # shellcheck disable=SC2046 # word splitting of the pid list is intended
  before=$(cpu_ticks $(pids_of "$server"))
  timeout $((SECS + 60)) "$@" >"$output" 2>&1 || true
  # shellcheck disable=SC2046
  after=$(cpu_ticks $(pids_of "$server"))
  calc "($after - $before) * 1e6 / $CLK_TCK" 0
}
order() { if (($1 % 2 == 0)); then echo "ferry nginx"; else echo "nginx ferry"; fi; }
negotiated() { # port -> "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519"
  timeout 20 openssl s_client -connect "127.0.0.1:$1" -CAfile "$CERT" </dev/null 2>/dev/null |
    awk '/^New, / {v = $2; c = $NF} /^Server Temp Key:/ {k = $4} END {print v, c, k}' | tr -d ','
}

restart_servers
say "ferry on :$FERRY_HTTPS (HTTPS), nginx on :$NGINX_PORT; ferry chose $(negotiated "$FERRY_HTTPS"), nginx $(negotiated "$NGINX_PORT")"
declare -A GET RPS CPU IDLE HS HSCPU

say "1. GET 1 GiB over TLS, one connection (${GET_COUNT}x per repetition)"
for server in ferry nginx; do # warm both and the page cache
  timeout 300 python3 "$CLIENT" xfer --proto http --op get --port "$(port_of $server)" \
    --name big.bin --count 1 --ca "$CERT" >/dev/null
done
for ((r = 0; r < REPS; r++)); do
  for server in $(order "$r"); do
    out=$WORK/out/xfer.json
    timeout 600 python3 "$CLIENT" xfer --proto http --op get --port "$(port_of $server)" \
      --name big.bin --count "$GET_COUNT" --ca "$CERT" >"$out"
    GET[$server]+="$(calc "$(jget "$out" bytes) / $(jget "$out" seconds) / 1e9" 3) "
  done
  say "   rep $((r + 1)) done (GB/s: ferry ${GET[ferry]}; nginx ${GET[nginx]})"
done

say "2. 4 KiB GETs over TLS, wrk -t2 -c100, ${SECS}s runs"
for ((r = 0; r < REPS; r++)); do
  for server in $(order "$r"); do
    out=$WORK/out/wrk.txt
    spent=$(cpu_of "$server" "$out" wrk -t2 -c100 -d"${SECS}s" "https://localhost:$(port_of $server)/small.bin")
    reqs=$(awk '/requests in/ {print $1}' "$out")
    RPS[$server]+="$(awk '/^Requests\/sec:/ {print $2}' "$out") "
    CPU[$server]+="$(calc "$spent / $reqs" 2) "
    grep -q -e 'Socket errors' -e 'Non-2xx' "$out" && say "   $server: $(grep -e 'Socket errors' -e 'Non-2xx' "$out")"
  done
  say "   rep $((r + 1)) done (µs CPU/request: ferry ${CPU[ferry]}; nginx ${CPU[nginx]})"
done

say "3. $IDLE_CONNS idle TLS connections, one 4 KiB GET each"
for ((r = 0; r < REPS; r++)); do
  for server in $(order "$r"); do
    restart_servers
    timeout 60 python3 "$CLIENT" xfer --proto http --op get --port "$(port_of $server)" \
      --name small.bin --count 10 --ca "$CERT" >/dev/null # warm up
    # shellcheck disable=SC2046
    before=$(status_kb VmRSS $(pids_of $server))
    ready=$WORK/out/ready
    rm -f "$ready"
    python3 "$CLIENT" hold --proto http --port "$(port_of $server)" --name small.bin \
      --count "$IDLE_CONNS" --ready-file "$ready" --ca "$CERT" 2>>"$WORK/out/hold.log" &
    HOLD_PID=$!
    for ((i = 0; i < 3000; i++)); do [[ -s $ready ]] && break; sleep 0.1; done
    [[ -s $ready ]] || die "the idle client did not get ready"
    read -r _ held _ failed <"$ready"
    # shellcheck disable=SC2046
    after=$(status_kb VmRSS $(pids_of $server))
    stop_pid "$HOLD_PID"
    HOLD_PID=""
    ((failed == 0)) || say "   $server: $failed connections failed (see $WORK/out/hold.log)"
    IDLE[$server]+="$(calc "($after - $before) * 1024 / $held" 0) "
  done
  say "   rep $((r + 1)): bytes per idle connection: ferry ${IDLE[ferry]}; nginx ${IDLE[nginx]}"
done

say "4. full TLS handshakes, openssl s_time -new, ${SECS}s runs"
for ((r = 0; r < REPS; r++)); do
  for server in $(order "$r"); do
    out=$WORK/out/s_time.txt
    spent=$(cpu_of "$server" "$out" openssl s_time -connect "127.0.0.1:$(port_of $server)" -new \
      -time "$SECS" -CAfile "$CERT")
    read -r count real < <(awk '/connections in .* real seconds/ {print $1, $4}' "$out" | tail -n 1)
    [[ -n ${count:-} && $count -gt 0 ]] || die "openssl s_time made no connection to $server: $(tail -n 3 "$out")"
    HS[$server]+="$(calc "$count / $real" 0) "
    HSCPU[$server]+="$(calc "$spent / $count" 1) "
  done
  say "   rep $((r + 1)): handshakes/s ferry ${HS[ferry]}; nginx ${HS[nginx]}"
done

row() { # label key decimals target-condition(using R) target-text
  local label=$1 d=$3 target=$5 r
  local -n values=$2
  # shellcheck disable=SC2086 # the values are plain numbers
  r=$(ratio_of "${values[ferry]}" "${values[nginx]}")
  local result=""
  [[ -n $4 ]] && result=$(verdict "${4//R/$r}")
  # shellcheck disable=SC2086
  echo "| $label | $(spread "$d" ${values[ferry]}) | $(spread "$d" ${values[nginx]}) | ×$r | $target | $result |"
}

echo
echo "## ferry vs nginx over TLS"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //') with $(openssl version | cut -d' ' -f1-2), 1 worker; ferry with rustls (aws-lc-rs)"
echo "- negotiated: ferry $(negotiated "$FERRY_HTTPS"); nginx $(negotiated "$NGINX_PORT"); certificate ECDSA P-256 (ferry cert)"
echo "- $REPS repetitions$([[ $QUICK -eq 1 ]] && echo ' (--quick)'); load average at end $(cut -d' ' -f1-3 /proc/loadavg); run took $((SECONDS - STARTED))s"
echo
echo "| measurement | ferry | nginx | ratio (ferry / nginx) | target | result |"
echo "|---|---|---|---|---|---|"
row "GET 1 GiB over TLS, 1 connection (GB/s)" GET 3 "R >= 1.0" "≥1.0× nginx"
row "4 KiB GET over TLS, wrk -c100: requests/s" RPS 0 "" ""
row "4 KiB GET over TLS, wrk -c100: server CPU per request (µs)" CPU 2 "R <= 1.0" "≤1.0× nginx"
row "$IDLE_CONNS idle TLS connections: RSS per connection (B)" IDLE 0 "R <= 0.5" "≤0.5× nginx"
row "full handshakes/s (openssl s_time -new, one client)" HS 0 "" ""
row "server CPU per full handshake (µs)" HSCPU 1 "" ""
echo
echo "Cells: median [min–max]. Ratios: median over repetitions of ferry/nginx within each."
echo "GB = 10^9 bytes. CPU = utime+stime from /proc/<pid>/stat (nginx: master + worker)."
echo "The clients share the $(nproc) CPUs with the server: requests/s and handshakes/s measure them too."
