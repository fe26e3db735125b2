#!/usr/bin/env bash
# Footprint of a ferry binary, as README's "Footprint" states it:
#   size        the binary as built (the release profile strips it)
#   start       from exec to the first greeting read, one worker (median)
#   idle RSS    resident memory of an idle server with one worker (median)
#   idle RSS, 1000 connections  the same, with 1000 idle FERRY/1 clients
#
# Mode: ferry runs with --no-fsync (where the binary takes it): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/footprint.sh [path/to/ferry]     (default: target/release/ferry)
#
# Runs on loopback with a temporary root; stops by itself.
set -euo pipefail
bin=${1:-target/release/ferry}
runs=${RUNS:-7}
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$bin" "$work" "$runs" <<'PY'
import os, socket, statistics, subprocess, sys, time
bin, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

# Without flushes, as measured before durable acknowledgements became the
# default (a binary from before knows no --no-fsync and never flushes).
help_text = subprocess.run([bin, "serve", "--help"], capture_output=True, text=True).stdout
no_fsync = ["--no-fsync"] if "--no-fsync" in help_text else []

starts, idles, loaded = [], [], []
for run in range(runs):
    root = os.path.join(work, f"root{run}")
    port = free_port()
    began = time.monotonic()
    proc = subprocess.Popen([bin, "serve", "--workers", "1", "--root", root,
                             "--listen", f"127.0.0.1:{port}", "--log-level", "warn",
                             "--max-connections-per-client", "0", *no_fsync],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", port)); c.recv(64); c.close(); break
        except ConnectionRefusedError:
            time.sleep(0.0002)
    starts.append((time.monotonic() - began) * 1000)
    time.sleep(0.3)  # the start-up sweep has ended
    idles.append(rss_kib(proc.pid))
    if run < 3:
        clients = []
        for _ in range(1000):
            c = socket.create_connection(("127.0.0.1", port)); c.recv(64); clients.append(c)
        time.sleep(0.2)
        loaded.append(rss_kib(proc.pid))
        for c in clients: c.close()
    proc.terminate(); proc.wait()

size = os.path.getsize(bin)
print(f"binary          {size / 1048576:.2f} MiB ({bin})")
print(f"start           {statistics.median(starts):.1f} ms to the first greeting (median of {runs})")
print(f"idle RSS        {statistics.median(idles) / 1024:.2f} MiB (median of {runs})")
per = (statistics.median(loaded) - statistics.median(idles)) * 1024 / 1000
print(f"1000 idle conns {statistics.median(loaded) / 1024:.2f} MiB ({per:.0f} bytes per connection)")
PY
