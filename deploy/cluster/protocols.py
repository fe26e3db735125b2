#!/usr/bin/env python3
"""The protocols of a ferry cluster (cluster.sh) across its nodes, for
deploy/cluster/test.sh: each check prints one line, "PASS <name>: ..." or
"FAIL <name>: ...", and the program exits non-zero if any failed.

  s3      a multipart upload begun through the balancer, its parts sent
          through node 1, node 2 and the balancer, completed through the
          balancer; read back whole through each node (boto3)
  ftp     six FTP sessions through the balancer (PASV and EPSV in turn),
          each a STOR and a RETR whose data connections go through the
          balancer too; both nodes served sessions; each file read back
          through each node's own FTP port (ftplib)
  webdav  an exclusive LOCK through node 1 holds on node 2: a second LOCK
          and a PUT without the lock token are refused there (423), a PUT
          with it and the UNLOCK are served there
  tus     an upload created and half sent through node 1, its offset seen
          and the rest sent through node 2, read back through the balancer
  rolling a rolling restart (each node stopped with SIGTERM and started
          again, one after the other) under uploads through the balancer
          over FERRY/1, HTTP, WebDAV, tus, S3 and FTP at once: every
          acknowledged upload reads back intact, and every failure a
          client saw is one it may retry (a 5xx, FTP's 4xx, a connection
          refused or cut)

  deploy/cluster/protocols.py ENV_FILE CHECK...

ENV_FILE is the cluster's cluster.env; its node logs are read from the
logs folder beside it.
"""

import base64
import ftplib
import http.client
import io
import os
import re
import socket
import sys
import time

import rolling
from rolling import host_port


def env(path):
    values = {}
    for line in open(path):
        key, _, value = line.strip().partition("=")
        values[key] = value
    return values


def request(addr, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*host_port(addr), timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp, data


def node_http(e, k):
    return "127.0.0.1:" + e["NODE%d_HTTP" % k]


def check_s3(e):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return "SKIP", "boto3 is not installed (pip install boto3)"

    def client(addr):
        return boto3.client(
            "s3", endpoint_url="http://" + addr, region_name="us-east-1",
            aws_access_key_id="cluster", aws_secret_access_key="cluster-secret",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    lb = client(e["LB_S3"])
    nodes = [client("127.0.0.1:" + e["NODE%d_S3" % k]) for k in (1, 2)]
    lb.create_bucket(Bucket="s3multi")
    part = 5 * 1024 * 1024
    data = os.urandom(2 * part + 12345)
    key = "through/parts.bin"
    upload = lb.create_multipart_upload(Bucket="s3multi", Key=key)["UploadId"]
    parts = []
    for number, (via, start) in enumerate(zip([nodes[0], nodes[1], lb], range(0, len(data), part)), 1):
        etag = via.upload_part(Bucket="s3multi", Key=key, UploadId=upload, PartNumber=number,
                               Body=data[start:start + part])["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    listed = nodes[1].list_parts(Bucket="s3multi", Key=key, UploadId=upload)["Parts"]
    if [p["PartNumber"] for p in listed] != [1, 2, 3]:
        return "FAIL", "node 2 lists parts %s, not 1, 2, 3" % [p["PartNumber"] for p in listed]
    lb.complete_multipart_upload(Bucket="s3multi", Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": parts})
    for k, via in enumerate(nodes, 1):
        got = via.get_object(Bucket="s3multi", Key=key)["Body"].read()
        if got != data:
            return "FAIL", "node %d reads %d bytes, not the %d uploaded" % (k, len(got), len(data))
    return "PASS", "3 parts of a multipart upload through node 1, node 2 and the balancer, " \
        "completed through the balancer, read back whole through each node (%d bytes)" % len(data)


def ftp_session(addr, i, epsv):
    host, port = host_port(addr)
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=30)
    ftp.login("anonymous", "cluster@")
    if epsv:
        # ftplib asks EPSV of an IPv6 session; the data connection goes to
        # the address the control connection reached: the balancer's.
        ftp.af = socket.AF_INET6
    data = os.urandom(200_000 + i)
    ftp.storbinary("STOR ftp/session%d.bin" % i, io.BytesIO(data))
    back = io.BytesIO()
    ftp.retrbinary("RETR ftp/session%d.bin" % i, back.write)
    ftp.quit()
    return data, back.getvalue()


def served_by(logs, k, pattern):
    path = os.path.join(logs, "ferry-node%d.log" % k)
    return sum(1 for line in open(path, errors="replace") if re.search(pattern, line))


def check_ftp(e, logs):
    before = [served_by(logs, k, r' ftp put "ftp/session') for k in (1, 2)]
    sent = {}
    ftp = ftplib.FTP()
    ftp.connect(*host_port(e["LB_FTP"]), timeout=30)
    ftp.login("anonymous", "cluster@")
    try:
        ftp.mkd("ftp")
    except ftplib.error_perm:
        pass
    ftp.quit()
    for i in range(6):
        data, back = ftp_session(e["LB_FTP"], i, epsv=i % 2 == 1)
        if back != data:
            return "FAIL", "session %d read back %d bytes, not the %d stored" % (i, len(back), len(data))
        sent[i] = data
    # The access log is written within a second.
    for _ in range(50):
        after = [served_by(logs, k, r' ftp put "ftp/session') for k in (1, 2)]
        spread = [a - b for a, b in zip(after, before)]
        if sum(spread) >= 6:
            break
        time.sleep(0.1)
    if sum(spread) != 6 or 0 in spread:
        return "FAIL", "the nodes logged %s of the 6 sessions' uploads: not spread over both" % spread
    for k in (1, 2):
        node = ftplib.FTP()
        node.connect(e["NODE%d_IP" % k], int(e["NODE%d_FTP" % k]), timeout=30)
        node.login("anonymous", "cluster@")
        for i, data in sent.items():
            back = io.BytesIO()
            node.retrbinary("RETR ftp/session%d.bin" % i, back.write)
            if back.getvalue() != data:
                return "FAIL", "node %d reads session %d's file otherwise" % (k, i)
        node.quit()
    return "PASS", "6 FTP sessions through the balancer (PASV and EPSV, data through it too), " \
        "node 1 and node 2 served %d and %d; every file read back through each node" % tuple(spread)


LOCK_BODY = b"""<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype><D:owner>cluster test</D:owner></D:lockinfo>"""


def check_webdav(e):
    n1, n2 = node_http(e, 1), node_http(e, 2)
    path = "/dav/locked.txt"
    status, _, _ = request(n1, "PUT", path, b"first")
    if status not in (201, 204):
        return "FAIL", "PUT through node 1 answered %d" % status
    headers = {"Timeout": "Second-600", "Depth": "0", "Content-Type": "application/xml"}
    status, resp, _ = request(n1, "LOCK", path, LOCK_BODY, headers)
    token = resp.getheader("Lock-Token", "")
    if status != 200 or not token:
        return "FAIL", "LOCK through node 1 answered %d (Lock-Token %r)" % (status, token)
    status, _, _ = request(n2, "LOCK", path, LOCK_BODY, headers)
    if status != 423:
        return "FAIL", "a second exclusive LOCK through node 2 answered %d, not 423" % status
    status, _, _ = request(n2, "PUT", path, b"stranger")
    if status != 423:
        return "FAIL", "a PUT without the lock token through node 2 answered %d, not 423" % status
    status, _, _ = request(n2, "PUT", path, b"holder", {"If": "(%s)" % token})
    if status not in (201, 204):
        return "FAIL", "the holder's PUT through node 2 answered %d" % status
    status, _, _ = request(n2, "UNLOCK", path, None, {"Lock-Token": token})
    if status != 204:
        return "FAIL", "UNLOCK through node 2 answered %d" % status
    status, _, body = request(n1, "GET", path)
    if status != 200 or body != b"holder":
        return "FAIL", "node 1 reads %d %r after the holder's PUT" % (status, body[:20])
    status, _, _ = request(n2, "LOCK", path, LOCK_BODY, headers)
    if status != 200:
        return "FAIL", "a LOCK through node 2 after the UNLOCK answered %d" % status
    return "PASS", "a LOCK through node 1 held on node 2 (LOCK and tokenless PUT 423 there), " \
        "the holder's PUT and UNLOCK served there"


def check_tus(e):
    n1, n2 = node_http(e, 1), node_http(e, 2)
    data = os.urandom(3_000_000)
    half = len(data) // 2
    name = base64.b64encode(b"resumed.bin").decode()
    tus = {"Tus-Resumable": "1.0.0"}
    status, resp, _ = request(n1, "POST", "/tus/", None, dict(tus, **{
        "Upload-Length": str(len(data)), "Upload-Metadata": "filename " + name}))
    where = resp.getheader("Location", "")
    if status != 201 or not where:
        return "FAIL", "creation through node 1 answered %d (Location %r)" % (status, where)
    where = re.sub(r"^https?://[^/]+", "", where)
    patch = dict(tus, **{"Content-Type": "application/offset+octet-stream"})
    status, _, _ = request(n1, "PATCH", where, data[:half], dict(patch, **{"Upload-Offset": "0"}))
    if status != 204:
        return "FAIL", "the first PATCH through node 1 answered %d" % status
    status, resp, _ = request(n2, "HEAD", where, None, tus)
    offset = resp.getheader("Upload-Offset")
    if status != 200 or offset != str(half):
        return "FAIL", "HEAD through node 2 answered %d, offset %s, not %d" % (status, offset, half)
    status, _, _ = request(n2, "PATCH", where, data[half:], dict(patch, **{"Upload-Offset": str(half)}))
    if status != 204:
        return "FAIL", "the last PATCH through node 2 answered %d" % status
    status, _, body = request(e["LB_HTTP"], "GET", "/tus/resumed.bin")
    if status != 200 or body != data:
        return "FAIL", "GET through the balancer: %d, %d bytes" % (status, len(body))
    return "PASS", "a tus upload created and half sent through node 1 went on from " \
        "%d through node 2; read back whole through the balancer" % half


def main():
    e = env(sys.argv[1])
    e["_file"] = sys.argv[1]
    logs = os.path.join(os.path.dirname(sys.argv[1]), "logs")
    cluster = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster.sh")
    checks = {"s3": lambda: check_s3(e), "ftp": lambda: check_ftp(e, logs),
              "webdav": lambda: check_webdav(e), "tus": lambda: check_tus(e),
              "rolling": lambda: rolling.check(e, cluster)}
    failed = 0
    for name in sys.argv[2:]:
        try:
            verdict, detail = checks[name]()
        except Exception as err:  # a client's error is this check's failure
            verdict, detail = "FAIL", "%s: %s" % (type(err).__name__, err)
        print("%s %s: %s" % (verdict, name, detail), flush=True)
        failed += verdict == "FAIL"
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
