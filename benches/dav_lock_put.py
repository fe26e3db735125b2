#!/usr/bin/env python3
"""benches/dav_lock_put.py: what a WebDAV lock check costs a 4 KiB PUT.

Starts `ferry serve` (and, with --base, a build from before locks) on a
root in /dev/shm, and times N PUTs of 4 KiB on one keep-alive HTTP
connection, after a warm-up, in these cases:

  no lock       PUT /free.bin, no lock anywhere in the root
  other locked  PUT /free.bin while /locked.bin holds an exclusive lock
  with token    PUT /locked.bin with `If: (<its token>)`: the conditions
                are judged on the I/O pool
  base          PUT /free.bin on the --base binary (no lock code at all)

Prints the median and 90th percentile of each, in microseconds (client
side: Python's http.client adds the same to each), and the server's CPU
time per PUT (all its threads, from /proc/<pid>/task/*/schedstat: less
moved by a busy machine than wall time). Bounded in time; the servers
and the root are removed on exit.

  benches/dav_lock_put.py --bin target/release/ferry [--base PATH] [--requests N]
"""

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

BODY = os.urandom(4096)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_fsync(binary):
    """`--no-fsync` where the binary takes it: PUTs measured without
    flushes, as before durable acknowledgements became the default (a
    binary from before never flushes unless told --fsync)."""
    help_text = subprocess.run([binary, "serve", "--help"],
                               capture_output=True, text=True).stdout
    return ["--no-fsync"] if "--no-fsync" in help_text else []


def start(binary, root):
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--root", root, "--listen", "127.0.0.1:0",
         "--http", f"127.0.0.1:{port}", "--log-level", "warn", *no_fsync(binary)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit(f"{binary} did not start")


def cpu_ns(pid):
    """Nanoseconds on a CPU so far, all threads of process `pid`."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


def timed_puts(port, target, headers, count, warmup, pid):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    cpu = 0
    for i in range(warmup + count):
        if i == warmup:
            cpu = cpu_ns(pid)
        started = time.perf_counter()
        conn.request("PUT", target, body=BODY, headers=headers)
        answer = conn.getresponse()
        answer.read()
        elapsed = time.perf_counter() - started
        if answer.status not in (201, 204):
            raise SystemExit(f"PUT {target}: {answer.status}")
        if i >= warmup:
            times.append(elapsed * 1e6)
    cpu = (cpu_ns(pid) - cpu) / count / 1000
    conn.close()
    return times, cpu


def lock(port, target):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
            '<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
            '</D:lockinfo>')
    conn.request("LOCK", target, body=body, headers={"Timeout": "Second-3600"})
    answer = conn.getresponse()
    answer.read()
    if answer.status not in (200, 201):
        raise SystemExit(f"LOCK {target}: {answer.status}")
    return answer.getheader("Lock-Token").strip("<>")


def report(name, measured):
    times, cpu = measured
    times = sorted(times)
    p90 = times[int(len(times) * 0.9)]
    print(f"{name:14} median {statistics.median(times):7.1f} us   p90 {p90:7.1f} us"
          f"   server CPU {cpu:6.1f} us/PUT")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--base")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    warmup = 200
    plain = {"Content-Type": "application/octet-stream"}
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    runs = [("base", args.base)] if args.base else []
    runs.append(("new", args.bin))
    for label, binary in runs:
        root = tempfile.mkdtemp(prefix="dav-lock-put-", dir=shm)
        server, port = start(binary, root)
        try:
            if label == "base":
                report("base", timed_puts(port, "/free.bin", plain, args.requests, warmup, server.pid))
                continue
            report("no lock", timed_puts(port, "/free.bin", plain, args.requests, warmup, server.pid))
            token = lock(port, "/locked.bin")
            # Past the second in which a fresh change time is not trusted.
            time.sleep(1.5)
            report("other locked", timed_puts(port, "/free.bin", plain, args.requests, warmup, server.pid))
            submit = dict(plain, If=f"(<{token}>)")
            report("with token", timed_puts(port, "/locked.bin", submit, args.requests, warmup, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=10)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
