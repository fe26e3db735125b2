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
  (
    sleep "$limit" &
    sleeper=$!
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    wait "$sleeper"
    echo "$NAME: time limit of ${limit}s reached, stopping" >&2
    kill -TERM $$
  ) &
  WATCHDOG_PID=$!
}

stop_watchdog() {
  [[ -n ${WATCHDOG_PID:-} ]] || return 0
  kill "$WATCHDOG_PID" 2>/dev/null || true
  wait "$WATCHDOG_PID" 2>/dev/null || true
}
