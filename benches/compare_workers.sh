#!/usr/bin/env bash
# benches/compare_workers.sh: ferry `serve --workers N` against nginx with
# `worker_processes N`, N = 1 and 2, on 127.0.0.1. The workers rows of the
# comparison (benches/compare.sh runs this after its own rows).
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`), as the
# servers it is compared with run: none of them flushes before answering.
# What durable acknowledgements (ferry's default) cost: benches/durable.sh.
# Neither keeps an access log (nginx `access_log off`, ferry
# --no-access-log), as in issue 76's own measurement; what ferry's costs:
# benches/log_cost.sh.
#
#   benches/compare_workers.sh [--quick] [--reps N] [--wrk-threads N]
#
# Installs nginx and wrk with apt-get where missing (needs root), builds
# ferry in release mode, and serves a 4 KiB and a 1 MiB file from five
# servers that run side by side for the whole run (an idle one costs
# nothing): ferry --workers 1, ferry --workers 2 (one socket polled by both
# loops with EPOLLEXCLUSIVE), nginx 1 worker, nginx 2 workers with `listen ... reuseport`,
# and nginx 2 workers sharing one listening socket (nginx's default: every
# worker waits on it with EPOLLEXCLUSIVE, accept_mutex off). The same client
# drives all of them: wrk -t2 -c100 (--wrk-threads: -tN). Measures:
#
#   1. 4 KiB and 1 MiB GETs over 100 keep-alive connections, ferry wN
#      against nginx wN (the reuseport nginx for N = 2, so both spread
#      connections the same way): requests/s and the server's CPU time per
#      request (utime+stime from /proc/<pid>/stat; ferry is one process,
#      whose figures count all its threads; nginx: master + workers).
#      Target (issue 13): ferry wN >= nginx wN in requests/s and <= in CPU
#      per request. On 2 CPUs also each with its defaults (ferry w2, nginx
#      w2 on one shared socket) and ferry w2 against w1 (issue 76: a second
#      loop never serves less; `--wrk-threads 1` leaves wrk one core, the
#      load where a fixed hash of connections to loops fell behind).
#   2. short connections, one 4 KiB GET each (wrk -H 'Connection: close'):
#      connections/s and server CPU per connection for each accept strategy
#      (ferry w1, nginx w1, ferry w2 shared socket, nginx w2 reuseport,
#      nginx w2 one shared socket with EPOLLEXCLUSIVE).
#
# For every 2-worker run the report also gives the busiest worker's share
# of the workers' CPU (50 % = evenly spread). The load generator shares the
# machine's CPUs with the server, so requests/s measures it too: CPU per
# request is the server's own figure.
#
# Figures are medians over the repetitions (default 3; --quick: 1
# repetition of 2 s runs, else 5 s), the servers taking turns in an order
# rotated every repetition; a markdown table comes last. Bounded in time;
# servers and the work directory are removed on exit.
#
#   COMPARE_TMPDIR (default /dev/shm where writable), COMPARE_MAX_SECONDS
#   (default 900), CARGO_TARGET_DIR, FERRY_BIN: as for compare.sh.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/compare_client.py"

QUICK=0 WRK_THREADS=2
REPS=${COMPARE_REPS:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    --reps=*) REPS=${1#--reps=} ;;
    --wrk-threads) WRK_THREADS=${2:?--wrk-threads needs a number}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_workers.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then
  REPS=${REPS:-1} SECS=2
else
  REPS=${REPS:-3} SECS=5
fi
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "compare_workers.sh: bad --reps '$REPS'" >&2; exit 2; }
[[ $WRK_THREADS =~ ^[1-9][0-9]*$ ]] || { echo "compare_workers.sh: bad --wrk-threads '$WRK_THREADS'" >&2; exit 2; }
MAX_SECONDS=${COMPARE_MAX_SECONDS:-900}

STARTED=$SECONDS
NAME=compare_workers.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
SAY_FD=1 # progress goes to standard output, with the table

# The servers, by key: f1 f2 (ferry), n1 n2 (nginx, n2 with reuseport),
# n2s (nginx, two workers on one shared socket).
SERVERS=(f1 f2 n1 n2 n2s)
declare -A PID PORT
release() { # at exit (lib.sh's cleanup)
  local key
  for key in "${SERVERS[@]}"; do stop_pid "${PID[$key]:-}"; done
}
clean_up_at_exit "$MAX_SECONDS"

install_missing python3 nginx wrk
PATH=$PATH:/usr/sbin:/sbin
find_ferry
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- work dir

if [[ -n ${COMPARE_TMPDIR:-} ]]; then
  BASE=$COMPARE_TMPDIR
elif [[ -d /dev/shm && -w /dev/shm ]]; then
  BASE=/dev/shm
else
  BASE=${TMPDIR:-/tmp}
fi
WORK=$(mktemp -d "$BASE/ferry-compare-workers.XXXXXX")
FILES=$WORK/files
mkdir -p "$FILES" "$WORK/out"
say "work dir $WORK ($(stat -f -c %T "$WORK")); creating small.bin (4 KiB) and medium.bin (1 MiB)"
head -c 4096 /dev/urandom >"$FILES/small.bin"
head -c $((1 << 20)) /dev/urandom >"$FILES/medium.bin"
# A ferry server locks its root: each gets a copy of its own.
for key in f1 f2; do
  mkdir "$WORK/root-$key"
  cp "$FILES/small.bin" "$FILES/medium.bin" "$WORK/root-$key/"
done

read -r P_F1 F1_LISTEN P_F2 F2_LISTEN P_N1 P_N2 P_N2S < <(python3 "$CLIENT" port --count 7)
PORT=([f1]=$P_F1 [f2]=$P_F2 [n1]=$P_N1 [n2]=$P_N2 [n2s]=$P_N2S)

# ---------------------------------------------------------------- servers

WORKER_CONNECTIONS=$((NOFILE - 100))
((WORKER_CONNECTIONS > 16384)) && WORKER_CONNECTIONS=16384
nginx_conf() { # key workers listen-options: writes $WORK/<key>/nginx.conf
  local dir=$WORK/$1
  mkdir -p "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
$([[ $EUID -eq 0 ]] && echo "user root;")
worker_processes $2;
worker_rlimit_nofile $NOFILE;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections $WORKER_CONNECTIONS; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${PORT[$1]} backlog=1024$3;
    root $FILES;
  }
}
EOF
}
# backlog=1024 as ferry's listeners (src/server/listen.rs)
nginx_conf n1 1 ""
nginx_conf n2 2 " reuseport"
nginx_conf n2s 2 ""

start_server() { # key
  local key=$1
  case $key in
    f1 | f2)
      spawn "PID[$key]" "${PORT[$key]}" "$WORK/$key.log" \
        "$FERRY" serve --http "127.0.0.1:${PORT[$key]}" $(no_fsync "$FERRY") --no-access-log \
        --listen "127.0.0.1:$([[ $key == f1 ]] && echo "$F1_LISTEN" || echo "$F2_LISTEN")" \
        --root "$WORK/root-$key" --log-level warn --workers "${key#f}"
      ;;
    *)
      spawn "PID[$key]" "${PORT[$key]}" "$WORK/$key/logs/stdout.log" \
        nginx -p "$WORK/$key" -c "$WORK/$key/nginx.conf"
      ;;
  esac
}
pids_of() { # key -> the processes whose CPU is the server's (nginx: master and workers)
  if [[ $1 == f* ]]; then echo "${PID[$1]}"; else echo "${PID[$1]} $(pgrep -P "${PID[$1]}" | tr '\n' ' ')"; fi
}
worker_ticks() { # key -> CPU ticks of each worker: ferry's reactor threads, nginx's worker processes
  local key=$1 pid=${PID[$1]} task
  if [[ $key == f* ]]; then
    for task in "/proc/$pid/task/"*; do
      # the first reactor runs on the main thread, the others are ferry-worker-N
      if [[ ${task##*/} == "$pid" || $(<"$task/comm") == ferry-worker-* ]]; then
        sed 's/.*) //' "$task/stat" | awk '{printf "%d ", $12 + $13}'
      fi
    done
  else
    for task in $(pgrep -P "$pid"); do
      sed 's/.*) //' "/proc/$task/stat" | awk '{printf "%d ", $12 + $13}'
    done
  fi
  echo
}
busiest_share() { # "ticks before" "ticks after" -> busiest worker's share of the workers' CPU, %
  local -a a b
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  local i d total=0 most=0
  for ((i = 0; i < ${#a[@]}; i++)); do
    d=$((b[i] - a[i]))
    total=$((total + d))
    ((d > most)) && most=$d
  done
  if ((total > 0)); then calc "100 * $most / $total" 0; else echo 0; fi
}

for key in "${SERVERS[@]}"; do start_server "$key"; done
say "ferry w1 on :${PORT[f1]}, ferry w2 on :${PORT[f2]}, nginx w1 on :${PORT[n1]}," \
  "nginx w2 reuseport on :${PORT[n2]}, nginx w2 shared socket on :${PORT[n2s]} (HTTP)"
for key in n2 n2s; do
  n=$(pgrep -P "${PID[$key]}" | wc -l)
  [[ $n -eq 2 ]] || die "nginx $key runs $n workers, not 2"
done
ferry_threads=$(grep -l -e '^ferry-worker' "/proc/${PID[f2]}/task/"*/comm | wc -l)
[[ $ferry_threads -eq 1 ]] || die "ferry --workers 2 runs $((ferry_threads + 1)) reactors, not 2"

# ---------------------------------------------------------------- measuring

declare -A RPS CPU SHARE ERRS
# run key kind file [wrk-args...]: one wrk run against server `key`; appends
# requests/s, µs of server CPU per request and (two workers) the busiest
# worker's CPU share to RPS/CPU/SHARE[kind-key]
run() {
  local key=$1 kind=$2 file=$3 out=$WORK/out/wrk.txt before after wb wa reqs
  shift 3
  # shellcheck disable=SC2046 # word splitting of the pid list is intended
  before=$(cpu_ticks $(pids_of "$key"))
  wb=$(worker_ticks "$key")
  timeout $((SECS + 60)) wrk -t"$WRK_THREADS" -c100 -d"${SECS}s" "$@" \
    "http://127.0.0.1:${PORT[$key]}/$file" >"$out" 2>&1 || true
  # shellcheck disable=SC2046
  after=$(cpu_ticks $(pids_of "$key"))
  wa=$(worker_ticks "$key")
  reqs=$(awk '/requests in/ {print $1}' "$out")
  [[ -n $reqs && $reqs -gt 0 ]] || die "wrk made no request to $key: $(tail -n 3 "$out")"
  RPS[$kind-$key]+="$(awk '/^Requests\/sec:/ {print $2}' "$out") "
  CPU[$kind-$key]+="$(calc "($after - $before) * 1e6 / $CLK_TCK / $reqs" 2) "
  SHARE[$kind-$key]+="$(busiest_share "$wb" "$wa") "
  if grep -q -e 'Socket errors' -e 'Non-2xx' "$out"; then
    ERRS[$kind-$key]+="$(grep -e 'Socket errors' -e 'Non-2xx' "$out" | tr -s ' \n' ' ')"
  fi
}
rotated() { # r item...: the items rotated left by r
  local r=$1
  shift
  local -a items=("$@")
  local i n=${#items[@]}
  for ((i = 0; i < n; i++)); do printf '%s ' "${items[(i + r) % n]}"; done
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "repetitions: $REPS$([[ $QUICK -eq 1 ]] && echo ' (quick)') of ${SECS}s runs; load average: $LOAD_START"
say "warming up (1 s of each file on each server)"
for key in "${SERVERS[@]}"; do
  for file in small.bin medium.bin; do
    timeout 60 wrk -t"$WRK_THREADS" -c100 -d1s "http://127.0.0.1:${PORT[$key]}/$file" >/dev/null 2>&1 || true
  done
done

for ((r = 0; r < REPS; r++)); do
  for file in small.bin medium.bin; do
    for key in $(rotated "$r" f1 n1 f2 n2 n2s); do run "$key" "$file" "$file"; done
  done
  # one GET per connection: the server closes after its answer
  for key in $(rotated "$r" f1 n1 f2 n2 n2s); do
    run "$key" close small.bin -H 'Connection: close'
  done
  say "   rep $((r + 1)): 4 KiB req/s f1 ${RPS[small.bin-f1]}| n1 ${RPS[small.bin-n1]}| f2 ${RPS[small.bin-f2]}| n2 ${RPS[small.bin-n2]}"
  say "          short conns/s f1 ${RPS[close-f1]}| n1 ${RPS[close-n1]}| f2 ${RPS[close-f2]}| n2 ${RPS[close-n2]}| n2s ${RPS[close-n2s]}"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report

cell() { # decimals "values" -> median [min–max]
  # shellcheck disable=SC2086 # the values are plain numbers
  spread "$1" $2
}
share() { # kind-key -> "busiest worker's share" cell for two-worker servers
  # shellcheck disable=SC2086
  echo "$(calc "$(median ${SHARE[$1]})" 0) %"
}

echo
echo "## ferry --workers N vs nginx worker_processes N"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
  "kernel $(uname -r)"
echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2) -t$WRK_THREADS -c100 (the same client for every server)"
echo "- files on $(stat -f -c %T "$WORK") ($BASE); repetitions: $REPS of ${SECS}s runs$([[ $QUICK -eq 1 ]] && echo ' (--quick)');" \
  "load average at start / end: $LOAD_START / $LOAD_END; run took $((SECONDS - STARTED))s"
echo
echo "Keep-alive (100 connections, GETs back to back on each). nginx w2 here is the reuseport one."
echo "Target (issue 13): ferry wN ≥ nginx wN in requests/s and ≤ in CPU per request."
echo
echo "| measurement | workers | ferry | nginx | ratio (ferry / nginx) | target | result |"
echo "|---|---|---|---|---|---|---|"
# Each server with its defaults on this machine: ferry one loop per core,
# nginx `worker_processes auto` on one shared socket (n2s); and ferry's
# second loop against its first (issue 76: never less than one).
defaults_rows() { # file label
  local file=$1 label=$2 rd r21 what
  [[ $(nproc) -eq 2 ]] || return 0 # w2 is each one's default only on 2 CPUs
  rd=$(ratio_of "${RPS[$file-f2]}" "${RPS[$file-n2s]}")
  r21=$(ratio_of "${RPS[$file-f2]}" "${RPS[$file-f1]}")
  echo "| $label GET: requests/s, each with its defaults (nginx: one shared socket) | 2 | $(cell 0 "${RPS[$file-f2]}") | $(cell 0 "${RPS[$file-n2s]}") | ×$rd | ≥1.0× | $(verdict "$rd >= 1.0") |"
  echo "| $label GET: requests/s, ferry 2 loops / 1 loop | 2 / 1 | $(cell 0 "${RPS[$file-f2]}") | $(cell 0 "${RPS[$file-f1]}") (ferry w1) | ×$r21 | ≥1.0× | $(verdict "$r21 >= 1.0") |"
  what="$label GET, keep-alive, wrk -t$WRK_THREADS -c100: requests/s"
  headline "$what, each with its defaults" "$(cell 0 "${RPS[$file-f2]}")" "nginx $(cell 0 "${RPS[$file-n2s]}")" "×$rd" "≥1.0×" "$(verdict "$rd >= 1.0")"
  headline "$what, ferry 2 loops / 1" "$(cell 0 "${RPS[$file-f2]}")" "ferry w1 $(cell 0 "${RPS[$file-f1]}")" "×$r21" "≥1.0×" "$(verdict "$r21 >= 1.0")"
}
for file in small.bin medium.bin; do
  label=$([[ $file == small.bin ]] && echo "4 KiB" || echo "1 MiB")
  for n in 1 2; do
    f=$file-f$n g=$file-n$n
    rr=$(ratio_of "${RPS[$f]}" "${RPS[$g]}") rc=$(ratio_of "${CPU[$f]}" "${CPU[$g]}")
    echo "| $label GET: requests/s | $n | $(cell 0 "${RPS[$f]}") | $(cell 0 "${RPS[$g]}") | ×$rr | ≥1.0× | $(verdict "$rr >= 1.0") |"
    echo "| $label GET: server CPU per request (µs) | $n | $(cell 2 "${CPU[$f]}") | $(cell 2 "${CPU[$g]}") | ×$rc | ≤1.0× | $(verdict "$rc <= 1.0") |"
  done
  defaults_rows "$file" "$label"
done
echo
echo "Short connections (one 4 KiB GET per connection, \`Connection: close\`, 100 at a time):"
echo
echo "| server, accept strategy | connections/s | server CPU per connection (µs) | busiest worker's CPU share | ferry w2 / this row: conns/s, CPU |"
echo "|---|---|---|---|---|"
short_row() { # key label
  local k=close-$1 vs=""
  if [[ $1 != f2 ]]; then
    vs="×$(ratio_of "${RPS[close-f2]}" "${RPS[$k]}"), ×$(ratio_of "${CPU[close-f2]}" "${CPU[$k]}")"
  fi
  echo "| $2 | $(cell 0 "${RPS[$k]}") | $(cell 2 "${CPU[$k]}") | $([[ $1 == *2* ]] && share "$k") | $vs |"
}
short_row f1 "ferry w1: one listener, one reactor"
short_row n1 "nginx w1: one listener, one worker"
short_row f2 "ferry w2: one shared socket, EPOLLEXCLUSIVE"
short_row n2 "nginx w2 \`listen ... reuseport\`: a listener per worker"
short_row n2s "nginx w2, one shared listener (EPOLLEXCLUSIVE, accept_mutex off)"
echo
echo "Cells: median [min–max] over repetitions; ratios: median of the per-repetition ratios. CPU ="
echo "utime+stime from /proc/<pid>/stat over the wrk run, divided by the requests wrk reports (ferry: one"
echo "process, all threads; nginx: master + workers). Busiest worker's share: of the CPU its workers"
echo "(ferry: reactor threads; nginx: worker processes) spent, the busiest one's (50 % = even). wrk shares"
echo "the $(nproc) CPUs with the server, so requests/s measures the machine as much as the server."
echo "Busiest worker's share in the keep-alive runs: 4 KiB ferry $(share small.bin-f2), nginx $(share small.bin-n2);"
echo "1 MiB ferry $(share medium.bin-f2), nginx $(share medium.bin-n2)."
any=""
for k in "${!ERRS[@]}"; do any+=" $k: ${ERRS[$k]};"; done
if [[ -n $any ]]; then echo "wrk reported errors:$any"; else echo "wrk reported no socket errors and no non-2xx answers."; fi
