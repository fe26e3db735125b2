#!/usr/bin/env bash
# benches/dav_nginx.sh: ferry's WebDAV and small requests against nginx
# (its dav module with dav_ext) and Apache (mod_dav, mod_dav_fs), side by
# side on 127.0.0.1 (issue 54, "Done when" part 1).
#
#   benches/dav_nginx.sh [--quick] [--reps N] [--dir DIR] [--no-count]
#
# Mode: ferry runs as shipped, `ferry serve --root R --listen 127.0.0.1:0
# --http 127.0.0.1:0`: durable acknowledgements (a PUT is answered once its
# data and directory entry are flushed), one event loop per core, the
# access log on (its standard error, to a file here). nginx and Apache
# flush nothing before answering. On the default tmpfs a flush costs a
# system call and no I/O; with --dir it is the disk's.
#
# Needs root. Installs with apt-get what is missing: nginx-light,
# libnginx-mod-http-dav-ext, apache2, wrk, curl (and strace for the
# counting pass). Builds ferry in release mode unless FERRY_BIN names a
# binary. The root is a private tmpfs mounted for the run (default) or a
# new folder in DIR (--dir, refused on a tmpfs); each server serves its
# own copy of one tree: files/ (10,000 files of 64 B), small.bin (4 KiB),
# empty folders for the uploads. On ports free at run time:
#
#   ferry   as above (ports read back from its start-up line);
#   nginx   Debian's nginx.conf as shipped (user www-data, worker_processes
#           auto, sendfile, tcp_nopush, the access log on, to a file) with
#           `dav_methods PUT DELETE MKCOL COPY MOVE`, dav_ext's
#           `dav_ext_methods PROPFIND OPTIONS`, client_max_body_size 0,
#           the body temp folder on the root's file system, and
#           keepalive_requests 1000000 (the default 1,000 would close row
#           1's connection);
#   apache  Debian's modules as shipped (mods-enabled: mpm_event with its
#           defaults, ...) plus dav and dav_fs (what `a2enmod dav dav_fs`
#           enables, loaded by this config without touching the system's),
#           `Dav On` on the root, User www-data, KeepAlive On,
#           KeepAliveTimeout 5, AllowOverride None, the access log on
#           (combined, to a file), and MaxKeepAliveRequests 0 (Debian's 100
#           would close row 1's connection and wrk's).
#
# Server CPU: each server runs in a cgroup made for the run (cgroup v2
# cpu.stat usage_usec, else v1 cpuacct.usage; without either, utime+stime
# summed over the server's processes from /proc/<pid>/stat), read before
# and after each measurement, so that nginx's workers and Apache's
# processes, short-lived ones too, are counted whole.
#
# N interleaved repetitions (default 5), the servers' order rotated each
# repetition, each row run on every server in turn:
#
#   1. 2,000 sequential PUTs of 4 KiB on ONE keep-alive connection
#      (benches/dav_nginx_client.py, http.client), distinct new names in
#      one folder (a new one each repetition); every answer must be
#      201/204, then the folder is checked on disk (2,000 files, every
#      50th byte for byte). Server CPU and wall seconds.
#   2. PROPFIND Depth 1 of files/ (10,000 files of 64 B), 5 requests one
#      after the other on one keep-alive connection, with a <prop> body
#      asking for getcontentlength, getlastmodified, resourcetype, getetag
#      and displayname; each answer must be 207 with 10,001 <response>s.
#      Then the same with no body (allprop), ferry and nginx only.
#   3. One 256 MiB PUT with `curl -T` from a file in the page cache (the
#      file system synced before it); the stored file compared with cmp,
#      then removed.
#   4. `wrk -t1 -c100 -d5s` GETs of small.bin (4 KiB): requests/s, server
#      CPU per request; any non-2xx answer or socket error fails the run.
#
# Figures are medians (range in brackets); the ratios ferry / nginx and
# ferry / apache are taken within each repetition, then their median. The
# targets of issue 54 are in the table: rows 1-3 server CPU ≤ 1.0× nginx's,
# row 4 requests/s ≥ 1.0× nginx's and CPU per request ≤ nginx's.
# Then (unless --no-count) a counting pass: the system calls per durable
# 4 KiB PUT of each server, by kind, over 2,000 PUTs on one connection
# (row 1's client, new names), counted by perf's syscall tracepoints
# (`perf stat` of `raw_syscalls:sys_enter` and ~50 calls' own
# `syscalls:sys_enter_*` on the server's processes), which do not stop
# the server. Where perf cannot read them (no perf, no
# tracefs), `strace -f -c` of a fresh ferry alone taking 1 PUT and, in
# another run, 201 PUTs: the difference over 200. strace stops the
# server at every call, so it is slowed until the client's next request
# waits at each read: its counts miss the reads that find nothing.
#
# Progress goes to standard error, the markdown tables to standard
# output. A default run takes about 3 minutes on 2 cores (--reps 3 about
# 2, --quick: 1 repetition, about 1), bounded by a watchdog
# (DAV_NGINX_MAX_SECONDS, default 1200); servers, cgroups, the tmpfs and
# the work folder go on exit.
#
# Options and environment:
#   --quick               1 repetition
#   --reps N              repetitions (default 5)
#   --dir DIR             roots in a new folder in DIR (a disk, not a tmpfs)
#   --no-count            leave out the counting pass (--no-strace: the same)
#   DAV_NGINX_MAX_SECONDS the watchdog's limit (default 1200)
#   FERRY_BIN             the ferry binary (else a release build)
#   CARGO_TARGET_DIR      as for cargo, when building

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/dav_nginx_client.py"

QUICK=0 NREPS="" DIR="" STRACE=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) NREPS=${2:?--reps needs a number}; shift ;;
    --dir) DIR=${2:?--dir needs a folder}; shift ;;
    --no-count | --no-strace) STRACE=0 ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "dav_nginx.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then NREPS=${NREPS:-1}; else NREPS=${NREPS:-5}; fi
[[ $NREPS =~ ^[1-9][0-9]*$ ]] || { echo "dav_nginx.sh: --reps takes a positive integer" >&2; exit 2; }
PUTS=2000 PUT_SIZE=4096 FILES=10000 PROPFINDS=5 BIG_MIB=256 WRK_SECS=5 WRK_CONNS=100
STRACE_PUTS=200 COUNT_PUTS=2000
MAX_SECONDS=${DAV_NGINX_MAX_SECONDS:-1200}

STARTED=$SECONDS
NAME=dav_nginx.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; } # 10000 -> 10,000

[[ $EUID -eq 0 ]] || die "needs root (a tmpfs, cgroups, nginx and Apache dropping to www-data)"
if [[ -n $DIR ]]; then
  [[ -d $DIR ]] || die "--dir $DIR: no such folder"
  [[ $(stat -f -c %T "$DIR") != tmpfs ]] || die "--dir $DIR is on a tmpfs: give a disk folder (the default is a tmpfs)"
fi

# ---------------------------------------------------------------- cleanup

SERVERS=(ferry nginx apache)
declare -A PID=() PORT=() CG=() ROOT=()
CG_KIND="" CG_BASE="" STRACED=""
PID_VARS=(STRACED "PID[ferry]" "PID[nginx]" "PID[apache]")
stop_server() { # server: its main process, then whatever is left in its cgroup
  local key=$1 i p
  stop_pid "${PID[$key]:-}"
  PID[$key]=""
  [[ -n ${CG[$key]:-} && -d ${CG[$key]} ]] || return 0
  for ((i = 0; i < 50; i++)); do
    [[ -s ${CG[$key]}/cgroup.procs ]] || break
    sleep 0.1
  done
  while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"${CG[$key]}/cgroup.procs"
}
# shellcheck disable=SC2317 # run by lib.sh's cleanup
release() {
  local key i
  for key in "${SERVERS[@]}"; do stop_server "$key"; done
  for key in "${!CG[@]}"; do
    for ((i = 0; i < 50; i++)); do
      [[ -s ${CG[$key]}/cgroup.procs ]] || break
      sleep 0.1
    done
    rmdir "${CG[$key]}" 2>/dev/null || say "could not remove the cgroup ${CG[$key]}"
  done
}
clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- tools

need=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
[[ -f /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ]] || need+=(libnginx-mod-http-dav-ext)
command -v apache2 >/dev/null 2>&1 || [[ -x /usr/sbin/apache2 ]] || need+=(apache2)
for tool in wrk curl python3; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
# perf's syscall tracepoints count without slowing the servers; strace
# is the fallback where they cannot be read.
COUNTER=none
if [[ $STRACE -eq 1 ]]; then
  if command -v perf >/dev/null 2>&1 &&
    perf stat -x, -e syscalls:sys_enter_close -o /dev/null -- true >/dev/null 2>&1; then
    COUNTER=perf
  else
    COUNTER=strace
    command -v strace >/dev/null 2>&1 || need+=(strace)
  fi
fi
if [[ ${#need[@]} -gt 0 ]]; then
  # Debian starts a service its package installs (on port 80) unless
  # policy-rc.d says no: the benchmark starts its own.
  say "installing ${need[*]} with apt-get"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PATH=$PATH:/usr/sbin:/sbin
nginx -V 2>&1 | grep -q -- --with-http_dav_module || die "this nginx has no dav module"
DAV_EXT=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
[[ -f $DAV_EXT ]] || die "no dav_ext module at $DAV_EXT"
getent passwd www-data >/dev/null || die "no user www-data"

find_ferry

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
VERSIONS="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (nginx-light $(version nginx-light), dav-ext $(version libnginx-mod-http-dav-ext)), Apache $(apache2 -v | sed -n 's/.*Apache\/\([^ ]*\).*/\1/p') ($(version apache2)), wrk $(version wrk), curl $(curl -V | awk 'NR == 1 {print $2}')"
# The binary's date beside the checkout's commit: a FERRY_BIN may be of
# another commit.
FERRY_REV="$FERRY of $(date -u -r "$FERRY" '+%F %H:%M') UTC, checkout $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
say "ferry $FERRY_REV; $VERSIONS"

# ---------------------------------------------------------------- work folder

make_work dav-nginx "$DIR" 3g
chmod 755 "$WORK"
FSTYPE=$(df --output=fstype "$WORK" | tail -n 1)
if [[ -n $DIR ]]; then
  avail_kb=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
  ((avail_kb > 2 * 1024 * 1024)) || die "$WORK has ${avail_kb} KiB free, needs 2 GiB"
  FSDESC="$FSTYPE on $(df -P "$WORK" | awk 'NR == 2 {print $1}')"
else
  FSDESC="$FSTYPE"
fi
say "work folder $WORK ($FSDESC)"
CONF=$WORK/conf
mkdir -p "$CONF/nginx" "$CONF/apache/lock" "$WORK/src"

say "making the tree: $(commas "$FILES") files of 64 B, a 4 KiB file, the ${BIG_MIB} MiB source"
python3 - "$WORK/seed" "$FILES" "$NREPS" <<'EOF'
import os, sys
seed, files, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(seed, "files"))
for i in range(files):
    with open(os.path.join(seed, "files", f"file-{i:05d}.txt"), "wb") as f:
        f.write(b"%063d\n" % i)
with open(os.path.join(seed, "small.bin"), "wb") as f:
    f.write(os.urandom(4096))
for name in ["big", "puts-warm", "puts-count"] + [f"puts-{r}" for r in range(reps)]:
    os.makedirs(os.path.join(seed, name))
EOF
head -c $((BIG_MIB << 20)) /dev/urandom >"$WORK/src/big.bin"
for key in "${SERVERS[@]}"; do
  ROOT[$key]=$WORK/roots/$key
  mkdir -p "$WORK/roots"
  cp -a "$WORK/seed" "${ROOT[$key]}"
done
rm -rf -- "$WORK/seed"
chown -R www-data:www-data "${ROOT[nginx]}" "${ROOT[apache]}" "$CONF/apache/lock"
runuser -u www-data -- test -w "${ROOT[apache]}/puts-warm" ||
  die "www-data cannot write in ${ROOT[apache]} (a parent folder closed to it?)"

# ---------------------------------------------------------------- CPU accounting

cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
cg1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpuacct(,|$)/ {print $2; exit}' /proc/mounts)
if [[ -n $cg2 ]] && mkdir "$cg2/ferry-dav-nginx.$$.probe" 2>/dev/null; then
  rmdir "$cg2/ferry-dav-nginx.$$.probe"
  CG_KIND=v2 CG_BASE=$cg2 CPU_METHOD="cgroup v2 cpu.stat usage_usec, a cgroup per server"
elif [[ -n $cg1 ]] && mkdir "$cg1/ferry-dav-nginx.$$.probe" 2>/dev/null; then
  rmdir "$cg1/ferry-dav-nginx.$$.probe"
  CG_KIND=v1 CG_BASE=$cg1 CPU_METHOD="cgroup v1 cpuacct.usage, a cgroup per server"
else
  CG_KIND=none CPU_METHOD="utime+stime summed over the server's live processes (no cgroup could be made: exited children are missed)"
fi
say "server CPU: $CPU_METHOD"
CLK_TCK=$(getconf CLK_TCK)

cpu_of() { # server: its CPU seconds so far
  local key=$1 p t=0
  case $CG_KIND in
    v2) awk '$1 == "usage_usec" {printf "%.6f", $2 / 1e6}' "${CG[$key]}/cpu.stat" ;;
    v1) awk '{printf "%.6f", $1 / 1e9}' "${CG[$key]}/cpuacct.usage" ;;
    none)
      for p in $(tree_pids "${PID[$key]}"); do
        t=$((t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
      done
      calc "$t / $CLK_TCK" 6
      ;;
  esac
}
# cg_exec <server> command...: the command, moved into the server's cgroup first.
cg_exec() {
  local key=$1
  shift
  [[ $CG_KIND == none ]] || echo "$BASHPID" >"${CG[$key]}/cgroup.procs"
  exec "$@"
}

# ---------------------------------------------------------------- servers

mapfile -t ports < <(free_ports 2)
PORT[nginx]=${ports[0]} PORT[apache]=${ports[1]}
cat >"$CONF/nginx/nginx.conf" <<EOF
user www-data;
worker_processes auto;
daemon off;
pid $CONF/nginx/nginx.pid;
error_log $CONF/nginx/error.log warn;
load_module $DAV_EXT;
events {
  worker_connections 768;
}
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log $CONF/nginx/access.log;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_temp_path $WORK/roots/nginx-body;
  proxy_temp_path $CONF/nginx/proxy;
  fastcgi_temp_path $CONF/nginx/fastcgi;
  uwsgi_temp_path $CONF/nginx/uwsgi;
  scgi_temp_path $CONF/nginx/scgi;
  server {
    listen 127.0.0.1:${PORT[nginx]};
    root ${ROOT[nginx]};
    location / {
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
    }
  }
}
EOF
cat >"$CONF/apache/apache2.conf" <<EOF
ServerRoot $CONF/apache
ServerName 127.0.0.1
DefaultRuntimeDir $CONF/apache
PidFile $CONF/apache/apache2.pid
Mutex file:$CONF/apache default
ErrorLog $CONF/apache/error.log
LogLevel warn
User www-data
Group www-data
Timeout 300
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
HostnameLookups Off
IncludeOptional /etc/apache2/mods-enabled/*.load
IncludeOptional /etc/apache2/mods-enabled/*.conf
Include /etc/apache2/mods-available/dav.load
<IfModule !mod_dav_fs.c>
  Include /etc/apache2/mods-available/dav_fs.load
</IfModule>
DavLockDB $CONF/apache/lock/DAVLock
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog $CONF/apache/access.log combined
Listen 127.0.0.1:${PORT[apache]}
<Directory />
  Options FollowSymLinks
  AllowOverride None
  Require all denied
</Directory>
DocumentRoot ${ROOT[apache]}
<Directory ${ROOT[apache]}>
  Options Indexes FollowSymLinks
  AllowOverride None
  Require all granted
  Dav On
</Directory>
EOF
apache2 -t -f "$CONF/apache/apache2.conf" 2>"$CONF/apache/configtest.log" ||
  { cat "$CONF/apache/configtest.log" >&2; die "Apache's configuration does not load"; }

start_server() { # server
  local key=$1
  if [[ $CG_KIND != none && -z ${CG[$key]:-} ]]; then
    CG[$key]="$CG_BASE/ferry-dav-nginx.$$.$key"
    mkdir "${CG[$key]}"
  fi
  case $key in
    ferry)
      launch "PID[ferry]" "$CONF/ferry.log" cg_exec ferry \
        "$FERRY" serve --root "${ROOT[ferry]}" --listen 127.0.0.1:0 --http 127.0.0.1:0
      PORT[ferry]=$(port_of HTTP "$SERVED")
      ;;
    nginx)
      spawn "PID[nginx]" "${PORT[nginx]}" "$CONF/nginx/stdout.log" cg_exec nginx \
        nginx -p "$CONF/nginx" -c "$CONF/nginx/nginx.conf"
      ;;
    apache)
      spawn "PID[apache]" "${PORT[apache]}" "$CONF/apache/stdout.log" cg_exec apache \
        apache2 -DFOREGROUND -f "$CONF/apache/apache2.conf"
      ;;
  esac
}
for key in "${SERVERS[@]}"; do start_server "$key"; done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "serving: ferry on ${PORT[ferry]}, nginx on ${PORT[nginx]}, apache on ${PORT[apache]}"

# ---------------------------------------------------------------- measuring

declare -A R=() # R[server,measure] = values over the repetitions, in order
add() { R[$1,$2]="${R[$1,$2]:-} $3"; }
client() { timeout 300 python3 "$CLIENT" "$@" 2>>"$CONF/client.err"; }
url() { echo "http://127.0.0.1:${PORT[$1]}$2"; }
alive() { kill -0 "${PID[$1]}" 2>/dev/null || die "$1 has exited (logs in $CONF)"; }
CPU0=0 CPU=0
measure_start() { # server
  alive "$1"
  sleep 0.3 # the last measurement's connections closed and reaped
  CPU0=$(cpu_of "$1")
}
measure_end() { # server: sets CPU (seconds since measure_start)
  sleep 0.3
  CPU=$(calc "$(cpu_of "$1") - $CPU0" 6)
}

# Row 1: PUTs into <folder> (an empty one), checked on disk after.
puts() { # server folder count -> "cpu wall"
  local key=$1 folder=$2 n=$3 out=$CONF/puts.json
  measure_start "$key"
  client puts --port "${PORT[$key]}" --folder "$folder" --count "$n" --size "$PUT_SIZE" >"$out" ||
    die "$key: the PUTs failed: $(tail -n 1 "$CONF/client.err")"
  measure_end "$key"
  client verify --dir "${ROOT[$key]}/$folder" --count "$n" --size "$PUT_SIZE" >/dev/null ||
    die "$key: the PUTs were not stored: $(tail -n 1 "$CONF/client.err")"
  echo "$CPU $(jget "$out" seconds)"
}
propfind() { # server allprop(0|1) -> "cpu wall"
  local key=$1 flag=() out=$CONF/propfind.json
  [[ $2 -eq 0 ]] || flag=(--allprop)
  measure_start "$key"
  client propfind --port "${PORT[$key]}" --path /files/ --count "$PROPFINDS" \
    --expect $((FILES + 1)) "${flag[@]}" >"$out" ||
    die "$key: PROPFIND failed: $(tail -n 1 "$CONF/client.err")"
  measure_end "$key"
  echo "$CPU $(jget "$out" seconds)"
}
big_put() { # server rep -> "cpu wall"
  local key=$1 name=big/big-$2.bin code wall
  cat "$WORK/src/big.bin" >/dev/null
  sync -f "$WORK"
  measure_start "$key"
  read -r code wall < <(timeout 300 curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' \
    -T "$WORK/src/big.bin" "$(url "$key" "/$name")")
  measure_end "$key"
  [[ $code == 201 || $code == 204 ]] || die "$key: the ${BIG_MIB} MiB PUT answered $code"
  cmp -s "$WORK/src/big.bin" "${ROOT[$key]}/$name" || die "$key: the stored ${BIG_MIB} MiB file differs"
  rm -f -- "${ROOT[$key]:?}/$name"
  echo "$CPU $wall"
}
gets() { # server seconds -> "cpu requests requests_per_s"
  local key=$1 secs=$2 out=$CONF/wrk.txt n d errs
  measure_start "$key"
  timeout $((secs + 30)) wrk -t1 -c"$WRK_CONNS" -d"${secs}s" "$(url "$key" /small.bin)" >"$out" 2>&1 ||
    die "$key: wrk failed: $(tail -n 2 "$out")"
  measure_end "$key"
  ! grep -q 'Non-2xx' "$out" || die "$key: wrk saw errors: $(grep 'Non-2xx' "$out")"
  read -r n d < <(awk '/requests in/ {sub(/s,$/, "", $4); print $1, $4}' "$out")
  [[ -n $n && $n -gt 0 ]] || die "$key: no requests counted by wrk: $(cat "$out")"
  # Socket errors: a connection the server closed (read), or worse; wrk
  # reconnects, and counts only answers that arrived.
  errs=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
  echo "$CPU $n $(calc "$n / $d" 1) ${errs:-0}"
}

# ---------------------------------------------------------------- checks and warm-up

PROPS='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:resourcetype/><D:getetag/><D:displayname/></D:prop></D:propfind>'
declare -A MISSING=()
say "checking the answers and warming up"
for key in "${SERVERS[@]}"; do
  got=$(curl -sS --max-time 10 "$(url "$key" /small.bin)" | cmp -s - "${ROOT[$key]}/small.bin" && echo ok || echo bad)
  [[ $got == ok ]] || die "$key: GET /small.bin does not give the file back"
  # Which of the five properties asked for the server answers with a
  # value (a 200 propstat), in one file's <response>.
  curl -sS --max-time 60 -o "$CONF/props.$key.xml" -X PROPFIND -H 'Depth: 1' \
    -H 'Content-Type: application/xml' --data "$PROPS" "$(url "$key" /files/)"
  MISSING[$key]=$(python3 - "$CONF/props.$key.xml" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode()
one = [r for r in re.split(r"</(?:\w+:)?response>", data, flags=re.I)
       if re.search(r"file-00000\.txt", r)][0]
missing = []
for prop in ("getcontentlength", "getlastmodified", "resourcetype", "getetag", "displayname"):
    ok = False
    for stat in re.split(r"</(?:\w+:)?propstat>", one, flags=re.I):
        if re.search(r"<(?:\w+:)?" + prop + r"\b", stat, re.I) and re.search(r"HTTP/1\.[01] 200", stat):
            ok = True
    if not ok:
        missing.append(prop)
print(" ".join(missing))
EOF
  )
  [[ -z ${MISSING[$key]} ]] || say "  $key does not answer with: ${MISSING[$key]}"
  propfind "$key" 0 >/dev/null
  [[ $key == apache ]] || propfind "$key" 1 >/dev/null
  puts "$key" puts-warm 200 >/dev/null
  gets "$key" 1 >/dev/null
done

# ---------------------------------------------------------------- runs

for ((rep = 0; rep < NREPS; rep++)); do
  order=("${SERVERS[@]:rep % ${#SERVERS[@]}}" "${SERVERS[@]:0:rep % ${#SERVERS[@]}}")
  say "repetition $((rep + 1))/$NREPS, order ${order[*]}"
  for key in "${order[@]}"; do
    read -r c w < <(puts "$key" "puts-$rep" "$PUTS")
    add "$key" put_cpu "$c"; add "$key" put_wall "$w"
    say "  1. $key: $PUTS PUTs in $(calc "$w" 2) s, server CPU $(calc "$c" 3) s"
  done
  for key in "${order[@]}"; do
    read -r c w < <(propfind "$key" 0)
    add "$key" pf_cpu "$c"; add "$key" pf_wall "$w"
    say "  2. $key: $PROPFINDS PROPFINDs (prop) in $(calc "$w" 2) s, server CPU $(calc "$c" 3) s"
  done
  for key in "${order[@]}"; do
    [[ $key != apache ]] || continue
    read -r c w < <(propfind "$key" 1)
    add "$key" pa_cpu "$c"; add "$key" pa_wall "$w"
    say "  2. $key: $PROPFINDS PROPFINDs (allprop) in $(calc "$w" 2) s, server CPU $(calc "$c" 3) s"
  done
  for key in "${order[@]}"; do
    read -r c w < <(big_put "$key" "$rep")
    add "$key" big_cpu "$c"; add "$key" big_wall "$w"
    say "  3. $key: ${BIG_MIB} MiB PUT in $(calc "$w" 2) s, server CPU $(calc "$c" 3) s"
  done
  for key in "${order[@]}"; do
    read -r c n rps errs < <(gets "$key" "$WRK_SECS")
    add "$key" wrk_cpu "$c"; add "$key" wrk_rps "$rps"; add "$key" wrk_us "$(calc "$c * 1e6 / $n" 3)"
    add "$key" wrk_err "$errs"
    say "  4. $key: $rps requests/s, server CPU $(calc "$c" 3) s, $(calc "$c * 1e6 / $n" 1) µs per request, $errs socket errors"
  done
done

# ---------------------------------------------------------------- strace counting pass

# The calls counted one by one (all of them, `raw_syscalls:sys_enter`,
# give the total): one perf event per call and thread each, so not all
# ~350 (Apache's threads would run perf out of descriptors).
COUNT_EVENTS=raw_syscalls:sys_enter
for call in read write readv writev pread64 pwrite64 preadv pwritev recvfrom sendto \
  recvmsg sendmsg sendfile64 splice epoll_wait epoll_pwait epoll_ctl poll accept4 \
  openat openat2 close newfstat newfstatat statx fstatfs fsync fdatasync rename \
  renameat renameat2 unlink unlinkat chmod fchmod ioctl fcntl fsetxattr setxattr \
  fgetxattr getxattr futex mmap munmap brk getdents64 lseek ftruncate fallocate \
  setsockopt getsockopt shutdown mkdirat flock; do
  for events in /sys/kernel/tracing/events /sys/kernel/debug/tracing/events; do
    if [[ -d $events/syscalls/sys_enter_$call ]]; then
      COUNT_EVENTS+=",syscalls:sys_enter_$call"
      break
    fi
  done
done

# perf_count <server>: "<call> <per PUT>" lines, "(other) <per PUT>" for
# calls not in COUNT_EVENTS, and "(all) <per PUT>", of COUNT_PUTS PUTs on
# one connection into a folder of new names.
perf_count() {
  local key=$1 pids out=$CONF/perf.$1.txt
  alive "$key"
  if [[ -n ${CG[$key]:-} ]]; then
    pids=$(paste -sd, "${CG[$key]}/cgroup.procs")
  else
    # The server and its workers (it shares this script's process group).
    pids=$({ echo "${PID[$key]}"; pgrep -P "${PID[$key]}" || true; } | paste -sd,)
  fi
  perf stat -x, -e "$COUNT_EVENTS" -p "$pids" -o "$out" -- \
    timeout 300 python3 "$CLIENT" puts --port "${PORT[$key]}" --folder puts-count \
    --count "$COUNT_PUTS" --size "$PUT_SIZE" >/dev/null 2>>"$CONF/client.err" ||
    die "the PUTs counted by perf failed: $(tail -n 1 "$CONF/client.err")"
  awk -F, -v n="$COUNT_PUTS" '
    $3 == "raw_syscalls:sys_enter" { all = $1; next }
    $1 ~ /^[0-9]+$/ && $1 > 0 { sub(/^syscalls:sys_enter_/, "", $3); named += $1
      if ($1 / n >= 0.05) printf "%s %.2f\n", $3, $1 / n }
    END { if ((all - named) / n >= 0.05) printf "(other) %.2f\n", (all - named) / n
          printf "(all) %.2f\n", all / n }' "$out"
}

STRACE_ROWS=() COUNT_CALLS=()
declare -A COUNTED=()
if [[ $COUNTER == perf ]]; then
  say "perf's syscall tracepoints: $(commas "$COUNT_PUTS") PUTs on one connection, each server"
  for key in "${SERVERS[@]}"; do
    perf_count "$key" >"$CONF/counted.$key"
    while read -r call per; do
      COUNTED[$key,$call]=$per
      [[ " ${COUNT_CALLS[*]:-} " == *" $call "* ]] || COUNT_CALLS+=("$call")
    done <"$CONF/counted.$key"
  done
fi
if [[ $COUNTER == strace ]]; then
  for key in "${SERVERS[@]}"; do stop_server "$key"; done
  # strace_run <tag> <puts>: a fresh ferry under `strace -f -c`, <puts>
  # PUTs on one connection, then SIGTERM to ferry; strace writes its
  # summary when ferry has exited.
  strace_run() {
    local tag=$1 n=$2 root=$WORK/strace-$1 tracer
    mkdir -p "$root/puts"
    launch tracer "$CONF/strace-ferry.$tag.log" \
      strace -f -c -o "$CONF/strace.$tag.txt" "$FERRY" serve --root "$root" --listen 127.0.0.1:0 --http 127.0.0.1:0
    PID[ferry]=$tracer
    STRACED=$(pgrep -P "$tracer" | head -n 1)
    PORT[ferry]=$(port_of HTTP "$SERVED")
    client puts --port "${PORT[ferry]}" --folder puts --count "$n" --size "$PUT_SIZE" >/dev/null ||
      die "the PUTs under strace failed: $(tail -n 1 "$CONF/client.err")"
    stop_pid "$STRACED"
    stop_pid "$tracer"
    STRACED="" PID[ferry]=""
    [[ -s $CONF/strace.$tag.txt ]] || die "strace wrote no summary"
  }
  say "strace -f -c of ferry alone: 1 PUT, then $((STRACE_PUTS + 1)) PUTs, each a fresh server"
  strace_run one 1
  strace_run many $((STRACE_PUTS + 1))
  mapfile -t STRACE_ROWS < <(
    awk -v n="$STRACE_PUTS" '
      FNR == 1 { file++ }
      $1 ~ /^-+$/ || $NF == "total" || $NF == "syscall" || NF < 5 { next }
      { calls = $4; errs = (NF >= 6) ? $5 : 0; name = $NF
        if (file == 1) { c[name] -= calls; e[name] -= errs } else { c[name] += calls; e[name] += errs } }
      END { for (s in c) { all += c[s]; if (c[s] / n >= 0.05) printf "%s %.2f %.2f\n", s, c[s] / n, e[s] / n }
            printf "(all) %.2f 0\n", all / n }
    ' "$CONF/strace.one.txt" "$CONF/strace.many.txt" | sort -k2,2gr
  )
fi

# ---------------------------------------------------------------- report

cell() { # server measure decimals
  [[ -n ${R[$1,$2]:-} ]] || { echo "–"; return; }
  # shellcheck disable=SC2086 # the values are words
  spread "$3" ${R[$1,$2]}
}
ratio() { # measure server
  [[ -n ${R[ferry,$1]:-} && -n ${R[$2,$1]:-} ]] || { echo "–"; return; }
  echo "×$(ratio_of "${R[ferry,$1]}" "${R[$2,$1]}")"
}
row() { # number label measure decimals target-condition-on-r(ferry/nginx) target-text
  local r="" result=""
  if [[ -n ${5:-} ]]; then
    r=$(ratio_of "${R[ferry,$3]}" "${R[nginx,$3]}")
    result=$(verdict "${5//r/$r}")
  fi
  echo "| $1 | $2 | $(cell ferry "$3" "$4") | $(cell nginx "$3" "$4") | $(cell apache "$3" "$4") | $(ratio "$3" nginx) | $(ratio "$3" apache) | ${6:-} | $result |"
}
echo
echo "dav_nginx.sh, $(date -u +%F), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r), roots on $FSDESC; ferry $FERRY_REV; $VERSIONS; server CPU: $CPU_METHOD; load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $NREPS repetitions, medians [range]"
echo
echo "| # | measurement | ferry | nginx | apache | ferry / nginx | ferry / apache | target | result |"
echo "|---|---|---:|---:|---:|---:|---:|---|---|"
row 1 "$(commas "$PUTS") × 4 KiB PUT, one connection: server CPU (s)" put_cpu 3 "r <= 1.0" "CPU ≤ 1.0× nginx"
row 1 "… wall (s)" put_wall 2
row 2 "PROPFIND Depth 1, $(commas "$FILES") files, 5 props, ×$PROPFINDS: server CPU (s)" pf_cpu 3 "r <= 1.0" "CPU ≤ 1.0× nginx"
row 2 "… wall (s)" pf_wall 3
row 2 "… allprop (no body), ×$PROPFINDS: server CPU (s)" pa_cpu 3 "r <= 1.0" "CPU ≤ 1.0× nginx"
row 2 "… allprop: wall (s)" pa_wall 3
row 3 "${BIG_MIB} MiB PUT, curl -T: server CPU (s)" big_cpu 3 "r <= 1.0" "CPU ≤ 1.0× nginx"
row 3 "… wall (s)" big_wall 3
row 4 "wrk -t1 -c$WRK_CONNS -d${WRK_SECS}s, 4 KiB GET: requests/s" wrk_rps 0 "r >= 1.0" "≥ 1.0× nginx"
row 4 "… server CPU per request (µs)" wrk_us 1 "r <= 1.0" "≤ 1.0× nginx"
row 4 "… server CPU (s) in ${WRK_SECS} s" wrk_cpu 2
echo
for key in "${SERVERS[@]}"; do
  [[ -z ${MISSING[$key]:-} ]] || echo "$key's PROPFIND answers no value for: ${MISSING[$key]}."
done
for key in "${SERVERS[@]}"; do
  # shellcheck disable=SC2086 # the values are words
  e=$(max_of ${R[$key,wrk_err]:-0})
  ((e == 0)) || echo "Row 4, $key: up to $e wrk socket errors in a run (connections the server closed between answers; wrk reconnects and counts only the answers that came)."
done
WARNS=$(grep -c -E ' (ERROR|WARN) ' "$CONF/ferry.log" 2>/dev/null || true)
echo "ferry's log: ${WARNS:-0} WARN/ERROR lines."
if [[ $COUNTER == perf ]]; then
  echo
  echo "System calls per durable 4 KiB PUT (perf's syscall tracepoints on each server's processes over $(commas "$COUNT_PUTS") PUTs on one keep-alive connection, new names; at least 0.05 per PUT):"
  echo
  echo "| system call | ferry | nginx | apache |"
  echo "|---|---:|---:|---:|"
  for call in "${COUNT_CALLS[@]}"; do
    [[ $call != "(all)" && $call != "(other)" ]] || continue
    echo "| $call | ${COUNTED[ferry,$call]:-} | ${COUNTED[nginx,$call]:-} | ${COUNTED[apache,$call]:-} |"
  done | sort -t'|' -k3,3gr -k4,4gr
  echo "| others | ${COUNTED[ferry,(other)]:-} | ${COUNTED[nginx,(other)]:-} | ${COUNTED[apache,(other)]:-} |"
  echo "| all system calls | ${COUNTED[ferry,(all)]:-?} | ${COUNTED[nginx,(all)]:-?} | ${COUNTED[apache,(all)]:-?} |"
fi
if ((${#STRACE_ROWS[@]} > 0)); then
  echo
  echo "System calls per durable 4 KiB PUT (ferry alone under strace -f -c, one keep-alive connection: ($((STRACE_PUTS + 1)) PUTs − 1 PUT) / $STRACE_PUTS; at least 0.05 per PUT):"
  echo
  echo "| system call | calls per PUT | errors per PUT |"
  echo "|---|---:|---:|"
  for line in "${STRACE_ROWS[@]}"; do
    read -r s c e <<<"$line"
    [[ $s != "(all)" ]] || { total=$c; continue; }
    echo "| $s | $c | $([[ $e == 0.00 ]] && echo "" || echo "$e") |"
  done
  echo "| all system calls | ${total:-?} | |"
fi
