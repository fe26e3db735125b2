# shellcheck shell=bash
# benches/lib.sh: shell helpers the bench scripts share (sourced, not run).
# Expects STARTED (the script's $SECONDS at start) and NAME (for messages).

# Progress to standard error: "[  12s] what".
say() { printf '[%4ds] %s\n' "$((SECONDS - STARTED))" "$*" >&2; }

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

wait_port() { # port: until something accepts on it (10 s at most)
  local i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$1"
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
  local i ratios=()
  for ((i = 0; i < ${#pa[@]}; i++)); do
    ratios+=("$(calc "${pa[i]} / ${pb[i]}" 4)")
  done
  calc "$(median "${ratios[@]}")" 2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server <name> <binary> <stderr-file> [flags...]: `serve` on a free
# loopback port with root $WORK/<name> and --workers 1, its stderr to the
# file, in the background (its pid added to PIDS, for the caller's cleanup
# trap); sets PORT_<name> and PID_<name> and waits until it accepts.
start_server() {
  local name=$1 binary=$2 stderr=$3 port
  shift 3
  port=$(free_port)
  mkdir -p "$WORK/$name"
  "$binary" serve --listen "127.0.0.1:$port" --root "$WORK/$name" --workers 1 \
    "$@" 2>"$stderr" &
  PIDS+=("$!")
  printf -v "PID_$name" '%s' "$!"
  printf -v "PORT_$name" '%s' "$port"
  wait_port "$port"
}

# The options both *_cost.sh scripts take, with their defaults; the caller
# loops over "$@" and gives each option here first:
#   cost_option "$1" "${2-}" && { shift 2; continue; }
REPS=5 SECS=4 CONNS=50 BASE=
cost_option() { # flag value: 0 if taken (the value with it), 1 if not ours
  case $1 in
    --reps) REPS=${2:?} ;;
    --seconds) SECS=${2:?} ;;
    --connections) CONNS=${2:?} ;;
    --base) BASE=${2:?} ;;
    *) return 1 ;;
  esac
}
