#!/usr/bin/env python3
"""benches/stall_probe.py: the client side of benches/stall.sh (standard
library only). Each subcommand prints one JSON object on stdout.

  probe        N connections, each doing GET/STAT of a small file in a loop
               (one request in flight per connection, a short pause between
               requests), recording every request's latency, until a stop
               file appears, SIGTERM/SIGINT, or --max-secs. Requests still
               in flight when it is told to stop get --drain-secs to finish
               (a request the server is sitting on is the point of the
               exercise, so it is waited for, not dropped); one still
               unanswered then counts with the time it has waited.
  get          GET a file and read (discard) the whole body
  put          PUT a file's bytes (sendfile from a local file)
  stage        UPLOAD + APPEND a local file's bytes (no COMMIT): the id
  commit       COMMIT an upload session
  stat         STAT a file: its CRC-32C
  list-flood   N connections send LIST and never read the answer; then one
               more sends LIST and reads it all (timed); samples the server's
               VmRSS meanwhile
  chunked      one HTTP PUT with Transfer-Encoding: chunked, many 1-byte chunks
  sessions     create abandoned upload sessions directly on disk (the
               server's own layout: .ferry-uploads/<id>.data and <id>.meta)
  uploads      time UPLOAD requests, one after another on one connection
"""

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

LOCAL = "127.0.0.1"


def out(obj):
    print(json.dumps(obj))
    sys.stdout.flush()


def pct(sorted_values, p):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def connect(port, timeout=30):
    s = socket.create_connection((LOCAL, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    greeting = f.readline()
    if not greeting.startswith(b"OK FERRY/1"):
        raise RuntimeError(f"bad greeting {greeting!r}")
    return s, f


def reply(f):
    line = f.readline()
    if not line:
        raise RuntimeError("connection closed before the answer")
    return line.decode().rstrip("\r\n")


# ---------------------------------------------------------------- probe


def schedstat(path="/proc/self/schedstat"):
    """(ns on a CPU, ns waiting for one) of this process's main thread."""
    try:
        with open(path) as f:
            on_cpu, waiting, _ = f.read().split()
        return int(on_cpu), int(waiting)
    except (OSError, ValueError):
        return None


class ProbeConn:
    __slots__ = ("sock", "buf", "need_line", "body_left", "sent_at", "op", "next_at", "greeted",
                 "count")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.need_line = True
        self.body_left = 0
        self.sent_at = None
        self.op = None
        self.next_at = 0.0
        self.greeted = False
        self.count = 0


# x86-64 system call numbers, for naming where the loop was blocked
EPOLL = {232, 281, 441}  # epoll_wait, epoll_pwait, epoll_pwait2
SYSCALLS = {0: "read", 1: "write", 3: "close", 4: "stat", 5: "fstat", 6: "lstat", 8: "lseek",
            17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev", 40: "sendfile",
            44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 74: "fsync", 75: "fdatasync",
            76: "truncate", 77: "ftruncate", 78: "getdents", 82: "rename", 83: "mkdir",
            84: "rmdir", 87: "unlink", 188: "setxattr", 190: "fsetxattr", 191: "getxattr",
            193: "fgetxattr", 202: "futex", 217: "getdents64", 257: "openat", 262: "newfstatat",
            263: "unlinkat", 264: "renameat", 275: "splice", 285: "fallocate", 295: "preadv",
            296: "pwritev", 316: "renameat2", 327: "preadv2", 328: "pwritev2", 332: "statx",
            437: "openat2"}


class LoopWatch(threading.Thread):
    """Samples the server's event-loop thread (its main thread) every 2 ms
    from /proc/PID/task/PID/schedstat, and keeps the longest stretch in
    which it never slept (on a CPU or waiting for one at least 80 % of
    the time: a loop that has work and is doing it, or is starved of a
    CPU by other threads), and how much of that stretch it spent waiting
    for a CPU. From /proc/PID/task/PID/syscall
    it also keeps the longest stretch spent in one system call other than
    epoll_wait (blocked: the loop waiting on the disk or a lock), and
    which call that was."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/task/{pid}/schedstat"
        self.counting = threading.Event()
        self.done = threading.Event()
        self.busy_ms = 0.0  # longest stretch awake
        self.starved_ms = 0.0  # time waiting for a CPU within it
        self.busy_at = None
        self.syscall_path = f"/proc/{pid}/task/{pid}/syscall"
        self.blocked_ms = 0.0
        self.blocked_in = None

    def syscall(self):
        try:
            with open(self.syscall_path) as f:
                first = f.read().split(" ", 1)[0].strip()
        except OSError:
            return None
        return None if first in ("running", "-1") else int(first)

    def run(self):
        prev = schedstat(self.path)
        prev_t = time.perf_counter()
        busy = starved = 0.0  # current stretch awake, and waiting within it
        call, call_since = None, None
        while not self.done.is_set() and prev:
            time.sleep(0.002)
            cur = schedstat(self.path)
            t = time.perf_counter()
            if not cur:
                break
            dt = t - prev_t
            ran = (cur[0] - prev[0]) / 1e9
            waited = (cur[1] - prev[1]) / 1e9
            if ran + waited >= 0.8 * dt:
                busy += dt
                starved += waited
            else:
                busy = starved = 0.0
            nr = self.syscall()
            if nr != call:
                call, call_since = nr, t
            in_call = (t - call_since) * 1000 if call is not None and call not in EPOLL else 0.0
            if self.counting.is_set():
                if in_call > self.blocked_ms:
                    self.blocked_ms, self.blocked_in = in_call, SYSCALLS.get(call, str(call))
                if busy * 1000 > self.busy_ms:
                    self.busy_ms, self.busy_at = busy * 1000, t
                    self.starved_ms = starved * 1000
            prev, prev_t = cur, t


def cmd_probe(a):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    gap = a.gap_ms / 1000.0
    started = time.perf_counter()
    deadline = started + a.max_secs
    sel = selectors.DefaultSelector()
    conns = []
    # Connect (retrying while the server is not listening yet, for start-up).
    first_answer = None
    connect_deadline = time.monotonic() + a.connect_secs
    while len(conns) < a.conns:
        try:
            s = socket.create_connection((LOCAL, a.port), timeout=5)
        except OSError:
            if time.monotonic() > connect_deadline or stop.is_set():
                out({"error": "could not connect", "connected": len(conns)})
                return 1
            time.sleep(0.005)
            continue
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = ProbeConn(s)
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    names = [a.name.encode()]
    reqs = {"GET": b"GET %s\n", "STAT": b"STAT %s\n"}
    lat = []  # (latency s, start offset s, op)
    errors = 0
    err_samples = []
    in_flight = 0
    ready_written = False
    stopping_at = None
    # Only requests sent once the start file exists count (the warm-up
    # before the disturbance begins does not); without one, all do.
    start_mark = None if a.start_file else started
    sched_start = None if a.start_file else schedstat()
    watch = None
    if a.server_pid:
        watch = LoopWatch(a.server_pid)
        watch.start()
        if start_mark is not None:
            watch.counting.set()

    def send(c, now):
        nonlocal in_flight
        c.count += 1
        c.op = "GET" if c.count % 2 else "STAT"
        c.sent_at = now
        c.need_line = True
        c.body_left = 0
        c.sock.send(reqs[c.op] % names[0])  # a few bytes: always fits
        in_flight += 1

    while True:
        now = time.perf_counter()
        if start_mark is None and os.path.exists(a.start_file):
            start_mark = now
            sched_start = schedstat()
            if watch:
                watch.counting.set()
        if stopping_at is None and (stop.is_set() or now >= deadline or
                                    (a.stop_file and os.path.exists(a.stop_file))):
            stopping_at = now
        if stopping_at is not None and (in_flight == 0 or now - stopping_at >= a.drain_secs):
            break
        if stopping_at is None:
            for c in conns:
                if c.greeted and c.sent_at is None and now >= c.next_at:
                    send(c, now)
        waits = [c.next_at for c in conns if c.greeted and c.sent_at is None]
        timeout = 0.05
        if waits and stopping_at is None:
            timeout = max(0.0, min(timeout, min(waits) - now))
        for key, _ in sel.select(timeout):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                data = b""
                err_samples.append(str(e))
            if not data:
                out({"error": "server closed a probe connection", "samples": err_samples[:3]})
                return 1
            c.buf += data
            while True:
                if not c.greeted:
                    if b"\n" not in c.buf:
                        break
                    line, c.buf = c.buf.split(b"\n", 1)
                    if not line.startswith(b"OK FERRY/1"):
                        out({"error": f"bad greeting {line!r}"})
                        return 1
                    c.greeted = True
                    continue
                if c.sent_at is None:
                    break
                if c.need_line:
                    if b"\n" not in c.buf:
                        break
                    line, c.buf = c.buf.split(b"\n", 1)
                    c.need_line = False
                    if line.startswith(b"OK") and c.op == "GET":
                        c.body_left = int(line.split()[1])
                    elif not line.startswith(b"OK"):
                        errors += 1
                        if len(err_samples) < 5:
                            err_samples.append(line.decode(errors="replace"))
                take = min(c.body_left, len(c.buf))
                c.body_left -= take
                c.buf = c.buf[take:]
                if c.body_left:
                    break
                t = time.perf_counter()
                if first_answer is None:
                    first_answer = time.time()
                lat.append((t - c.sent_at, c.sent_at - started, c.op))
                in_flight -= 1
                c.sent_at = None
                c.next_at = t + gap
        if not ready_written and all(c.greeted for c in conns) and len(lat) >= a.conns:
            ready_written = True
            if a.ready_file:
                with open(a.ready_file, "w") as f:
                    f.write("ready\n")
    # Requests the server never answered within the drain: count the wait.
    now = time.perf_counter()
    unanswered = 0
    for c in conns:
        if c.sent_at is not None:
            unanswered += 1
            lat.append((now - c.sent_at, c.sent_at - started, c.op + " (unanswered)"))
        c.sock.close()
    sched_end = schedstat()
    if watch:
        watch.done.set()
        watch.join()
    if start_mark is None:  # never told to start: nothing counts
        start_mark = now
    lat = [x for x in lat if x[1] >= start_mark - started]
    ms = sorted(x[0] * 1000 for x in lat)
    worst = sorted(lat, reverse=True)[:5]
    slow = [x for x in lat if x[0] * 1000 > a.slow_ms]
    res = {
        "n": len(ms),
        "errors": errors,
        "unanswered": unanswered,
        "p50_ms": pct(ms, 50),
        "p99_ms": pct(ms, 99),
        "max_ms": ms[-1] if ms else None,
        "over_slow_ms": len(slow),
        "slow_ms": a.slow_ms,
        "seconds": (stopping_at or now) - start_mark,
        # The probe's own scheduling while it counted: time waiting for a
        # CPU is noise from other work on the machine, not the server.
        "probe_runqueue_wait_ms": None if not (sched_start and sched_end) else
        round((sched_end[1] - sched_start[1]) / 1e6, 1),
        "worst": [{"ms": round(x[0] * 1000, 2), "at_s": round(x[1], 3), "op": x[2]} for x in worst],
        # Start times (s after the probe began) of requests over slow_ms,
        # in order: shows whether the stalls are one long wait or many.
        "slow_starts": [round(x[1], 3) for x in sorted(slow, key=lambda x: x[1])][:50],
        # the server's loop thread: its longest stretch awake (never asleep
        # in epoll_wait), the part of it spent waiting for a CPU, and its
        # longest stretch in one other system call (sampled every 2 ms)
        "loop_busy_ms": round(watch.busy_ms, 1) if watch else None,
        "loop_busy_at_s": round(watch.busy_at - started, 3) if watch and watch.busy_at else None,
        "loop_starved_ms": round(watch.starved_ms, 1) if watch else None,
        "loop_blocked_ms": round(watch.blocked_ms, 1) if watch else None,
        "loop_blocked_in": watch.blocked_in if watch else None,
        "probe_started_epoch": time.time() - (time.perf_counter() - started),
        "counting_from_s": round(start_mark - started, 3),
        "error_samples": err_samples,
    }
    if first_answer is not None:
        res["first_answer_epoch"] = first_answer
    out(res)
    return 0


# ---------------------------------------------------------------- one-shot requests


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t


def send_file(sock, path, size):
    with open(path, "rb") as src:
        sent = sock.sendfile(src, 0, size)  # sendfile(2), honouring the timeout
    if sent != size:
        raise RuntimeError(f"sent {sent} of {size} bytes of {path}")


def cmd_get(a):
    s, f = connect(a.port, timeout=a.timeout)

    def run():
        s.sendall(f"GET {a.name}\n".encode())
        line = reply(f)
        if not line.startswith("OK"):
            raise RuntimeError(line)
        n = int(line.split()[1])
        buf = bytearray(1 << 20)
        left = n
        while left > 0:
            got = f.readinto(memoryview(buf)[: min(left, len(buf))])
            if not got:
                raise RuntimeError("connection closed in the body")
            left -= got
        return line

    line, took = timed(run)
    out({"took_s": took, "answer": line})


def cmd_put(a):
    size = os.path.getsize(a.src)
    s, f = connect(a.port, timeout=a.timeout)

    def run():
        s.sendall(f"PUT {a.name} {size}\n".encode())
        send_file(s, a.src, size)
        return reply(f)

    line, took = timed(run)
    out({"took_s": took, "answer": line, "ok": line.startswith("OK")})


def cmd_stat(a):
    s, f = connect(a.port, timeout=a.timeout)
    (line, took) = timed(lambda: (s.sendall(f"STAT {a.name}\n".encode()), reply(f))[1])
    if not line.startswith("OK"):
        raise RuntimeError(line)
    out({"took_s": took, "crc": line.split()[3], "size": int(line.split()[1])})


def cmd_stage(a):
    size = os.path.getsize(a.src)
    s, f = connect(a.port, timeout=a.timeout)
    s.sendall(f"UPLOAD {a.name} {size} {a.crc}\n".encode())
    line = reply(f)
    if not line.startswith("OK"):
        raise RuntimeError(line)
    upload_id, received = line.split()[1], int(line.split()[2])
    if received != 0:
        raise RuntimeError(f"session already holds {received} bytes")
    t = time.perf_counter()
    s.sendall(f"APPEND {upload_id} 0 {size}\n".encode())
    send_file(s, a.src, size)
    line = reply(f)
    if line != f"OK {size}":
        raise RuntimeError(line)
    out({"id": upload_id, "size": size, "append_s": time.perf_counter() - t})


def cmd_commit(a):
    s, f = connect(a.port, timeout=a.timeout)
    line, took = timed(lambda: (s.sendall(f"COMMIT {a.id}\n".encode()), reply(f))[1])
    out({"took_s": took, "answer": line, "ok": line.startswith("OK")})


# ---------------------------------------------------------------- LIST flood


def vmrss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cmd_list_flood(a):
    before = vmrss_kb(a.pid)
    peak = [before or 0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            r = vmrss_kb(a.pid)
            if r:
                peak[0] = max(peak[0], r)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    floods = []
    for _ in range(a.conns):
        s = socket.create_connection((LOCAL, a.port), timeout=a.timeout)
        # a small receive buffer: the server's answer backs up in its memory
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"LIST\n")
        floods.append(s)
    s, f = connect(a.port, timeout=a.timeout)
    s.sendall(b"LIST\n")
    line = reply(f)
    n = int(line.split()[1]) if line.startswith("OK") else 0
    body = f.read(n)
    took = time.perf_counter() - t
    lines = body.count(b"\n")
    # Give the flooding connections' listings time to be built and queued
    # (they are answered in turn, and none is read).
    time.sleep(a.hold_secs)
    done.set()
    sampler.join()
    after = vmrss_kb(a.pid)
    for c in floods:
        c.close()
    s.close()
    out({
        "took_s": took,
        "answer": line,
        "files_listed": lines,
        "rss_before_kb": before,
        "rss_peak_kb": peak[0],
        "rss_after_kb": after,
        "rss_growth_mib": round((peak[0] - (before or 0)) / 1024, 1),
    })


# ---------------------------------------------------------------- HTTP chunked


def cmd_chunked(a):
    s = socket.create_connection((LOCAL, a.port), timeout=a.timeout)
    head = (f"PUT /{a.name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    block_chunks = 65536
    block = b"1\r\nx\r\n" * block_chunks

    def run():
        s.sendall(head)
        left = a.chunks
        while left >= block_chunks:
            s.sendall(block)
            left -= block_chunks
        s.sendall(b"1\r\nx\r\n" * left + b"0\r\n\r\n")
        resp = b""
        while b"\r\n" not in resp:
            d = s.recv(4096)
            if not d:
                break
            resp += d
        return resp.split(b"\r\n", 1)[0].decode(errors="replace")

    status, took = timed(run)
    out({"took_s": took, "answer": status, "ok": " 20" in status,
         "wire_mib": round((a.chunks * 6 + len(head)) / 1048576, 1)})


# ---------------------------------------------------------------- sessions


def cmd_sessions(a):
    d = os.path.join(a.root, ".ferry-uploads")
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    t = time.perf_counter()
    for i in range(a.count):
        name = f"abandoned/{i:07d}.bin"
        size, crc = 1048576, i
        # Any 16 hex digits will do: the server keys the ids it makes, but
        # finds a session by whatever id its files carry.
        sid = f"{i:016x}"
        fd = os.open(os.path.join(d, sid + ".data"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        fd = os.open(os.path.join(d, sid + ".meta"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, f"{name} {size} {crc:08x}\n".encode())
        os.close(fd)
    out({"created": a.count, "seconds": time.perf_counter() - t,
         "check": {"id": f"{0:016x}"}})


def cmd_uploads(a):
    s, f = connect(a.port, timeout=a.timeout)
    # The server must find a session made on disk by `sessions`: an empty
    # APPEND to it answers where it stands.
    check = None
    if a.check_id:
        s.sendall(f"APPEND {a.check_id} 0 0\n".encode())
        line = reply(f)
        check = line == "OK 0" or line
    ms = []
    for i in range(a.count):
        t = time.perf_counter()
        s.sendall(f"UPLOAD fresh/{os.getpid()}-{i}.bin 4096 {i:08x}\n".encode())
        line = reply(f)
        ms.append((time.perf_counter() - t) * 1000)
        if not line.startswith("OK"):
            raise RuntimeError(line)
    ms.sort()
    out({"count": len(ms), "p50_ms": pct(ms, 50), "max_ms": ms[-1], "found_existing": check})


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, fn, port=True):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        if port:
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--timeout", type=float, default=300, help="socket timeout, s")
        return p

    p = add("probe", cmd_probe)
    p.add_argument("--name", default="small.bin")
    p.add_argument("--conns", type=int, default=20)
    p.add_argument("--gap-ms", type=float, default=5.0, help="pause between a connection's requests")
    p.add_argument("--stop-file")
    p.add_argument("--ready-file")
    p.add_argument("--start-file", help="count only requests sent once this file exists")
    p.add_argument("--server-pid", type=int, help="watch this server's event-loop thread")
    p.add_argument("--max-secs", type=float, default=600)
    p.add_argument("--drain-secs", type=float, default=30)
    p.add_argument("--connect-secs", type=float, default=10, help="keep trying to connect this long")
    p.add_argument("--slow-ms", type=float, default=20)
    p = add("get", cmd_get)
    p.add_argument("--name", required=True)
    p = add("put", cmd_put)
    p.add_argument("--name", required=True)
    p.add_argument("--src", required=True)
    p = add("stat", cmd_stat)
    p.add_argument("--name", required=True)
    p = add("stage", cmd_stage)
    p.add_argument("--name", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--crc", required=True)
    p = add("commit", cmd_commit)
    p.add_argument("--id", required=True)
    p = add("list-flood", cmd_list_flood)
    p.add_argument("--conns", type=int, default=20)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--hold-secs", type=float, default=2)
    p = add("chunked", cmd_chunked)
    p.add_argument("--name", required=True)
    p.add_argument("--chunks", type=int, required=True)
    p = add("sessions", cmd_sessions, port=False)
    p.add_argument("--root", required=True)
    p.add_argument("--count", type=int, required=True)
    p = add("uploads", cmd_uploads)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--check-id")
    a = ap.parse_args()
    return a.fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
