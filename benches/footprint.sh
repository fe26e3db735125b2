#!/usr/bin/env bash
# Footprint of a ferry binary, as docs/operating.md's "Footprint" states it:
#   size        the binary as built (the release profile strips it)
#   start       from exec to the first greeting read, one worker (median),
#               on an empty root and on a root of 100,000 files
#   idle RSS    resident memory of an idle server with one worker (median)
#   threads     the idle server's threads
#   idle RSS, 1000 connections  the same, with 1000 idle FERRY/1 clients
#   CPU per GET the server's CPU time (utime+stime) per 4 KiB GET over a
#               4-second `ferry bench` (50 connections, one worker),
#               median of 3 rounds, against AGAINST's in alternation
#               (AGAINST=path/to/other/ferry; without it, not measured)
#
# Mode: ferry runs with --no-fsync (where the binary takes it): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/footprint.sh [path/to/ferry]     (default: target/release/ferry)
#   AGAINST=target/release/ferry benches/footprint.sh target/embedded/ferry
#
# The builds docs/operating.md compares: the default (`cargo build
# --release`), the smallest (`--no-default-features`) and the embedded
# one (`cargo build --profile embedded --no-default-features --features
# embedded`, in target/embedded/).
#
# The 100,000 files (100 folders of 1,000, 100 bytes each) are made once
# per run on a disk-backed folder (FOOTPRINT_TMPDIR, default /work if it
# exists, else /var/tmp: a tmpfs would hide what walking a disk costs) and
# removed at the end; FILES=0 skips that part. Runs on loopback; stops by
# itself.
set -euo pipefail
bin=${1:-target/release/ferry}
runs=${RUNS:-7}
files=${FILES:-100000}
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d)
if [[ -n ${FOOTPRINT_TMPDIR:-} ]]; then
  disk=$FOOTPRINT_TMPDIR
elif [[ -d /work ]]; then
  disk=/work
else
  disk=/var/tmp
fi
big=$(mktemp -d "$disk/ferry-footprint.XXXXXX")
here=$(cd "$(dirname "$0")" && pwd)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work" "$big"' EXIT

PYTHONPATH="$here" python3 - "$bin" "$work" "$runs" "$big" "$files" "${AGAINST:-}" <<'PY'
import json, os, socket, statistics, subprocess, sys, time
bin, work, runs, big, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
against = sys.argv[6]

from procs import free_port, rss_kib

# Without flushes, as measured before durable acknowledgements became the
# default (a binary from before knows no --no-fsync and never flushes).
help_text = subprocess.run([bin, "serve", "--help"], capture_output=True, text=True).stdout
no_fsync = ["--no-fsync"] if "--no-fsync" in help_text else []

def serve(root, port, binary=bin):
    return subprocess.Popen([binary, "serve", "--workers", "1", "--root", root,
                             "--listen", f"127.0.0.1:{port}", "--log-level", "warn",
                             "--max-connections-per-client", "0", *no_fsync],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def greeted(port, proc):
    """Waits until the server at `port` greets (it must not exit first)."""
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", port)); c.recv(64); c.close(); return
        except ConnectionRefusedError:
            if proc.poll() is not None:
                sys.exit(f"the server exited ({proc.returncode})")
            time.sleep(0.0002)

def start(root):
    """One start on `root`: (ms to the first greeting, the process)."""
    port = free_port()
    began = time.monotonic()
    proc = serve(root, port)
    greeted(port, proc)
    return (time.monotonic() - began) * 1000, proc, port

def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))

starts, idles, counts, loaded = [], [], [], []
for run in range(runs):
    root = os.path.join(work, f"root{run}")
    os.mkdir(root)  # an empty root that exists: a first start's creation aside
    took, proc, port = start(root)
    starts.append(took)
    time.sleep(0.3)  # the start-up sweep has ended
    idles.append(rss_kib(proc.pid))
    counts.append(threads(proc.pid))
    if run < 3:
        clients = []
        for _ in range(1000):
            c = socket.create_connection(("127.0.0.1", port)); c.recv(64); clients.append(c)
        time.sleep(0.2)
        loaded.append(rss_kib(proc.pid))
        for c in clients: c.close()
    proc.terminate(); proc.wait()

big_starts = []
if files:
    root = os.path.join(big, "root")
    per = 1000
    for d in range((files + per - 1) // per):
        folder = os.path.join(root, f"d{d:03}")
        os.makedirs(folder)
        for f in range(min(per, files - d * per)):
            with open(os.path.join(folder, f"f{f:04}"), "wb") as out:
                out.write(b"x" * 100)
    os.sync()
    # The first start on it is also the first ever: its sweep walks the
    # tree once, for a pre-node ferry's temp files (behind the accept).
    for run in range(runs):
        took, proc, _ = start(root)
        big_starts.append(took)
        proc.terminate(); proc.wait()

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime

def cpu_per_get(binary, root, port, proc):
    """µs of the server's CPU per 4 KiB GET over one 4-second bench."""
    before = cpu_ticks(proc.pid)
    out = subprocess.run([bin, "bench", "--server", f"127.0.0.1:{port}", "--op", "get",
                          "--size", "4K", "--connections", "50", "--duration", "4",
                          "--json"], capture_output=True, text=True, timeout=120, check=True)
    ops = json.loads(out.stdout)["ops"]
    return (cpu_ticks(proc.pid) - before) * 1e6 / os.sysconf("SC_CLK_TCK") / ops

cpu = {}
if against:
    servers = {}
    for name, binary in (("this", bin), ("against", against)):
        root = os.path.join(work, f"cpu-{name}")
        os.mkdir(root)
        port = free_port()
        proc = serve(root, port, binary)
        greeted(port, proc)
        servers[name] = (binary, root, port, proc)
        cpu[name] = []
    for round in range(3):
        order = ("this", "against") if round % 2 == 0 else ("against", "this")
        for name in order:
            cpu[name].append(cpu_per_get(*servers[name]))
    for _, _, _, proc in servers.values():
        proc.terminate(); proc.wait()

size = os.path.getsize(bin)
print(f"binary          {size / 1048576:.2f} MiB ({bin})")
print(f"start           {statistics.median(starts):.1f} ms to the first greeting, empty root (median of {runs}, max {max(starts):.1f})")
if big_starts:
    print(f"start, {files} files {statistics.median(big_starts):.1f} ms to the first greeting (median of {runs}, max {max(big_starts):.1f})")
print(f"idle RSS        {statistics.median(idles) / 1024:.2f} MiB (median of {runs})")
print(f"idle threads    {statistics.median(counts):.0f}")
per = (statistics.median(loaded) - statistics.median(idles)) * 1024 / 1000
print(f"1000 idle conns {statistics.median(loaded) / 1024:.2f} MiB ({per:.0f} bytes per connection)")
if cpu:
    this, other = statistics.median(cpu["this"]), statistics.median(cpu["against"])
    print(f"CPU per 4K GET  {this:.2f} µs against {other:.2f} µs ({against}): x{this / other:.2f} (median of 3)")
PY
