#!/usr/bin/env bash
# benches/page.sh: the web interface's weight and its time to interactive
# for a folder of many files (issue 32, "Measure it"), on 127.0.0.1.
#
#   benches/page.sh [--files N] [--reps N]
#
# Builds ferry in release mode (honouring CARGO_TARGET_DIR; FERRY_BIN skips
# the build), makes a folder of N empty files (default 5,000) with names
# of 12 to 20 characters, serves it over HTTP and measures:
#
# - the weight of the folder's page: the HTML (rows, or for a folder of
#   more than 200 entries the data the script builds them from), and of it
#   the embedded CSS and JS, raw and as `gzip -9` would send them (ferry
#   itself does not compress; a proxy in front may). Target (issue 32):
#   the whole page (HTML+CSS+JS) ≤ 40 KiB gzipped; the names alone are
#   reported too, as they weigh written whole (the data page front-codes
#   them, src/http/page_data.rs);
# - time to interactive in headless Chromium (driven by chromedriver):
#   the page opened REPS times (default 5, after one unmeasured load), and
#   read from Navigation Timing: `responseEnd` (the listing arrived),
#   `domInteractive` (parsed, and the page's script, which runs at the end
#   of the body, has decorated and sorted every row: the page answers
#   clicks from here), `loadEventEnd`, and when the table is laid out
#   (its height read once the load returns to chromedriver, which makes
#   the browser lay it out then if it has not yet: an upper bound, as it
#   includes chromedriver's round trip; the page holds the table back
#   while it loads, page.rs HOLD). Medians, with min–max.
#
# Needs curl, gzip, python3, chromium and chromedriver.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=page.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

FILES=5000 REPS=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) FILES=${2:?--files needs a number}; shift ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
for tool in curl gzip python3 chromium chromedriver; do
  command -v "$tool" >/dev/null || die "needs $tool"
done

clean_up_at_exit 900
find_ferry
make_work page "" 64m
say "work directory $WORK, $FILES files"
mkdir -p "$WORK/root/many"
(cd "$WORK/root/many" && for ((i = 0; i < FILES; i++)); do
  : >"report-$((i * 7919 % 100000))-v$i.txt"
done)

PID_VARS+=(FERRY_PID)
launch FERRY_PID "$WORK/ferry.log" \
  "$FERRY" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --root "$WORK/root" --workers 1
HTTP=$(port_of HTTP "$SERVED")
URL="http://127.0.0.1:$HTTP/many/"

# ---- weight
curl -sf -H 'Accept: text/html' "$URL" -o "$WORK/page.html"
python3 - "$WORK/page.html" "$WORK" "$FILES" <<'EOF'
import json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
for tag in ("style", "script"):
    found = re.findall(r"<%s>(.*?)</%s>" % (tag, tag), page, re.S)
    open("%s/%s.txt" % (sys.argv[2], tag), "w", encoding="utf-8").write("".join(found))
# The names alone, one a line: what no listing of them can weigh less
# than. From the rows (a small folder) or from the data the script builds
# them from (a big one, src/http/page_data.rs: front-coded).
names = re.findall(r'<tr class="file"><td class="n"><a href="[^"]*">([^<]*)</a>', page)
data = re.search(r'<script type="application/json" id="entries">(.*?)</script>', page, re.S)
if data:
    entries, name = json.loads(data.group(1)), ""
    for keep, rest in zip(entries["p"], entries["n"]):
        # UTF-16 units, as the script counts: the bench's names are ASCII.
        name = name[:keep] + rest
        names.append(name)
if len(names) != int(sys.argv[3]):
    sys.exit("the page lists %d files, not %s" % (len(names), sys.argv[3]))
open("%s/names.txt" % sys.argv[2], "w", encoding="utf-8").write("\n".join(names))
EOF
kib() { calc "$1 / 1024" 1; }
gz() { gzip -9 -c "$1" | wc -c; }
css=$(wc -c <"$WORK/style.txt") js=$(wc -c <"$WORK/script.txt")
cat "$WORK/style.txt" "$WORK/script.txt" >"$WORK/own.txt"
own_gz=$(gz "$WORK/own.txt")
page=$(wc -c <"$WORK/page.html") page_gz=$(gz "$WORK/page.html")
echo "page weight, $FILES files:"
names_gz=$(gz "$WORK/names.txt")
echo "  CSS $(kib "$css") KiB, JS $(kib "$js") KiB: $(kib $((css + js))) KiB raw, $(kib "$own_gz") KiB gzip -9"
echo "  whole page (HTML, rows, CSS, JS): $(kib "$page") KiB raw, $(kib "$page_gz") KiB gzip -9 ($(verdict "$page_gz <= 40 * 1024") target <= 40 KiB; $(calc "$page / $FILES" 0) bytes a row raw)"
echo "  the $FILES names alone, one a line: $(kib "$names_gz") KiB gzip -9 (what the names weigh written whole; the page front-codes them)"

# ---- time to interactive
DRIVER_PORT=$(free_port)
PROFILE="$WORK/profile"
spawn DRIVER_PID "$DRIVER_PORT" "$WORK/chromedriver.log" chromedriver "--port=$DRIVER_PORT"
PID_VARS+=(DRIVER_PID)
python3 - "$DRIVER_PORT" "$URL" "$REPS" "$PROFILE" >"$WORK/times.txt" <<'EOF'
import json, sys, urllib.request
port, url, reps, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request, timeout=120))["value"]
args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--user-data-dir=" + profile, "--window-size=1280,900"]
session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
    "browserName": "chrome", "goog:chromeOptions": {"args": args}}}})["sessionId"]
base = "/session/" + session
READ = """const n = performance.getEntriesByType('navigation')[0];
  return document.body.dataset.state === 'idle' && n.loadEventEnd > 0 ?
    [n.responseEnd, n.domInteractive, n.loadEventEnd,
     document.getElementById('listing').offsetHeight > 0 ? performance.now() : -1,
     document.querySelectorAll('tr.file').length] : null;"""
try:
    for rep in range(reps + 1):
        call("POST", base + "/url", {"url": url})  # returns once loaded
        times = None
        while times is None:
            times = call("POST", base + "/execute/sync", {"script": READ, "args": []})
        if rep > 0:
            print(" ".join("%.1f" % t for t in times[:4]), times[4])
finally:
    call("DELETE", base)
EOF
read -r -a RESPONSE <<<"$(awk '{ print $1 }' "$WORK/times.txt" | tr '\n' ' ')"
read -r -a INTERACTIVE <<<"$(awk '{ print $2 }' "$WORK/times.txt" | tr '\n' ' ')"
read -r -a LOADED <<<"$(awk '{ print $3 }' "$WORK/times.txt" | tr '\n' ' ')"
read -r -a LAID_OUT <<<"$(awk '{ print $4 }' "$WORK/times.txt" | tr '\n' ' ')"
awk -v n="$FILES" '$5 != n { exit 1 }' "$WORK/times.txt" || die "a load showed other than $FILES rows"
echo "time to interactive, $FILES files, headless Chromium, median [min–max] of $REPS loads:"
echo "  listing received (responseEnd) $(spread 0 "${RESPONSE[@]}") ms"
echo "  interactive (domInteractive, the script done) $(spread 0 "${INTERACTIVE[@]}") ms"
echo "  load event done (loadEventEnd) $(spread 0 "${LOADED[@]}") ms"
echo "  table laid out (read after the load; an upper bound) $(spread 0 "${LAID_OUT[@]}") ms"
