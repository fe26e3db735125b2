#!/usr/bin/env bash
# A/B of the server's CPU for one SFTP put and one get of SIZE bytes
# (default 256 MiB) between ferry binaries (before and after a change):
# one `ferry serve --workers 1 --sftp` per binary, an open server with its
# root on tmpfs, kept for the whole run; each repetition puts the file with
# OpenSSH's `sftp -b` to each server in turn, then gets it back, the order
# swapped every repetition. The server's CPU is the sum of its threads'
# time on a CPU (/proc/PID/task/*/schedstat, in ns) before and after each
# transfer. Prints per binary the medians of REPS, and per repetition
# B/A ratios (their median: the figure to quote), and how often each
# server's SSH sessions rested (ferry_ssh_rests_total; src/ssh/rest.rs).
#
#   benches/sftp_cpu.sh BINARY_A BINARY_B    REPS=7 SIZE=268435456
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BINARY_A BINARY_B" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /dev/shm/ferry-sftp-cpu.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
head -c "${SIZE:-268435456}" /dev/urandom >"$work/file.bin"

PYTHONPATH="$here" python3 - "$work" "${REPS:-7}" "$@" <<'PY'
import atexit, glob, os, re, statistics, subprocess, sys, time
from procs import serve

work, reps, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total

servers = []
# Servers go however the run ends (the shell's trap reaches only its own
# children).
atexit.register(lambda: [s[0].kill() for s in servers if s[0].poll() is None])
for i, bin in enumerate(bins):
    root = os.path.join(work, f"root{i}")
    os.mkdir(root)
    proc, ports = serve([bin, "serve", "--workers", "1", "--root", root, "--listen", "127.0.0.1:0",
                         "--sftp", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--log-level", "warn",
                         "--no-fsync"],
                        os.path.join(work, f"server{i}.log"))
    with open(os.path.join(work, f"server{i}.log")) as f:
        metrics = re.search(r"metrics on http://127\.0\.0\.1:(\d+)", f.read()).group(1)
    servers.append((proc, ports["SFTP"], metrics))

def transfer(server, command):
    proc, port, _ = server
    before, began = cpu_ns(proc.pid), time.monotonic()
    subprocess.run(["sftp", "-q", "-b", "-", "-P", str(port), "-F", "/dev/null",
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
                    "bench@127.0.0.1"], input=command.encode(), check=True,
                   stdout=subprocess.DEVNULL)
    return (cpu_ns(proc.pid) - before) / 1e9, time.monotonic() - began

got = {(b, op): [] for b in range(len(bins)) for op in ("put", "get")}
src, out = os.path.join(work, "file.bin"), os.path.join(work, "out.bin")
for rep in range(reps):
    order = list(range(len(bins))) if rep % 2 == 0 else list(reversed(range(len(bins))))
    for op, command in (("put", f"put {src} f.bin\n"), ("get", f"get f.bin {out}\n")):
        for b in order:
            got[(b, op)].append(transfer(servers[b], command))
def rests(port):
    """The server's ferry_ssh_rests_total (none before the counter came)."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return next((l.split()[1] for l in text.splitlines() if l.startswith("ferry_ssh_rests_total ")), "none")

for b, (proc, _, metrics) in enumerate(servers):
    print(f"{bins[b]}: SSH sessions rested {rests(metrics)} times in {2 * reps} transfers")
    proc.terminate(); proc.wait()

for op in ("put", "get"):
    for b, bin in enumerate(bins):
        cpu = [c for c, _ in got[(b, op)]]
        wall = [w for _, w in got[(b, op)]]
        print(f"{op} {bin}: server CPU {statistics.median(cpu):.3f} s, wall {statistics.median(wall):.3f} s"
              f" (CPU: {' '.join(f'{c:.3f}' for c in cpu)})")
    ratios = [b[0] / a[0] for a, b in zip(got[(0, op)], got[(1, op)])]
    print(f"{op} B/A server CPU: median {statistics.median(ratios):.3f} ({' '.join(f'{r:.3f}' for r in ratios)})")
PY
