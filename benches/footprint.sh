#!/usr/bin/env bash
# Footprint of ferry's builds side by side, as docs/operating.md's
# "Footprint" states it. For each binary given:
#   binary      its size as built (the release and embedded profiles strip)
#   start       from exec to the first greeting read, one worker (median),
#               on an empty root and on a root of 100,000 files
#   idle RSS    resident memory of an idle server with one worker (median),
#               and where it lies (/proc/<pid>/smaps: the binary's own
#               pages, the shared libraries, the main stack, anonymous
#               memory: heap, malloc's arenas, threads' stacks); then
#               the same server's with --no-fsync
#   threads     the idle server's threads
#   1000 conns  resident memory with 1000 idle FERRY/1 clients
#   CPU per GET the server's CPU time (utime+stime) per 4 KiB GET over a
#               4-second `ferry bench` (50 connections, one worker),
#               median of 3 rounds in alternation with the first binary
#               given, which the others are compared with
#
# Mode: ferry runs with its default settings (durable acknowledgements):
# the ceilings (docs/operating.md, "Footprint") are the default's. An idle
# server with --no-fsync is measured beside it, where the binary takes
# that flag. What durable writes cost: benches/durable.sh.
#
#   benches/footprint.sh [[NAME=]path/to/ferry ...]
#       default: default=target/release/ferry, and embedded=target/embedded/ferry,
#       embedded-musl=target/x86_64-unknown-linux-musl/embedded/ferry
#       and smallest=target/smallest/ferry where they exist
#   CLIENT=path/to/ferry   the `ferry bench` to load with (default: the
#       first binary given that has the client; a server-only build has not)
#
# The builds docs/operating.md compares (docs/operating.md, "Builds"):
#   cargo build --release                                       default
#   cargo build --profile embedded --no-default-features --features embedded
#   cargo build --profile embedded --no-default-features --features embedded \
#     --target x86_64-unknown-linux-musl                        embedded-musl
#   cargo build --profile embedded --no-default-features        smallest
# (the last two both land in target/embedded/: copy one aside first).
#
# The 100,000 files (100 folders of 1,000, 100 bytes each) are made once
# per run on a disk-backed folder (FOOTPRINT_TMPDIR, default /work if it
# exists, else /var/tmp: a tmpfs would hide what walking a disk costs) and
# removed at the end; FILES=0 skips that part; RUNS=7 starts each. Runs on
# loopback; stops by itself.
set -euo pipefail
if [ $# -eq 0 ]; then
  set -- default=target/release/ferry
  [ -x target/embedded/ferry ] && set -- "$@" embedded=target/embedded/ferry
  musl=target/x86_64-unknown-linux-musl/embedded/ferry
  [ -x $musl ] && set -- "$@" embedded-musl=$musl
  [ -x target/smallest/ferry ] && set -- "$@" smallest=target/smallest/ferry
fi
for given in "$@"; do
  [ -x "${given#*=}" ] || { echo "no binary at ${given#*=} (see the builds above)" >&2; exit 2; }
done
runs=${RUNS:-7}
files=${FILES:-100000}
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

PYTHONPATH="$here" python3 - "$work" "$runs" "$big" "$files" "${CLIENT:-}" "$@" <<'PY'
import json, os, socket, statistics, subprocess, sys, time
work, runs, big, files, client = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
builds = []
for given in sys.argv[6:]:
    name, _, path = given.rpartition("=")
    builds.append((name or os.path.basename(os.path.dirname(path)) or path, path))

from procs import free_port, rss_kib

def help_of(binary, *command):
    return subprocess.run([binary, *command, "--help"], capture_output=True, text=True)

# Whether the binary takes --no-fsync (one from before durable
# acknowledgements knows no such flag and never flushes).
takes_no_fsync = {path: "--no-fsync" in help_of(path, "serve").stdout for _, path in builds}
if not client:
    client = next((path for _, path in builds if help_of(path, "bench").returncode == 0), "")

def serve(root, port, binary, *flags):
    return subprocess.Popen([binary, "serve", "--workers", "1", "--root", root,
                             "--listen", f"127.0.0.1:{port}", "--log-level", "warn",
                             "--max-connections-per-client", "0", *flags],
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

def start(root, binary, *flags):
    """One start on `root`: (ms to the first greeting, the process, its port)."""
    port = free_port()
    began = time.monotonic()
    proc = serve(root, port, binary, *flags)
    greeted(port, proc)
    return (time.monotonic() - began) * 1000, proc, port

def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))

def where(pid, binary):
    """KiB resident by kind of mapping (/proc/<pid>/smaps): the binary's
    file, shared libraries, the main thread's stack, and anonymous memory
    (the heap, malloc's arenas and the other threads' stacks, which the
    kernel no longer names)."""
    kinds = {"binary": 0, "libraries": 0, "main stack": 0, "anon": 0}
    real = os.path.realpath(binary)
    kind = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                path = head[5] if len(head) > 5 else ""
                kind = ("binary" if path == real else
                        "libraries" if path.startswith("/") else
                        "main stack" if path == "[stack]" else
                        "anon")
            elif head[0] == "Rss:" and kind:
                kinds[kind] += int(head[1])
    return kinds

def fresh_root():
    root = os.path.join(work, f"root-{len(os.listdir(work))}")
    os.mkdir(root)  # an empty root that exists: a first start's creation aside
    return root

def footprint(binary):
    """Starts, idle memory and 1000 idle connections of one build."""
    starts, idles, counts, loaded, kinds, idles_no_fsync = [], [], [], [], [], []
    for run in range(runs):
        if takes_no_fsync[binary]:
            _, proc, _ = start(fresh_root(), binary, "--no-fsync")
            time.sleep(0.3)
            idles_no_fsync.append(rss_kib(proc.pid))
            proc.terminate(); proc.wait()
        took, proc, port = start(fresh_root(), binary)
        starts.append(took)
        time.sleep(0.3)  # the start-up sweep has ended
        idles.append(rss_kib(proc.pid))
        counts.append(threads(proc.pid))
        kinds.append(where(proc.pid, binary))
        if run < 3:
            clients = []
            for _ in range(1000):
                c = socket.create_connection(("127.0.0.1", port)); c.recv(64); clients.append(c)
            time.sleep(0.2)
            loaded.append(rss_kib(proc.pid))
            for c in clients: c.close()
        proc.terminate(); proc.wait()
    middle = sorted(kinds, key=lambda k: sum(k.values()))[len(kinds) // 2]
    return {"starts": starts, "idle": statistics.median(idles), "threads": statistics.median(counts),
            "loaded": statistics.median(loaded), "where": middle,
            "idle_no_fsync": statistics.median(idles_no_fsync) if idles_no_fsync else None}

results = {path: footprint(path) for _, path in builds}

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
    for _, binary in builds:
        big_starts = []
        for run in range(runs):
            took, proc, _ = start(root, binary)
            big_starts.append(took)
            proc.terminate(); proc.wait()
        results[binary]["big_starts"] = big_starts

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime

def cpu_per_get(port, proc):
    """µs of the server's CPU per 4 KiB GET over one 4-second bench."""
    before = cpu_ticks(proc.pid)
    out = subprocess.run([client, "bench", "--server", f"127.0.0.1:{port}", "--op", "get",
                          "--size", "4K", "--connections", "50", "--duration", "4",
                          "--json"], capture_output=True, text=True, timeout=120, check=True)
    ops = json.loads(out.stdout)["ops"]
    return (cpu_ticks(proc.pid) - before) * 1e6 / os.sysconf("SC_CLK_TCK") / ops

if client and len(builds) > 1:
    servers = {}
    for _, binary in builds:
        root = os.path.join(work, f"cpu-{len(servers)}")
        os.mkdir(root)
        port = free_port()
        proc = serve(root, port, binary)
        greeted(port, proc)
        servers[binary] = (port, proc)
        results[binary]["cpu"] = []
    for round in range(3):
        order = list(servers) if round % 2 == 0 else list(reversed(servers))
        for binary in order:
            results[binary]["cpu"].append(cpu_per_get(*servers[binary]))
    for _, proc in servers.values():
        proc.terminate(); proc.wait()
elif not client:
    print("CPU per GET not measured: no binary given has `ferry bench` (set CLIENT)")

reference = statistics.median(results[builds[0][1]]["cpu"]) if "cpu" in results[builds[0][1]] else None
for name, binary in builds:
    r = results[binary]
    size = os.path.getsize(binary)
    print(f"== {name} ({binary})")
    print(f"binary          {size / 1048576:.2f} MiB ({size:,} bytes)")
    print(f"start           {statistics.median(r['starts']):.1f} ms to the first greeting, empty root (median of {runs}, max {max(r['starts']):.1f})")
    if "big_starts" in r:
        print(f"start, {files} files {statistics.median(r['big_starts']):.1f} ms (median of {runs}, max {max(r['big_starts']):.1f})")
    print(f"idle RSS        {r['idle'] / 1024:.2f} MiB (median of {runs}); " +
          ", ".join(f"{kind} {kib / 1024:.2f}" for kind, kib in r["where"].items()) + " MiB")
    if r["idle_no_fsync"] is not None:
        print(f"  --no-fsync    {r['idle_no_fsync'] / 1024:.2f} MiB idle (median of {runs})")
    print(f"idle threads    {r['threads']:.0f}")
    per = (r["loaded"] - r["idle"]) * 1024 / 1000
    print(f"1000 idle conns {r['loaded'] / 1024:.2f} MiB ({per:.0f} bytes per connection)")
    if "cpu" in r:
        this = statistics.median(r["cpu"])
        print(f"CPU per 4K GET  {this:.2f} µs (x{this / reference:.2f} of {builds[0][0]}; median of 3)")
PY
