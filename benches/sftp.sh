#!/usr/bin/env bash
# benches/sftp.sh: ferry's SFTP against OpenSSH's sshd with internal-sftp
# and `rclone serve sftp`, side by side on 127.0.0.1 (issue 80: "1 GiB put
# and get at ≥ 0.8× sshd's throughput and ≤ 1.25× its server CPU per GiB;
# ≥ 1.0× rclone serve sftp").
#
#   benches/sftp.sh [--reps N] [--size BYTES] [--quick] [--dir DIR]
#                   [--durable] [FERRY_BINARY]
#
# One client for all: OpenSSH's `sftp -b` (a batch of one `put` or one
# `get`; its defaults otherwise: 32 KiB requests, 64 outstanding), the
# cipher forced to chacha20-poly1305@openssh.com (`-c`; every server also
# offers only it or takes it first), no compression, its own empty config
# (`-F /dev/null`), host keys not checked. The servers, each with a root of
# its own in one work directory on one file system (--dir, else
# SFTP_TMPDIR, else /var/tmp: a disk; a tmpfs is reported as such), all on
# the same ed25519 host key made for the run:
#   ferry   `ferry serve --sftp 127.0.0.1:0 --no-fsync` (sshd and rclone
#           never flush a file a client puts: sftp's `put` asks for
#           fsync@openssh.com only with -f), one event loop per core, the
#           access log to a file, no tokens (loopback: any user, no
#           password); --durable adds ferry as shipped (its CLOSE answered
#           once the file is flushed) as a fourth server;
#   sshd    OpenSSH's (Debian's openssh-server, installed with apt-get where
#           missing), private: `sshd -D -e -f CONFIG -p PORT` from a config
#           made for the run (its host key, `Subsystem sftp internal-sftp`
#           starting in its root, root logging in with a key made for the
#           run, `Ciphers chacha20-poly1305@openssh.com`, no PAM, no DNS,
#           StrictModes off); the system's sshd service is not touched. It
#           forks a monitor and a session process per connection, counted;
#   rclone  `rclone serve sftp ROOT --no-auth` on a free port (its VFS with
#           its default cache mode, off: writes go straight to the file),
#           an empty rclone config of its own.
#
# Each repetition, the servers in an order that alternates: a put of the
# SIZE-byte source (random bytes, default 1 GiB) into the server's root
# (the stored file removed before, then compared with the source, cmp),
# then, again per server, a get of it into a client file (compared too).
# Before each transfer the bytes it will write are written into that
# folder with dd and removed, so that the transfer's pages land on memory
# this VM backs already (as benches/ftp.sh does; a first write into pages
# the host took back costs ~10× the CPU). Figures per transfer: MB/s (the
# SIZE over the `sftp` command's wall time, connection and key exchange
# included: a few ms), server CPU seconds per GiB (each server in a cgroup
# of its own made for the run, cgroup v2 cpu.stat usage_usec, else v1
# cpuacct.usage, read before and after once sshd's session processes are
# gone; else utime+stime+cutime+cstime of its main process and its
# descendants from /proc), client CPU per GiB (sftp and the ssh it runs:
# bash's `time`). Medians (range in brackets); the ratios ferry / other are
# the medians of those taken within each repetition. The load average is
# printed each repetition and under the table: the machine is shared.
#
# Builds nothing: the ferry binary is the argument, else $FERRY_BIN, else
# target/release/ferry. Needs root (sshd, cgroups). A default run takes
# about 5 minutes on 2 cores (--quick: 1 repetition of 256 MiB), bounded
# by a watchdog (SFTP_MAX_SECONDS, default 1200); the servers, the cgroups,
# the privilege-separation folder /run/sshd where the run made it, and the
# work directory go on exit, however it comes.
#
# Environment: SFTP_TMPDIR, SFTP_MAX_SECONDS, FERRY_BIN.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

QUICK=0 NREPS="" SIZE="" DIR=${SFTP_TMPDIR:-/var/tmp} DURABLE=0 BINARY=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) NREPS=${2:?--reps needs a number}; shift ;;
    --size) SIZE=${2:?--size needs bytes}; shift ;;
    --dir) DIR=${2:?--dir needs a folder}; shift ;;
    --durable) DURABLE=1 ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "sftp.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
    *) BINARY=$1 ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then
  NREPS=${NREPS:-1} SIZE=${SIZE:-$((256 << 20))}
else
  NREPS=${NREPS:-5} SIZE=${SIZE:-$((1 << 30))}
fi
for v in "$NREPS" "$SIZE"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "sftp.sh: --reps and --size take positive integers" >&2; exit 2; }
done
MAX_SECONDS=${SFTP_MAX_SECONDS:-1200}

STARTED=$SECONDS
NAME=sftp.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
SAY_FD=1 # progress goes to standard output, with the table

[[ $EUID -eq 0 ]] || die "needs root (sshd logs in as root; cgroups)"

# ---------------------------------------------------------------- cleanup

declare -A PID=() CG=() PORT=() ROOT=()
CG_KIND="" CG_BASE="" MADE_RUN_SSHD=0
release() { # at exit (lib.sh's cleanup): every server, the cgroups, /run/sshd if made here
  local key i
  for key in "${!PID[@]}"; do stop_server "$key"; done
  for key in "${!CG[@]}"; do
    for ((i = 0; i < 50 && $(wc -l <"${CG[$key]}/cgroup.procs") > 0; i++)); do sleep 0.1; done
    rmdir "${CG[$key]}" 2>/dev/null || say "could not remove the cgroup ${CG[$key]}"
  done
  [[ $MADE_RUN_SSHD -eq 0 ]] || rmdir /run/sshd 2>/dev/null || true
}
clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- setup

command -v sftp >/dev/null || install_missing openssh-client
[[ -x /usr/sbin/sshd ]] || install_missing openssh-server
command -v rclone >/dev/null || install_missing rclone
SSHD=/usr/sbin/sshd
FERRY=${BINARY:-${FERRY_BIN:-$REPO/target/release/ferry}}
[[ -x $FERRY ]] || die "no ferry binary at $FERRY (cargo build --release, or give its path)"
SSHD_VERSION=$("$SSHD" -V 2>&1 | head -n 1 || true)
RCLONE_VERSION=$(rclone version 2>/dev/null | head -n 1)
say "ferry $FERRY; $SSHD_VERSION; $RCLONE_VERSION"

make_work sftp "$DIR" ""
chmod 755 "$WORK"
FSTYPE=$(df --output=fstype "$WORK" | tail -n 1)
DEVICE=$(df -P "$WORK" | awk 'NR==2 {print $1}')
DISK="$FSTYPE on $DEVICE"
[[ $FSTYPE != tmpfs ]] || DISK="tmpfs (memory, no disk)"
avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
need_kb=$(((6 * SIZE + (1 << 30)) / 1024))
((avail_kb > need_kb)) || die "$WORK has ${avail_kb} KiB free, needs ${need_kb}"
say "work directory $WORK ($DISK)"
CLK_TCK=$(getconf CLK_TCK)

# Cgroups: v2 where one is mounted and writable, else v1's cpuacct.
cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
cg1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpuacct(,|$)/ {print $2; exit}' /proc/mounts)
if [[ -n $cg2 ]] && mkdir "$cg2/ferry-sftp-bench.$$.probe" 2>/dev/null; then
  rmdir "$cg2/ferry-sftp-bench.$$.probe"
  CG_KIND=v2 CG_BASE=$cg2
elif [[ -n $cg1 ]] && mkdir "$cg1/ferry-sftp-bench.$$.probe" 2>/dev/null; then
  rmdir "$cg1/ferry-sftp-bench.$$.probe"
  CG_KIND=v1 CG_BASE=$cg1
else
  CG_KIND=none
fi
case $CG_KIND in
  v2) CPU_METHOD="cgroup v2 cpu.stat usage_usec (a cgroup per server)" ;;
  v1) CPU_METHOD="cgroup v1 cpuacct.usage (a cgroup per server)" ;;
  none) CPU_METHOD="utime+stime+cutime+cstime of the server's processes (no cgroup could be made)" ;;
esac
say "server CPU: $CPU_METHOD"

# Keys: one host key for every server, one client key for sshd's root.
ssh-keygen -q -t ed25519 -N '' -C ferry-sftp-bench-host -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -C ferry-sftp-bench-client -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
CIPHER=chacha20-poly1305@openssh.com
SFTP=(sftp -F /dev/null -c "$CIPHER" -i "$WORK/client_key" -o IdentitiesOnly=yes
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
  -o LogLevel=ERROR -o Compression=no)

SRC="$WORK/source.bin"
say "making a $SIZE-byte source file"
timeout 300 head -c "$SIZE" /dev/urandom >"$SRC"
GIB=$(calc "$SIZE / 1073741824" 6)
mkdir -p "$WORK/client"

# ---------------------------------------------------------------- servers

SERVERS=(ferry sshd rclone)
[[ $DURABLE -eq 0 ]] || SERVERS+=(durable)
declare -A LABEL=([ferry]="ferry" [sshd]="sshd + internal-sftp" [rclone]="rclone serve sftp" [durable]="ferry, durable")
declare -A USER_OF=([ferry]=me [durable]=me [sshd]=root [rclone]=me)

ticks_all() { # pid: utime+stime+cutime+cstime of it and its descendants, in seconds
  local total=0 p
  for p in $(tree_pids "$1"); do
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}' || echo 0)))
  done
  calc "$total / $CLK_TCK" 3
}
cpu_of() { # server: its CPU seconds so far
  local key=$1
  case $CG_KIND in
    v2) awk '$1 == "usage_usec" {printf "%.4f", $2 / 1e6}' "${CG[$key]}/cpu.stat" ;;
    v1) awk '{printf "%.4f", $1 / 1e9}' "${CG[$key]}/cpuacct.usage" ;;
    none) ticks_all "${PID[$key]}" ;;
  esac
}
settle() { # server: until its sessions' processes are gone (sshd; 20 s at most)
  local key=$1 i
  kill -0 "${PID[$key]}" 2>/dev/null || die "${LABEL[$key]} has exited (log: $WORK/$key.log)"
  [[ $key == sshd ]] || { sleep 0.2; return 0; }
  for ((i = 0; i < 200; i++)); do
    (($(tree_pids "${PID[$key]}" | wc -l) <= 1)) && return 0
    sleep 0.1
  done
  say "  warning: sshd still has session processes after 20 s"
}

# cg_exec <server> command...: the command, moved into the server's cgroup first.
cg_exec() {
  local key=$1
  shift
  [[ $CG_KIND == none ]] || echo "$BASHPID" >"${CG[$key]}/cgroup.procs"
  exec "$@"
}

sshd_config() { # file
  cat >"$1" <<EOF
ListenAddress 127.0.0.1
Port ${PORT[sshd]}
HostKey $WORK/host_key
PidFile none
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
Ciphers $CIPHER
Subsystem sftp internal-sftp -d ${ROOT[sshd]}
EOF
}

start_server() { # server: a fresh one on an empty root, in its cgroup
  local key=$1 log="$WORK/$1.log"
  ROOT[$key]="$WORK/$key"
  mkdir -p "${ROOT[$key]}"
  if [[ $CG_KIND != none && -z ${CG[$key]:-} ]]; then
    CG[$key]="$CG_BASE/ferry-sftp-bench.$$.$key"
    mkdir -p "${CG[$key]}"
  fi
  case $key in
    ferry | durable)
      local flags=()
      [[ $key == ferry ]] && flags+=(--no-fsync)
      launch "PID[$key]" "$log" cg_exec "$key" "$FERRY" serve --sftp 127.0.0.1:0 \
        --root "${ROOT[$key]}" "${flags[@]}" --ssh-host-key "$WORK/host_key" \
        --log-file "$WORK/$key.access.log" --max-connections-per-client 0
      PORT[$key]=$(port_of FERRY "$SERVED")
      ;;
    sshd)
      PORT[$key]=$(free_port)
      sshd_config "$WORK/sshd_config"
      "$SSHD" -t -f "$WORK/sshd_config" || die "sshd refuses its config ($WORK/sshd_config)"
      spawn "PID[$key]" "${PORT[$key]}" "$log" cg_exec "$key" "$SSHD" -D -e -f "$WORK/sshd_config" -p "${PORT[$key]}"
      ;;
    rclone)
      PORT[$key]=$(free_port)
      : >"$WORK/rclone.conf"
      spawn "PID[$key]" "${PORT[$key]}" "$log" cg_exec "$key" rclone serve sftp "${ROOT[$key]}" \
        --config "$WORK/rclone.conf" --addr "127.0.0.1:${PORT[$key]}" --no-auth --key "$WORK/host_key"
      ;;
  esac
}

stop_server() { # server: (sshd) its sessions' processes first, then it
  local key=$1 pid=${PID[$1]:-} p
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    for p in $(tree_pids "$pid"); do
      [[ $p == "$pid" ]] || kill -TERM "$p" 2>/dev/null || true
    done
  fi
  stop_pid "$pid"
  PID[$key]=""
}

# sshd refuses to start without its privilege-separation folder; the
# package's service makes it at boot, which a machine that never ran the
# service has not done.
if [[ ! -d /run/sshd ]]; then
  mkdir -m 755 /run/sshd
  MADE_RUN_SSHD=1
fi
for key in "${SERVERS[@]}"; do start_server "$key"; done
say "serving: ferry on ${PORT[ferry]}, sshd on ${PORT[sshd]}, rclone on ${PORT[rclone]}$([[ $DURABLE -eq 0 ]] || echo ", ferry durable on ${PORT[durable]}")"

order_for() { # rep servers...: sets ORDER, rotated by the repetition
  local rep=$1 k n
  shift
  n=$#
  ORDER=()
  for ((k = 0; k < n; k++)); do
    local i=$(((k + rep - 1) % n + 1))
    ORDER+=("${!i}")
  done
  if ((rep % 2 == 0)); then
    local rev=()
    for ((k = ${#ORDER[@]} - 1; k >= 0; k--)); do rev+=("${ORDER[k]}"); done
    ORDER=("${rev[@]}")
  fi
}

warm_pages() { # dir: SIZE bytes written there and removed (see the header)
  dd if=/dev/zero of="$1/.warm-pages" bs=1M count=$((SIZE >> 20)) status=none
  rm -f -- "$1/.warm-pages"
}

# ---------------------------------------------------------------- transfers

declare -A MBPS=() SCPU=() CCPU=()
MISMATCH=0 LOADS=()
transfer() { # server op(put|get) rep
  local key=$1 op=$2 rep=$3 stored="${ROOT[$1]}/big.bin" got="$WORK/client/got.bin" batch="$WORK/batch"
  local t real user sys cpu0
  if [[ $op == put ]]; then
    rm -f -- "$stored"
    warm_pages "${ROOT[$key]}"
    echo "put $SRC big.bin" >"$batch"
  else
    rm -f -- "$got"
    warm_pages "$WORK/client"
    echo "get big.bin $got" >"$batch"
  fi
  sync -f "$WORK"
  settle "$key"
  cpu0=$(cpu_of "$key")
  t=$({
    TIMEFORMAT='%R %U %S'
    time timeout 600 "${SFTP[@]}" -b "$batch" -P "${PORT[$key]}" "${USER_OF[$key]}@127.0.0.1" \
      >>"$WORK/client.out" 2>>"$WORK/client.err"
  } 2>&1) || die "$op with ${LABEL[$key]} failed (see $WORK/client.err)"
  settle "$key"
  CPU=$(calc "$(cpu_of "$key") - $cpu0" 4)
  read -r real user sys <<<"$t"
  if [[ $op == put ]]; then
    cmp -s "$SRC" "$stored" || { MISMATCH=$((MISMATCH + 1)); say "  ${LABEL[$key]} put $rep: the stored file differs from the source"; }
  else
    cmp -s "$SRC" "$got" || { MISMATCH=$((MISMATCH + 1)); say "  ${LABEL[$key]} get $rep: the file got differs from the source"; }
    rm -f -- "$got"
  fi
  MBPS[$key.$op]+="$(calc "$SIZE / $real / 1e6" 2) "
  SCPU[$key.$op]+="$(calc "$CPU / $GIB" 4) "
  CCPU[$key.$op]+="$(calc "($user + $sys) / $GIB" 4) "
  say "  ${LABEL[$key]} $op $rep: $(calc "$SIZE / $real / 1e6" 1) MB/s in $real s, server CPU $(calc "$CPU" 2) s, client CPU $(calc "$user + $sys" 2) s"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "$NREPS repetitions: a $SIZE-byte put per server, then a get per server, the order rotating; files on $DISK"
for ((rep = 1; rep <= NREPS; rep++)); do
  LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
  say "repetition $rep (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  order_for "$rep" "${SERVERS[@]}"
  for key in "${ORDER[@]}"; do transfer "$key" put "$rep"; done
  for key in "${ORDER[@]}"; do transfer "$key" get "$rep"; done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
for key in "${SERVERS[@]}"; do stop_server "$key"; done
WARNS=$(cat "$WORK"/ferry.log "$WORK"/durable.log 2>/dev/null | grep -c -E ' (ERROR|WARN) ' || true)

# ---------------------------------------------------------------- table

echo
echo "sftp.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, load average $LOAD_START at the start, $LOAD_END at the end (1-minute, per repetition: ${LOADS[*]}); files on $DISK; cipher $CIPHER; server CPU: $CPU_METHOD"
echo "ferry $("$FERRY" --version 2>/dev/null | head -n 1 || echo "$FERRY"); $SSHD_VERSION; $RCLONE_VERSION; $NREPS repetitions of $(calc "$SIZE / 1048576" 0) MiB"
echo
echo "| measurement | ferry | sshd + internal-sftp | rclone serve sftp | ferry / sshd | ferry / rclone | target | result |"
echo "|---|---|---|---|---|---|---|---|"
rows() { # op
  local op=$1 up r_s r_r c_s c_r
  up=${op^}
  r_s=$(ratio_of "${MBPS[ferry.$op]}" "${MBPS[sshd.$op]}")
  r_r=$(ratio_of "${MBPS[ferry.$op]}" "${MBPS[rclone.$op]}")
  c_s=$(ratio_of "${SCPU[ferry.$op]}" "${SCPU[sshd.$op]}")
  c_r=$(ratio_of "${SCPU[ferry.$op]}" "${SCPU[rclone.$op]}")
  echo "| $up: MB/s | $(spread 1 ${MBPS[ferry.$op]}) | $(spread 1 ${MBPS[sshd.$op]}) | $(spread 1 ${MBPS[rclone.$op]}) | ×$r_s | ×$r_r | ≥ 0.8× sshd, ≥ 1.0× rclone | $(verdict "$r_s >= 0.8 && $r_r >= 1.0") |"
  echo "| $up: server CPU per GiB (s) | $(spread 2 ${SCPU[ferry.$op]}) | $(spread 2 ${SCPU[sshd.$op]}) | $(spread 2 ${SCPU[rclone.$op]}) | ×$c_s | ×$c_r | ≤ 1.25× sshd | $(verdict "$c_s <= 1.25") |"
  echo "| $up: client CPU per GiB (s) | $(spread 2 ${CCPU[ferry.$op]}) | $(spread 2 ${CCPU[sshd.$op]}) | $(spread 2 ${CCPU[rclone.$op]}) | | | | |"
  if [[ $DURABLE -eq 1 ]]; then
    echo "| $up, ferry durable: MB/s; server CPU per GiB (s) | $(spread 1 ${MBPS[durable.$op]}); $(spread 2 ${SCPU[durable.$op]}) | | | ×$(ratio_of "${MBPS[durable.$op]}" "${MBPS[sshd.$op]}"); ×$(ratio_of "${SCPU[durable.$op]}" "${SCPU[sshd.$op]}") | | | |"
  fi
  headline "SFTP 1 GiB $op, chacha20-poly1305: MB/s" "$(spread 1 ${MBPS[ferry.$op]})" "sshd $(spread 1 ${MBPS[sshd.$op]})" "×$r_s" "≥0.8×" "$(verdict "$r_s >= 0.8")"
  headline "SFTP 1 GiB $op: server CPU per GiB (s)" "$(spread 2 ${SCPU[ferry.$op]})" "sshd $(spread 2 ${SCPU[sshd.$op]})" "×$c_s" "≤1.25×" "$(verdict "$c_s <= 1.25")"
}
rows put
rows get
echo "| transfers not byte for byte | $MISMATCH | | | | | 0 | $(verdict "$MISMATCH == 0") |"
echo
echo "ferry's log: $WARNS WARN/ERROR lines."
if ((WARNS > 0)); then
  cat "$WORK"/ferry.log "$WORK"/durable.log 2>/dev/null | grep -E ' (ERROR|WARN) ' | head -n 5
fi
if [[ -s $WORK/client.err ]]; then
  echo "Client errors (first lines):"
  head -n 5 "$WORK/client.err"
fi
