#!/usr/bin/env bash
# benches/storm.sh: connection storms against ferry and nginx, issue 76.
# benches/storm.c (built here with cc) opens N connections at once from
# source addresses 127.0.1.x (200 each, under ferry's per-address cap)
# and on each GETs a 1 MiB file (or --size MIB) over HTTP, in two patterns:
#
#   at once   each GET sent as soon as its connection is up (devices
#             reconnecting after an outage);
#   later     every connection opened first, the GETs sent LATER seconds
#             after the last is up (a pool or proxy that opens its
#             connections and uses them afterwards; default 15 s, past
#             the 10 s first-byte deadline ferry had before);
#   ftp       FTP control connections opened first, then LATER seconds
#             on each logs in and quits (`USER`, `PASS`, `QUIT`; answered
#             if `230` came): devices that connect and log in later.
#             ferry only (no FTP server to compare with is installed).
#
# Servers, each with its defaults: nginx (`worker_processes auto`, its
# default backlog of 511, sendfile), `ferry serve` (one loop per core)
# and `ferry serve --workers 1` (the small host's setting); the root on
# tmpfs. Each repetition runs every server in turn (interleaved); the
# table gives medians of the seconds from the first connect to the last
# answer, GETs answered, and the server's peak memory during the storm
# (VmHWM, reset before each storm; nginx's workers and master summed).
#
#   benches/storm.sh [--reps N] [--connections N] [--later SECONDS]
#                    [--size MIB] [--patterns "at once,later,ftp"]
#
# A larger file keeps every download's file open through the storm (a
# fleet fetching one firmware image): `--size 8 --patterns "at once"`.
#
# FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh. Needs nginx and a C
# compiler (installed from Debian if missing, as root) and an open-files
# limit of N+500 (raised here to the hard limit). Bounded (20
# minutes); servers and files go on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=storm.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REPS=5 N=10000 LATER=15 MIB=1 PATTERN_LIST="at once,later,ftp"
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --connections) N=${2:?}; shift ;;
    --later) LATER=${2:?}; shift ;;
    --size) MIB=${2:?}; shift ;;
    --patterns) PATTERN_LIST=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

WORK="" MOUNTED=0 PIDS=() PID_VARS=(NGINX FERRY_PID)
NGINX="" FERRY_PID=""
clean_up_at_exit 1200
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= N + 500 )) || die "open-files limit $(ulimit -n) is below $((N + 500))"
install_missing nginx cc
find_ferry
make_work storm "" $((MIB + 256))M
head -c $((MIB << 20)) /dev/urandom >"$WORK/big"
mkdir "$WORK/root" && mv "$WORK/big" "$WORK/root/big"
cc -O2 -o "$WORK/storm" "$SCRIPT_DIR/storm.c"

NGINX_PORT=18171 FERRY_PORT=18172 FTP_PORT=18173
cat >"$WORK/nginx.conf" <<EOF
worker_processes auto;
worker_rlimit_nofile $((N + 500));
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections $((N + 100)); }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/root; }
}
EOF

# Starts server $1 (nginx, ferry or ferry1); sets NGINX or FERRY_PID and
# SERVER_PIDS (the processes whose memory counts).
start() {
  case $1 in
    nginx)
      spawn NGINX "$NGINX_PORT" "$WORK/nginx.log" nginx -c "$WORK/nginx.conf"
      SERVER_PIDS=("$NGINX" $(pgrep -P "$NGINX")) PORT=$NGINX_PORT ;;
    ferry | ferry1)
      local workers=()
      [[ $1 == ferry1 ]] && workers=(--workers 1)
      spawn FERRY_PID "$FERRY_PORT" "$WORK/ferry.log" "$FERRY" serve --root "$WORK/root" \
        --listen 127.0.0.1:0 --http "127.0.0.1:$FERRY_PORT" --ftp "127.0.0.1:$FTP_PORT" \
        --no-fsync --log-level warn "${workers[@]}"
      SERVER_PIDS=("$FERRY_PID") PORT=$FERRY_PORT ;;
  esac
}

stop() { stop_pid "$NGINX"; stop_pid "$FERRY_PID"; NGINX="" FERRY_PID=""; }

# One storm against a fresh server: "seconds answered peak_kib".
storm() { # server pattern
  start "$1"
  local pid later=() path=/big
  [[ $2 == later || $2 == ftp ]] && later=("$LATER")
  [[ $2 == ftp ]] && PORT=$FTP_PORT path=ftp
  for pid in "${SERVER_PIDS[@]}"; do echo 5 >"/proc/$pid/clear_refs"; done
  local line
  line=$("$WORK/storm" "$PORT" "$N" "$path" "${later[@]}")
  local peak
  peak=$(status_kb VmHWM "${SERVER_PIDS[@]}")
  stop
  awk -v peak="$peak" '{ print $10, $6, peak }' <<<"${line//,/}"
}

declare -A SECONDS_OF ANSWERED PEAK
SERVERS=(nginx ferry ferry1)
IFS=, read -r -a PATTERNS <<<"$PATTERN_LIST"
# Who serves a pattern: FTP is ferry's alone.
servers_of() { if [[ $1 == ftp ]]; then echo ferry ferry1; else echo "${SERVERS[@]}"; fi; }
for ((r = 1; r <= REPS; r++)); do
  for pattern in "${PATTERNS[@]}"; do
    for server in $(servers_of "$pattern"); do
      read -r s a p <<<"$(storm "$server" "${pattern% *}")"
      SECONDS_OF[$server,$pattern]+="$s " ANSWERED[$server,$pattern]+="$a " PEAK[$server,$pattern]+="$p "
    done
  done
  say "repetition $r of $REPS done"
done

echo
echo "$N connections at once, one $MIB MiB GET each over HTTP, root on tmpfs; medians of $REPS interleaved repetitions"
echo "(later: the GETs sent $LATER s after every connection was up; ftp: FTP logins instead, as late; seconds include that wait)"
echo
# The headline table's rows (benches/headline.sh): issue 76's targets.
storm_headline() { # pattern label seconds answered peak_kib ×time ×memory
  local pattern=$1 label=$2 s=$3 a=$4 p=$5 ts=$6 tp=$7 all nginx
  all="$a of $N in $(calc "$s" 1) s"
  # shellcheck disable=SC2086 # word lists
  if [[ $pattern == "at once" ]]; then
    headline "storm: $N connect at once, a $MIB MiB GET each, $label: seconds" "$(calc "$s" 2)" \
      "nginx $(calc "$(median ${SECONDS_OF[nginx,$pattern]})" 2)" "×$ts" "≤1.0×, all answered" "$(verdict "$ts <= 1.0 && $a == $N")"
    headline "storm: the same, $label: peak memory (MiB)" "$(calc "$p / 1024" 1)" \
      "nginx $(calc "$(median ${PEAK[nginx,$pattern]}) / 1024" 1)" "×$tp" "≤0.2×" "$(verdict "$tp <= 0.2")"
    return
  fi
  nginx="—"
  # shellcheck disable=SC2086 # word lists
  [[ $pattern == ftp ]] || nginx="nginx $(printf '%s\n' ${ANSWERED[nginx,$pattern]} | sort -g | head -n 1) of $N"
  local what="storm: $N connections opened first, a GET on each $LATER s later"
  [[ $pattern == ftp ]] && what="storm: $N FTP control connections opened first, a login on each $LATER s later"
  headline "$what, $label: answered" "$all" "$nginx" "" "all, within 60 s" "$(verdict "$a == $N && $s <= 60")"
}
# Each round's seconds and answers, in the order run: a median over
# rounds of which one answered fewer is read beside them.
rounds() { # server,pattern -> "s (answered); ..."
  local -a secs answered
  read -r -a secs <<<"${SECONDS_OF[$1]}"
  read -r -a answered <<<"${ANSWERED[$1]}"
  local i out=""
  for ((i = 0; i < ${#secs[@]}; i++)); do
    out+="${out:+; }$(calc "${secs[i]}" 2) (${answered[i]})"
  done
  echo "$out"
}
echo "| pattern | server | seconds | × nginx | answered (min) | peak memory MiB | × nginx | each round: seconds (answered) |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for pattern in "${PATTERNS[@]}"; do
  # shellcheck disable=SC2086 # word lists
  for server in $(servers_of "$pattern"); do
    s=$(median ${SECONDS_OF[$server,$pattern]}) p=$(median ${PEAK[$server,$pattern]})
    a=$(printf '%s\n' ${ANSWERED[$server,$pattern]} | sort -g | head -n 1)
    label=$server
    [[ $server == ferry1 ]] && label="ferry --workers 1"
    ts="—" tp="—"
    if [[ $pattern != ftp ]]; then
      ts=$(calc "$s / $(median ${SECONDS_OF[nginx,$pattern]})" 2)
      tp=$(calc "$p / $(median ${PEAK[nginx,$pattern]})" 2)
    fi
    echo "| $pattern | $label | $(calc "$s" 2) | $ts | $a of $N | $(calc "$p / 1024" 1) | $tp | $(rounds "$server,$pattern") |"
    [[ $server == nginx ]] || storm_headline "$pattern" "$label" "$s" "$a" "$p" "$ts" "$tp"
  done
done
