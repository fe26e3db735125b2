#!/usr/bin/env python3
"""An SSH/SFTP connection storm for benches/storm_sftp.sh (issue 76).

  storm_sftp.py --port P --count N [--later S] [--procs K]
                [--user U] (--password W | --key PRIVATE_KEY)

Opens N TCP connections to 127.0.0.1:P at once (nonblocking connects, as
benches/storm.c does, from source addresses 127.0.1.1, 127.0.1.2, ...,
200 each, under ferry's per-address cap of 256), waits until every
connect has completed, waits LATER seconds more (default 15), then forks
K processes (default 4) that share the connections (connection i to
process i mod K, so each works through the storm in connection order)
and on each, one after another, do a real SSH login with paramiko over
the socket already open (`paramiko.Transport(sock)`: version exchange,
key exchange, password or ed25519-key authentication), open the `sftp`
subsystem, ask one `stat .` and close: a session a pool opened early and
uses late. A login answered is one whose `stat` came back.

Prints one JSON line: connections established, logins answered, failures
by reason (the first words of the error), the seconds from the first
connect to the last answer (the LATER wait included), the seconds the
logins took after the wait, and the client's CPU seconds (the K
processes'; the connecting parent's is under a second). Bounded: each
step has a 60 s timeout, and each process gives up on its connections
past --limit seconds (default 300) after the wait. Host keys are not
checked (loopback only).
"""

import argparse
import errno
import json
import logging
import os
import resource
import select
import socket
import sys
import time

PER_SOURCE = 200


def open_all(port, count):
    """N nonblocking connects, waited for together: (sockets, failures)."""
    socks, failed = [], 0
    poller = select.epoll()
    pending = {}
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((f"127.0.1.{1 + i // PER_SOURCE}", 0))
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            failed += 1
            continue
        socks.append(s)
        pending[s.fileno()] = s
        poller.register(s.fileno(), select.EPOLLOUT)
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            s = pending.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                failed += 1
                socks.remove(s)
                s.close()
    for s in pending.values():
        failed += 1
        socks.remove(s)
        s.close()
    poller.close()
    return socks, failed


def reason(error):
    """A short, countable name for a failure."""
    words = str(error).split()
    return f"{type(error).__name__}: {' '.join(words[:6])}" if words else type(error).__name__


def log_in_each(socks, args, key, give_up):
    """Logs in on each socket in turn; returns (answered, failures by
    reason, monotonic time of the last answer)."""
    import paramiko

    answered, failures, last = 0, {}, 0.0
    for s in socks:
        if time.monotonic() > give_up:
            failures["gave up (--limit)"] = failures.get("gave up (--limit)", 0) + 1
            s.close()
            continue
        s.setblocking(True)
        s.settimeout(60)
        # paramiko sends each packet as written; without this a login
        # waits out delayed ACKs (tens of ms a step), and the storm
        # measures the client's Nagle, not the server.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = None
        try:
            transport = paramiko.Transport(s)
            transport.banner_timeout = transport.auth_timeout = 60
            transport.start_client(timeout=60)
            if key is not None:
                transport.auth_publickey(args.user, key)
            else:
                transport.auth_password(args.user, args.password)
            sftp = paramiko.SFTPClient.from_transport(transport)
            sftp.get_channel().settimeout(60)
            sftp.stat(".")
            answered += 1
            last = time.monotonic()
            sftp.close()
        except Exception as error:  # every failure is counted, by its kind
            failures[reason(error)] = failures.get(reason(error), 0) + 1
        finally:
            if transport is not None:
                transport.close()
            s.close()
    return answered, failures, last


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--later", type=float, default=15)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--limit", type=float, default=300)
    parser.add_argument("--user", default="storm")
    parser.add_argument("--password", default="x")
    parser.add_argument("--key")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import paramiko  # before the fork: each process need not load it again

    # A refused login is counted by its reason; paramiko's own tracebacks
    # of it (its transport thread logs them) would bury the progress.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)

    key = paramiko.Ed25519Key.from_private_key_file(args.key) if args.key else None
    start = time.monotonic()
    socks, connect_failed = open_all(args.port, args.count)
    opened = time.monotonic()
    time.sleep(args.later)
    began = time.monotonic()
    give_up = began + args.limit
    children = []
    for k in range(args.procs):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            mine = [s for i, s in enumerate(socks) if i % args.procs == k]
            # Every other process's sockets closed here, so that a close
            # by their owner is the connection's end.
            for i, s in enumerate(socks):
                if i % args.procs != k:
                    s.close()
            result = log_in_each(mine, args, key, give_up)
            os.write(write_end, json.dumps(result).encode())
            os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    for s in socks:
        s.close()
    answered, failures, last = 0, {}, 0.0
    for pid, read_end in children:
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        os.waitpid(pid, 0)
        if not chunks:
            failures["a client process died"] = failures.get("a client process died", 0) + 1
            continue
        a, f, t = json.loads(b"".join(chunks))
        answered += a
        last = max(last, t)
        for why, n in f.items():
            failures[why] = failures.get(why, 0) + n
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    end = last if answered else time.monotonic()
    print(json.dumps({
        "established": len(socks),
        "count": args.count,
        "connect_failed": connect_failed,
        "answered": answered,
        "failures": failures,
        "open_seconds": round(opened - start, 3),
        "seconds": round(end - start, 3),
        "login_seconds": round(end - began, 3),
        "client_cpu": round(usage.ru_utime + usage.ru_stime, 2),
    }))


if __name__ == "__main__":
    sys.exit(main())
