#!/usr/bin/env python3
"""benches/lock_flood.py: what one token's flood of WebDAV LOCKs costs
another token's 4 KiB PUTs (issue 49).

Starts `ferry serve` with access control (token `flood` and token `user`,
each may write anywhere) on a root in /dev/shm and, for each binary given
(--base first, then --bin, so one run compares them):

  quiet    `user` PUTs 4 KiB to /work/<n> on one keep-alive connection
  flood    the same while `flood`, on two connections, sends LOCKs of new
           names in /locked/ as fast as it is answered (Depth infinity,
           a 60 KB <owner>; the same LOCK with a 1,000-byte owner where the
           60 KB one is refused), one in four followed by its UNLOCK
           (churn: every check after a change reads the table again)

Prints per case the PUTs' median and 90th percentile (client side, wall
time), how many LOCKs were granted or refused, the server's RSS before and
after the flood (VmRSS), the size of a Depth 0 PROPFIND of /locked/
(its lockdiscovery), and the verdict against the issue's target: the
flood's median within 3x + 5 ms of the quiet one. The flood stops by
itself after --seconds; the servers and roots are removed on exit.

  benches/lock_flood.py --bin target/release/ferry [--base OLD] [--seconds 20]
"""

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402  (benches/procs.py: one home for serving and RSS)

BODY = os.urandom(4096)
LOCKINFO = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
            '<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
            '<D:owner>{}</D:owner></D:lockinfo>')


def tokens(binary, folder):
    """A tokens file with `flood` and `user`: their tokens."""
    path = os.path.join(folder, "tokens")
    made = {}
    for name in ("flood", "user"):
        out = subprocess.run(
            [binary, "token", "add", "--tokens", path, "--grant", "write:/",
             "--grant", "read:/", "--grant", "delete:/", name],
            capture_output=True, text=True, check=True).stdout
        # The token is the first line printed (FERRY_TOKEN=...), shown
        # only then.
        made[name] = out.splitlines()[0].strip().removeprefix("FERRY_TOKEN=")
    return path, made


def start(binary, root, token_file):
    """`ferry serve` with FERRY/1 and HTTP on port 0 (procs.serve reads
    the ports back): the process and its HTTP port."""
    help_text = subprocess.run([binary, "serve", "--help"],
                               capture_output=True, text=True).stdout
    fsync = ["--no-fsync"] if "--no-fsync" in help_text else []
    command = [binary, "serve", "--root", root, "--listen", "127.0.0.1:0",
               "--http", "127.0.0.1:0", "--tokens", token_file, *fsync]
    server, ports = procs.serve(command, os.path.join(os.path.dirname(root), "server.log"))
    return server, ports["HTTP"]


def puts(port, token, count, stop=None):
    """`count` PUTs (or until `stop` is set): their times in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for n in range(count):
        if stop is not None and stop.is_set():
            break
        started = time.perf_counter()
        conn.request("PUT", f"/work/{n % 50}", body=BODY, headers=headers)
        answer = conn.getresponse()
        answer.read()
        times.append((time.perf_counter() - started) * 1000)
        if answer.status not in (201, 204):
            raise SystemExit(f"PUT: {answer.status}")
    conn.close()
    return times


def flood(port, token, stop, counts, lane):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Depth": "infinity",
               "Timeout": "Second-3600"}
    big, small = LOCKINFO.format("x" * 60000), LOCKINFO.format("y" * 1000)
    n = 0
    while not stop.is_set():
        n += 1
        target = f"/locked/f{lane}-{n}"
        granted = None
        for body in (big, small):
            conn.request("LOCK", target, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status in (200, 201):
                granted = answer.getheader("Lock-Token")
                break
        counts["granted" if granted else "refused"] += 1
        if granted and n % 4 == 0:
            conn.request("UNLOCK", target, headers={
                "Authorization": f"Bearer {token}", "Lock-Token": granted})
            conn.getresponse().read()
    conn.close()


def propfind_bytes(port, token):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("PROPFIND", "/locked/", headers={
        "Authorization": f"Bearer {token}", "Depth": "1"})
    answer = conn.getresponse()
    return len(answer.read())


def summary(times):
    times = sorted(times)
    return statistics.median(times), times[int(len(times) * 0.9)]


def run(label, binary, seconds):
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    folder = tempfile.mkdtemp(prefix="lock-flood-", dir=shm)
    root = os.path.join(folder, "root")
    os.makedirs(os.path.join(root, "locked"))
    token_file, made = tokens(binary, folder)
    server, port = start(binary, root, token_file)
    try:
        puts(port, made["user"], 300)  # warm-up
        quiet = summary(puts(port, made["user"], 2000))
        before = procs.rss_kib(server.pid)
        stop, counts = threading.Event(), {"granted": 0, "refused": 0}
        flooders = [threading.Thread(target=flood, args=(port, made["flood"], stop, counts, n))
                    for n in range(2)]
        for f in flooders:
            f.start()
        time.sleep(1)
        timer = threading.Timer(seconds, stop.set)
        timer.start()
        loaded = summary(puts(port, made["user"], 10 ** 9, stop))
        for f in flooders:
            f.join()
        after = procs.rss_kib(server.pid)
        listed = propfind_bytes(port, made["user"])
        target = 3 * quiet[0] + 5
        verdict = "within" if loaded[0] <= target else "OVER"
        print(f"{label}: quiet PUT median {quiet[0]:.2f} ms (p90 {quiet[1]:.2f}); "
              f"under the flood {loaded[0]:.2f} ms (p90 {loaded[1]:.2f}) -> {verdict} 3x+5 ms ({target:.1f})")
        print(f"{label}: LOCKs granted {counts['granted']}, refused {counts['refused']}; "
              f"RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB; PROPFIND Depth 1 of /locked/ {listed / 1e6:.2f} MB")
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--base")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if args.base:
        run("base", args.base, args.seconds)
    run("new", args.bin, args.seconds)


if __name__ == "__main__":
    main()
