#!/usr/bin/env python3
"""Client helpers for benches/s3.sh (standard library only).

Subcommands (each prints one JSON object on standard output):

  timed   Runs a command (a real client: curl, boto3) and reports its wall
          time, its own CPU seconds (user+system of the command and its
          children, from getrusage) and, with --pid, the server's CPU
          seconds over the same span (utime+stime of all its threads from
          /proc/<pid>/stat): the figures that say who was the bottleneck.
  boto3   One boto3 put_object of --file, or get_object read through in
          1 MiB pieces, to bucket `bench` (path style, us-east-1; over
          HTTP botocore signs the payload's SHA-256 and adds its CRC-32):
          the same figures as `timed`, the client's CPU its own (its
          start-up and import left out).
  gets    COUNT GETs of --path on one keep-alive connection, each answer
          read whole: plain HTTP (with --token, `Authorization: Bearer`),
          or S3 signed with SigV4 in the header (--key ID:SECRET; payload
          hash of the empty body, as botocore sends a GET), each request
          signed anew but all before the clock starts. Both share every
          line of socket code, so only the request's head differs.
  list    ListObjectsV2 of --bucket paged through (max-keys 1000,
          continuation-token), signed as `gets`; checks the keys come in
          strictly ascending order and reports the key count, pages and
          time (and the server's CPU and peak RSS with --pid).
  fill    Makes COUNT small files under --dir, flat or --per-folder files
          to a sub-folder (the keys ListObjectsV2 pages through).
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

HOST = "127.0.0.1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def out(obj):
    print(json.dumps(obj), flush=True)


def proc_cpu(pid):
    """utime+stime of a process (all its threads), in seconds."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Signer:
    """SigV4 in the `Authorization` header, region us-east-1, service s3."""

    def __init__(self, key):
        self.id, self.secret = key.split(":", 1)

    def fields(self, method, path, query, host):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        scope = f"{day}/us-east-1/s3/aws4_request"
        pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
        canonical_query = "&".join(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in pairs
        )
        headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
        signed = ";".join(headers)
        canonical = "\n".join(
            [method, path, canonical_query]
            + [f"{k}:{v}" for k, v in headers.items()]
            + ["", signed, EMPTY_SHA256]
        )
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = ("AWS4" + self.secret).encode()
        for part in (day, "us-east-1", "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"x-amz-content-sha256: {EMPTY_SHA256}\r\nx-amz-date: {amz_date}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential={self.id}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}\r\n"
        )


class Conn:
    """One keep-alive connection; answers read whole by Content-Length."""

    def __init__(self, port):
        self.port = port
        self.host = f"{HOST}:{port}"
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def get(self, target, auth):
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n{auth}\r\n".encode())
        while b"\r\n\r\n" not in self.pending:
            self.pending += self._recv()
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.pending) < length:
            self.pending += self._recv()
        body, self.pending = self.pending[:length], self.pending[length:]
        return status, body

    def _recv(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        return chunk


def auth_for(args, conn, method, path, query=""):
    if args.key:
        return Signer(args.key).fields(method, path, query, conn.host)
    if args.token:
        return f"Authorization: Bearer {args.token}\r\n"
    return ""


def cmd_timed(args):
    cpu0, server0, t0 = children_cpu(), proc_cpu(args.pid), time.perf_counter()
    rc = subprocess.run(args.command, stdout=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"s3_client.py: {args.command[0]} exited {rc}")
    out(
        {
            "seconds": seconds,
            "client_cpu": children_cpu() - cpu0,
            "server_cpu": proc_cpu(args.pid) - server0,
        }
    )


def cmd_boto3(args):
    import boto3  # only this subcommand needs it
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{HOST}:{args.port}",
        aws_access_key_id=args.key.split(":", 1)[0],
        aws_secret_access_key=args.key.split(":", 1)[1],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    server0, t0 = proc_cpu(args.pid), time.perf_counter()
    if args.op == "put":
        with open(args.file, "rb") as f:
            s3.put_object(Bucket="bench", Key=args.name, Body=f)
    else:
        body = s3.get_object(Bucket="bench", Key=args.name)["Body"]
        while body.read(1 << 20):
            pass
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    client = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    out({"seconds": seconds, "client_cpu": client, "server_cpu": proc_cpu(args.pid) - server0})


def cmd_gets(args):
    conn = Conn(args.port)
    # Signed ahead, before the clock starts: signing in Python takes
    # longer than the server's answer, and a client slower to send the
    # next request makes the server wait and wake more often per request,
    # which would be counted as S3's cost.
    auths = [auth_for(args, conn, "GET", args.path) for _ in range(args.count)]
    cpu0, t0 = proc_cpu(args.pid), time.perf_counter()
    size = 0
    for auth in auths:
        status, body = conn.get(args.path, auth)
        if status != 200:
            sys.exit(f"s3_client.py: GET {args.path}: {status} {body[:200]!r}")
        size += len(body)
    out(
        {
            "requests": args.count,
            "bytes": size,
            "seconds": time.perf_counter() - t0,
            "server_cpu": proc_cpu(args.pid) - cpu0,
        }
    )


def cmd_list(args):
    conn = Conn(args.port)
    cpu0, t0 = proc_cpu(args.pid), time.perf_counter()
    keys = pages = 0
    last, token = "", None
    path = f"/{args.bucket}"
    while True:
        params = {"list-type": "2", "max-keys": "1000"}
        if token:
            params["continuation-token"] = token
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="-_.~")
        status, body = conn.get(f"{path}?{query}", auth_for(args, conn, "GET", path, query))
        if status != 200:
            sys.exit(f"s3_client.py: ListObjectsV2: {status} {body[:300]!r}")
        root = ET.fromstring(body)
        pages += 1
        for key in root.iter(NS + "Key"):
            if key.text <= last:
                sys.exit(f"s3_client.py: {key.text!r} came after {last!r}")
            last = key.text
            keys += 1
        if root.findtext(NS + "IsTruncated") != "true":
            break
        token = root.findtext(NS + "NextContinuationToken")
    report = {"keys": keys, "pages": pages, "seconds": time.perf_counter() - t0}
    if args.pid:
        report["server_cpu"] = proc_cpu(args.pid) - cpu0
        report["vmhwm_kb"] = status_kb(args.pid, "VmHWM")
        report["vmrss_kb"] = status_kb(args.pid, "VmRSS")
    out(report)


def cmd_fill(args):
    body = b"x" * args.size
    for i in range(args.count):
        name = f"k{i:07d}"
        if args.per_folder:
            folder = os.path.join(args.dir, f"d{i // args.per_folder:04d}")
            if i % args.per_folder == 0:
                os.makedirs(folder, exist_ok=True)
        else:
            folder = args.dir
        with open(os.path.join(folder, name), "wb") as f:
            f.write(body)
    out({"files": args.count})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timed")
    t.add_argument("--pid", type=int, default=0)
    t.add_argument("command", nargs=argparse.REMAINDER)
    for name in ("gets", "list"):
        c = sub.add_parser(name)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--pid", type=int, default=0)
        c.add_argument("--key", help="ID:SECRET: sign as S3")
        c.add_argument("--token", help="a ferry token: Authorization: Bearer")
        if name == "gets":
            c.add_argument("--path", required=True)
            c.add_argument("--count", type=int, default=1000)
        else:
            c.add_argument("--bucket", required=True)
    b = sub.add_parser("boto3")
    b.add_argument("op", choices=["put", "get"])
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--pid", type=int, default=0)
    b.add_argument("--key", required=True, help="ID:SECRET")
    b.add_argument("--name", required=True)
    b.add_argument("--file", help="what to put")
    f = sub.add_parser("fill")
    f.add_argument("--dir", required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--per-folder", type=int, default=0)
    f.add_argument("--size", type=int, default=16)
    args = p.parse_args()
    if args.cmd == "timed" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    commands = {
        "timed": cmd_timed,
        "boto3": cmd_boto3,
        "gets": cmd_gets,
        "list": cmd_list,
        "fill": cmd_fill,
    }
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
