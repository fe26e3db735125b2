#!/usr/bin/env bash
# Bytes of server memory per idle connection, as issue 34's row states it:
# a fresh `ferry serve --workers 1` (FERRY/1 and HTTP listeners, a root on
# tmpfs), warmed up with a few GETs, then COUNT clients that each make one
# 4 KiB GET and stay idle; VmRSS after minus VmRSS before, over COUNT.
# Medians of RUNS fresh servers per protocol. Loopback only; stops by
# itself. (benches/compare.sh row 4 does the same beside nginx.)
#
# The clients come in two halves, VmRSS read after each. What the second
# half adds over its COUNT/2 clients is what each connection costs (the
# slope); the rest of the figure at COUNT is what the server paid once
# (a buffer touched further, a table grown), charged to the connections
# by the figure at COUNT alone: both are printed.
#
#   benches/idle.sh [path/to/ferry]     (default: target/release/ferry)
#   COUNT=10000 RUNS=5 FERRY_ARGS='--no-access-log' (more serve arguments)
set -euo pipefail
bin=${1:-target/release/ferry}
count=${COUNT:-10000}
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 2; }
(( $(ulimit -Hn) >= count + 200 )) || { echo "open-files limit below $((count + 200))" >&2; exit 2; }
work=$(mktemp -d /dev/shm/ferry-idle.XXXXXX 2>/dev/null || mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
head -c 4096 /dev/urandom >"$work/small.bin"
mkdir "$work/root" && cp "$work/small.bin" "$work/root/"

PYTHONPATH="$here" python3 - "$bin" "$work" "$count" "$runs" "$here/compare_client.py" <<'PY'
import os, socket, statistics, subprocess, sys, time
bin, work, count, runs, client = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
extra = os.environ.get("FERRY_ARGS", "").split()

from procs import rss_kib, serve

def one(proto):
    proc, ports = serve([bin, "serve", "--workers", "1", "--root", os.path.join(work, "root"),
                         "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                         "--log-level", "warn", "--max-connections-per-client", "0",
                         "--max-connections", str(count + 100), "--no-fsync", *extra],
                        os.path.join(work, "server.log"))
    port = ports["FERRY"] if proto == "ferry" else ports["HTTP"]
    subprocess.run([sys.executable, client, "xfer", "--proto", proto, "--op", "get", "--port", str(port),
                    "--name", "small.bin", "--count", "10"], check=True, stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    before = rss_kib(proc.pid)
    first = hold_idle(proto, port, proc.pid, 0, count // 2)
    second = hold_idle(proto, port, proc.pid, 1, count - count // 2)
    for _, hold, _ in (first, second):
        hold.terminate(); hold.wait()
    proc.terminate(); proc.wait()
    held = first[0] + second[0]
    if held != count:
        sys.exit(f"only {held} of {count} connections held")
    each = (second[2] - first[2]) * 1024 / second[0]
    return (second[2] - before) * 1024 / held, each

def hold_idle(proto, port, server, part, count):
    """COUNT more idle clients, held by a client process of their own.
    Returns how many it holds, the process, and the server's VmRSS (KiB)
    once they are all in."""
    ready = os.path.join(work, f"ready{part}")
    if os.path.exists(ready): os.remove(ready)
    hold = subprocess.Popen([sys.executable, client, "hold", "--proto", proto, "--port", str(port),
                             "--name", "small.bin", "--count", str(count), "--ready-file", ready],
                            stdout=subprocess.DEVNULL)
    while not os.path.exists(ready):
        if hold.poll() is not None:
            sys.exit("the idle-connection client exited")
        time.sleep(0.05)
    time.sleep(1)
    return int(open(ready).read().split()[1]), hold, rss_kib(server)

for proto in ("ferry", "http"):
    got = [one(proto) for _ in range(runs)]
    at, each = (statistics.median(g[i] for g in got) for i in (0, 1))
    print(f"{proto:6} {at:6.0f} B per idle connection at {count} (median of {runs}: "
          + " ".join(f"{g[0]:.0f}" for g in got) + f"); each {each:.0f} B (the second half's"
          + " slope: " + " ".join(f"{g[1]:.0f}" for g in got) + f"), once {(at - each) * count / 1000:.0f} KB")
PY
