#!/usr/bin/env python3
"""Client helpers for benches/tus.sh (standard library only).

Subcommands (each prints one JSON object on standard output):

  put     One plain HTTP/1.1 `PUT /<folder>/<name>` of a whole file, its body
          sent with sendfile(2) from the page cache.
  tus     One tus upload of the same file: `POST /<folder>/` (creation),
          then `PATCH`es of --chunk bytes on the same keep-alive connection,
          each body sent with sendfile(2) exactly as `put` sends its one.
          put and tus share every line of socket code, so the client is not
          a difference between them; both report the wall time, the
          client's CPU seconds and, with --pid, the server's (utime+stime
          from /proc/<pid>/stat, all threads).
  load    COUNT concurrent tus uploads of SIZE bytes each (distinct random
          bytes; create, then PATCHes of --chunk) from one asyncio loop,
          --rounds times, while a probe process GETs a small file in a
          loop; the probe runs alone for --idle seconds first. With --mode
          both (the default) rounds of as many plain PUTs of the same
          sizes are interleaved with them, as the control. Every stored
          file is compared byte for byte with what was sent. Reports per
          round the time and the verified count, and per mode the medians
          and the probe's p50/p99/max over the GETs that began during its
          rounds (and alone).
  probe   (used by `load`) GET --path in a loop on one keep-alive
          connection until --stop-file exists; prints the latencies.
  open    Creates COUNT tus uploads of --length bytes, each with one PATCH
          of --patch bytes, left unfinished: with --hold the connections
          stay open (idle keep-alive, one per upload) until the server's
          RSS has been read, else each upload's connection is closed. With
          --pid reports the server's VmRSS before and after (settled) and
          the growth per upload; with --root the staging directory's files
          and bytes.
"""

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
TUS = b"Tus-Resumable: 1.0.0\r\n"
HOSTHDR = b"Host: 127.0.0.1\r\n"


def out(obj):
    print(json.dumps(obj), flush=True)


def proc_cpu(pid):
    """utime+stime of a process (all its threads), in seconds."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def meta(name):
    return b"filename " + base64.b64encode(name.encode())


class Conn:
    """A blocking keep-alive HTTP/1.1 connection; answers' bodies are read
    (and dropped unless asked for)."""

    def __init__(self, port, timeout=120):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def close(self):
        self.sock.close()

    def answer(self, want_body=False):
        while b"\r\n\r\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.pending += chunk
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            # (@tus/server answers a POST so; chunk extensions and trailers
            # are not expected.)
            body = b""
            while True:
                size = int(self.read_line(), 16)
                data = self.read_exact(size + 2)
                if size == 0:
                    return status, headers, (body if want_body else b"")
                body += data[:-2]
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            chunk = self.sock.recv(max(65536, length - len(self.pending)))
            if not chunk:
                raise ConnectionError("connection closed mid-body")
            self.pending += chunk
        body, self.pending = self.pending[:length], self.pending[length:]
        return status, headers, (body if want_body else b"")

    def read_line(self):
        while b"\r\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\r\n")
        return line

    def read_exact(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed mid-body")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def request(self, head, body_file=None, offset=0, count=0, body=b""):
        """Sends a request: head (bytes, without the blank line) and a body
        from body_file (sendfile, offset/count) or from `body`."""
        self.sock.sendall(head + b"\r\n")
        if body_file is not None and count:
            sent = self.sock.sendfile(body_file, offset, count)
            if sent != count:
                raise ConnectionError(f"sendfile sent {sent} of {count}")
        elif body:
            self.sock.sendall(body)
        return self.answer()


def location_path(loc):
    if loc.startswith("http://") or loc.startswith("https://"):
        loc = "/" + loc.split("://", 1)[1].split("/", 1)[1]
    return loc


def tus_create(conn, folder, name, length, extra=b""):
    status, h, _ = conn.request(
        b"POST /" + folder.encode() + b"/ HTTP/1.1\r\n" + HOSTHDR + TUS
        + b"Upload-Length: %d\r\nUpload-Metadata: %s\r\nContent-Length: 0\r\n" % (length, meta(name))
        + extra)
    if status != 201:
        raise RuntimeError(f"POST answered {status}")
    return location_path(h["location"]).encode()


def patch_head(loc, at, n):
    return (b"PATCH " + loc + b" HTTP/1.1\r\n" + HOSTHDR + TUS
            + b"Content-Type: application/offset+octet-stream\r\n"
            + b"Upload-Offset: %d\r\nContent-Length: %d\r\n" % (at, n))


def timed_run(a, fn):
    cpu0, scpu0, t0 = self_cpu(), proc_cpu(a.pid), time.perf_counter()
    extra = fn()
    t1 = time.perf_counter()
    cpu1, scpu1 = self_cpu(), proc_cpu(a.pid)
    size = a.size
    res = {"bytes": size, "seconds": t1 - t0, "gbps": size / (t1 - t0) / 1e9,
           "client_cpu": cpu1 - cpu0, "server_cpu": scpu1 - scpu0}
    res.update(extra or {})
    return res


def cmd_put(a):
    conn = Conn(a.port)
    with open(a.file, "rb") as f:
        def run():
            status, _, _ = conn.request(
                b"PUT /%s/%s HTTP/1.1\r\n" % (a.folder.encode(), a.name.encode()) + HOSTHDR
                + b"Content-Length: %d\r\n" % a.size, f, 0, a.size)
            if status not in (200, 201, 204):
                raise RuntimeError(f"PUT answered {status}")
            return {"requests": 1}
        res = timed_run(a, run)
    conn.close()
    out(res)


def cmd_tus(a):
    conn = Conn(a.port)
    with open(a.file, "rb") as f:
        def run():
            loc = tus_create(conn, a.folder, a.name, a.size)
            at, n = 0, 0
            while at < a.size:
                count = min(a.chunk, a.size - at)
                status, h, _ = conn.request(patch_head(loc, at, count), f, at, count)
                if status != 204:
                    raise RuntimeError(f"PATCH at {at} answered {status}")
                at = int(h["upload-offset"])
                n += 1
            return {"requests": n + 1, "location": loc.decode()}
        res = timed_run(a, run)
    conn.close()
    out(res)


# ---------------------------------------------------------------- probe, load

def cmd_probe(a):
    conn = Conn(a.port)
    head = b"GET " + a.path.encode() + b" HTTP/1.1\r\n" + HOSTHDR
    lat, errors = [], 0
    deadline = time.monotonic() + a.max_seconds
    while not os.path.exists(a.stop_file) and time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            status, _, _ = conn.request(head)
            if status != 200:
                errors += 1
        except OSError:
            errors += 1
            conn = Conn(a.port)
        lat.append((t0, time.monotonic() - t0))
        if a.pause:
            time.sleep(a.pause)
    # (CLOCK_MONOTONIC, the same in every process: `load` picks the samples
    # that began while its uploads ran.)
    out({"samples": [(t, round(x * 1000, 3)) for t, x in lat], "errors": errors})


def summary(lat_ms):
    if not lat_ms:
        return {"n": 0}
    s = sorted(lat_ms)
    return {"n": len(s), "p50": s[len(s) // 2], "p99": s[min(len(s) - 1, int(len(s) * 0.99))],
            "max": s[-1]}


def run_probe(a, seconds=None, stop_file=None):
    args = [sys.executable, __file__, "probe", "--port", str(a.port), "--path", a.probe_path,
            "--stop-file", stop_file, "--pause", str(a.probe_pause),
            "--max-seconds", str(seconds if seconds else 600)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


async def a_answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k:
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers


async def one_upload(a, mode, i, data, results):
    name = f"u{i:04d}.bin"
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, a.port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if mode == "put":
            writer.write(b"PUT /%s/%s HTTP/1.1\r\n" % (a.folder.encode(), name.encode()) + HOSTHDR
                         + b"Content-Length: %d\r\n\r\n" % len(data))
            writer.write(data)
            await writer.drain()
            status, h = await a_answer(reader)
            if status not in (200, 201, 204):
                raise RuntimeError(f"PUT answered {status}")
            results[i] = {"ok": True, "seconds": time.perf_counter() - t0}
            return
        writer.write(b"POST /" + a.folder.encode() + b"/ HTTP/1.1\r\n" + HOSTHDR + TUS
                     + b"Upload-Length: %d\r\nUpload-Metadata: %s\r\nContent-Length: 0\r\n\r\n"
                     % (len(data), meta(name)))
        status, h = await a_answer(reader)
        if status != 201:
            raise RuntimeError(f"POST answered {status}")
        loc = location_path(h["location"]).encode()
        at = 0
        while at < len(data):
            n = min(a.chunk, len(data) - at)
            writer.write(patch_head(loc, at, n) + b"\r\n")
            writer.write(data[at:at + n])
            await writer.drain()
            status, h = await a_answer(reader)
            if status != 204:
                raise RuntimeError(f"PATCH at {at} answered {status}")
            at = int(h["upload-offset"])
        results[i] = {"ok": True, "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001 (reported, counted)
        results[i] = {"ok": False, "error": repr(e)}
    finally:
        writer.close()


async def run_load(a, mode, datas):
    results = [None] * len(datas)
    await asyncio.gather(*(one_upload(a, mode, i, d, results) for i, d in enumerate(datas)))
    return results


def cmd_load(a):
    stop = a.stop_file
    if os.path.exists(stop):
        os.unlink(stop)
    # The probe alone first.
    p = run_probe(a, seconds=a.idle, stop_file=stop)
    idle = json.loads(p.communicate(timeout=a.idle + 60)[0])
    # Then beside the load, `rounds` times; the probe runs throughout and
    # only its GETs that began while uploads ran count.
    p = run_probe(a, stop_file=stop)
    time.sleep(0.3)
    windows, rounds = {"tus": [], "put": []}, []
    modes = ["tus", "put"] if a.mode == "both" else [a.mode]
    for r in range(a.rounds * len(modes)):
        # Interleaved: tus, put, put, tus, tus, put... (with --mode both).
        mode = modes[(r + (r // 2)) % len(modes)] if len(modes) == 2 else modes[0]
        datas = [os.urandom(a.size) for _ in range(a.count)]
        time.sleep(0.2)
        scpu0 = proc_cpu(a.pid)
        t0 = time.monotonic()
        results = asyncio.run(run_load(a, mode, datas))
        t1 = time.monotonic()
        scpu = proc_cpu(a.pid) - scpu0
        windows[mode].append((t0, t1))
        verified, bad = 0, []
        for i, d in enumerate(datas):
            path = os.path.join(a.root, a.folder, f"u{i:04d}.bin")
            try:
                with open(path, "rb") as f:
                    same = f.read() == d
                os.unlink(path)
            except OSError:
                same = False
            if same and results[i]["ok"]:
                verified += 1
            else:
                bad.append({"i": i, "result": results[i], "stored_matches": same})
        left = sum(1 for n in os.listdir(os.path.join(a.root, ".ferry-uploads")) if n != "lock")
        per = sorted(r["seconds"] for r in results if r and r["ok"])
        rounds.append({"mode": mode, "seconds": t1 - t0, "verified": verified, "failed": bad[:5], "server_cpu": scpu,
                       "upload_p50": per[len(per) // 2] if per else None,
                       "upload_max": per[-1] if per else None, "staging_left": left})
    open(stop, "w").close()
    busy = json.loads(p.communicate(timeout=60)[0])
    os.unlink(stop)
    res = {"count": a.count, "size": a.size, "chunk": a.chunk, "rounds": rounds,
           "probe_idle": summary([ms for _, ms in idle["samples"]]), "probe_idle_errors": idle["errors"],
           "probe_load_errors": busy["errors"]}
    for mode in modes:
        mine = [r for r in rounds if r["mode"] == mode]
        during = [ms for t, ms in busy["samples"] if any(t0 <= t <= t1 for t0, t1 in windows[mode])]
        res[mode] = {"seconds": statistics.median(r["seconds"] for r in mine),
                     "verified_min": min(r["verified"] for r in mine),
                     "staging_left": sum(r["staging_left"] for r in mine),
                     "server_cpu": statistics.median(r["server_cpu"] for r in mine),
                     "probe": summary(during)}
    out(res)


# ---------------------------------------------------------------- open sessions

def settle_rss(pid, seconds=1.0):
    time.sleep(seconds)
    return vmrss_kb(pid)


def dir_cost(path):
    files, apparent, blocks = 0, 0, 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            files += 1
            apparent += st.st_size
            blocks += st.st_blocks * 512
    return {"files": files, "apparent_bytes": apparent, "disk_bytes": blocks}


def cmd_open(a):
    body = os.urandom(a.patch)
    # One request first, so what the first request allocates is not counted.
    warm = Conn(a.port)
    warm.request(b"OPTIONS /%s/ HTTP/1.1\r\n" % a.folder.encode() + HOSTHDR)
    warm.close()
    before_disk = dir_cost(os.path.join(a.root, ".ferry-uploads")) if a.root else None
    before = settle_rss(a.pid)
    conns, errors = [], 0
    t0 = time.perf_counter()
    shared = None if a.hold else Conn(a.port)
    for i in range(a.count):
        try:
            c = Conn(a.port) if a.hold else shared
            loc = tus_create(c, a.folder, f"open{i:05d}.bin", a.length)
            status, h, _ = c.request(patch_head(loc, 0, a.patch), body=body)
            if status != 204:
                raise RuntimeError(f"PATCH answered {status}")
            if a.hold:
                conns.append(c)
            elif (i + 1) % 100 == 0:
                # A fresh connection every 100 uploads: the sessions must not
                # depend on a connection.
                shared.close()
                shared = Conn(a.port)
        except Exception as e:  # noqa: BLE001 (counted)
            errors += 1
            if errors <= 3:
                print(f"open: upload {i}: {e!r}", file=sys.stderr)
            if not a.hold:
                shared = Conn(a.port)
    if shared is not None:
        shared.close()
    made = time.perf_counter() - t0
    after = settle_rss(a.pid, 2.0)
    disk = dir_cost(os.path.join(a.root, ".ferry-uploads")) if a.root else None
    for c in conns:
        c.close()
    closed = settle_rss(a.pid, 1.0) if a.hold else None
    ok = a.count - errors
    res = {"count": a.count, "ok": ok, "errors": errors, "hold": a.hold, "seconds": made,
           "rss_before_kb": before, "rss_after_kb": after, "rss_after_close_kb": closed,
           "rss_per_upload_bytes": (after - before) * 1024 / ok if ok else None}
    if disk is not None:
        res["disk"] = disk
        res["disk_before"] = before_disk
        n = ok or 1
        res["disk_files_per_upload"] = (disk["files"] - before_disk["files"]) / n
        res["disk_bytes_per_upload"] = (disk["disk_bytes"] - before_disk["disk_bytes"]) / n
        res["apparent_bytes_per_upload"] = (disk["apparent_bytes"] - before_disk["apparent_bytes"]) / n
    out(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, fn):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--pid", type=int, default=0, help="the server's, for its CPU and RSS")
        p.add_argument("--folder", default="bench")
        p.set_defaults(fn=fn)
        return p

    for name, fn in (("put", cmd_put), ("tus", cmd_tus)):
        p = add(name, fn)
        p.add_argument("--file", required=True)
        p.add_argument("--size", type=int, required=True)
        p.add_argument("--name", default="big.bin")
        p.add_argument("--chunk", type=int, default=8 << 20)
    p = add("probe", cmd_probe)
    p.add_argument("--path", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--max-seconds", type=float, default=600)
    p = add("load", cmd_load)
    p.add_argument("--root", required=True)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--size", type=int, default=2 << 20)
    p.add_argument("--chunk", type=int, default=512 << 10)
    p.add_argument("--idle", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--mode", choices=("tus", "put", "both"), default="both")
    p.add_argument("--probe-path", required=True)
    p.add_argument("--probe-pause", type=float, default=0.001)
    p.add_argument("--stop-file", required=True)
    p = add("open", cmd_open)
    p.add_argument("--root", default="")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--length", type=int, default=1 << 20)
    p.add_argument("--patch", type=int, default=4096)
    p.add_argument("--hold", action="store_true")
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
