#!/usr/bin/env bash
# benches/propfind_props.sh: what dead properties cost a PROPFIND Depth 1
# of a 20,000-file folder (docs/webdav.md (d)). One root per case, each
# served in turn by a fresh server:
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   none   no file has a dead property (the common case: one failed
#          lookup of the folder's mirror per listing, nothing per file)
#   some   100 files have one (one lookup and read per such file)
#   all    every file has one
#
# and, with --base PATH, that binary (e.g. main before dead properties) on
# the `none` root. Per case: allprop's median time of 15, the server's CPU
# time per request (utime+stime from /proc/<pid>/stat), and its
# file-system calls for one request (strace -c, where strace is there).
#
#   benches/propfind_props.sh [--base PATH]     (FERRY_BIN or a release build)
set -euo pipefail
NAME=propfind_props
STARTED=$SECONDS
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
BASE=
[[ ${1:-} == --base ]] && BASE=$2
find_ferry
PID=
PID_VARS=(PID)
clean_up_at_exit
WORK=$(mktemp -d)

serve() { # binary root: a server on ports the kernel picks, PORT its HTTP one
  launch PID "$WORK/server.log" "$1" serve --root "$2" --http 127.0.0.1:0 --listen 127.0.0.1:0 $(no_fsync "$1")
  PORT=$(port_of HTTP "$SERVED")
}

propfind() { curl -s -o /dev/null -w '%{time_total}\n' -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$PORT/big/"; }

say "20,000 files, three roots"
mkdir -p "$WORK/none/big"
python3 -c "
for i in range(20000): open('$WORK/none/big/file-%05d.txt' % i, 'w').write('x')"
cp -a "$WORK/none" "$WORK/some" && cp -a "$WORK/none" "$WORK/all"
for spec in "some 100" "all 20000"; do
  set -- $spec
  serve "$FERRY" "$WORK/$1"
  python3 - "$2" $PORT <<'PY'
import http.client, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
body = '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>'
for i in range(n):
    c.request("PROPPATCH", "/big/file-%05d.txt" % i, body=body)
    r = c.getresponse(); r.read()
    assert r.status == 207, r.status
PY
  stop_pid "$PID"; PID=
done

measure() { # label binary root
  serve "$2" "$3"
  propfind >/dev/null; propfind >/dev/null
  local cpu0 cpu1 median calls=""
  cpu0=$(awk '{print $14+$15}' "/proc/$PID/stat")
  median=$(for _ in $(seq 15); do propfind; done | sort -n | sed -n 8p)
  cpu1=$(awk '{print $14+$15}' "/proc/$PID/stat")
  if command -v strace >/dev/null; then
    strace -f -c -p "$PID" -e trace=openat,openat2,newfstatat,getdents64,read -o "$WORK/strace" 2>/dev/null &
    local tracer=$!
    sleep 0.5; propfind >/dev/null; sleep 0.3
    kill -INT $tracer; wait $tracer 2>/dev/null || true
    calls=$(awk '$NF ~ /^(openat|openat2|newfstatat|getdents64|read)$/ {printf "%s=%s ", $NF, $4}' "$WORK/strace")
  fi
  stop_pid "$PID"; PID=
  printf '%-6s %8ss %6s ms CPU  %s\n' "$1" "$median" \
    "$(((cpu1 - cpu0) * 1000 / $(getconf CLK_TCK) / 15))" "$calls"
}

echo "case   median    server CPU/request  calls for one request"
[[ -n $BASE ]] && measure base "$BASE" "$WORK/none"
for case in none some all; do measure $case "$FERRY" "$WORK/$case"; done
