#!/usr/bin/env bash
# benches/compare.sh: ferry against nginx (and loopback TCP, measured with
# iperf3) on this machine, everything on 127.0.0.1.
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`), as the
# servers it is compared with run: none of them flushes before answering.
# What durable acknowledgements (ferry's default) cost: benches/durable.sh.
#
#   benches/compare.sh [--quick] [--reps N]
#
# Installs nginx, wrk and iperf3 with apt-get where missing (needs root),
# builds ferry in release mode (honouring CARGO_TARGET_DIR), creates a
# temporary directory with a 1 GiB, a 1 MiB and a 4 KiB file, serves it with
# nginx (1 worker, sendfile, WebDAV PUT) and `ferry serve`, and measures:
#
#   1. one-connection GET of the 1 GiB file, page cache warm and (disk
#      only) cold: GB/s and server CPU per GiB, per client (the Python
#      client over FERRY/1 and HTTP, curl, ferry bench), once per file
#      system (the machine's disk and tmpfs), iperf3 -R as the loopback
#      reference;
#   2. one-connection PUT of 1 GiB, `sync` before each: the same columns
#      (iperf3 as the reference);
#   3. 4 KiB GETs over 100 keep-alive connections: requests/s and the
#      server's CPU time per request (utime+stime from /proc/<pid>/stat);
#   4. 10,000 idle connections: server RSS growth per connection;
#   5. 10,000 concurrent 1 MiB GETs: completion, errors, peak server RSS,
#      aggregate MB/s;
#   6. HTTP: wrk against ferry's HTTP listener and against nginx on the same
#      4 KiB and 1 MiB files, 100 keep-alive connections: requests/s and
#      server CPU per request;
#   7. over TLS (benches/compare_tls.sh, run after the rest with the same
#      repetitions, its table last): 1 GiB GET, 4 KiB GETs with CPU per
#      request, 10,000 idle TLS connections, full handshakes;
#   8. workers (benches/compare_workers.sh, run last, same repetitions, its
#      table last): ferry --workers 1 and 2 against nginx with 1 and 2
#      workers, 4 KiB and 1 MiB GETs over 100 keep-alive connections
#      (requests/s, server CPU per request), and short connections (one
#      4 KiB GET each) for each accept strategy: ferry's and nginx's
#      shared socket with EPOLLEXCLUSIVE, nginx reuseport.
#
# Every figure is the median of the repetitions (default 5), taken in
# interleaved order so both servers see the same machine noise; a markdown
# table with the targets comes last. The whole run is bounded in time, and
# servers and the temporary directory are removed on exit.
#
# Options and environment:
#   --quick            smoke run: 1 repetition, shorter runs
#   --reps N           repetitions (or COMPARE_REPS=N); default 5
#   --no-tls           leave out the TLS rows (7)
#   --no-workers       leave out the workers rows (8)
#   --big-only         rows 1 and 2 only (the 1 GiB GET and PUT)
#   --ferry-workers N  ferry's event loops for rows 1 to 8 (default 1, as
#                      nginx's one worker here; ferry's own default is one
#                      per core: compare the ratios of a run with each)
#   --fs LIST          file systems for rows 1 and 2, comma-separated, of
#                      disk and tmpfs (or COMPARE_FS); default disk,tmpfs
#                      (tmpfs left out when /dev/shm lacks the room)
#   COMPARE_DISKDIR    the disk folder for "disk" (default /var/tmp; must
#                      not be a tmpfs)
#   COMPARE_TMPDIR     where to create the work directory (default: /dev/shm
#                      if it is a tmpfs with room, else $TMPDIR or /tmp)
#   COMPARE_MAX_SECONDS  hard limit for the whole run (default 1800; 1200 quick)
#   CARGO_TARGET_DIR   as for cargo (default: target/ in the repository)
#   FERRY_BIN          use this ferry binary instead of building one

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/compare_client.py"

QUICK=0
BIG_ONLY=0
FERRY_WORKERS=1
FS_ARG=${COMPARE_FS:-disk,tmpfs}
TLS=1
WORKERS=1
REPS=${COMPARE_REPS:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-tls) TLS=0 ;;
    --no-workers) WORKERS=0 ;;
    --big-only) BIG_ONLY=1 TLS=0 WORKERS=0 ;;
    --ferry-workers)
      [[ $# -ge 2 ]] || { echo "compare.sh: --ferry-workers needs a number" >&2; exit 2; }
      FERRY_WORKERS=$2
      shift
      ;;
    --fs)
      [[ $# -ge 2 ]] || { echo "compare.sh: --fs needs a list" >&2; exit 2; }
      FS_ARG=$2
      shift
      ;;
    --fs=*) FS_ARG=${1#--fs=} ;;
    --reps)
      [[ $# -ge 2 ]] || { echo "compare.sh: --reps needs a number" >&2; exit 2; }
      REPS=$2
      shift
      ;;
    --reps=*) REPS=${1#--reps=} ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "compare.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done

if [[ $QUICK -eq 1 ]]; then
  REPS=${REPS:-1}
  IPERF_SECS=2     # iperf3 -t
  GET_COUNT=1      # 1 GiB GETs per repetition, back to back on one connection
  PUT_COUNT=1      # 1 GiB PUTs per repetition
  SMALL_SECS=2     # 4 KiB GET runs
  BIG_SECS=10      # ferry bench 10k x 1 MiB run: shorter is meaningless, as
                   # 10k fairly shared 1 MiB answers take ~5 s to complete
  CHECK_SECS=2     # ferry bench 1 GiB cross-checks
  MAX_SECONDS=${COMPARE_MAX_SECONDS:-1200}
else
  REPS=${REPS:-5}
  IPERF_SECS=3
  GET_COUNT=4
  PUT_COUNT=2
  SMALL_SECS=5
  BIG_SECS=10
  CHECK_SECS=5
  MAX_SECONDS=${COMPARE_MAX_SECONDS:-1800}
fi
IDLE_CONNS=10000
BURST_CONNS=10000
if ! [[ $REPS =~ ^[1-9][0-9]*$ ]]; then
  echo "compare.sh: repetitions must be a positive integer, got '$REPS'" >&2
  exit 2
fi

STARTED=$SECONDS
NAME=compare.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
# Progress goes to standard output here, with the table.
SAY_FD=1

# ---------------------------------------------------------------- cleanup

# shellcheck disable=SC2034 # IPERF_PID is stopped through PID_VARS
FERRY_PID="" NGINX_PID="" IPERF_PID="" HOLD_PID=""
PID_VARS=(HOLD_PID FERRY_PID NGINX_PID IPERF_PID)
# The whole run is bounded: past MAX_SECONDS the script is told to stop
# (every command below has its own, shorter timeout too).
clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- tools

install_missing python3 nginx wrk iperf3
PATH=$PATH:/usr/sbin:/sbin
nginx -V 2>&1 | grep -q -- --with-http_dav_module || die "this nginx has no WebDAV module"

find_ferry

# Generous limits for the 10k-connection tests: raise the soft open-files
# limit to the hard one for everything started from here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
if ((NOFILE < IDLE_CONNS + 200)); then
  say "warning: open-files limit $NOFILE is too low for $IDLE_CONNS connections per process"
fi
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- work dir

pick_base() {
  if [[ -n ${COMPARE_TMPDIR:-} ]]; then
    echo "$COMPARE_TMPDIR"
    return
  fi
  local avail_kb mem_kb
  if [[ -d /dev/shm && -w /dev/shm ]] && [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
    avail_kb=$(df -Pk /dev/shm | awk 'NR==2 {print $4}')
    mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    if ((avail_kb > 8 * 1024 * 1024 && mem_kb > 12 * 1024 * 1024)); then
      echo /dev/shm
      return
    fi
  fi
  echo "${TMPDIR:-/tmp}"
}
BASE=$(pick_base)
WORK=$(mktemp -d "$BASE/ferry-compare.XXXXXX")
FILES=$WORK/files MAIN_FILES=$WORK/files
mkdir -p "$FILES" "$WORK/nginx/logs" "$WORK/nginx/tmp" "$WORK/out"
say "work dir $WORK ($(stat -f -c %T "$WORK") file system)"
say "creating big.bin (1 GiB), medium.bin (1 MiB), small.bin (4 KiB)"
head -c $((1 << 30)) /dev/urandom >"$WORK/big.bin"
head -c $((1 << 20)) /dev/urandom >"$FILES/medium.bin"
head -c 4096 /dev/urandom >"$FILES/small.bin"
BIG_BYTES=$((1 << 30))

# The roots of rows 1 and 2, one per file system asked for, each with a
# copy of big.bin.
declare -A FS_ROOT
FS_LIST=() DISK_WORK=""
IFS=, read -r -a fs_asked <<<"$FS_ARG"
for fs in "${fs_asked[@]}"; do
  case $fs in
    disk)
      base=${COMPARE_DISKDIR:-/var/tmp}
      [[ $(stat -f -c %T "$base") != tmpfs ]] || die "COMPARE_DISKDIR=$base is a tmpfs, not a disk"
      DISK_WORK=$(mktemp -d "$base/ferry-compare-disk.XXXXXX")
      FS_ROOT[disk]=$DISK_WORK/files
      ;;
    tmpfs)
      if [[ $(stat -f -c %T "$WORK") == tmpfs ]]; then
        FS_ROOT[tmpfs]=$FILES
      elif [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
        (($(df -Pk /dev/shm | awk 'NR==2 {print $4}') > 4 * 1024 * 1024)); then
        FS_ROOT[tmpfs]=$(mktemp -d /dev/shm/ferry-compare-tmpfs.XXXXXX)/files
      else
        say "no tmpfs with 4 GiB free: the tmpfs rows are left out"
        continue
      fi
      ;;
    *) die "--fs: unknown file system '$fs' (disk, tmpfs)" ;;
  esac
  FS_LIST+=("$fs")
  mkdir -p "${FS_ROOT[$fs]}"
  cp "$WORK/big.bin" "${FS_ROOT[$fs]}/big.bin"
  say "$fs root ${FS_ROOT[$fs]} ($(stat -f -c %T "${FS_ROOT[$fs]}"), $(df -P "${FS_ROOT[$fs]}" | awk 'NR==2 {print $1}'))"
done
rm -f "$WORK/big.bin"
sync

read -r FERRY_PORT NGINX_PORT IPERF_PORT FERRY_HTTP_PORT < <(python3 "$CLIENT" port --count 4)

WORKER_CONNECTIONS=$((NOFILE - 100))
((WORKER_CONNECTIONS > 16384)) && WORKER_CONNECTIONS=16384
NGINX_USER=""
[[ $EUID -eq 0 ]] && NGINX_USER="user root;"
# nginx's configuration, serving $FILES (rewritten when rows 1 and 2 move
# it to another file system).
write_nginx_conf() {
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events {
  worker_connections $WORKER_CONNECTIONS;
}
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  client_max_body_size 0;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    root $FILES;
    location / {
      dav_methods PUT;
      create_full_put_path on;
    }
  }
}
EOF
}

# ---------------------------------------------------------------- servers


# One worker each: ferry's default is one per core, nginx runs one here
# (compare_workers.sh compares more).
start_ferry() {
  spawn FERRY_PID "$FERRY_PORT" "$WORK/ferry.log" \
    "$FERRY" serve --listen "127.0.0.1:$FERRY_PORT" --http "127.0.0.1:$FERRY_HTTP_PORT" $(no_fsync "$FERRY") \
    --root "$FILES" --log-level warn --workers "$FERRY_WORKERS"
}
stop_ferry() {
  stop_pid "$FERRY_PID"
  FERRY_PID=""
}
start_nginx() {
  write_nginx_conf
  spawn NGINX_PID "$NGINX_PORT" "$WORK/nginx/logs/stdout.log" \
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
}
stop_nginx() {
  stop_pid "$NGINX_PID"
  NGINX_PID=""
}
nginx_pids() { # the master and its workers
  local workers
  workers=$(pgrep -P "$NGINX_PID" | tr '\n' ' ' || true)
  echo "$NGINX_PID $workers"
}
# Run by the exit trap (lib.sh cleanup) and before the TLS and workers rows:
# this run's servers and the folders outside $WORK go.
release() {
  stop_ferry
  stop_nginx
  stop_pid "$IPERF_PID"
  IPERF_PID=""
  [[ -z $DISK_WORK ]] || rm -rf -- "$DISK_WORK"
  DISK_WORK=""
  if [[ -n ${FS_ROOT[tmpfs]:-} && ${FS_ROOT[tmpfs]} != "$MAIN_FILES" ]]; then
    rm -rf -- "$(dirname "${FS_ROOT[tmpfs]}")"
  fi
}
restart_servers() {
  stop_ferry
  stop_nginx
  start_ferry
  start_nginx
}

reset_peak() { # pids...: restart VmHWM from the current RSS (clear_refs 5)
  local pid
  for pid in "$@"; do
    echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || PEAK_NOTE=" (lifetime peak: clear_refs failed)"
  done
}
PEAK_NOTE=""

# ---------------------------------------------------------------- helpers

xfer() { # proto op name count -> GB/s
  local out=$WORK/out/xfer.json
  timeout 300 python3 "$CLIENT" xfer --proto "$1" --op "$2" --port "$3" --name "$4" \
    --file "$FILES/big.bin" --count "$5" >"$out"
  calc "$(jget "$out" bytes) / $(jget "$out" seconds) / 1e9" 3
}
iperf() { # extra-args... -> GB/s received
  local out=$WORK/out/iperf.json
  timeout $((IPERF_SECS + 30)) iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -l 1M -t "$IPERF_SECS" \
    -J "$@" >"$out"
  calc "$(jget "$out" end.sum_received.bits_per_second) / 8e9" 3
}

# ---------------------------------------------------------------- start

say "ferry $FERRY on 127.0.0.1:$FERRY_PORT, nginx on :$NGINX_PORT, iperf3 on :$IPERF_PORT"
start_ferry
start_nginx
spawn IPERF_PID "$IPERF_PORT" "$WORK/iperf3.log" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "repetitions: $REPS$([[ $QUICK -eq 1 ]] && echo ' (quick)'); load average: $LOAD_START"

# ---------------------------------------------------------------- 1./2. big files

# Rows 1 and 2 run once per file system in FS_LIST, each with its own root
# holding a copy of big.bin: "disk" (the machine's disk, DISK_BASE) and
# "tmpfs" (/dev/shm). Servers restart on that root. Every transfer reports
# GB/s and the server's CPU per GiB (utime+stime deltas of its processes,
# /proc/<pid>/stat), for each client: the Python client of
# benches/compare_client.py (FERRY/1 and HTTP), curl (HTTP) and, once per
# file system, `ferry bench`. Cold GETs (disk only) drop the file's pages
# first (compare_client.py evict); every upload starts after a `sync`, so
# no writeback of the last one is left to slow it down.
declare -A BX_GBS BX_CPU # "fs|row|who" -> values, one per repetition
BX_ROWS=()
bx_pids() { # server -> its pids
  if [[ $1 == nginx ]]; then nginx_pids; else echo "$FERRY_PID"; fi
}
bx_port() { # who -> port
  case $1 in
    ferry-f1) echo "$FERRY_PORT" ;;
    ferry-*) echo "$FERRY_HTTP_PORT" ;;
    nginx-*) echo "$NGINX_PORT" ;;
  esac
}
# bx_run fs row who: one measurement; who = server-client (ferry-f1,
# ferry-py, ferry-curl, nginx-py, nginx-curl) or iperf3; row = get, cold
# or put. Appends GB/s and server CPU s/GiB to BX_GBS/BX_CPU.
bx_run() {
  local fs=$1 row=$2 who=$3 server=${3%%-*} client=${3#*-} out=$WORK/out/bx.txt
  local count=$GET_COUNT op=get name=big.bin before after bytes=0 secs=0 ticks i pids port url
  if [[ $who == iperf3 ]]; then
    if [[ $row == put ]]; then BX_GBS["$fs|$row|$who"]+="$(iperf) "; else BX_GBS["$fs|$row|$who"]+="$(iperf -R) "; fi
    return
  fi
  [[ $row == cold ]] && count=1
  [[ $row == put ]] && count=$PUT_COUNT op=put name=put/$who.bin
  port=$(bx_port "$who")
  url=http://127.0.0.1:$port/$name
  pids=$(bx_pids "$server")
  : >"$out"
  for ((i = 0; i < count; i++)); do
    [[ $row == cold ]] && python3 "$CLIENT" evict "$FILES/big.bin"
    [[ $row == put ]] && sync
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    before=$(cpu_ticks $pids)
    case $client-$op in
      f1-* | py-*)
        timeout 300 python3 "$CLIENT" xfer --proto "$([[ $client == f1 ]] && echo ferry || echo http)" \
          --op "$op" --port "$port" --name "$name" --file "$FILES/big.bin" --count 1 >"$out.json"
        echo "$(jget "$out.json" bytes) $(jget "$out.json" seconds)" >>"$out"
        ;;
      curl-get) timeout 300 curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' "$url" >>"$out" ;;
      curl-put) timeout 300 curl -sf -o /dev/null -w '%{size_upload} %{time_total}\n' -T "$FILES/big.bin" "$url" >>"$out" ;;
    esac
    # shellcheck disable=SC2086
    after=$(cpu_ticks $pids)
    echo "cpu $((after - before))" >>"$out"
  done
  bytes=$(awk '$1 != "cpu" {s += $1} END {printf "%.0f\n", s}' "$out")
  secs=$(awk '$1 != "cpu" {s += $2} END {print s}' "$out")
  ticks=$(awk '$1 == "cpu" {s += $2} END {print s}' "$out")
  ((bytes == count * BIG_BYTES)) || die "$who $row on $fs moved $bytes bytes, not $((count * BIG_BYTES))"
  BX_GBS["$fs|$row|$who"]+="$(calc "$bytes / $secs / 1e9" 3) "
  BX_CPU["$fs|$row|$who"]+="$(calc "$ticks / $CLK_TCK / ($bytes / $BIG_BYTES)" 2) "
}
bx_rows() { # fs: rows 1 and 2 on that file system's root, servers restarted on it
  local fs=$1 r k row n
  local -a whos
  FILES=${FS_ROOT[$fs]}
  restart_servers
  # Warm both servers and the page cache.
  xfer ferry get "$FERRY_PORT" big.bin 1 >/dev/null
  xfer http get "$NGINX_PORT" big.bin 1 >/dev/null
  for row in get cold put; do
    [[ $row == cold && $fs != disk ]] && continue
    whos=(ferry-f1 ferry-py nginx-py ferry-curl nginx-curl)
    [[ $row != cold ]] && whos+=(iperf3)
    [[ $row == put ]] && mkdir -p "$FILES/put"
    BX_ROWS+=("$fs|$row")
    say "$( [[ $row == put ]] && echo 2 || echo 1). $fs: $row 1 GiB, one connection, per repetition each client in turn"
    n=${#whos[@]}
    for ((r = 0; r < REPS; r++)); do
      for ((k = 0; k < n; k++)); do bx_run "$fs" "$row" "${whos[(k + r) % n]}"; done
      say "   rep $((r + 1)):$(for w in "${whos[@]}"; do
        read -r -a v <<<"${BX_GBS[$fs|$row|$w]}"
        read -r -a c <<<"${BX_CPU[$fs|$row|$w]:-}"
        printf ' %s %s%s' "$w" "${v[r]}" "${c[r]:+ (${c[r]} s/GiB)}"
      done)"
    done
    if [[ $row == put ]]; then
      for w in ferry-f1 ferry-py nginx-py ferry-curl nginx-curl; do
        cmp -s "$FILES/put/$w.bin" "$FILES/big.bin" || die "$w stored a different file on $fs"
      done
      rm -rf "$FILES/put"
    fi
  done
  # ferry's own client, once: it counts only transfers completed in time.
  for row in get put; do
    timeout $((CHECK_SECS + 120)) "$FERRY" bench --server "127.0.0.1:$FERRY_PORT" --op "$row" --size 1G \
      --connections 1 --duration "$CHECK_SECS" --json >"$WORK/out/bench-$row.json" || true
    BX_BENCH[$fs-$row]="$(calc "$(jget "$WORK/out/bench-$row.json" mb_per_sec) / 1000" 3) GB/s" 
    BX_BENCH[$fs-$row]+=" (1 GiB / p50 latency: $(calc "$BIG_BYTES / $(jget "$WORK/out/bench-$row.json" latency_us.p50) / 1000" 3))"
    say "   ferry bench --op $row --size 1G --connections 1: ${BX_BENCH[$fs-$row]}"
  done
  rm -rf "$FILES/bench"
}
declare -A BX_BENCH
for fs in "${FS_LIST[@]}"; do bx_rows "$fs"; done
FILES=$MAIN_FILES
restart_servers
big_table() { # the table of rows 1 and 2
  local key fs row label f n w
  echo
  echo "## 1 GiB over one connection: ferry vs nginx vs loopback TCP"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average at start: $LOAD_START, now: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
  echo "- $REPS repetitions, each client in turn (rotated per repetition); GET: ${GET_COUNT}× warm, 1× cold per measurement;"
  echo "  PUT: ${PUT_COUNT}× with a sync before each; ferry --no-fsync --workers $FERRY_WORKERS, nginx 1 worker, sendfile on, tcp_nopush on"
  for fs in "${FS_LIST[@]}"; do
    echo "- $fs: ${FS_ROOT[$fs]} ($(stat -f -c %T "$(dirname "${FS_ROOT[$fs]}")"))$([[ $fs == disk ]] && echo ", $(df -P "$(dirname "${FS_ROOT[$fs]}")" | awk 'NR==2 {print $1}')")"
  done
  echo
  echo "Cells: median [min–max] of GB/s (10^9 B/s) and the server's CPU seconds per GiB (utime+stime)."
  echo "Ratios: median over repetitions of ferry/nginx with the same client, back to back."
  echo
  echo "| fs | transfer | client | ferry GB/s | nginx GB/s | ×nginx | ferry CPU s/GiB | nginx CPU s/GiB | CPU ×nginx | ×iperf3 |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for key in "${BX_ROWS[@]}"; do
    fs=${key%%|*} row=${key#*|}
    case $row in get) label="GET warm" ;; cold) label="GET cold" ;; put) label="PUT" ;; esac
    for pair in "FERRY/1 vs HTTP (Python client) f1 py" "HTTP (Python client) py py" "HTTP (curl) curl curl"; do
      read -r -a words <<<"$pair"
      n=${#words[@]}
      f=ferry-${words[n - 2]} w=nginx-${words[n - 1]}
      label_client=${pair% * *}
      # shellcheck disable=SC2206 # plain numbers
      local -a fg=(${BX_GBS[$fs|$row|$f]}) ng=(${BX_GBS[$fs|$row|$w]}) fc=(${BX_CPU[$fs|$row|$f]}) nc=(${BX_CPU[$fs|$row|$w]})
      local vs_iperf=""
      if [[ -n ${BX_GBS[$fs|$row|iperf3]:-} ]]; then
        vs_iperf="×$(ratio_of "${BX_GBS[$fs|$row|$f]}" "${BX_GBS[$fs|$row|iperf3]}")"
      fi
      echo "| $fs | $label | $label_client | $(spread 3 "${fg[@]}") | $(spread 3 "${ng[@]}") | ×$(ratio_of "${fg[*]}" "${ng[*]}") | $(spread 2 "${fc[@]}") | $(spread 2 "${nc[@]}") | ×$(ratio_of "${fc[*]}" "${nc[*]}") | $vs_iperf |"
    done
    if [[ -n ${BX_GBS[$fs|$row|iperf3]:-} ]]; then
      # shellcheck disable=SC2206
      local -a ig=(${BX_GBS[$fs|$row|iperf3]})
      echo "| $fs | $label | iperf3$([[ $row == put ]] || echo " -R") (reference) | $(spread 3 "${ig[@]}") | | | | | | |"
    fi
  done
  echo
  echo "Targets (issue 34): GET ≥ 1.2× nginx on both file systems with a third-party client, ≥ 0.8× iperf3."
  for fs in "${FS_LIST[@]}"; do
    echo "- $fs: ferry bench GET ${BX_BENCH[$fs-get]}; PUT ${BX_BENCH[$fs-put]} (it counts only transfers done within ${CHECK_SECS}s)"
  done
}
if [[ $BIG_ONLY -eq 1 ]]; then
  say "--big-only: rows 3 to 8 left out"
  big_table
  exit 0
fi

# ---------------------------------------------------------------- 3. 4 KiB

say "3. 4 KiB GETs, 100 keep-alive connections, ${SMALL_SECS}s runs (ferry bench / wrk -t2)"
S_FRPS=() S_NRPS=() S_FCPU=() S_NCPU=() S_ERR=()
small_ferry() {
  local before after out=$WORK/out/small-ferry.json ops
  before=$(cpu_ticks "$FERRY_PID")
  timeout $((SMALL_SECS + 60)) "$FERRY" bench --server "127.0.0.1:$FERRY_PORT" --op get --size 4K \
    --connections 100 --duration "$SMALL_SECS" --json >"$out" || true
  after=$(cpu_ticks "$FERRY_PID")
  ops=$(jget "$out" ops)
  S_FRPS+=("$(jget "$out" ops_per_sec)")
  S_FCPU+=("$(calc "($after - $before) * 1e6 / $CLK_TCK / $ops" 2)")
  S_ERR+=("ferry:$(jget "$out" errors)")
}
small_nginx() {
  local before after out=$WORK/out/small-nginx.txt reqs
  # shellcheck disable=SC2046 # word splitting of the pid list is intended
  before=$(cpu_ticks $(nginx_pids))
  timeout $((SMALL_SECS + 60)) wrk -t2 -c100 -d"${SMALL_SECS}s" \
    "http://127.0.0.1:$NGINX_PORT/small.bin" >"$out" || true
  # shellcheck disable=SC2046
  after=$(cpu_ticks $(nginx_pids))
  reqs=$(awk '/requests in/ {print $1}' "$out")
  S_NRPS+=("$(awk '/^Requests\/sec:/ {print $2}' "$out")")
  S_NCPU+=("$(calc "($after - $before) * 1e6 / $CLK_TCK / $reqs" 2)")
  S_ERR+=("nginx:$(awk '/Socket errors|Non-2xx/ {printf "%s ", $0}' "$out")")
}
for ((r = 0; r < REPS; r++)); do
  if ((r % 2 == 0)); then small_ferry; small_nginx; else small_nginx; small_ferry; fi
  say "   rep $((r + 1)): ferry ${S_FRPS[r]} req/s ${S_FCPU[r]} µs CPU/req;" \
    "nginx ${S_NRPS[r]} req/s ${S_NCPU[r]} µs CPU/req"
done
S_ERRORS=$(printf '%s\n' "${S_ERR[@]}" | grep -v -e '^ferry:0$' -e '^nginx:$' || true)

# ---------------------------------------------------------------- 4. idle

say "4. $IDLE_CONNS idle connections (fresh servers each repetition; one 4 KiB GET per connection, then idle)"
I_FERRY=() I_NGINX=() I_NOTE=""
idle_run() { # proto port: sets IDLE_RESULT, bytes of RSS per connection
  local proto=$1 port=$2 before after ready=$WORK/out/ready pids
  if [[ $proto == ferry ]]; then pids=$FERRY_PID; else pids=$(nginx_pids); fi
  # warm-up: a few requests, so buffers touched on first use are counted
  # before, not charged to the idle connections
  timeout 60 python3 "$CLIENT" xfer --proto "$proto" --op get --port "$port" --name small.bin \
    --count 10 >/dev/null
  timeout 60 python3 "$CLIENT" xfer --proto "$proto" --op get --port "$port" --name medium.bin \
    --count 2 >/dev/null
  sleep 0.5
  # shellcheck disable=SC2086
  before=$(status_kb VmRSS $pids)
  rm -f "$ready"
  python3 "$CLIENT" hold --proto "$proto" --port "$port" --name small.bin \
    --count "$IDLE_CONNS" --ready-file "$ready" >/dev/null 2>"$WORK/out/hold.err" &
  HOLD_PID=$!
  local i
  for ((i = 0; i < 1200; i++)); do
    [[ -f $ready ]] && break
    sleep 0.1
  done
  [[ -f $ready ]] || die "the idle-connection client did not finish connecting in 120 s"
  sleep 1
  # shellcheck disable=SC2086
  after=$(status_kb VmRSS $pids)
  stop_pid "$HOLD_PID"
  HOLD_PID=""
  read -r _ held _ failed <"$ready"
  if [[ $held != "$IDLE_CONNS" ]]; then
    I_NOTE+=" $proto held only $held (failed $failed: $(head -c 200 "$WORK/out/hold.err"))."
  fi
  IDLE_RESULT=$(calc "($after - $before) * 1024 / $held" 0)
}
for ((r = 0; r < REPS; r++)); do
  restart_servers
  idle_run ferry "$FERRY_PORT"
  I_FERRY+=("$IDLE_RESULT")
  idle_run http "$NGINX_PORT"
  I_NGINX+=("$IDLE_RESULT")
  say "   rep $((r + 1)): ferry ${I_FERRY[r]} B/conn  nginx ${I_NGINX[r]} B/conn"
done

# ---------------------------------------------------------------- 5. 10k x 1 MiB

say "5. $BURST_CONNS concurrent 1 MiB GETs"
B_OK=() B_ERR=() B_MB=() B_PEAK=() B_OPS=()
C_DONE=() C_ERR=() C_MB=() C_PEAK=() C_SECS=()
N_DONE=() N_ERR=() N_MB=() N_PEAK=() N_SECS=()
W_REQ=() W_ERR=() W_MB=() W_PEAK=()
for ((r = 0; r < REPS; r++)); do
  restart_servers
  # (a) ferry bench, the figure the targets refer to
  out=$WORK/out/burst-bench.json
  reset_peak "$FERRY_PID"
  timeout $((BIG_SECS + 120)) "$FERRY" bench --server "127.0.0.1:$FERRY_PORT" --op get --size 1M \
    --connections "$BURST_CONNS" --duration "$BIG_SECS" --json >"$out" || true
  B_PEAK+=("$(calc "$(status_kb VmHWM "$FERRY_PID") / 1024" 1)")
  B_OK+=("$(jget "$out" connected)")
  B_ERR+=("$(jget "$out" errors)")
  B_OPS+=("$(jget "$out" ops)")
  B_MB+=("$(jget "$out" mb_per_sec)")
  sleep 1
  # (b) one GET in flight on each of 10k connections at once, every answer
  # checked, same client for both servers
  for proto in ferry http; do
    if [[ $proto == ferry ]]; then pids=$FERRY_PID port=$FERRY_PORT; else pids=$(nginx_pids) port=$NGINX_PORT; fi
    # shellcheck disable=SC2086
    reset_peak $pids
    out=$WORK/out/burst-$proto.json
    timeout 180 python3 "$CLIENT" burst --proto "$proto" --port "$port" --name medium.bin \
      --count "$BURST_CONNS" --timeout 90 >"$out"
    # shellcheck disable=SC2086
    peak=$(calc "$(status_kb VmHWM $pids) / 1024" 1)
    if [[ $proto == ferry ]]; then
      C_DONE+=("$(jget "$out" completed)") C_ERR+=("$(jget "$out" errors)")
      C_MB+=("$(jget "$out" mb_per_sec)") C_PEAK+=("$peak") C_SECS+=("$(jget "$out" seconds)")
    else
      N_DONE+=("$(jget "$out" completed)") N_ERR+=("$(jget "$out" errors)")
      N_MB+=("$(jget "$out" mb_per_sec)") N_PEAK+=("$peak") N_SECS+=("$(jget "$out" seconds)")
    fi
    sleep 1
  done
  # (c) nginx under wrk -c10000 (optional comparison for (a))
  # shellcheck disable=SC2046
  reset_peak $(nginx_pids)
  out=$WORK/out/burst-wrk.txt
  timeout $((BIG_SECS + 120)) wrk -t2 -c"$BURST_CONNS" -d"${BIG_SECS}s" --timeout 60s \
    "http://127.0.0.1:$NGINX_PORT/medium.bin" >"$out" 2>&1 || true
  # shellcheck disable=SC2046
  W_PEAK+=("$(calc "$(status_kb VmHWM $(nginx_pids)) / 1024" 1)")
  reqs=$(awk '/requests in/ {print $1}' "$out")
  secs=$(awk '/requests in/ {sub(/s,?$/, "", $4); print $4}' "$out")
  W_REQ+=("$reqs")
  W_MB+=("$(calc "$reqs * 1.048576 / $secs" 1)")
  W_ERR+=("$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10; f = 1} END {if (!f) print 0}' "$out")")
  say "   rep $((r + 1)): ferry bench: ${B_OK[r]} connected, ${B_OPS[r]} GETs, ${B_ERR[r]} errors," \
    "${B_MB[r]} MB/s, peak RSS ${B_PEAK[r]} MiB"
  say "          burst ferry: ${C_DONE[r]}/$BURST_CONNS done, ${C_ERR[r]} errors, ${C_SECS[r]} s," \
    "${C_MB[r]} MB/s, peak ${C_PEAK[r]} MiB | burst nginx: ${N_DONE[r]}/$BURST_CONNS," \
    "${N_ERR[r]} errors, ${N_SECS[r]} s, ${N_MB[r]} MB/s, peak ${N_PEAK[r]} MiB"
  say "          wrk -c$BURST_CONNS nginx: ${W_REQ[r]} GETs, ${W_ERR[r]} socket errors," \
    "${W_MB[r]} MB/s, peak ${W_PEAK[r]} MiB"
done

# ---------------------------------------------------------------- 6. HTTP

say "6. HTTP: wrk -t2 -c100 against ferry --http and nginx, 4 KiB and 1 MiB, ${SMALL_SECS}s runs"
declare -A H_RPS H_CPU
http_run() { # server port pids file -> appends "rps cpu" to H_RPS/H_CPU[server-file]
  local server=$1 port=$2 pids=$3 file=$4 before after out=$WORK/out/http.txt reqs
  # shellcheck disable=SC2086 # word splitting of the pid list is intended
  before=$(cpu_ticks $pids)
  timeout $((SMALL_SECS + 60)) wrk -t2 -c100 -d"${SMALL_SECS}s" \
    "http://127.0.0.1:$port/$file" >"$out" 2>&1 || true
  # shellcheck disable=SC2086
  after=$(cpu_ticks $pids)
  reqs=$(awk '/requests in/ {print $1}' "$out")
  H_RPS[$server-$file]+="$(awk '/^Requests\/sec:/ {print $2}' "$out") "
  H_CPU[$server-$file]+="$(calc "($after - $before) * 1e6 / $CLK_TCK / $reqs" 2) "
  if grep -q -e 'Socket errors' -e 'Non-2xx' "$out"; then
    H_ERR+="$server $file: $(grep -e 'Socket errors' -e 'Non-2xx' "$out" | tr '\n' ' ')"
  fi
}
H_ERR=""
for ((r = 0; r < REPS; r++)); do
  for file in small.bin medium.bin; do
    if ((r % 2 == 0)); then
      http_run ferry "$FERRY_HTTP_PORT" "$FERRY_PID" "$file"
      http_run nginx "$NGINX_PORT" "$(nginx_pids)" "$file"
    else
      http_run nginx "$NGINX_PORT" "$(nginx_pids)" "$file"
      http_run ferry "$FERRY_HTTP_PORT" "$FERRY_PID" "$file"
    fi
  done
  say "   rep $((r + 1)) done"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - STARTED))

# ---------------------------------------------------------------- report

ok_word() { if [[ $1 -eq 1 ]]; then echo "${2:-met}"; else echo "**${3:-missed}**"; fi; }

R_SC=$(paired S_FCPU S_NCPU) R_SR=$(paired S_FRPS S_NRPS)
R_I=$(paired I_FERRY I_NGINX) R_C=$(paired C_MB N_MB)
IF=$(median "${I_FERRY[@]}")
BPKMAX=$(max_of "${B_PEAK[@]}") CPKMAX=$(max_of "${C_PEAK[@]}")

bench_all_ok=1 burst_all_ok=1 n_all_ok=1
for ((r = 0; r < REPS; r++)); do
  [[ ${B_OK[r]} == "$BURST_CONNS" && ${B_ERR[r]} == 0 ]] || bench_all_ok=0
  [[ ${C_DONE[r]} == "$BURST_CONNS" && ${C_ERR[r]} == 0 ]] || burst_all_ok=0
  [[ ${N_DONE[r]} == "$BURST_CONNS" && ${N_ERR[r]} == 0 ]] || n_all_ok=0
done
all_ok=$((bench_all_ok && burst_all_ok))

big_table
echo
echo "## ferry vs nginx, many connections"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
  "$(awk '/^MemTotal:/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
echo "- load average at start / end: $LOAD_START / $LOAD_END"
echo "- versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)," \
  "$(iperf3 --version | head -n 1 | cut -d' ' -f1-2), python $(python3 -c 'import platform; print(platform.python_version())')"
echo "- files on $(stat -f -c %T "$WORK") ($BASE); $REPS repetitions$([[ $QUICK -eq 1 ]] && echo ' (--quick)'); run took ${ELAPSED}s"
echo "- open-files limit $NOFILE; nginx: 1 worker, worker_connections $WORKER_CONNECTIONS, sendfile, tcp_nopush, dav PUT"
echo
echo "Cells: median [min–max] over the repetitions. Ratios: median over repetitions of the"
echo "ferry/other ratio within each repetition (the runs of one repetition are back to back)."
echo "A load average above the CPU count means other work shared the machine: expect wide ranges."
echo
echo "| # | measurement | ferry | nginx | reference | ratio (ferry / other) | target | result |"
echo "|---|---|---|---|---|---|---|---|"
echo "| 3 | 4 KiB GET, 100 conns: server CPU per request (µs) | $(spread 2 "${S_FCPU[@]}") | $(spread 2 "${S_NCPU[@]}") | | ×$R_SC | ≤0.8× nginx | $(verdict "$R_SC <= 0.8") |"
echo "| 3 | 4 KiB GET, 100 conns: requests/s (ferry bench / wrk -t2) | $(spread 0 "${S_FRPS[@]}") | $(spread 0 "${S_NRPS[@]}") | | ×$R_SR | (generators differ) | |"
echo "| 4 | $IDLE_CONNS idle connections: RSS growth per connection (B) | $(spread 0 "${I_FERRY[@]}") | $(spread 0 "${I_NGINX[@]}") | | ×$R_I | ≤256 B | $(verdict "$IF <= 256") |"
echo "| 5 | 10k × 1 MiB GET, ferry bench ${BIG_SECS}s: connected / errors, all repetitions | $(ok_word "$bench_all_ok" "10000 / 0" "see log") | | | | all complete, 0 errors | $(ok_word "$all_ok") (with the burst row) |"
echo "| 5 | 10k × 1 MiB GET, ferry bench: GETs completed in ${BIG_SECS}s | $(spread 0 "${B_OPS[@]}") | wrk -c10k: $(spread 0 "${W_REQ[@]}") | | | | |"
echo "| 5 | 10k × 1 MiB GET, ferry bench: aggregate (MB/s) | $(spread 0 "${B_MB[@]}") | wrk -c10k: $(spread 0 "${W_MB[@]}") | | | | |"
echo "| 5 | 10k × 1 MiB GET, ferry bench: peak server RSS (MiB) | $(spread 1 "${B_PEAK[@]}") | wrk -c10k: $(spread 1 "${W_PEAK[@]}") | | | <64 MiB (max) | $(verdict "$BPKMAX < 64") |"
echo "| 5 | 10k × 1 MiB GET, one burst, every answer read: all complete | $(ok_word "$burst_all_ok" "yes" "no, see log") | $(ok_word "$n_all_ok" "yes" "no, see log") | | | all complete, 0 errors | $(ok_word "$burst_all_ok") |"
echo "| 5 | 10k × 1 MiB GET, one burst: aggregate (MB/s) | $(spread 0 "${C_MB[@]}") | $(spread 0 "${N_MB[@]}") | | ×$R_C | | |"
echo "| 5 | 10k × 1 MiB GET, one burst: peak server RSS (MiB) | $(spread 1 "${C_PEAK[@]}") | $(spread 1 "${N_PEAK[@]}") | | | <64 MiB (max) | $(verdict "$CPKMAX < 64") |"
for file in small.bin medium.bin; do
  label=$([[ $file == small.bin ]] && echo "4 KiB" || echo "1 MiB")
  # shellcheck disable=SC2206 # the values are plain numbers
  FR=(${H_RPS[ferry-$file]}) NR=(${H_RPS[nginx-$file]}) FC=(${H_CPU[ferry-$file]}) NC=(${H_CPU[nginx-$file]})
  echo "| 6 | HTTP $label GET, wrk -c100: requests/s | $(spread 0 "${FR[@]}") | $(spread 0 "${NR[@]}") | | ×$(paired FR NR) | | |"
  echo "| 6 | HTTP $label GET, wrk -c100: server CPU per request (µs) | $(spread 2 "${FC[@]}") | $(spread 2 "${NC[@]}") | | ×$(paired FC NC) | | |"
done
echo
echo "Notes:"
echo "- 3: server CPU = utime+stime from /proc/<pid>/stat (1/$CLK_TCK s ticks; nginx: master + worker)"
if awk "BEGIN { exit !($R_SR >= 1) }"; then
  faster="ferry bench (1 thread) drove ferry harder than wrk (2 threads) drove nginx, which if anything flatters ferry"
else
  faster="wrk (2 threads) drove nginx harder than ferry bench (1 thread) drove ferry, which if anything flatters nginx"
fi
echo "  over the whole load-generator run, divided by the requests it reports. The load generators"
echo "  share the $(nproc) CPUs with the server, so requests/s mostly measures them. A server's CPU per"
echo "  request falls when it is driven harder (more events per epoll_wait); here $faster."
if [[ -n $S_ERRORS ]]; then echo "  Errors: $S_ERRORS"; fi
echo "- 4: VmRSS (nginx: master + worker) before and after a separate client opened $IDLE_CONNS connections,"
echo "  made one 4 KiB GET on each and left them idle; fresh servers each repetition, warmed up first"
echo "  (without the GET the figures are the same to a byte or two).${I_NOTE}"
echo "- 6: the same load generator (wrk) for both servers; zero errors expected.${H_ERR:+ Errors: $H_ERR}"
echo "- 5: peak RSS = VmHWM after resetting it (clear_refs) before each run${PEAK_NOTE}; target judged on the"
echo "  maximum over repetitions. ferry bench counts only GETs completed within its ${BIG_SECS}s, and"
echo "  with 10k answers sharing the link fairly none completes in the first seconds, so its MB/s"
echo "  is low by the data still in flight at the end; nor does it report requests still unfinished"
echo "  when its drain ends. The burst run (one GET on each of $BURST_CONNS connections at once, every"
echo "  answer read to the end, same client for both servers) is what shows that all complete."

# 7. and 8. The TLS and the workers rows: runs of their own, each with its
# own servers, files and time limit, once this run's are gone.
SUB_ARGS=(--reps "$REPS")
if [[ $QUICK -eq 1 ]]; then SUB_ARGS+=(--quick); fi
if [[ $TLS -eq 1 || $WORKERS -eq 1 ]]; then release; fi
if [[ $TLS -eq 1 ]]; then
  echo
  "$SCRIPT_DIR/compare_tls.sh" "${SUB_ARGS[@]}"
fi
if [[ $WORKERS -eq 1 ]]; then
  echo
  "$SCRIPT_DIR/compare_workers.sh" "${SUB_ARGS[@]}"
fi
