# shellcheck shell=bash
# benches/lib.sh: shell helpers the bench scripts share (sourced, not run).
# Expects STARTED (the script's $SECONDS at start) and NAME (for messages).

# Progress: "[  12s] what", to standard error, or to the file descriptor
# SAY_FD (1 for the scripts whose progress goes with their table).
say() { printf '[%4ds] %s\n' "$((SECONDS - STARTED))" "$*" >&"${SAY_FD:-2}"; }

die() {
  echo "$NAME: $*" >&2
  exit 1
}

stop_pid() { # pid [signal]: signal it, wait up to 15 s, then SIGKILL
  local pid=$1 sig=${2:-TERM} i
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# The ferry binary to measure: $FERRY_BIN, or a release build of the
# checkout at $REPO (honouring CARGO_TARGET_DIR). Sets FERRY; dies without.
find_ferry() {
  if [[ -n ${FERRY_BIN:-} ]]; then
    FERRY=$FERRY_BIN
    say "using FERRY_BIN=$FERRY (not building)"
  else
    say "building ferry (cargo build --release)"
    FERRY=$(
      cd "$REPO" && timeout 1200 cargo build --release --bin ferry \
        --message-format=json-render-diagnostics |
        python3 -c '
import json, sys
path = ""
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
            and msg["target"]["name"] == "ferry":
        path = msg["executable"]
print(path)'
    )
  fi
  [[ -n $FERRY && -x $FERRY ]] || die "no ferry binary (cargo build failed?)"
}

# Bounds the whole run: past $1 seconds the script is sent SIGTERM (its
# cleanup trap runs). Sets WATCHDOG_PID; stop_watchdog ends it.
start_watchdog() {
  local limit=$1
  # Its stdout is not the script's: a caller that pipes the script's
  # output (`callgrind.sh | grep`) must see it end when the script does.
  (
    sleep "$limit" &
    sleeper=$!
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    wait "$sleeper"
    echo "$NAME: time limit of ${limit}s reached, stopping" >&2
    kill -TERM $$
  ) >/dev/null &
  WATCHDOG_PID=$!
}

stop_watchdog() {
  [[ -n ${WATCHDOG_PID:-} ]] || return 0
  kill "$WATCHDOG_PID" 2>/dev/null || true
  wait "$WATCHDOG_PID" 2>/dev/null || true
}

# ---- exit: one cleanup for every script
# `clean_up_at_exit [seconds]` sets the traps (and, given a limit, starts
# the watchdog). At exit, however it comes (the end, an error under
# `set -e`, INT, TERM, the watchdog), the processes in PIDS and those whose
# pids the variables named in PID_VARS hold (servers restarted under one
# name) are stopped, the script's own `release` runs if it defines one
# (unmounts, other folders), the watchdog ends and WORK goes: unmounted
# first when the script mounted a tmpfs on it (MOUNTED=1). The exit status
# is kept; INT and TERM exit 130 and 143, so the EXIT trap runs once.
WORK="" MOUNTED=0 WATCHDOG_PID="" PIDS=() PID_VARS=()

# shellcheck disable=SC2120 # the limit is optional
clean_up_at_exit() { # [time limit in seconds]
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  [[ -z ${1:-} ]] || start_watchdog "$1"
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local rc=$? pid var
  trap - EXIT INT TERM
  for var in "${PID_VARS[@]}"; do stop_pid "${!var:-}"; done
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if declare -F release >/dev/null; then release; fi
  stop_watchdog
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ $MOUNTED -eq 1 ]]; then
      umount "$WORK" 2>/dev/null || umount -l "$WORK" 2>/dev/null || true
      rmdir -- "$WORK" 2>/dev/null || true
    else
      rm -rf -- "$WORK"
    fi
  fi
  exit "$rc"
}

# make_work <name> <folder or ""> <tmpfs size>: sets WORK to a new folder
# ferry-<name>.XXXXXX: in the folder given; else, as root, on a tmpfs of
# that size mounted for the run (MOUNTED=1); else in /dev/shm when it is a
# tmpfs; else in $TMPDIR or /tmp. Memory, not a disk, is what is measured.
make_work() {
  local name=$1 folder=$2 size=$3
  if [[ -n $folder ]]; then
    WORK=$(mktemp -d "$folder/ferry-$name.XXXXXX")
  elif [[ $EUID -eq 0 ]]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-$name.XXXXXX")
    mount -t tmpfs -o "size=$size" tmpfs "$WORK" || die "cannot mount a tmpfs on $WORK"
    MOUNTED=1
  elif [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
    WORK=$(mktemp -d "/dev/shm/ferry-$name.XXXXXX")
  else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-$name.XXXXXX")
  fi
}

# ---- measuring and reporting (compare.sh, compare_tls.sh)

install_missing() { # command...: installs (Debian packages of the same names) those not found
  local need=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || need+=("$tool")
  done
  [[ ${#need[@]} -gt 0 ]] || return 0
  [[ $EUID -eq 0 ]] || die "missing ${need[*]}; run as root to install them with apt-get"
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get to install them"
  say "installing ${need[*]} with apt-get"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# spawn <pid variable> <port> <log> command...: runs the command in the
# background, its output appended to the log and its pid in the variable,
# and waits until something accepts on the port.
spawn() {
  local var=$1 port=$2 log=$3
  shift 3
  "$@" >>"$log" 2>&1 &
  printf -v "$var" '%s' "$!"
  wait_port "$port"
}

wait_port() { # port: until something accepts on it (10 s at most)
  local i
  local host=${BENCH_HOST:-127.0.0.1}
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "nothing listens on $host:$1"
}
cpu_ticks() { # pids...: utime+stime summed, in clock ticks
  local total=0 pid t
  for pid in "$@"; do
    t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    total=$((total + t))
  done
  echo "$total"
}
status_kb() { # field pids...: a /proc/<pid>/status field (kB) summed
  local field=$1 total=0 pid v
  shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status")
    total=$((total + v))
  done
  echo "$total"
}
calc() { # expression [decimals]
  awk "BEGIN { printf \"%.${2:-3}f\", $1 }"
}
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
max_of() { printf '%s\n' "$@" | sort -g | tail -n 1; }
jget() { # file key[.key...]
  python3 -c '
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[key]
print(value)' "$1" "$2"
}
verdict() { # condition-expression-for-awk -> met/missed
  if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi
}
spread() { # decimals values... -> "median [min–max]" (just the value if only one)
  local d=$1 lo hi mid
  shift
  lo=$(calc "$(printf '%s\n' "$@" | sort -g | head -n 1)" "$d")
  hi=$(calc "$(max_of "$@")" "$d")
  mid=$(calc "$(median "$@")" "$d")
  if [[ $# -gt 1 ]]; then echo "$mid [$lo–$hi]"; else echo "$mid"; fi
}
paired() { # array-name array-name -> median over repetitions of a[i] / b[i]
  local -n pa=$1 pb=$2
  ratio_of "${pa[*]}" "${pb[*]}"
}
ratio_of() { # "values of a" "values of b" -> median over repetitions of a[i] / b[i]
  local -a a b ratios=()
  local i
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  for ((i = 0; i < ${#a[@]}; i++)); do
    ratios+=("$(calc "${a[i]} / ${b[i]}" 4)")
  done
  calc "$(median "${ratios[@]}")" 2
}

# free_ports [n]: n distinct free loopback ports, one a line (all bound at
# once, so none is given twice), for servers that cannot say which port
# they took (nginx, rclone, chromedriver); ferry is started on port 0
# (`launch`, `served`).
free_ports() {
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in held))' "${1:-1}"
}
free_port() { free_ports 1; }

# served <log> <pid> [seconds]: waits until the `ferry serve` with that
# pid, its standard error going to <log> (a fresh file), logs where it
# serves ("serving ROOT on 127.0.0.1:P (HTTP on 127.0.0.1:Q) (S3 on ...)"),
# and prints that line (read the ports with port_of). Start the server on
# port 0: a port read back from the server cannot be taken by another
# program between its choice and the bind, as one chosen beforehand
# (free_ports) can. The line comes once every listener is bound and the
# root is open. Dies if the server exits first, or after the limit
# (default 120 s: a server under valgrind takes tens of seconds to start
# on a busy machine).
served() {
  local log=$1 pid=$2 limit=${3:-120} i line host=${BENCH_HOST:-127.0.0.1}
  for ((i = 0; i < limit * 10; i++)); do
    line=$(grep -m 1 -E " serving .* on ${host//./\\.}:[0-9]+" "$log" 2>/dev/null || true)
    if [[ -n $line ]]; then
      echo "$line"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -5 "$log" >&2; die "the server exited"; }
    sleep 0.1
  done
  die "the server (pid $pid) did not say where it serves within $limit s"
}

# port_of <FERRY|HTTP|S3|METRICS> <line>: that listener's port in a
# `served` line (FERRY: the first listener, --listen). served, port_of and
# wait_port look on 127.0.0.1, or on $BENCH_HOST where a script serves on
# another address (benches/ftp.sh --veth).
port_of() {
  local port host=${BENCH_HOST:-127.0.0.1}
  host=${host//./\\.}
  case $1 in
    FERRY) port=$(grep -oE " on $host:[0-9]+" <<<"$2" | head -n 1) ;;
    METRICS) port=$(grep -oE "\\(metrics on http://$host:[0-9]+" <<<"$2" | head -n 1) ;;
    *) port=$(grep -oE "\\($1 on $host:[0-9]+" <<<"$2" | head -n 1) ;;
  esac
  [[ -n $port ]] || die "no $1 listener in: $2"
  echo "${port##*:}"
}

# no_fsync <binary>: prints `--no-fsync` if <binary> takes it. Durable
# acknowledgements are ferry's default; a bench that is not about them
# measures without them (as ferry ran before that default, and as nginx,
# Apache, rclone and the others these benches compare with run: none of
# them flushes), and says so. A binary from before the default knows no
# such flag and never flushes unless told `--fsync`.
no_fsync() {
  if "$1" serve --help 2>/dev/null | grep -q -- '--no-fsync'; then
    echo --no-fsync
  fi
}

# launch <pid variable> <log> command...: runs a `ferry serve` command
# whose listeners are all on port 0 in the background, its output to the
# log (emptied first), its pid in the variable; sets SERVED to its
# `served` line once it serves (read the ports with port_of). A script's
# cleanup stops it if the variable is in PID_VARS or the pid in PIDS.
# Waits up to 300 s: a server under valgrind takes tens of seconds.
launch() {
  local var=$1 log=$2
  shift 2
  : >"$log"
  "$@" >>"$log" 2>&1 &
  printf -v "$var" '%s' "$!"
  SERVED=$(served "$log" "$!" 300)
}

# start_server <name> <binary> <stderr-file> [flags...]: `serve` on a
# loopback port the kernel picks with root $WORK/<name> and --workers 1,
# its stderr to the file, in the background (its pid added to PIDS, for
# the caller's cleanup trap); sets PORT_<name> (FERRY/1's port), PID_<name>
# and SERVED_<name> (its `served` line: other listeners the flags put on
# port 0 are read from it with port_of) once it serves. Without flushes
# (`no_fsync`) unless the flags say `--fsync`.
start_server() {
  local name=$1 binary=$2 stderr=$3 port
  shift 3
  mkdir -p "$WORK/$name"
  launch "PID_$name" "$stderr" \
    "$binary" serve --listen 127.0.0.1:0 --root "$WORK/$name" --workers 1 \
    $(no_fsync "$binary") "$@"
  port=$(port_of FERRY "$SERVED")
  printf -v "SERVED_$name" '%s' "$SERVED"
  printf -v "PORT_$name" '%s' "$port"
  local pid_var="PID_$name"
  PIDS+=("${!pid_var}")
}

# The options both *_cost.sh scripts take; the caller sets their defaults
# with cost_defaults (not at source time: slowfs.sh and stall.sh have a
# BASE of their own), then loops over "$@" and gives each option here first:
#   cost_option "$1" "${2-}" && { shift 2; continue; }
cost_defaults() { REPS=5 SECS=4 CONNS=50 BASE=; }
cost_option() { # flag value: 0 if taken (the value with it), 1 if not ours
  case $1 in
    --reps) REPS=${2:?} ;;
    --seconds) SECS=${2:?} ;;
    --connections) CONNS=${2:?} ;;
    --base) BASE=${2:?} ;;
    *) return 1 ;;
  esac
}

# A process and its descendants (benches/ftp.sh, benches/dav_nginx.sh: a
# server's processes where no cgroup holds them).
tree_pids() { # pid: it and its descendants, one a line
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      want[root] = 1; n = 1
      while (n) { n = 0; for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; n = 1 } }
      for (p in want) print p
    }'
}

# veth_split <name> <prefix>: the client in a network namespace of its own
# behind a veth pair, each side on a CPU of its own (benches/ftp.sh --veth,
# benches/get_segments.sh). Over loopback the kernel's receive work for a
# client (TCP, the copy's setup) runs in the softirq of whichever side
# sent, so a fast sender is charged for its reader's work, and a 64 KiB
# MTU makes segments no real link has; behind the pair each side pays its
# own and the MTU is Ethernet's 1,500. The servers listen on <prefix>.1,
# the client is <prefix>.2. Sets NETNS and VETH_HOST_IF (the caller's
# release calls veth_release), HOST, BENCH_HOST, CLIENT_RUN and SERVER_RUN
# (command prefixes). Needs 2 CPUs.
veth_split() {
  local name=$1 prefix=$2 host_if="${1:0:6}h$$" client_if="${1:0:6}c$$"
  (($(nproc) >= 2)) || die "a veth split needs 2 CPUs"
  command -v ip >/dev/null || install_missing iproute2
  NETNS=ferry-$name-$$ VETH_HOST_IF=$host_if
  ip netns add "$NETNS"
  ip link add "$host_if" type veth peer name "$client_if"
  ip link set "$client_if" netns "$NETNS"
  ip addr add "$prefix.1/30" dev "$host_if"
  ip link set "$host_if" up
  ip netns exec "$NETNS" ip addr add "$prefix.2/30" dev "$client_if"
  ip netns exec "$NETNS" ip link set "$client_if" up
  ip netns exec "$NETNS" ip link set lo up
  # What the client sends is taken in on the servers' CPU, what the
  # servers send on the client's (CPU masks: 1 is the first, 2 the second).
  echo 1 >"/sys/class/net/$host_if/queues/rx-0/rps_cpus"
  ip netns exec "$NETNS" sh -c "echo 2 >/sys/class/net/$client_if/queues/rx-0/rps_cpus"
  HOST=$prefix.1
  BENCH_HOST=$HOST
  export BENCH_HOST
  CLIENT_RUN=(ip netns exec "$NETNS" taskset -c 1)
  SERVER_RUN=(taskset -c 0)
}

# veth_release: undoes veth_split, whatever step it got to: the namespace
# goes (taking the pair with it), and the host's end of a pair that never
# reached it.
veth_release() {
  [[ -z ${NETNS:-} ]] || ip netns del "$NETNS" 2>/dev/null || say "could not remove the namespace $NETNS"
  [[ -z ${VETH_HOST_IF:-} ]] || ip link del "$VETH_HOST_IF" 2>/dev/null || true
  NETNS="" VETH_HOST_IF=""
}

# headline <measurement> <ferry> <other> <ratio> <target> <result>: one
# row of docs/performance.md's headline table, appended to $HEADLINE_FILE
# when benches/headline.sh runs the script (nothing otherwise), so the
# table comes from one run of every script that measures a row of it.
headline() {
  [[ -n ${HEADLINE_FILE:-} ]] || return 0
  printf '| %s | %s | %s | %s | %s | %s |\n' "$@" >>"$HEADLINE_FILE"
}
