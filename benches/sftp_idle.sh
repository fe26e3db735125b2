#!/usr/bin/env bash
# Bytes of server memory per idle, logged-in SFTP session (issue 80's row
# "1,000 idle authenticated SFTP sessions at <= 64 KiB each"): a fresh
# `ferry serve --workers 1 --sftp` (an open server, a root on tmpfs),
# warmed up with a few sessions, then COUNT paramiko sessions
# (benches/sftp_hold.py, HOLDERS processes in parallel) that each log in,
# list the root once, get a 4 KiB file once and stay idle. VmRSS minus
# VmRSS before, over COUNT, twice: "fresh", as the last session is ready,
# and "rested", REST seconds later (a session quiet for a second gives its
# packet buffers' memory back: src/ssh/rest.rs). Medians of RUNS fresh
# servers; several binaries are run interleaved, run by run (A/B).
#
# SSHD=1 adds OpenSSH's sshd (/usr/sbin/sshd, ForceCommand internal-sftp,
# a key login as root, a config of its own on a free port, stopped at the
# end) with the same sessions: the sum over the listener and its session
# processes, of VmRSS and of Pss (shared pages split among the processes
# mapping them: the fair figure for many processes), after minus before.
# Loopback only; stops what it starts.
#
#   benches/sftp_idle.sh [FERRY_BINARY...]   (default: target/release/ferry)
#   COUNT=1000 RUNS=3 HOLDERS=4 REST=3 SSHD=1
set -euo pipefail
[ $# -gt 0 ] || set -- target/release/ferry
for bin in "$@"; do
  [ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 2; }
done
count=${COUNT:-1000}
runs=${RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
python3 -c 'import paramiko' 2>/dev/null || { echo "needs paramiko (apt-get install python3-paramiko)" >&2; exit 2; }
(( $(ulimit -Hn) >= count + 200 )) || { echo "open-files limit below $((count + 200))" >&2; exit 2; }
ulimit -Sn "$(ulimit -Hn)"
work=$(mktemp -d /dev/shm/ferry-sftp-idle.XXXXXX 2>/dev/null || mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/root"
head -c 4096 /dev/urandom >"$work/root/small.bin"

PYTHONPATH="$here" python3 - "$work" "$count" "$runs" "$here/sftp_hold.py" "$@" <<'PY'
import atexit, os, signal, socket, statistics, subprocess, sys, time
from procs import free_port, rss_kib, serve

work, count, runs, holder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
bins = sys.argv[5:]
holders = int(os.environ.get("HOLDERS", "4"))
rest = float(os.environ.get("REST", "3"))
root = os.path.join(work, "root")
# Servers and holders go however the run ends (the shell's trap reaches
# only its own children).
started = []
atexit.register(lambda: [p.kill() for p in started if p.poll() is None])

def hold(port, n, login, parts):
    """Starts `parts` holders opening `n` sessions between them; waits
    until all are ready. Returns the processes."""
    procs, ready = [], []
    for i in range(parts):
        share = n // parts + (1 if i < n % parts else 0)
        path = os.path.join(work, f"ready.{i}")
        if os.path.exists(path):
            os.remove(path)
        ready.append(path)
        procs.append(subprocess.Popen([sys.executable, holder, "--port", str(port), "--count",
                                       str(share), "--ready-file", path, *login],
                                      stdout=subprocess.DEVNULL))
    started.extend(procs)
    for proc, path in zip(procs, ready):
        while not os.path.exists(path):
            if proc.poll() is not None:
                sys.exit("a holder exited before its sessions were ready")
            time.sleep(0.05)
    return procs

def stop(procs):
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()

def measure(port, login, memory):
    """Memory before, fresh and rested, per session, in bytes."""
    stop(hold(port, 10, login, 1))  # warm-up: host key, allocator, first listing
    time.sleep(rest)
    before = memory()
    procs = hold(port, count, login, holders)
    time.sleep(0.2)
    fresh = memory()
    time.sleep(rest)
    rested = memory()
    stop(procs)
    return [(m - b) * 1024 / count for m, b in zip(fresh + rested, before + before)]

def ferry(bin):
    proc, ports = serve([bin, "serve", "--workers", "1", "--root", root,
                         "--listen", "127.0.0.1:0", "--sftp", "127.0.0.1:0",
                         "--log-level", "warn", "--max-connections-per-client", "0",
                         "--max-connections", str(count + 100), "--no-fsync"],
                        os.path.join(work, "server.log"))
    started.append(proc)
    try:
        fresh, rested = measure(ports["SFTP"], [], lambda: [rss_kib(proc.pid)])
    finally:
        proc.terminate(); proc.wait()
    return fresh, rested

def tree(pid):
    """`pid` and its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found

def rss_pss(pids):
    rss = pss = 0
    for p in pids:
        try:
            rss += rss_kib(p) or 0
            with open(f"/proc/{p}/smaps_rollup") as f:
                pss += sum(int(l.split()[1]) for l in f if l.startswith("Pss:"))
        except OSError:
            pass
    return [rss, pss]

def sshd():
    keys = os.path.join(work, "keys")
    if not os.path.exists(keys):
        os.mkdir(keys)
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(keys, name)], check=True)
        os.rename(os.path.join(keys, "client.pub"), os.path.join(keys, "authorized_keys"))
    # sshd's privilege separation directory (its package's service makes it).
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = free_port()
    config = os.path.join(work, "sshd_config")
    with open(config, "w") as f:
        f.write(f"ListenAddress 127.0.0.1\nHostKey {keys}/host\nPidFile {work}/sshd.pid\n"
                f"AuthorizedKeysFile {keys}/authorized_keys\nStrictModes no\nUsePAM no\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
                f"ForceCommand internal-sftp\nMaxStartups {count + 100}\nLogLevel ERROR\n")
    log = open(os.path.join(work, "sshd.log"), "wb")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config, "-p", str(port)],
                            stdin=subprocess.DEVNULL, stderr=log)
    started.append(proc)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.01)
        login = ["--user", "root", "--key", os.path.join(keys, "client"), "--dir", root]
        fresh_rss, fresh_pss, rested_rss, rested_pss = measure(
            port, login, lambda: rss_pss(tree(proc.pid)))
    finally:
        proc.terminate(); proc.wait()
    return (fresh_rss, rested_rss), (fresh_pss, rested_pss)

results = {}
for run in range(runs):
    for bin in bins:
        results.setdefault(bin, []).append(ferry(bin))
    if os.environ.get("SSHD") == "1":
        rss, pss = sshd()
        results.setdefault("sshd (RSS sum)", []).append(rss)
        results.setdefault("sshd (PSS sum)", []).append(pss)

print(f"{count} idle SFTP sessions, bytes per session, medians of {runs} fresh servers")
for name, got in results.items():
    fresh = statistics.median(g[0] for g in got)
    rested = statistics.median(g[1] for g in got)
    print(f"{name}: fresh {fresh:7.0f}  rested {rested:7.0f}   (rested: "
          + " ".join(f"{g[1]:.0f}" for g in got) + ")")
PY
