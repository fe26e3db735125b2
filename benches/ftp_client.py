#!/usr/bin/env python3
"""FTP load client for benches/ftp.sh (standard library only).

Every subcommand logs in as `anonymous` (vsftpd's anonymous login, any
login on a ferry without --tokens), uses passive mode (PASV) and binary
type, and prints one JSON object on standard output. The same socket code
drives every server, so the client is not a difference between them.

Subcommands:

  big     One large transfer on one session (the folder of --name made
          first with MKD, not timed): STOR of --file (its bytes sent
          with sendfile(2) from the page cache, or with --block N in
          sends of N bytes read from it, as ftplib's storbinary does
          with its 8 KiB blocks; the data connection then closed: stream
          mode's end of file) or RETR of
          --name (read into one reused 1 MiB buffer, counted, not kept).
          Reports the transfer's wall time, from the STOR/RETR command to
          the server's 226, and the client's CPU seconds.
  load    --sessions concurrent sessions (split over --procs processes, one
          asyncio loop each), each: connect, USER/PASS, TYPE I, then
          --files STORs of random bytes (--min to --max bytes each, a new
          PASV and data connection per file), then RETRs of the same
          files, each compared byte for byte with what was sent, then
          QUIT. The clock runs from the moment every process is ready
          (nothing connected yet) until the last session has its 221.
          --folder is made first (MKD, not timed). At most --connect-gate
          sessions per process connect and log in at once (the rest
          queue for their turn, then all run at once): vsftpd listens
          with a backlog of 32, and a burst of 100 connects overflows
          it; with SYN cookies the client's side of a dropped connection
          is established and waits for a greeting that never comes.
  idle    --count sessions logged in and left idle (at most
          --connect-gate connecting at once, as for load); writes
          --ready-file (JSON) once all are in, holds them until
          --stop-file exists, then QUITs each (counting those still
          answering).
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import resource
import socket
import sys
import time

HOST = "127.0.0.1"
PASV_RE = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")


def out(obj):
    print(json.dumps(obj), flush=True)


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class FtpError(Exception):
    pass


# ---------------------------------------------------------------- blocking (big)


class Control:
    """A blocking control connection: commands and (multi-line) replies."""

    def __init__(self, port, timeout=300):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.expect(220)

    def reply(self):
        line = self.file.readline()
        if not line:
            raise FtpError("control connection closed")
        code = line[:3]
        if line[3:4] == b"-":
            while True:
                more = self.file.readline()
                if not more:
                    raise FtpError("control connection closed in a multi-line reply")
                if more[:3] == code and more[3:4] == b" ":
                    break
        return int(code), line.decode("utf-8", "replace").strip()

    def expect(self, *codes):
        code, text = self.reply()
        if code not in codes:
            raise FtpError(f"expected {codes}, got {text!r}")
        return code, text

    def cmd(self, line, *codes):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.expect(*codes)

    def login(self):
        code, _ = self.cmd("USER anonymous", 230, 331)
        if code == 331:
            self.cmd("PASS bench@", 230)
        self.cmd("TYPE I", 200)

    def pasv(self):
        _, text = self.cmd("PASV", 227)
        m = PASV_RE.search(text.encode())
        if not m:
            raise FtpError(f"bad PASV reply {text!r}")
        port = int(m.group(5)) * 256 + int(m.group(6))
        return socket.create_connection((HOST, port), timeout=300)

    def mkdirs(self, folder):
        """MKD of each folder on the way (550: there already)."""
        parts = folder.split("/")
        for k in range(1, len(parts) + 1):
            self.cmd("MKD " + "/".join(parts[:k]), 257, 550)

    def quit(self):
        try:
            self.cmd("QUIT", 221)
        finally:
            self.sock.close()


def send_blocks(data, f, block):
    """Sends `f` in `block`-byte sends, as ftplib's storbinary does."""
    moved = 0
    while chunk := f.read(block):
        data.sendall(chunk)
        moved += len(chunk)
    return moved


def cmd_big(a):
    c = Control(a.port)
    c.login()
    if "/" in a.name:
        c.mkdirs(a.name.rsplit("/", 1)[0])
    data = c.pasv()
    cpu0 = self_cpu()
    t0 = time.perf_counter()
    moved = 0
    if a.op == "stor":
        c.sock.sendall(f"STOR {a.name}\r\n".encode())
        c.expect(125, 150)
        with open(a.file, "rb") as f:
            moved = data.sendfile(f) if not a.block else send_blocks(data, f, a.block)
        data.close()
    else:
        c.sock.sendall(f"RETR {a.name}\r\n".encode())
        c.expect(125, 150)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while True:
            n = data.recv_into(view)
            if not n:
                break
            moved += n
            # --pace: no faster than that, so that servers are compared at
            # one pace (a sender's CPU per byte depends on its reader's).
            ahead = moved / a.pace - (time.perf_counter() - t0) if a.pace else 0
            if ahead > 0:
                time.sleep(ahead)
        data.close()
    c.expect(226)
    seconds = time.perf_counter() - t0
    cpu = self_cpu() - cpu0
    c.quit()
    out({"op": a.op, "bytes": moved, "seconds": seconds, "gbps": moved / seconds / 1e9, "client_cpu": cpu})


# ---------------------------------------------------------------- asyncio (load, idle)


async def a_reply(reader):
    line = await reader.readline()
    if not line:
        raise FtpError("control connection closed")
    code = line[:3]
    if line[3:4] == b"-":
        while True:
            more = await reader.readline()
            if not more:
                raise FtpError("control connection closed in a multi-line reply")
            if more[:3] == code and more[3:4] == b" ":
                break
    return int(code), line


async def a_cmd(reader, writer, line, *codes):
    if line is not None:
        writer.write(line.encode() + b"\r\n")
    code, text = await a_reply(reader)
    if code not in codes:
        raise FtpError(f"{line!r}: expected {codes}, got {text.decode('utf-8', 'replace').strip()!r}")
    return code, text


async def a_login(port):
    reader, writer = await asyncio.open_connection(HOST, port)
    await a_cmd(reader, writer, None, 220)
    code, _ = await a_cmd(reader, writer, "USER anonymous", 230, 331)
    if code == 331:
        await a_cmd(reader, writer, "PASS bench@", 230)
    return reader, writer


async def a_data(reader, writer):
    _, text = await a_cmd(reader, writer, "PASV", 227)
    m = PASV_RE.search(text)
    if not m:
        raise FtpError(f"bad PASV reply {text!r}")
    return await asyncio.open_connection(HOST, int(m.group(5)) * 256 + int(m.group(6)))


async def a_session(port, names, datas, counts, step, gate):
    step[0] = "connect"
    async with gate:
        reader, writer = await a_login(port)
    step[0] = "TYPE"
    await a_cmd(reader, writer, "TYPE I", 200)
    for name, data in zip(names, datas):
        step[0] = "PASV for STOR"
        dr, dw = await a_data(reader, writer)
        step[0] = "STOR"
        await a_cmd(reader, writer, f"STOR {name}", 125, 150)
        dw.write(data)
        await dw.drain()
        dw.close()
        await dw.wait_closed()
        step[0] = "226 after STOR"
        await a_cmd(reader, writer, None, 226)
        counts["stored"] += 1
        counts["bytes"] += len(data)
    for name, data in zip(names, datas):
        step[0] = "PASV for RETR"
        dr, dw = await a_data(reader, writer)
        step[0] = "RETR"
        await a_cmd(reader, writer, f"RETR {name}", 125, 150)
        step[0] = "RETR data"
        got = await dr.read()
        dw.close()
        step[0] = "226 after RETR"
        await a_cmd(reader, writer, None, 226)
        if got != data:
            counts["mismatched"] += 1
        counts["fetched"] += 1
        counts["bytes"] += len(got)
    step[0] = "QUIT"
    await a_cmd(reader, writer, "QUIT", 221)
    writer.close()
    await writer.wait_closed()


async def a_worker(a, first, count, ready, go):
    rng = random.Random(a.seed * 1_000_003 + first)
    pool = rng.randbytes((1 << 20) + a.max)
    jobs = []
    for i in range(first, first + count):
        names, datas = [], []
        for j in range(a.files):
            size = rng.randint(a.min, a.max)
            at = rng.randrange(0, 1 << 20)
            names.append(f"{a.folder}/s{i:04d}-f{j:03d}.bin")
            datas.append(pool[at:at + size])
        jobs.append((names, datas))
    counts = {"stored": 0, "fetched": 0, "bytes": 0, "mismatched": 0, "sessions_ok": 0}
    errors = []

    async def run(names, datas):
        step = [""]
        try:
            await asyncio.wait_for(a_session(a.port, names, datas, counts, step, gate), a.timeout)
            counts["sessions_ok"] += 1
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            errors.append(f"at {step[0]}: {type(e).__name__}: {e}")

    gate = asyncio.Semaphore(a.connect_gate)
    ready.release()
    go.wait()  # nothing else runs on this loop yet: blocking is fine
    cpu0 = self_cpu()
    await asyncio.gather(*(run(n, d) for n, d in jobs))
    counts["client_cpu"] = self_cpu() - cpu0
    counts["errors"] = errors
    return counts


def load_proc(a, first, count, ready, go, results):
    results.put(asyncio.run(a_worker(a, first, count, ready, go)))


def cmd_load(a):
    # The folder, made once (not timed; 550 if it is there already).
    c = Control(a.port)
    c.login()
    c.mkdirs(a.folder)
    c.quit()
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs, first = [], 0
    per = [a.sessions // a.procs + (1 if k < a.sessions % a.procs else 0) for k in range(a.procs)]
    for count in per:
        p = ctx.Process(target=load_proc, args=(a, first, count, ready, go, results))
        p.start()
        procs.append(p)
        first += count
    for _ in procs:
        ready.acquire()
    t0 = time.perf_counter()
    go.set()
    parts = [results.get() for _ in procs]
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
    total = {k: sum(p[k] for p in parts) for k in ("stored", "fetched", "bytes", "mismatched", "sessions_ok", "client_cpu")}
    errors = [e for p in parts for e in p["errors"]]
    total.update(seconds=seconds, errors=len(errors), first_errors=errors[:5],
                 files_per_s=(total["stored"] + total["fetched"]) / seconds,
                 mbps=total["bytes"] / seconds / 1e6)
    out(total)


async def a_idle(a):
    gate = asyncio.Semaphore(a.connect_gate)
    conns, errors = [], []

    async def one():
        async with gate:
            try:
                conns.append(await asyncio.wait_for(a_login(a.port), 60))
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(a.count)))
    with open(a.ready_file + ".tmp", "w") as f:
        json.dump({"open": len(conns), "errors": len(errors), "first_errors": errors[:5],
                   "seconds": time.perf_counter() - t0}, f)
    os.rename(a.ready_file + ".tmp", a.ready_file)
    while not os.path.exists(a.stop_file):
        await asyncio.sleep(0.1)
    # Still logged in after the hold? (A server that dropped idle sessions
    # would fail here.)
    alive = 0
    for reader, writer in conns:
        try:
            writer.write(b"QUIT\r\n")
            await asyncio.wait_for(a_cmd(reader, writer, None, 221), 10)
            alive += 1
        except Exception:  # noqa: BLE001
            pass
        writer.close()
    out({"open": len(conns), "errors": len(errors), "alive_at_end": alive})


def cmd_idle(a):
    asyncio.run(a_idle(a))


def main():
    global HOST
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default=HOST, help="the servers' address (default %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("big")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--op", choices=("stor", "retr"), required=True)
    p.add_argument("--file", help="the file to upload (stor)")
    p.add_argument("--block", type=int, default=0, help="STOR: send in blocks of this many bytes (ftplib: 8192) instead of sendfile")
    p.add_argument("--name", required=True, help="the path on the server")
    p.add_argument("--pace", type=float, default=0, help="RETR: read no faster than this many bytes a second (0: as fast as it can)")
    p.set_defaults(fn=cmd_big)
    p = sub.add_parser("load")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--files", type=int, default=20)
    p.add_argument("--min", type=int, default=4096)
    p.add_argument("--max", type=int, default=65536)
    p.add_argument("--folder", required=True)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--seed", type=int, default=53)
    p.add_argument("--timeout", type=float, default=300, help="seconds a whole session may take")
    p.add_argument("--connect-gate", type=int, default=8, help="most sessions connecting and logging in at once, per process")
    p.set_defaults(fn=cmd_load)
    p = sub.add_parser("idle")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--connect-gate", type=int, default=16, help="most sessions connecting and logging in at once")
    p.set_defaults(fn=cmd_idle)
    a = ap.parse_args()
    HOST = a.host  # before any process of `load` is made: they inherit it
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
