#!/usr/bin/env python3
"""Client helpers for benches/compare.sh (standard library only).

Subcommands:

  xfer  One connection; GET or PUT one object COUNT times back to back over
        FERRY/1 or HTTP/1.1 keep-alive, and print {"bytes":..,"seconds":..}.
        The same code (256 KiB recv_into buffer for downloads, sendfile(2)
        from the page cache for uploads) drives both servers, so the client
        is not a difference between them.

  hold  Open COUNT connections (for ferry, reading each greeting), optionally
        make one GET of --name on each, write "ready <n> failed <m>" to
        --ready-file and then hold them, idle, until killed.

  burst Open COUNT connections, then put one GET in flight on every one of
        them at once and read all the answers with epoll; print how many
        completed, failed or were still incomplete at --timeout, and the
        aggregate rate. Unlike `ferry bench` (which keeps requests going for
        a fixed time and stops counting what is unfinished when it ends),
        this checks that every single request completes.

  port  Print --count distinct free TCP ports on 127.0.0.1.

  evict Drop FILE's pages from the page cache (fsync, then
        posix_fadvise(DONTNEED)): the next read of it comes from the disk,
        without root's /proc/sys/vm/drop_caches. No effect on tmpfs.

xfer and hold take --ca PEM: connect over TLS, trusting that certificate
(benches/compare_tls.sh).
"""

import argparse
import json
import os
import resource
import selectors
import signal
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"
RECV_BUF = int(os.environ.get("RECV_BUF", 256 << 10))


class Conn:
    """A blocking socket with a small read-ahead buffer for header lines."""

    def __init__(self, port, tls=None):
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.pending = b""

    def read_until(self, marker):
        while marker not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.pending += chunk
        head, _, self.pending = self.pending.partition(marker)
        return head

    def discard(self, left, buf, view):
        """Reads and drops exactly `left` body bytes."""
        take = min(left, len(self.pending))
        self.pending = self.pending[take:]
        left -= take
        while left > 0:
            n = self.sock.recv_into(view, min(left, len(buf)))
            if n == 0:
                raise ConnectionError("connection closed mid-body")
            left -= n


def ferry_greeting(conn):
    line = conn.read_until(b"\n").decode()
    if not line.startswith("OK FERRY/1"):
        raise ConnectionError("unexpected greeting: " + line)


def http_response(conn):
    """Reads one response head; returns (status, content-length)."""
    head = conn.read_until(b"\r\n\r\n").decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, length


def get_once(conn, proto, name, buf, view):
    if proto == "ferry":
        conn.sock.sendall(("GET %s\n" % name).encode())
        line = conn.read_until(b"\n").decode()
        fields = line.split()
        if fields[0] != "OK":
            raise RuntimeError("ferry GET failed: " + line)
        size = int(fields[1])
    else:
        conn.sock.sendall(
            ("GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (name, HOST)).encode()
        )
        status, size = http_response(conn)
        if status != 200:
            raise RuntimeError("HTTP GET failed: status %d" % status)
    conn.discard(size, buf, view)
    return size


def put_once(conn, proto, name, path):
    size = os.path.getsize(path)
    if proto == "ferry":
        conn.sock.sendall(("PUT %s %d\n" % (name, size)).encode())
    else:
        conn.sock.sendall(
            (
                "PUT /%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                % (name, HOST, size)
            ).encode()
        )
    with open(path, "rb") as f:
        sent = conn.sock.sendfile(f, 0, size)
    if sent != size:
        raise RuntimeError("sent %d of %d bytes" % (sent, size))
    if proto == "ferry":
        line = conn.read_until(b"\n").decode()
        if not line.startswith("OK %d " % size):
            raise RuntimeError("ferry PUT failed: " + line)
    else:
        status, length = http_response(conn)
        if status not in (200, 201, 204):
            raise RuntimeError("HTTP PUT failed: status %d" % status)
        buf = bytearray(65536)
        conn.discard(length, buf, memoryview(buf))
    return size


def cmd_xfer(args):
    conn = Conn(args.port, tls_context(args))
    if args.proto == "ferry":
        ferry_greeting(conn)
    buf = bytearray(RECV_BUF)
    view = memoryview(buf)
    total = 0
    started = time.perf_counter()
    for _ in range(args.count):
        if args.op == "get":
            total += get_once(conn, args.proto, args.name, buf, view)
        else:
            total += put_once(conn, args.proto, args.name, args.file)
    seconds = time.perf_counter() - started
    conn.sock.close()
    print(json.dumps({"bytes": total, "seconds": round(seconds, 6)}))


def cmd_hold(args):
    raise_nofile(args.count)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    buf = bytearray(65536)
    view = memoryview(buf)
    conns = []
    failed = 0
    for _ in range(args.count):
        try:
            conn = Conn(args.port, tls_context(args))
            if args.proto == "ferry":
                ferry_greeting(conn)
            if args.name:
                get_once(conn, args.proto, args.name, buf, view)
            conns.append(conn)
        except (OSError, RuntimeError, ValueError, IndexError) as err:
            failed += 1
            if failed == 1:
                print("hold: %s" % err, file=sys.stderr)
    with open(args.ready_file + ".tmp", "w") as f:
        f.write("ready %d failed %d\n" % (len(conns), failed))
    os.rename(args.ready_file + ".tmp", args.ready_file)
    while True:
        signal.pause()


def tls_context(args):
    """The client TLS context --ca asks for, or None (plaintext)."""
    if not getattr(args, "ca", None):
        return None
    if not hasattr(tls_context, "cached"):
        tls_context.cached = ssl.create_default_context(cafile=args.ca)
    return tls_context.cached


def raise_nofile(count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


class Pending:
    """One request of a burst: its header, then its body, arriving."""

    __slots__ = ("conn", "head", "left", "done")

    def __init__(self, conn):
        self.conn = conn
        self.head = b""
        self.left = None
        self.done = False


def cmd_burst(args):
    raise_nofile(args.count)
    marker = b"\n" if args.proto == "ferry" else b"\r\n\r\n"
    if args.proto == "ferry":
        request = ("GET %s\n" % args.name).encode()
    else:
        request = ("GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (args.name, HOST)).encode()
    pending = []
    errors = 0
    for _ in range(args.count):
        try:
            conn = Conn(args.port)
            if args.proto == "ferry":
                ferry_greeting(conn)
            pending.append(Pending(conn))
        except (OSError, ConnectionError) as err:
            errors += 1
            if errors == 1:
                print("burst: connect: %s" % err, file=sys.stderr)
    connected = len(pending)
    sel = selectors.DefaultSelector()
    started = time.perf_counter()
    for p in pending:
        p.conn.sock.sendall(request)
        p.conn.sock.setblocking(False)
        sel.register(p.conn.sock, selectors.EVENT_READ, p)
    buf = bytearray(RECV_BUF)
    view = memoryview(buf)
    completed = 0
    payload = 0
    left_open = connected
    deadline = started + args.timeout
    while left_open > 0 and time.perf_counter() < deadline:
        for key, _ in sel.select(timeout=0.5):
            p = key.data
            try:
                n = p.conn.sock.recv_into(view)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            failed = n == 0
            data = view[:n]
            if not failed and p.left is None:
                p.head += bytes(data)
                data = b""
                if marker in p.head:
                    head, _, rest = p.head.partition(marker)
                    text = head.decode("latin-1")
                    try:
                        if args.proto == "ferry":
                            fields = text.split()
                            failed = fields[0] != "OK"
                            p.left = int(fields[1])
                        else:
                            lines = text.split("\r\n")
                            failed = int(lines[0].split()[1]) != 200
                            p.left = 0
                            for line in lines[1:]:
                                name, _, value = line.partition(":")
                                if name.strip().lower() == "content-length":
                                    p.left = int(value)
                    except (IndexError, ValueError):
                        failed = True
                    if not failed:
                        p.left -= len(rest)
                        payload += len(rest)
            elif not failed:
                p.left -= n
                payload += n
            if failed:
                errors += 1
            elif p.left is not None and p.left <= 0:
                completed += 1
                if p.left < 0:
                    errors += 1
            else:
                continue
            sel.unregister(p.conn.sock)
            p.conn.sock.close()
            left_open -= 1
    seconds = time.perf_counter() - started
    print(json.dumps({
        "connections": args.count,
        "connected": connected,
        "completed": completed,
        "errors": errors,
        "incomplete": left_open,
        "seconds": round(seconds, 3),
        "mb_per_sec": round(payload / 1e6 / seconds, 1),
    }))


def cmd_port(args):
    socks = []
    for _ in range(args.count):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def cmd_evict(args):
    fd = os.open(args.file, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages are not dropped, clean ones are
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    xfer = sub.add_parser("xfer")
    xfer.add_argument("--proto", choices=["ferry", "http"], required=True)
    xfer.add_argument("--op", choices=["get", "put"], required=True)
    xfer.add_argument("--port", type=int, required=True)
    xfer.add_argument("--name", required=True)
    xfer.add_argument("--file", help="local file to upload (put)")
    xfer.add_argument("--count", type=int, default=1)
    xfer.add_argument("--ca", help="connect over TLS, trusting this certificate")
    xfer.set_defaults(func=cmd_xfer)
    hold = sub.add_parser("hold")
    hold.add_argument("--proto", choices=["ferry", "http"], required=True)
    hold.add_argument("--port", type=int, required=True)
    hold.add_argument("--name", default="", help="GET this once on each connection first")
    hold.add_argument("--count", type=int, default=10000)
    hold.add_argument("--ready-file", required=True)
    hold.add_argument("--ca", help="connect over TLS, trusting this certificate")
    hold.set_defaults(func=cmd_hold)
    burst = sub.add_parser("burst")
    burst.add_argument("--proto", choices=["ferry", "http"], required=True)
    burst.add_argument("--port", type=int, required=True)
    burst.add_argument("--name", required=True)
    burst.add_argument("--count", type=int, default=10000)
    burst.add_argument("--timeout", type=float, default=60.0)
    burst.set_defaults(func=cmd_burst)
    port = sub.add_parser("port")
    port.add_argument("--count", type=int, default=1)
    port.set_defaults(func=cmd_port)
    evict = sub.add_parser("evict")
    evict.add_argument("file")
    evict.set_defaults(func=cmd_evict)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
