#!/usr/bin/env bash
# benches/storm_sftp.sh: an SSH/SFTP connection storm, issue 76 ("10,000
# connections opened one after another and used afterwards: all served
# with ferry's default settings within a minute of the first connect ...
# the same for ... SFTP sessions").
#
# benches/storm_sftp.py opens N TCP connections at once to a server's
# SSH port, from source addresses 127.0.1.x (200 each, under ferry's
# per-address cap of 256), waits until every connect is done and LATER
# seconds more (default 15), then, in K processes (default 4) sharing the
# connections, does on each a real SSH login with paramiko over the
# socket already open (version exchange, key exchange, a password: a
# ferry token; for sshd a key), opens the sftp subsystem, asks one
# `stat .` and closes. A login is answered when its stat comes back.
#
# A separate script from storm.sh: its client is Python (paramiko: a
# real SSH client, not a C loop; its handshakes, not the server's, are
# most of the CPU here, so both are measured), its peer is OpenSSH's
# sshd (root, keys made for the run), and its storms take a minute
# each, which storm.sh's 20-minute bound has no room for.
#
# Servers, each with its defaults, interleaved each repetition:
#   ferry    `ferry serve --sftp 127.0.0.1:0 --tokens FILE` (one loop per
#            core), the root on tmpfs;
#   ferry1   the same with `--workers 1` (the small host's setting);
#   sshd     OpenSSH's, private (`sshd -D -e -f CONFIG -p PORT`,
#            `Subsystem sftp internal-sftp`, root logging in with a key
#            made for the run, no PAM, no DNS): its defaults otherwise,
#            MaxStartups 10:30:100 and LoginGraceTime 120 s included.
#
# Per storm: logins answered (the fewest over the repetitions), seconds
# from the first connect to the last answer (the LATER wait included),
# the server's peak memory (ferry: VmHWM, reset before the storm; sshd:
# the largest sum of Pss over its listener and session processes,
# sampled every 0.2 s: shared pages split among the processes mapping
# them, the fair sum for a forking server), the server's CPU seconds (utime+stime of its
# processes, sshd's reaped sessions included) and the client's (the K
# processes'). Medians of the repetitions; the failures' reasons of each
# storm go to the progress lines.
#
#   benches/storm_sftp.sh [--reps N] [--connections N] [--later SECONDS] [--procs K]
#
# FERRY_BIN, CARGO_TARGET_DIR: as for compare.sh. Needs root (sshd,
# a tmpfs), paramiko and OpenSSH's sshd (both installed from Debian if
# missing) and an open-files limit of N+500 (raised here
# to the hard limit). Loopback only. Bounded (40 minutes; each client
# process gives up 300 s after the wait); servers and files go on exit.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=storm_sftp.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REPS=3 N=10000 LATER=15 PROCS=4
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --connections) N=${2:?}; shift ;;
    --later) LATER=${2:?}; shift ;;
    --procs) PROCS=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done
for v in "$REPS" "$N" "$PROCS"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "--reps, --connections and --procs take positive integers"
done
[[ $EUID -eq 0 ]] || die "needs root (sshd logs in as root; a tmpfs)"

# The server is stopped by release, not through PID_VARS: sshd's session
# processes first, found while the listener is their parent.
WORK="" MOUNTED=0 PIDS=() PID_VARS=(SAMPLER_PID)
SERVER_PID="" SAMPLER_PID="" MADE_RUN_SSHD=0
release() { # at exit: the server (sshd's sessions first), /run/sshd if made here
  [[ -z $SERVER_PID ]] || stop_server
  [[ $MADE_RUN_SSHD -eq 0 ]] || rmdir /run/sshd 2>/dev/null || true
}
clean_up_at_exit 2400
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= N + 500)) || die "open-files limit $(ulimit -n) is below $((N + 500))"
[[ -x /usr/sbin/sshd ]] || install_missing openssh-server
# paramiko where it is missing (a fresh machine's headline run found none:
# .ci/run installs it, and had not run yet), from PyPI and pinned as there:
# Debian's package is not seen by a python3 of its own (pyenv's).
python3 -c 'import paramiko' 2>/dev/null \
  || python3 -m pip install --quiet paramiko==5.1.0 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages paramiko==5.1.0 \
  || true
python3 -c 'import paramiko' 2>/dev/null || die "needs paramiko (python3 -m pip install paramiko)"
find_ferry
make_work storm-sftp "" 64M
chmod 755 "$WORK"
mkdir "$WORK/root" "$WORK/sshd-root"
echo storm >"$WORK/root/small.txt"
ssh-keygen -q -t ed25519 -N '' -C storm-host -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -C storm-client -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
TOKEN=$("$FERRY" token add storm --tokens "$WORK/tokens.txt" --grant read:/ 2>/dev/null |
  sed -n 's/^FERRY_TOKEN=//p')
[[ -n $TOKEN ]] || die "ferry token add printed no token"
if [[ ! -d /run/sshd ]]; then
  mkdir -m 755 /run/sshd
  MADE_RUN_SSHD=1
fi
SSHD_PORT=$(free_port)
cat >"$WORK/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $WORK/host_key
PidFile none
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
Subsystem sftp internal-sftp -d $WORK/sshd-root
EOF
/usr/sbin/sshd -t -f "$WORK/sshd_config" || die "sshd refuses its config ($WORK/sshd_config)"

# Starts server $1; sets SERVER_PID, PORT and LOGIN (the client's
# credentials).
start() {
  case $1 in
    sshd)
      spawn SERVER_PID "$SSHD_PORT" "$WORK/sshd.log" /usr/sbin/sshd -D -e -f "$WORK/sshd_config"
      PORT=$SSHD_PORT LOGIN=(--user root --key "$WORK/client_key") ;;
    ferry | ferry1)
      local workers=()
      [[ $1 == ferry1 ]] && workers=(--workers 1)
      launch SERVER_PID "$WORK/ferry.log" "$FERRY" serve --root "$WORK/root" \
        --listen 127.0.0.1:0 --sftp 127.0.0.1:0 --tokens "$WORK/tokens.txt" \
        --ssh-host-key "$WORK/host_key" $(no_fsync "$FERRY") --log-level warn "${workers[@]}"
      PORT=$(port_of SFTP "$SERVED") LOGIN=(--user storm --password "$TOKEN") ;;
  esac
}

stop_server() { # sshd's session processes first, then the server
  local p
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    for p in $(tree_pids "$SERVER_PID"); do
      [[ $p == "$SERVER_PID" ]] || kill -TERM "$p" 2>/dev/null || true
    done
  fi
  stop_pid "$SERVER_PID"
  SERVER_PID=""
}

server_cpu() { # utime+stime of the server's processes, reaped ones included (s)
  local total=0 p
  for p in $(tree_pids "$SERVER_PID"); do
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}' || echo 0)))
  done
  calc "$total / $(getconf CLK_TCK)" 2
}

pss_sum() { # Pss summed over the server's processes (KiB): shared pages split among them
  local total=0 p v
  for p in $(tree_pids "$SERVER_PID"); do
    v=$(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# One storm against a fresh server: "seconds answered peak_kib server_cpu
# client_cpu"; its failures' reasons to the progress lines.
storm() { # server
  start "$1"
  local before peak line
  before=$(server_cpu)
  if [[ $1 == sshd ]]; then
    echo 0 >"$WORK/peak"
    (
      most=0
      while :; do
        now=$(pss_sum)
        ((now > most)) && most=$now && echo "$most" >"$WORK/peak"
        sleep 0.2
      done
    ) &
    SAMPLER_PID=$!
  else
    echo 5 >"/proc/$SERVER_PID/clear_refs"
  fi
  line=$(python3 "$SCRIPT_DIR/storm_sftp.py" --port "$PORT" --count "$N" --later "$LATER" \
    --procs "$PROCS" "${LOGIN[@]}")
  if [[ $1 == sshd ]]; then
    stop_pid "$SAMPLER_PID"
    SAMPLER_PID=""
    peak=$(cat "$WORK/peak")
  else
    peak=$(status_kb VmHWM "$SERVER_PID")
  fi
  local cpu
  cpu=$(calc "$(server_cpu) - $before" 2)
  stop_server
  say "  $1: $line"
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(r["seconds"], r["answered"], sys.argv[2], sys.argv[3], r["client_cpu"])' "$line" "$peak" "$cpu"
}

declare -A SECS ANSWERED PEAK SCPU CCPU
SERVERS=(ferry ferry1 sshd)
say "$N connections, logins $LATER s later, $PROCS client processes; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= REPS; r++)); do
  for server in "${SERVERS[@]}"; do
    read -r s a p sc cc <<<"$(storm "$server")"
    SECS[$server]+="$s " ANSWERED[$server]+="$a " PEAK[$server]+="$p " SCPU[$server]+="$sc " CCPU[$server]+="$cc "
  done
  say "repetition $r of $REPS done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo
echo "$N SSH connections opened at once, an SFTP login (and one stat) on each $LATER s later; paramiko in $PROCS processes;"
echo "medians of $REPS interleaved repetitions (seconds from the first connect to the last answer, the wait included)"
echo
echo "| server | seconds | answered (fewest) | peak memory MiB | server CPU s | client CPU s |"
echo "|---|---:|---:|---:|---:|---:|"
# shellcheck disable=SC2086 # word lists
for server in "${SERVERS[@]}"; do
  s=$(median ${SECS[$server]}) p=$(median ${PEAK[$server]})
  a=$(printf '%s\n' ${ANSWERED[$server]} | sort -g | head -n 1)
  label=$server
  [[ $server == ferry1 ]] && label="ferry --workers 1"
  [[ $server == sshd ]] && label="sshd (internal-sftp)"
  echo "| $label | $(calc "$s" 2) | $a of $N | $(calc "$p / 1024" 1) | $(calc "$(median ${SCPU[$server]})" 2) | $(calc "$(median ${CCPU[$server]})" 2) |"
done
sshd_fewest=$(printf '%s\n' ${ANSWERED[sshd]} | sort -g | head -n 1)
for server in ferry ferry1; do
  s=$(median ${SECS[$server]}) p=$(median ${PEAK[$server]})
  a=$(printf '%s\n' ${ANSWERED[$server]} | sort -g | head -n 1)
  label=$server
  [[ $server == ferry1 ]] && label="ferry --workers 1"
  headline "storm: $N SSH connections opened first, an SFTP login on each $LATER s later, $label: answered" \
    "$a of $N in $(calc "$s" 1) s, $(calc "$p / 1024" 1) MiB" "sshd $sshd_fewest of $N" "" "all, within 60 s" \
    "$(verdict "$a == $N && $s <= 60")"
done
