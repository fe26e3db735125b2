#!/usr/bin/env bash
# benches/search.sh: the web page's search (GET /<dir>/?q=) over a tree of
# 100,000 files (issue 32, "Measure it"), on 127.0.0.1, files on a tmpfs.
#
#   benches/search.sh [--files N] [--reps N] [--probe-secs S]
#
# Builds ferry in release mode (honouring CARGO_TARGET_DIR; FERRY_BIN skips
# the build), makes a tree of N files (default 100,000: 100 folders of 10
# folders of 100 empty files; one name in 1,000 holds "needle", so the
# answer stays under the 1,000-result cap and the whole tree is walked),
# serves it with `ferry serve --workers 1` (one event loop: the worst case
# for a stall) and measures:
#   - the search's time: REPS searches (default 5) after one unmeasured
#     warm-up, one at a time, with curl (median, min-max);
#   - the server's peak RSS (VmHWM) before the first search and after all;
#   - the stall another client sees: a probe (benches/stall_probe.py probe:
#     4 FERRY/1 connections, each GET and STAT of a small file in a loop)
#     for S seconds (default 10) alone, then for S seconds while one client
#     searches back to back: its p50 / p99 / max latency each time.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=search.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

FILES=100000 REPS=5 PROBE_SECS=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) FILES=${2:?--files needs a number}; shift ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    --probe-secs) PROBE_SECS=${2:?--probe-secs needs seconds}; shift ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
command -v curl >/dev/null || die "needs curl"

SEARCHER_PID=""
# shellcheck disable=SC2317 # run by the EXIT trap
release() { stop_pid "$SEARCHER_PID"; }
clean_up_at_exit 1800
find_ferry
make_work search "" 1G
say "work directory $WORK, $FILES files"
python3 - "$WORK/root/tree" "$FILES" <<'EOF'
import os, sys
root, files = sys.argv[1], int(sys.argv[2])
for i in range(files):
    folder = os.path.join(root, f"d{i // 1000:03d}", f"s{i // 100 % 10}")
    if i % 100 == 0:
        os.makedirs(folder, exist_ok=True)
    name = f"needle-{i}.txt" if i % 1000 == 7 else f"file-{i}.txt"
    open(os.path.join(folder, name), "wb").close()
EOF
printf 'small' >"$WORK/root/small.bin"

PID_VARS+=(FERRY_PID)
launch FERRY_PID "$WORK/ferry.log" \
  "$FERRY" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 \
  --root "$WORK/root" --workers 1
HTTP=$(port_of HTTP "$SERVED")
PORT=$(port_of FERRY "$SERVED")
URL="http://127.0.0.1:$HTTP/tree/?q=NEEDLE"

# One search, checked: what is timed finds every needle and is not cut short.
curl -sf "$URL" -o "$WORK/found.json"
python3 -c '
import json, sys
found = json.load(open(sys.argv[1]))
want = int(sys.argv[2]) // 1000
assert len(found["results"]) == want and not found["truncated"], (len(found["results"]), found["truncated"])
print(len(found["results"]), "results, not truncated")' "$WORK/found.json" "$FILES" >&2
before=$(status_kb VmHWM "$FERRY_PID")

TIMES=()
for ((r = 0; r < REPS; r++)); do
  TIMES+=("$(curl -sf "$URL" -o /dev/null -w '%{time_total}\n')")
  say "search $((r + 1)): ${TIMES[r]} s"
done
after=$(status_kb VmHWM "$FERRY_PID")

# probe <label>: the probe's JSON for PROBE_SECS seconds.
probe() {
  python3 "$SCRIPT_DIR/stall_probe.py" probe --port "$PORT" --conns 4 \
    --name small.bin --max-secs "$PROBE_SECS" >"$WORK/probe-$1.json"
}
probe idle
( while :; do curl -sf "$URL" -o /dev/null || exit 1; done ) &
SEARCHER_PID=$!
probe searching
stop_pid "$SEARCHER_PID"
SEARCHER_PID=""
peak=$(status_kb VmHWM "$FERRY_PID")

line() { # label: "p50 / p99 / max ms (n requests)"
  local f="$WORK/probe-$1.json"
  printf '%s / %s / %s ms (%s requests)' "$(calc "$(jget "$f" p50_ms)" 2)" \
    "$(calc "$(jget "$f" p99_ms)" 2)" "$(calc "$(jget "$f" max_ms)" 2)" "$(jget "$f" n)"
}
echo "search of $FILES files ($((FILES / 1000)) results): $(spread 3 "${TIMES[@]}") s"
echo "server VmHWM: ${before} kB before the timed searches, ${after} kB after, ${peak} kB after the probe"
echo "another client's GET/STAT, p50 / p99 / max: idle $(line idle); during searches $(line searching)"
