#!/usr/bin/env python3
"""Client for benches/dav_nginx.sh (standard library only).

Subcommands (each prints one JSON object on standard output and exits
non-zero, the reason on standard error, when an answer is not the one
asked for):

  puts      COUNT sequential `PUT /<folder>/f-NNNNN.bin` of SIZE bytes on
            ONE keep-alive connection (http.client), distinct new names in
            one existing folder; every answer must be 201 or 204 on the
            same connection (a server closing it fails the run). The body
            of file i is `body(i)`, so `verify` can check it. Reports the
            wall seconds over the PUTs and the statuses seen.
  verify    Reads a sample of the files `puts` stored, from the server's
            root folder on disk: COUNT files present, every SAMPLE-th one
            byte for byte.
  propfind  COUNT sequential `PROPFIND <path>` with `Depth: 1` on ONE
            keep-alive connection, with a <prop> body naming
            getcontentlength, getlastmodified, resourcetype, getetag and
            displayname (--allprop: no body, which RFC 4918 reads as
            allprop); every answer must be 207 with EXPECT <response>
            elements (closing tags counted case-insensitively, whatever
            the namespace prefix). Reports the wall seconds over the
            requests and the bytes of one answer.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import sys
import time

HOST = "127.0.0.1"
PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getcontentlength/><D:getlastmodified/><D:resourcetype/>"
    b"<D:getetag/><D:displayname/>"
    b"</D:prop></D:propfind>"
)
# A closing </response> or </x:response> (not </responsedescription>).
RESPONSE_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?response>", re.IGNORECASE)


def fail(msg):
    print(f"dav_nginx_client: {msg}", file=sys.stderr)
    sys.exit(1)


def body(i, size):
    """The bytes of file i: a seeded stream, distinct per file."""
    seed = hashlib.sha256(b"dav-nginx-%d" % i).digest()
    return (seed * (size // len(seed) + 1))[:size]


def name(i):
    return f"f-{i:05d}.bin"


def cmd_puts(args):
    conn = http.client.HTTPConnection(HOST, args.port, timeout=60)
    conn.connect()
    sock = conn.sock
    bodies = [body(i, args.size) for i in range(args.count)]
    statuses = {}
    folder = args.folder.strip("/")
    start = time.perf_counter()
    for i in range(args.count):
        conn.request(
            "PUT",
            f"/{folder}/{name(i)}",
            body=bodies[i],
            headers={"Content-Type": "application/octet-stream"},
        )
        resp = conn.getresponse()
        resp.read()
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        if resp.status not in (201, 204):
            fail(f"PUT {name(i)}: {resp.status} {resp.reason}")
        if conn.sock is not sock:
            fail(f"PUT {name(i)}: the connection was not kept alive")
    seconds = time.perf_counter() - start
    conn.close()
    print(json.dumps({"seconds": seconds, "statuses": statuses}))


def cmd_verify(args):
    present = sum(1 for n in os.listdir(args.dir) if n.startswith("f-"))
    if present != args.count:
        fail(f"{args.dir}: {present} files stored, want {args.count}")
    checked = 0
    for i in range(0, args.count, args.sample):
        with open(os.path.join(args.dir, name(i)), "rb") as f:
            if f.read() != body(i, args.size):
                fail(f"{args.dir}/{name(i)} differs from what was sent")
        checked += 1
    print(json.dumps({"present": present, "checked": checked}))


def cmd_propfind(args):
    conn = http.client.HTTPConnection(HOST, args.port, timeout=120)
    conn.connect()
    sock = conn.sock
    headers = {"Depth": "1"}
    payload = None
    if not args.allprop:
        headers["Content-Type"] = "application/xml; charset=utf-8"
        payload = PROPS
    size = 0
    start = time.perf_counter()
    for i in range(args.count):
        conn.request("PROPFIND", args.path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 207:
            fail(f"PROPFIND {args.path}: {resp.status} {resp.reason}: {data[:200]!r}")
        found = len(RESPONSE_END.findall(data))
        if found != args.expect:
            fail(f"PROPFIND {args.path}: {found} <response>s, want {args.expect}")
        if conn.sock is not sock:
            fail(f"PROPFIND {args.path}: the connection was not kept alive")
        size = len(data)
    seconds = time.perf_counter() - start
    conn.close()
    print(json.dumps({"seconds": seconds, "bytes": size}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("puts")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--folder", required=True)
    s.add_argument("--count", type=int, default=2000)
    s.add_argument("--size", type=int, default=4096)
    s.set_defaults(fn=cmd_puts)
    s = sub.add_parser("verify")
    s.add_argument("--dir", required=True)
    s.add_argument("--count", type=int, default=2000)
    s.add_argument("--size", type=int, default=4096)
    s.add_argument("--sample", type=int, default=50)
    s.set_defaults(fn=cmd_verify)
    s = sub.add_parser("propfind")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--path", required=True)
    s.add_argument("--count", type=int, default=5)
    s.add_argument("--expect", type=int, required=True)
    s.add_argument("--allprop", action="store_true")
    s.set_defaults(fn=cmd_propfind)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
