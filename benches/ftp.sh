#!/usr/bin/env bash
# benches/ftp.sh: ferry's FTP against vsftpd (Debian's package), side by
# side on 127.0.0.1 (issue 53: "ferry ≥ 1.0× vsftpd's throughput and
# ≤ 1.0× its CPU per GiB; idle control connections in ≤ 1 KiB each").
#
# Mode: vsftpd never flushes, so the contender is ferry with --no-fsync;
# ferry's default (durable: a STOR's 226 only once its data and directory
# entry are on stable storage) runs beside them as "ferry, durable" in 1
# and 2 (its RETR is ferry's: downloads do not flush).
#
#   benches/ftp.sh [--quick] [--reps N] [--size BYTES] [--sessions N]
#                  [--files N] [--idle N] [--no-durable]
#                  [--vsftpd-opt KEY=VALUE]... [--sections "1 2 3"]
#                  [--veth] [--pace BYTES_PER_SECOND] [--stor-block BYTES]
#                  [FERRY_BINARY]
#
# --veth: the client in a network namespace of its own behind a veth pair
# (the servers on 10.77.53.1, the client on 10.77.53.2), pinned to the
# second CPU with its receive processing steered there (RPS), the servers
# pinned to the first. Over loopback the kernel's receive work for a
# client (TCP, the copy's setup) runs in the softirq of whichever side
# sent, so a fast sender is charged for its reader's work; behind the
# veth pair each side's cgroup pays its own. Needs 2 CPUs and `ip`.
#
# --stor-block: section 1's STORs sent in sends of that many bytes read
# from the file, as Python's ftplib sends (8192), instead of sendfile: a
# server then reads many small pieces, which costs per piece.
#
# --pace: section 1's RETRs read no faster than that, so that the servers
# send at one pace: a sender's CPU per byte falls as its reader slows (the
# kernel sends fuller segments, for fewer wake-ups), so a server that
# keeps ahead of the disk pays more per byte than one its reader waits for.
#
# Builds nothing: the ferry binary is the argument, else $FERRY_BIN, else
# target/release/ferry. Needs root (vsftpd chroots and drops to its `ftp`
# user; the servers get cgroups of their own); installs vsftpd with
# apt-get where missing.
#
# The servers, each with its own root in the work directory, on a disk
# (FTP_TMPDIR, default /var/tmp; not a tmpfs: the file system is reported):
#   ferry          `ferry serve --ftp 127.0.0.1:0 --no-fsync`, its defaults
#                  otherwise (one event loop per core, the I/O pool, the
#                  access log, to a file), and --max-connections-per-client
#                  0 (all clients are 127.0.0.1), --idle-timeout 300
#                  (vsftpd's idle_session_timeout), passive ports
#                  20000-23999;
#   ferry, durable the same without --no-fsync, ports 24000-27999;
#   vsftpd         standalone (listen=YES, background=NO) on a free port,
#                  anonymous login with uploads into up/ (owned by `ftp`),
#                  no_anon_password, anon_umask=022 (so that what was
#                  stored can be fetched), max_clients and max_per_ip 0,
#                  passive ports 28000-31999, the transfer log on (to a
#                  file, as ferry's access log), everything else the
#                  binary's defaults: per session a process that stays
#                  privileged and one that serves (isolate, isolate_network,
#                  the seccomp sandbox, sendfile). --vsftpd-opt adds lines.
# Every client logs in as anonymous (any login passes on a ferry without
# --tokens, no password check on either), binary type, passive mode.
#
# Server CPU: each server runs in a cgroup of its own, made for the run
# (cgroup v2's cpu.stat usage_usec, else v1's cpuacct.usage), read before
# and after each measurement once the sessions' processes are gone: that
# counts vsftpd's short-lived session processes whole, and ferry's threads.
# vsftpd's master is also read with utime+stime+cutime+cstime from
# /proc/<pid>/stat, as a cross-check (printed under the table): that
# counts a session's processes only where the master reaped them all,
# and some are reaped by init instead. Without cgroups it is the figure
# used all the same (an undercount for vsftpd, said so), and ferry's
# utime+stime+cutime+cstime.
#
#   1. One STOR of SIZE bytes (default 1 GiB) per server, then one RETR of
#      it with the page cache warm, then one cold (the stored file flushed
#      and dropped from the page cache with posix_fadvise first), N
#      interleaved repetitions (default 5, the order alternating); the
#      stored file is removed and the file system synced before each STOR,
#      compared with the source (cmp) after it. The client
#      (benches/ftp_client.py, standard library) sends with sendfile(2)
#      from the page cache and reads into one reused buffer. GB/s over the
#      transfer (the STOR or RETR command to the 226), server CPU seconds
#      per GiB, the client's beside them. After each repetition's STORs,
#      the reference: dd of the source into a new file on the same file
#      system with ferry's write size (512 KiB) and vsftpd's (64 KiB), its
#      CPU from bash's `time`: what the kernel's copy into the page cache
#      costs without a server (on a VM that hands free memory back to its
#      host, a GiB written into pages the host must back again costs ~10×
#      the CPU: this row shows when the machine, not a server, did that).
#      And, per transfer, server + client CPU together: over loopback a
#      sendfile passes page references, and which side pays for the
#      kernel's TCP work and the one copy depends on their pace.
#   2. SESSIONS concurrent sessions (default 200, two client processes of
#      one asyncio loop each; at most 8 per process connecting at once:
#      vsftpd listens with a backlog of 32, see benches/ftp_client.py),
#      each: connect, login, TYPE I, FILES STORs (default 20) of 4-64 KiB
#      of random bytes, a PASV and data connection each, then RETRs of the
#      same files compared byte for byte, then QUIT; N interleaved rounds,
#      a new folder each: files (STORs + RETRs) per second, MB/s, server
#      CPU per file and per GiB moved.
#   3. IDLE sessions (default 1000) connected, logged in and left idle, a
#      fresh server each (warmed with 4 sessions first), then IDLE more
#      beside them, 3 interleaved repetitions: per session of each
#      thousand, ferry's VmRSS growth; vsftpd's growth of the
#      sum of its processes' PSS (/proc/<pid>/smaps_rollup: shared pages
#      split among their sharers, so a library is counted once), with
#      the sum of their RSS, their page tables (VmPTE) and their kernel
#      stacks (16 KiB a thread) beside it: memory a process per session
#      costs that no RSS shows. Every session must still answer QUIT at
#      the end.
#
# Figures are medians (range in brackets), the ratios ferry / vsftpd the
# median of those taken within each repetition; a markdown table comes last
# on standard output, progress before it. A default run takes about 6
# minutes on 2 cores (--quick: 1 repetition, 256 MiB, 100 sessions, 200
# idle), bounded by a watchdog (FTP_MAX_SECONDS, default 900); servers,
# cgroups and the work directory go on exit.
#
# Environment: FTP_TMPDIR, FTP_MAX_SECONDS, FERRY_BIN.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/ftp_client.py"

QUICK=0 DURABLE=1 NREPS="" SIZE="" SESSIONS="" FILES=20 IDLE="" SECTIONS="1 2 3" VETH=0 PACE=0 BLOCK=0
BINARY="" VSFTPD_OPTS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-durable) DURABLE=0 ;;
    --reps) NREPS=${2:?--reps needs a number}; shift ;;
    --size) SIZE=${2:?--size needs bytes}; shift ;;
    --sessions) SESSIONS=${2:?--sessions needs a number}; shift ;;
    --files) FILES=${2:?--files needs a number}; shift ;;
    --idle) IDLE=${2:?--idle needs a number}; shift ;;
    --sections) SECTIONS=${2:?--sections needs a list}; shift ;;
    --vsftpd-opt) VSFTPD_OPTS+=("${2:?--vsftpd-opt needs KEY=VALUE}"); shift ;;
    --veth) VETH=1 ;;
    --pace) PACE=${2:?--pace needs bytes a second}; shift ;;
    --stor-block) BLOCK=${2:?--stor-block needs a size}; shift ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "ftp.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
    *) BINARY=$1 ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then
  NREPS=${NREPS:-1} SIZE=${SIZE:-$((256 << 20))} SESSIONS=${SESSIONS:-100} IDLE=${IDLE:-200}
  IDLE_REPS=1
else
  NREPS=${NREPS:-5} SIZE=${SIZE:-$((1 << 30))} SESSIONS=${SESSIONS:-200} IDLE=${IDLE:-1000}
  IDLE_REPS=3
fi
for v in "$NREPS" "$SIZE" "$SESSIONS" "$FILES" "$IDLE"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "ftp.sh: --reps, --size, --sessions, --files and --idle take positive integers" >&2; exit 2; }
done
MAX_SECONDS=${FTP_MAX_SECONDS:-900}
has() { [[ " $SECTIONS " == *" $1 "* ]]; }

STARTED=$SECONDS
NAME=ftp.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
REPS=$NREPS
SAY_FD=1 # progress goes to standard output, with the table

[[ $EUID -eq 0 ]] || die "needs root (vsftpd chroots and changes user; cgroups)"

# ---------------------------------------------------------------- cleanup

declare -A PID=() CG=() PORT=() ROOT=()
CG_KIND="" CG_BASE="" IDLE_A="" IDLE_B="" NETNS=""
PID_VARS=(IDLE_A IDLE_B)
release() { # at exit (lib.sh's cleanup): every server, then the cgroups
  local key i
  for key in "${!PID[@]}"; do stop_server "$key"; done
  for key in "${!CG[@]}"; do
    for ((i = 0; i < 50 && $(wc -l <"${CG[$key]}/cgroup.procs") > 0; i++)); do sleep 0.1; done
    rmdir "${CG[$key]}" 2>/dev/null || say "could not remove the cgroup ${CG[$key]}"
  done
  # The namespace takes its end of the veth pair, and the pair, with it.
  veth_release
}
clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- setup

install_missing vsftpd
VSFTPD=$(command -v vsftpd || echo /usr/sbin/vsftpd)
getent passwd ftp >/dev/null || die "no user ftp (the vsftpd package makes it)"
FERRY=${BINARY:-${FERRY_BIN:-$REPO/target/release/ferry}}
[[ -x $FERRY ]] || die "no ferry binary at $FERRY (cargo build --release, or give its path)"
say "ferry $FERRY; vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo '?') at $VSFTPD"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] || ((NOFILE > IDLE + 200)) || die "open-files limit $NOFILE is below --idle $IDLE + 200"

need_kb=$(((4 * SIZE + (1 << 30)) / 1024))
make_work ftp "${FTP_TMPDIR:-/var/tmp}" ""
chmod 755 "$WORK"
FSTYPE=$(df --output=fstype "$WORK" | tail -n 1)
[[ $FSTYPE != tmpfs ]] || say "warning: $WORK is a tmpfs: the disk is not measured"
avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
((avail_kb > need_kb)) || die "$WORK has ${avail_kb} KiB free, needs ${need_kb}"
DEVICE=$(df -P "$WORK" | awk 'NR==2 {print $1}')
DISK="$FSTYPE on $DEVICE"
dev=$(basename "$DEVICE")
if [[ -r /sys/class/block/$dev/queue/rotational ]]; then
  DISK+=" (rotational=$(cat "/sys/class/block/$dev/queue/rotational"))"
fi
say "work directory $WORK ($DISK)"
CLK_TCK=$(getconf CLK_TCK)

# Cgroups: v2 where one is mounted and writable, else v1's cpuacct.
cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
cg1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpuacct(,|$)/ {print $2; exit}' /proc/mounts)
if [[ -n $cg2 ]] && mkdir "$cg2/ferry-ftp-bench.$$.probe" 2>/dev/null; then
  rmdir "$cg2/ferry-ftp-bench.$$.probe"
  CG_KIND=v2 CG_BASE=$cg2
elif [[ -n $cg1 ]] && mkdir "$cg1/ferry-ftp-bench.$$.probe" 2>/dev/null; then
  rmdir "$cg1/ferry-ftp-bench.$$.probe"
  CG_KIND=v1 CG_BASE=$cg1
else
  CG_KIND=none
fi
case $CG_KIND in
  v2) CPU_METHOD="cgroup v2 cpu.stat usage_usec (a cgroup per server)" ;;
  v1) CPU_METHOD="cgroup v1 cpuacct.usage (a cgroup per server)" ;;
  none) CPU_METHOD="utime+stime+cutime+cstime of the server's main process (no cgroup could be made)" ;;
esac
say "server CPU: $CPU_METHOD"

# Where the servers listen and how each side runs: over loopback, or
# (--veth) across a veth pair, each side on a CPU of its own.
HOST=127.0.0.1 CLIENT_RUN=() SERVER_RUN=()
if [[ $VETH -eq 1 ]]; then
  veth_split ftp-bench 10.77.53
  say "network: the client in namespace $NETNS on CPU 1, behind a veth pair; the servers on $HOST, CPU 0"
else
  say "network: loopback (127.0.0.1)"
fi

SRC="$WORK/source.bin"
if has 1; then
  say "making a $SIZE-byte source file"
  timeout 300 head -c "$SIZE" /dev/urandom >"$SRC"
fi
GIB=$(calc "$SIZE / 1073741824" 6)

# ---------------------------------------------------------------- servers

SERVERS=(ferry vsftpd)
[[ $DURABLE -eq 1 ]] && SERVERS+=(durable)
declare -A LABEL=([ferry]="ferry" [vsftpd]="vsftpd" [durable]="ferry, durable")
declare -A PASV=([ferry]=20000-23999 [durable]=24000-27999 [vsftpd]=28000-31999)

ticks_all() { # pid: utime+stime+cutime+cstime, in seconds
  sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$CLK_TCK" '{printf "%.3f", ($12 + $13 + $14 + $15) / hz}'
}
cpu_of() { # server: its CPU seconds so far
  local key=$1
  case $CG_KIND in
    v2) awk '$1 == "usage_usec" {printf "%.4f", $2 / 1e6}' "${CG[$key]}/cpu.stat" ;;
    v1) awk '{printf "%.4f", $1 / 1e9}' "${CG[$key]}/cpuacct.usage" ;;
    none) ticks_all "${PID[$key]}" ;;
  esac
}
settle() { # server: until its sessions' processes are gone (vsftpd; 20 s at most)
  local key=$1 i
  kill -0 "${PID[$key]}" 2>/dev/null || die "${LABEL[$key]} has exited (log: $WORK/$key.log)"
  [[ $key == vsftpd ]] || { sleep 0.2; return 0; }
  for ((i = 0; i < 200; i++)); do
    (($(tree_pids "${PID[$key]}" | wc -l) <= 1)) && return 0
    sleep 0.1
  done
  say "  warning: vsftpd still has session processes after 20 s"
}

# cg_exec <server> command...: the command, moved into the server's cgroup first.
cg_exec() {
  local key=$1
  shift
  if [[ $CG_KIND == none ]]; then
    exec "$@"
  fi
  echo "$BASHPID" >"${CG[$key]}/cgroup.procs"
  exec "$@"
}

start_server() { # server: a fresh one on an empty root
  local key=$1 log="$WORK/$1.log" conf lo hi
  stop_server "$key"
  rm -rf -- "${WORK:?}/$key"
  mkdir -p "$WORK/$key"
  ROOT[$key]="$WORK/$key"
  if [[ $CG_KIND != none && -z ${CG[$key]:-} ]]; then
    CG[$key]="$CG_BASE/ferry-ftp-bench.$$.$key"
    mkdir -p "${CG[$key]}"
  fi
  [[ ! -f $log ]] || cat "$log" >>"$WORK/$key.earlier.log"
  case $key in
    ferry | durable)
      local flags=()
      [[ $key == ferry ]] && flags+=(--no-fsync)
      # The veth's address is not loopback: ferry serves it open only when
      # told (only this machine's namespaces reach it).
      [[ $VETH -eq 0 ]] || flags+=(--no-auth)
      launch "PID[$key]" "$log" cg_exec "$key" "${SERVER_RUN[@]}" "$FERRY" serve --ftp "$HOST:0" \
        --root "${ROOT[$key]}" "${flags[@]}" --log-file "$WORK/$key.access.log" \
        --max-connections-per-client 0 --idle-timeout 300 --ftp-passive-ports "${PASV[$key]}"
      PORT[$key]=$(port_of FERRY "$SERVED")
      ;;
    vsftpd)
      mkdir -p "${ROOT[$key]}/up" "$WORK/vsftpd-empty"
      chown ftp "${ROOT[$key]}/up"
      chmod 755 "${ROOT[$key]}" "$WORK/vsftpd-empty"
      PORT[$key]=$(free_port)
      lo=${PASV[$key]%-*} hi=${PASV[$key]#*-}
      conf="$WORK/vsftpd.conf"
      cat >"$conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$HOST
listen_port=${PORT[$key]}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=${ROOT[$key]}
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_umask=022
secure_chroot_dir=$WORK/vsftpd-empty
pasv_enable=YES
pasv_min_port=$lo
pasv_max_port=$hi
connect_from_port_20=NO
max_clients=0
max_per_ip=0
idle_session_timeout=300
xferlog_enable=YES
vsftpd_log_file=$WORK/vsftpd.xfer.log
use_localtime=YES
EOF
      local opt
      for opt in "${VSFTPD_OPTS[@]}"; do echo "$opt" >>"$conf"; done
      spawn "PID[$key]" "${PORT[$key]}" "$log" cg_exec "$key" "${SERVER_RUN[@]}" "$VSFTPD" "$conf"
      ;;
  esac
}

stop_server() { # server: (vsftpd) its sessions' processes first, reaped by it, then it
  local key=$1 pid=${PID[$1]:-} p i rest=()
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    mapfile -t rest < <(tree_pids "$pid")
    for p in "${rest[@]}"; do
      [[ $p == "$pid" ]] || kill -TERM "$p" 2>/dev/null || true
    done
    for ((i = 0; i < 50 && ${#rest[@]} > 1; i++)); do
      (($(tree_pids "$pid" | wc -l) <= 1)) && break
      sleep 0.1
    done
  fi
  stop_pid "$pid"
  PID[$key]=""
}

CPU_ROWS=() # "cgroup ticks" pairs for vsftpd, the cross-check
measure_start() { # server
  settle "$1"
  CPU0=$(cpu_of "$1")
  TICKS0=$(ticks_all "${PID[$1]}")
}
measure_end() { # server: sets CPU (seconds since measure_start)
  settle "$1"
  CPU=$(calc "$(cpu_of "$1") - $CPU0" 4)
  if [[ $1 == vsftpd && $CG_KIND != none ]]; then
    CPU_ROWS+=("$CPU $(calc "$(ticks_all "${PID[$1]}") - $TICKS0" 3)")
  fi
}

for key in "${SERVERS[@]}"; do start_server "$key"; done
say "serving: ferry on ${PORT[ferry]}, vsftpd on ${PORT[vsftpd]}$([[ $DURABLE -eq 1 ]] && echo ", ferry durable on ${PORT[durable]}")"

order_for() { # rep servers...: sets ORDER, the servers reversed on even repetitions
  local rep=$1 k
  shift
  ORDER=("$@")
  if ((rep % 2 == 0)); then
    ORDER=()
    for ((k = $#; k >= 1; k--)); do ORDER+=("${!k}"); done
  fi
}

evict() { # file: flushed, then dropped from the page cache
  python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}

# ---------------------------------------------------------------- 1. one big STOR and RETR

declare -A B_GBPS=() B_CPU=() B_CCPU=() B_SUM=()
MISMATCH=0
# Before each STOR the same number of bytes is written into the server's
# folder and removed: the page cache the STOR fills then lands on pages
# this VM backs already. Without it the first writer after a removal paid
# up to ×6 the CPU per GiB for fresh pages (dd against itself), whichever
# server that was (benches/notes/ftp.md, "STOR in 8 KiB sends").
warm_pages() { # dir
  dd if=/dev/zero of="$1/.warm-pages" bs=1M count=$((SIZE >> 20)) status=none
  rm -f -- "$1/.warm-pages"
}
big() { # server op(stor|warm|cold) rep
  local key=$1 op=$2 rep=$3 out="$WORK/big.$1.$2.$3.json" stored
  stored="${ROOT[$key]}/up/big.bin"
  case $op in
    stor) rm -f -- "$stored"; warm_pages "${ROOT[$key]}"; sync -f "$WORK" ;;
    cold) evict "$stored" ;;
  esac
  measure_start "$key"
  if [[ $op == stor ]]; then
    timeout 600 "${CLIENT_RUN[@]}" python3 "$CLIENT" --host "$HOST" big --port "${PORT[$key]}" --op stor --file "$SRC" \
      --block "$BLOCK" --name up/big.bin >"$out" 2>>"$WORK/client.err" || die "STOR to ${LABEL[$key]} failed (see $WORK/client.err)"
  else
    timeout 600 "${CLIENT_RUN[@]}" python3 "$CLIENT" --host "$HOST" big --port "${PORT[$key]}" --op retr --pace "$PACE" \
      --name up/big.bin >"$out" 2>>"$WORK/client.err" || die "RETR from ${LABEL[$key]} failed (see $WORK/client.err)"
  fi
  measure_end "$key"
  local bytes
  bytes=$(jget "$out" bytes)
  if [[ $op == stor ]]; then
    if ! cmp -s "$SRC" "$stored"; then
      MISMATCH=$((MISMATCH + 1))
      say "  ${LABEL[$key]} STOR $rep: the stored file differs from the source"
    fi
  elif [[ $bytes != "$SIZE" ]]; then
    MISMATCH=$((MISMATCH + 1))
    say "  ${LABEL[$key]} RETR $rep: $bytes bytes, not $SIZE"
  fi
  B_GBPS[$key.$op]+="$(jget "$out" gbps) "
  B_CPU[$key.$op]+="$(calc "$CPU / $GIB" 4) "
  B_CCPU[$key.$op]+="$(calc "$(jget "$out" client_cpu) / $GIB" 4) "
  B_SUM[$key.$op]+="$(calc "($CPU + $(jget "$out" client_cpu)) / $GIB" 4) "
  say "  ${LABEL[$key]} $op $rep: $(calc "$(jget "$out" gbps)" 3) GB/s, server CPU $(calc "$CPU" 2) s, client CPU $(calc "$(jget "$out" client_cpu)" 2) s"
}

# The same bytes written by dd into a new file on the same file system, with
# ferry's write size (512 KiB, the buffers its I/O pool writes) and vsftpd's
# (64 KiB): what the kernel's copy into the page cache costs alone.
declare -A D_GBPS=() D_CPU=()
dd_ref() { # bs rep
  local bs=$1 rep=$2 out="$WORK/dd.out" t real user sys
  rm -f -- "$out"
  sync -f "$WORK"
  t=$({
    TIMEFORMAT='%R %U %S'
    time dd if="$SRC" of="$out" bs="$bs" status=none
  } 2>&1)
  read -r real user sys <<<"$t"
  rm -f -- "$out"
  D_GBPS[$bs]+="$(calc "$SIZE / $real / 1e9" 4) "
  D_CPU[$bs]+="$(calc "($user + $sys) / $GIB" 4) "
  say "  dd bs=$bs $rep: $(calc "$SIZE / $real / 1e9" 3) GB/s, CPU $(calc "$user + $sys" 2) s"
}

if has 1; then
  say "1. one $SIZE-byte STOR, then RETR warm and cold, per server; $REPS interleaved repetitions, files on $DISK"
  for ((rep = 1; rep <= REPS; rep++)); do
    order_for "$rep" "${SERVERS[@]}"
    for key in "${ORDER[@]}"; do big "$key" stor "$rep"; done
    order_for "$rep" 512K 64K
    for bs in "${ORDER[@]}"; do dd_ref "$bs" "$rep"; done
    order_for "$rep" "${SERVERS[@]}"
    for key in "${ORDER[@]}"; do [[ $key == durable ]] || big "$key" warm "$rep"; done
    for key in "${ORDER[@]}"; do [[ $key == durable ]] || big "$key" cold "$rep"; done
  done
  for key in "${SERVERS[@]}"; do rm -f -- "${ROOT[$key]}/up/big.bin"; done
fi

# ---------------------------------------------------------------- 2. many sessions of small files

declare -A L_FPS=() L_MBPS=() L_CPUF=() L_CPUG=() L_CCPU=() L_SECS=()
L_BAD=0 L_ERRS=0
if has 2; then
  say "2. $SESSIONS concurrent sessions, each $FILES STORs of 4-64 KiB then their RETRs; $REPS interleaved rounds"
  for ((rep = 1; rep <= REPS; rep++)); do
    order_for "$rep" "${SERVERS[@]}"
    for key in "${ORDER[@]}"; do
      out="$WORK/load.$key.$rep.json"
      measure_start "$key"
      timeout 600 "${CLIENT_RUN[@]}" python3 "$CLIENT" --host "$HOST" load --port "${PORT[$key]}" --sessions "$SESSIONS" \
        --files "$FILES" --folder "up/round-$rep" --seed "$rep" >"$out" 2>>"$WORK/client.err" ||
        die "the load against ${LABEL[$key]} failed (see $WORK/client.err)"
      measure_end "$key"
      n=$(($(jget "$out" stored) + $(jget "$out" fetched)))
      bytes=$(jget "$out" bytes)
      errs=$(jget "$out" errors)
      bad=$(jget "$out" mismatched)
      L_ERRS=$((L_ERRS + errs)) L_BAD=$((L_BAD + bad))
      ((errs == 0)) || say "  ${LABEL[$key]} round $rep: $errs sessions failed: $(jget "$out" first_errors)"
      L_FPS[$key]+="$(jget "$out" files_per_s) "
      L_MBPS[$key]+="$(jget "$out" mbps) "
      L_SECS[$key]+="$(jget "$out" seconds) "
      L_CPUF[$key]+="$(calc "$CPU * 1000 / $n" 4) "
      L_CPUG[$key]+="$(calc "$CPU / ($bytes / 1073741824)" 4) "
      L_CCPU[$key]+="$(calc "$(jget "$out" client_cpu) * 1000 / $n" 4) "
      say "  ${LABEL[$key]} round $rep: $n files in $(calc "$(jget "$out" seconds)" 2) s ($(calc "$(jget "$out" files_per_s)" 0)/s, $(calc "$(jget "$out" mbps)" 1) MB/s), server CPU $(calc "$CPU" 2) s, client CPU $(calc "$(jget "$out" client_cpu)" 2) s$( ((bad == 0)) || echo ", $bad MISMATCHED")"
    done
  done
fi

# ---------------------------------------------------------------- 3. idle sessions

declare -A I_FIRST=() I_NEXT=() I_RSS=() I_PTE=() I_STACK=() I_PROCS=()
I_BAD=0
proc_sum() { # file field pids...: a field of /proc/<pid>/<file> summed (a process gone counts 0)
  local file=$1 field=$2 total=0 p v
  shift 2
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/$file" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
mem_sum() { proc_sum smaps_rollup "$@"; }  # field(Pss|Rss) pids...: kB, summed
status_sum() { proc_sum status "$@"; }     # field pids...: a status field, summed
snapshot() { # server: "pss rss pte threads processes" (kB, kB, kB, n, n)
  local pids
  mapfile -t pids < <(tree_pids "${PID[$1]}")
  echo "$(mem_sum Pss "${pids[@]}") $(mem_sum Rss "${pids[@]}") $(status_sum VmPTE "${pids[@]}") $(status_sum Threads "${pids[@]}") ${#pids[@]}"
}
hold() { # server tag: IDLE more idle sessions, held by a client in the background until $WORK/idle.stop
  local key=$1 tag=$2 ready="$WORK/idle.$2.ready" i
  rm -f -- "$ready"
  timeout 600 "${CLIENT_RUN[@]}" python3 "$CLIENT" --host "$HOST" idle --port "${PORT[$key]}" --count "$IDLE" \
    --ready-file "$ready" --stop-file "$WORK/idle.stop" >"$WORK/idle.$tag.json" 2>>"$WORK/client.err" &
  printf -v "IDLE_$tag" '%s' "$!"
  for ((i = 0; i < 1200; i++)); do
    [[ ! -f $ready ]] || break
    sleep 0.1
  done
  [[ -f $ready ]] || die "the idle sessions to ${LABEL[$key]} did not all log in within 120 s"
  HELD_OPEN=$(jget "$ready" open)
  HELD_SECS=$(jget "$ready" seconds)
  ((HELD_OPEN == IDLE)) || say "  ${LABEL[$key]}: $HELD_OPEN of $IDLE logged in: $(jget "$ready" first_errors)"
  sleep 2 # settled: vsftpd's processes forked, ferry's buffers freed
}
per_session() { # server before after: bytes per session (ferry: RSS; vsftpd: PSS)
  local -a x y
  read -r -a x <<<"$2"
  read -r -a y <<<"$3"
  if [[ $1 == vsftpd ]]; then calc "(${y[0]} - ${x[0]}) * 1024 / $IDLE" 0; else calc "(${y[1]} - ${x[1]}) * 1024 / $IDLE" 0; fi
}
idle() { # server rep
  local key=$1 rep=$2 s0 s1 s2 a b alive
  start_server "$key"
  timeout 120 "${CLIENT_RUN[@]}" python3 "$CLIENT" --host "$HOST" load --port "${PORT[$key]}" --sessions 4 --files 2 \
    --folder up/warm >/dev/null 2>>"$WORK/client.err" || die "warm-up of ${LABEL[$key]} failed"
  settle "$key"
  sleep 1
  rm -f -- "$WORK/idle.stop"
  s0=$(snapshot "$key")
  hold "$key" A
  s1=$(snapshot "$key")
  a="$HELD_OPEN sessions in $(calc "$HELD_SECS" 1) s"
  hold "$key" B
  s2=$(snapshot "$key")
  b="$HELD_OPEN in $(calc "$HELD_SECS" 1) s"
  touch "$WORK/idle.stop"
  wait "$IDLE_A" || die "the idle client failed (see $WORK/client.err)"
  wait "$IDLE_B" || die "the idle client failed (see $WORK/client.err)"
  IDLE_A="" IDLE_B=""
  alive=$(($(jget "$WORK/idle.A.json" alive_at_end) + $(jget "$WORK/idle.B.json" alive_at_end)))
  if ((alive != 2 * IDLE)); then
    I_BAD=$((I_BAD + 1))
    say "  ${LABEL[$key]} $rep: $alive of $((2 * IDLE)) sessions answered QUIT at the end"
  fi
  local -a x y
  read -r -a x <<<"$s0"
  read -r -a y <<<"$s1"
  I_FIRST[$key]+="$(per_session "$key" "$s0" "$s1") "
  I_NEXT[$key]+="$(per_session "$key" "$s1" "$s2") "
  I_RSS[$key]+="$(calc "(${y[1]} - ${x[1]}) * 1024 / $IDLE" 0) "
  I_PTE[$key]+="$(calc "(${y[2]} - ${x[2]}) * 1024 / $IDLE" 0) "
  I_STACK[$key]+="$(calc "(${y[3]} - ${x[3]}) * 16384 / $IDLE" 0) "
  I_PROCS[$key]+="$(calc "(${y[4]} - ${x[4]}) / $IDLE" 2) "
  say "  ${LABEL[$key]} $rep: $a, then $b more; (PSS RSS page-tables kB, threads, processes) $s0 -> $s1 -> $s2: $(per_session "$key" "$s0" "$s1") B per session, the next $IDLE $(per_session "$key" "$s1" "$s2") B"
  stop_server "$key"
}

[[ $DURABLE -eq 0 ]] || stop_server durable
if has 3; then
  say "3. $IDLE idle logged-in sessions, a fresh server each, $IDLE_REPS interleaved repetitions"
  for ((rep = 1; rep <= IDLE_REPS; rep++)); do
    order_for "$rep" ferry vsftpd
    for key in "${ORDER[@]}"; do idle "$key" "$rep"; done
  done
fi

for key in "${SERVERS[@]}"; do stop_server "$key"; done
WARNS=$(cat "$WORK"/ferry*.log "$WORK"/durable*.log 2>/dev/null | grep -c -E ' (ERROR|WARN) ' || true)

# ---------------------------------------------------------------- table

echo
echo "ftp.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), files on $DISK; server CPU: $CPU_METHOD"
echo
echo "| # | measurement | ferry | vsftpd | ferry / vsftpd | target | result |"
echo "|---|---|---|---|---|---|---|"
big_rows() { # op label
  local op=$1 what=$2 r c
  r=$(ratio_of "${B_GBPS[ferry.$op]}" "${B_GBPS[vsftpd.$op]}")
  c=$(ratio_of "${B_CPU[ferry.$op]}" "${B_CPU[vsftpd.$op]}")
  echo "| 1 | $what (GB/s) | $(spread 3 ${B_GBPS[ferry.$op]}) | $(spread 3 ${B_GBPS[vsftpd.$op]}) | ×$r | ≥ 1.0× | $(verdict "$r >= 1.0") |"
  echo "| 1 | $what: server CPU per GiB (s) | $(spread 3 ${B_CPU[ferry.$op]}) | $(spread 3 ${B_CPU[vsftpd.$op]}) | ×$c | ≤ 1.0× | $(verdict "$c <= 1.0") |"
  echo "| 1 | $what: client CPU per GiB (s) | $(spread 2 ${B_CCPU[ferry.$op]}) | $(spread 2 ${B_CCPU[vsftpd.$op]}) | | | |"
  echo "| 1 | $what: server + client CPU per GiB (s) | $(spread 2 ${B_SUM[ferry.$op]}) | $(spread 2 ${B_SUM[vsftpd.$op]}) | ×$(ratio_of "${B_SUM[ferry.$op]}" "${B_SUM[vsftpd.$op]}") | | |"
  [[ $op == stor ]] || return 0
  local sent="sendfile"
  ((BLOCK == 0)) || sent="$BLOCK-byte sends, as ftplib's"
  headline "FTP $what ($sent): GB/s" "$(spread 3 ${B_GBPS[ferry.$op]})" "vsftpd $(spread 3 ${B_GBPS[vsftpd.$op]})" "×$r" "≥1.0×" "$(verdict "$r >= 1.0")"
  headline "FTP $what: server CPU per GiB (s)" "$(spread 3 ${B_CPU[ferry.$op]})" "vsftpd $(spread 3 ${B_CPU[vsftpd.$op]})" "×$c" "≤1.0×" "$(verdict "$c <= 1.0")"
}
MIB=$(calc "$SIZE / 1048576" 0)
if has 1; then
  big_rows stor "STOR $MIB MiB"
  echo "| 1 | reference: dd into a new file, bs 512 KiB (ferry's writes) and 64 KiB (vsftpd's): GB/s; CPU per GiB (s) | $(spread 3 ${D_GBPS[512K]}); $(spread 3 ${D_CPU[512K]}) | $(spread 3 ${D_GBPS[64K]}); $(spread 3 ${D_CPU[64K]}) | | | |"
  big_rows warm "RETR $MIB MiB, page cache warm"
  big_rows cold "RETR $MIB MiB, cold (from the disk)"
  if [[ $DURABLE -eq 1 ]]; then
    echo "| 1 | STOR $MIB MiB, ferry durable (GB/s; server CPU per GiB, s) | $(spread 3 ${B_GBPS[durable.stor]}); $(spread 3 ${B_CPU[durable.stor]}) | | ×$(ratio_of "${B_GBPS[durable.stor]}" "${B_GBPS[vsftpd.stor]}"); ×$(ratio_of "${B_CPU[durable.stor]}" "${B_CPU[vsftpd.stor]}") | | |"
  fi
  echo "| 1 | transfers not byte for byte | $MISMATCH | | | 0 | $(verdict "$MISMATCH == 0") |"
fi
if has 2; then
  r=$(ratio_of "${L_FPS[ferry]}" "${L_FPS[vsftpd]}")
  c=$(ratio_of "${L_CPUG[ferry]}" "${L_CPUG[vsftpd]}")
  echo "| 2 | $SESSIONS sessions × $FILES files: files per second (STOR + RETR) | $(spread 0 ${L_FPS[ferry]}) | $(spread 0 ${L_FPS[vsftpd]}) | ×$r | ≥ 1.0× | $(verdict "$r >= 1.0") |"
  echo "| 2 | MB/s moved | $(spread 1 ${L_MBPS[ferry]}) | $(spread 1 ${L_MBPS[vsftpd]}) | ×$(ratio_of "${L_MBPS[ferry]}" "${L_MBPS[vsftpd]}") | | |"
  echo "| 2 | server CPU per file (ms) | $(spread 3 ${L_CPUF[ferry]}) | $(spread 3 ${L_CPUF[vsftpd]}) | ×$(ratio_of "${L_CPUF[ferry]}" "${L_CPUF[vsftpd]}") | | |"
  echo "| 2 | server CPU per GiB moved (s) | $(spread 2 ${L_CPUG[ferry]}) | $(spread 2 ${L_CPUG[vsftpd]}) | ×$c | ≤ 1.0× | $(verdict "$c <= 1.0") |"
  echo "| 2 | client CPU per file (ms) | $(spread 3 ${L_CCPU[ferry]}) | $(spread 3 ${L_CCPU[vsftpd]}) | | | |"
  if [[ $DURABLE -eq 1 ]]; then
    echo "| 2 | ferry durable: files per second; server CPU per file (ms) | $(spread 0 ${L_FPS[durable]}); $(spread 3 ${L_CPUF[durable]}) | | ×$(ratio_of "${L_FPS[durable]}" "${L_FPS[vsftpd]}"); ×$(ratio_of "${L_CPUF[durable]}" "${L_CPUF[vsftpd]}") | | |"
  fi
  echo "| 2 | failed sessions / files not byte for byte | $L_ERRS / $L_BAD | | | 0 / 0 | $(verdict "$L_ERRS == 0 && $L_BAD == 0") |"
fi
if has 3; then
  echo "| 3 | $IDLE idle sessions: memory per session (B; ferry RSS, vsftpd PSS) | $(spread 0 ${I_FIRST[ferry]}) | $(spread 0 ${I_FIRST[vsftpd]}) | ×$(calc "$(median ${I_FIRST[ferry]}) / $(median ${I_FIRST[vsftpd]})" 4) | ferry ≤ 1024 | $(verdict "$(median ${I_FIRST[ferry]}) <= 1024") |"
  echo "| 3 | $IDLE more beside them: memory per session (B) | $(spread 0 ${I_NEXT[ferry]}) | $(spread 0 ${I_NEXT[vsftpd]}) | ×$(calc "$(median ${I_NEXT[ferry]}) / $(median ${I_NEXT[vsftpd]})" 4) | ferry ≤ 1024 | $(verdict "$(median ${I_NEXT[ferry]}) <= 1024") |"
  echo "| 3 | first $IDLE: RSS per session, summed over processes (B) | $(spread 0 ${I_RSS[ferry]}) | $(spread 0 ${I_RSS[vsftpd]}) | | | |"
  echo "| 3 | first $IDLE: page tables + kernel stacks per session (B) | $(calc "$(median ${I_PTE[ferry]}) + $(median ${I_STACK[ferry]})" 0) | $(calc "$(median ${I_PTE[vsftpd]}) + $(median ${I_STACK[vsftpd]})" 0) | | | |"
  echo "| 3 | processes per session | $(median ${I_PROCS[ferry]}) | $(median ${I_PROCS[vsftpd]}) | | | |"
  echo "| 3 | repetitions where a session failed or was dropped | $I_BAD | | | 0 | $(verdict "$I_BAD == 0") |"
fi
echo
if ((${#CPU_ROWS[@]} > 0)); then
  ratios=()
  for row in "${CPU_ROWS[@]}"; do
    read -r cg tk <<<"$row"
    awk "BEGIN { exit !($cg > 0.05) }" && ratios+=("$(calc "$tk / $cg" 3)")
  done
  ((${#ratios[@]} == 0)) || echo "vsftpd's CPU, its master's utime+stime+cutime+cstime over the cgroup's: $(spread 2 "${ratios[@]}") (${#ratios[@]} measurements)."
fi
echo "ferry's log: $WARNS WARN/ERROR lines."
if ((WARNS > 0)); then
  cat "$WORK"/ferry*.log "$WORK"/durable*.log 2>/dev/null | grep -E ' (ERROR|WARN) ' | head -n 5
fi
if [[ -s $WORK/client.err ]]; then
  echo "Client errors (first lines):"
  head -n 5 "$WORK/client.err"
fi
