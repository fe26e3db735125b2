#!/usr/bin/env bash
# benches/get_segments.sh: one big GET by curl from ferry and from nginx,
# with the segments each sends beside its rate and CPU (issue 76).
#
# nginx runs as benches/compare.sh runs it (1 worker, `sendfile on`,
# `tcp_nopush on`: the socket corked through each body); ferry with
# `--workers 1 --no-fsync` (a head goes with `MSG_MORE`, a body in 2 MiB
# `sendfile` calls with Nagle off, each corked while the connection is
# the loop's one stream). The file
# lives on a tmpfs, so the page cache is warm and no disk is measured.
# Each repetition GETs it once from each server, in an order rotated
# per repetition, over each network and at each pace:
#
#   networks  loopback: both ends on 127.0.0.1 (64 KiB MTU; the segment
#             count then includes the client's ACKs, which are in the
#             same namespace);
#             veth: the client in a namespace of its own behind a veth
#             pair, each side on a CPU of its own (MTU 1,500: what a
#             real link carries; the count is the servers' alone);
#   paces     as fast as curl reads, and curl --limit-rate PACE: a
#             sender's CPU per byte moves with its pace (the faster it
#             sends, the more of its reader's receive work runs in its
#             own softirq on loopback), so CPU is compared at one pace.
#
# Columns, medians [min–max] over repetitions: GB/s (curl's figure),
# segments per GiB (TCP OutSegs of the servers' namespace, from
# /proc/net/snmp), server CPU per GiB (utime+stime of the server's
# processes) and client CPU per GiB (curl's user+system); ratios are
# medians of ferry / nginx within each repetition.
#
#   benches/get_segments.sh [--reps N] [--size BYTES] [--pace RATE]
#                           [--nets "loopback veth"]
#
# RATE as curl's --limit-rate takes it (default 1000M; "" for no paced
# rows). FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh. Needs root (a
# tmpfs, the namespace) and nginx and curl (installed from Debian if
# missing). Bounded (20 minutes); servers, namespace and files go on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=get_segments.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REPS=5 SIZE=$((1 << 30)) PACE=1000M NETS="loopback veth"
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --size) SIZE=${2:?}; shift ;;
    --pace) PACE=${2?}; shift ;;
    --nets) NETS=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done
[[ $EUID -eq 0 ]] || die "needs root (a tmpfs, a network namespace)"

NGINX="" FERRY_PID="" NETNS=""
PIDS=() PID_VARS=(NGINX FERRY_PID)
release() { veth_release; }
clean_up_at_exit 1200
install_missing nginx curl
find_ferry
make_work segments "" "$((SIZE / 1048576 + 64))m"
mkdir -p "$WORK/files" "$WORK/nginx/logs" "$WORK/nginx/tmp"
head -c "$SIZE" /dev/urandom >"$WORK/files/big"
NGINX_USER=""
[[ $EUID -ne 0 ]] || NGINX_USER="user root;"

# ---------------------------------------------------------------- servers

start_servers() { # host: nginx and ferry listening there (SERVER_RUN set)
  local host=$1 port
  port=$(free_port)
  cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx/tmp;
  server { listen $host:$port; root $WORK/files; }
}
EOF
  BENCH_HOST=$host spawn NGINX "$port" "$WORK/nginx/logs/stdout.log" \
    "${SERVER_RUN[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
  NGINX_URL="http://$host:$port/big"
  local open=()
  [[ $host == 127.* ]] || open=(--no-auth) # only this machine's namespace reaches it
  # shellcheck disable=SC2046 # no flag or one
  BENCH_HOST=$host launch FERRY_PID "$WORK/ferry.log" "${SERVER_RUN[@]}" "$FERRY" serve \
    --listen "$host:0" --http "$host:0" --root "$WORK/files" --workers 1 --no-access-log \
    --log-level warn $(no_fsync "$FERRY") "${open[@]}"
  FERRY_URL="http://$host:$(BENCH_HOST=$host port_of HTTP "$SERVED")/big"
}
stop_servers() {
  stop_pid "$NGINX"
  stop_pid "$FERRY_PID"
  NGINX="" FERRY_PID=""
}
server_pids() { # nginx|ferry: its processes
  if [[ $1 == nginx ]]; then tree_pids "$NGINX"; else echo "$FERRY_PID"; fi
}

# ---------------------------------------------------------------- one GET

out_segs() { awk '$1 == "Tcp:" && n++ { print $12 }' /proc/net/snmp; }
CLK_TCK=$(getconf CLK_TCK)
GIB=$(calc "$SIZE / 1073741824" 6)

# get <server> <key>: one GET; appends GB/s, segments, server and client
# CPU per GiB to the arrays RATE_<key>, SEGS_<key>, SCPU_<key>, CCPU_<key>.
get() {
  local who=$1 key=$2 url pids segs0 segs1 t0 t1 report speed got user sys
  if [[ $who == nginx ]]; then url=$NGINX_URL; else url=$FERRY_URL; fi
  mapfile -t pids < <(server_pids "$who")
  local limit=()
  [[ $key != *_paced ]] || limit=(--limit-rate "$PACE")
  segs0=$(out_segs) t0=$(cpu_ticks "${pids[@]}")
  report=$(
    TIMEFORMAT='%U %S'
    { time "${CLIENT_RUN[@]}" curl -sS "${limit[@]}" -o /dev/null -w '%{speed_download} %{size_download}\n' "$url"; } 2>&1
  )
  segs1=$(out_segs) t1=$(cpu_ticks "${pids[@]}")
  read -r speed got <<<"$(head -n 1 <<<"$report")"
  read -r user sys <<<"$(tail -n 1 <<<"$report")"
  [[ $got == "$SIZE" ]] || die "$who sent $got of $SIZE bytes"
  local -n rate=RATE_$key segs=SEGS_$key scpu=SCPU_$key ccpu=CCPU_$key
  rate+=("$(calc "$speed / 1e9" 3)")
  segs+=("$(calc "($segs1 - $segs0) / $GIB" 0)")
  scpu+=("$(calc "($t1 - $t0) / $CLK_TCK / $GIB" 3)")
  ccpu+=("$(calc "($user + $sys) / $GIB" 3)")
}

# ---------------------------------------------------------------- runs

PACES=(fast)
[[ -z $PACE ]] || PACES+=(paced)
ROWS=()
for net in $NETS; do
  CLIENT_RUN=() SERVER_RUN=()
  case $net in
    loopback) host=127.0.0.1 ;;
    veth) veth_split segments 10.77.76; host=$HOST ;;
    *) die "unknown network $net (loopback, veth)" ;;
  esac
  start_servers "$host"
  say "$net: nginx at $NGINX_URL, ferry at $FERRY_URL"
  for pace in "${PACES[@]}"; do
    for who in nginx ferry; do
      key=${net}_${who}_$pace
      declare -ga "RATE_$key=()" "SEGS_$key=()" "SCPU_$key=()" "CCPU_$key=()"
    done
    ROWS+=("$net $pace")
  done
  for ((rep = 1; rep <= REPS; rep++)); do
    for pace in "${PACES[@]}"; do
      order=(nginx ferry)
      ((rep % 2)) || order=(ferry nginx)
      for who in "${order[@]}"; do get "$who" "${net}_${who}_$pace"; done
    done
    say "$net: repetition $rep of $REPS done"
  done
  stop_servers
  if [[ $net == veth ]]; then
    veth_release
    BENCH_HOST=127.0.0.1
  fi
done

# ---------------------------------------------------------------- table

# Ratios of ferry to nginx per row ("net pace"): rate, segments, server
# CPU, server + client CPU; medians of the per-repetition ratios.
declare -A X_RATE X_SEGS X_SCPU X_SUM
for row in "${ROWS[@]}"; do
  read -r net pace <<<"$row"
  f=${net}_ferry_$pace n=${net}_nginx_$pace
  declare -n fs=SCPU_$f fc=CCPU_$f ns=SCPU_$n nc=CCPU_$n
  sum_f=() sum_n=()
  for ((i = 0; i < REPS; i++)); do
    sum_f+=("$(calc "${fs[i]} + ${fc[i]}" 3)")
    sum_n+=("$(calc "${ns[i]} + ${nc[i]}" 3)")
  done
  unset -n fs fc ns nc
  X_RATE[$row]=$(paired "RATE_$f" "RATE_$n") X_SEGS[$row]=$(paired "SEGS_$f" "SEGS_$n")
  X_SCPU[$row]=$(paired "SCPU_$f" "SCPU_$n") X_SUM[$row]=$(ratio_of "${sum_f[*]}" "${sum_n[*]}")
done

MIB=$(calc "$SIZE / 1048576" 0)
echo
echo "## GET $MIB MiB by curl: rate, segments and CPU per GiB ($REPS repetitions; paced: --limit-rate $PACE)"
echo
echo "| network | pace | server | GB/s | segments per GiB | server CPU s/GiB | client CPU s/GiB | ferry / nginx: rate, segments, server CPU, server + client CPU |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
  read -r net pace <<<"$row"
  for who in nginx ferry; do
    key=${net}_${who}_$pace x=""
    [[ $who == nginx ]] || x="×${X_RATE[$row]}, ×${X_SEGS[$row]}, ×${X_SCPU[$row]}, ×${X_SUM[$row]}"
    declare -n r=RATE_$key s=SEGS_$key sc=SCPU_$key cc=CCPU_$key
    echo "| $net | $pace | $who | $(spread 3 "${r[@]}") | $(spread 0 "${s[@]}") | $(spread 2 "${sc[@]}") | $(spread 2 "${cc[@]}") | $x |"
    unset -n r s sc cc
  done
done

# The headline table's rows (benches/headline.sh): issue 76's targets
# where it sets one (rate ≥ 1.2× nginx; segments within 10 %; server CPU
# per GiB ≤ 1.0×, compared at one pace).
cells() { # metric key decimals: "ferry median" "nginx median"
  local -n f=${1}_${2/NET/ferry} n=${1}_${2/NET/nginx}
  echo "$(spread "$3" "${f[@]}")|nginx $(spread "$3" "${n[@]}")"
}
# target_row <net> <pace> <label> <metric> <decimals> <what> [<op> <limit>]:
# one headline row of a metric (RATE, SEGS, SCPU), ferry against nginx,
# with its target where one is given (op: awk's >= or <=).
target_row() {
  local row="$1 $2" key=${1}_NET_$2 c ratio target="" result=""
  local -n x=X_$4
  ratio=${x[$row]}
  IFS='|' read -r -a c <<<"$(cells "$4" "$key" "$5")"
  if [[ -n ${7:-} ]]; then
    target="${7/>=/≥}"
    target="${target/<=/≤}$8×"
    result=$(verdict "$ratio $7 $8")
  fi
  headline "GET $MIB MiB, curl, $3: $6" "${c[0]}" "${c[1]}" "×$ratio" "$target" "$result"
}
for net in $NETS; do
  if [[ $net == loopback ]]; then
    target_row "$net" fast "$net" RATE 3 "GB/s" ">=" 1.2
  else
    target_row "$net" fast "$net" RATE 3 "GB/s"
  fi
  target_row "$net" fast "$net, as fast as curl reads" SEGS 0 "segments per GiB" "<=" 1.1
  if [[ -n $PACE ]]; then
    target_row "$net" paced "$net, both at $PACE/s" SEGS 0 "segments per GiB" "<=" 1.1
    target_row "$net" paced "$net, both at $PACE/s" SCPU 2 "server CPU per GiB (s)" "<=" 1.0
  fi
done
