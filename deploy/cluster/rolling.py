"""A rolling restart under mixed load (protocols.py's `rolling` check): one
client per protocol uploads 32 KiB files through the balancer, one after
another, while each node in turn is stopped (SIGTERM: it finishes what it
has in flight) and started again. Each upload ends acknowledged or failed;
a failure is *retryable* when a client may send the same upload again (a
5xx, FTP's transient 4yz, a connection refused, reset or closed) and
*final* otherwise (any other refusal). The check passes when no upload
failed finally and every acknowledged one reads back intact.
"""

import base64
import ftplib
import http.client
import io
import os
import re
import socket
import subprocess
import threading
import time
import zlib

SIZE = 32 * 1024
# tus uploads that went on from a HEAD (a PATCH cut, or answered 409).
TUS_RESUMED = []


class Final(Exception):
    """A refusal a client must not retry."""


def host_port(addr):
    host, _, port = addr.rpartition(":")
    return host, int(port)


def http_put(addr, path, data, headers=None):
    conn = http.client.HTTPConnection(*host_port(addr), timeout=30)
    try:
        conn.request("PUT", path, body=data, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp
    finally:
        conn.close()


def judge(status):
    """None for success; raises Final for a refusal, OSError for a 5xx."""
    if status in (200, 201, 204):
        return
    if status >= 500:
        raise ConnectionError("answered %d" % status)
    raise Final("answered %d" % status)


def ferry_put(e, name, data):
    with socket.create_connection(host_port(e["LB_FERRY"]), timeout=30) as s:
        f = s.makefile("rb")
        greeting = f.readline()
        if not greeting.startswith(b"OK FERRY/1 "):
            raise ConnectionError("greeting %r" % greeting[:40])
        s.sendall(b"PUT %s %d\n" % (name.encode(), len(data)) + data)
        line = f.readline().decode(errors="replace").strip()
    if line.startswith("OK %d " % len(data)):
        return
    if not line or line.startswith("ERR 5"):
        raise ConnectionError(line or "closed before the answer")
    raise Final(line)


def plain_put(e, name, data):
    judge(http_put(e["LB_HTTP"], "/" + name, data)[0])


def dav_put(e, name, data):
    # A DAV client's: the parent made with MKCOL (201, or 405 once there).
    conn = http.client.HTTPConnection(*host_port(e["LB_HTTP"]), timeout=30)
    conn.request("MKCOL", "/" + name.rsplit("/", 1)[0] + "/")
    status = conn.getresponse().status
    conn.close()
    if status not in (201, 405):
        judge(status)
    judge(http_put(e["LB_HTTP"], "/" + name, data, {"Content-Type": "application/octet-stream"})[0])


def tus_request(e, method, path, headers, body=None):
    conn = http.client.HTTPConnection(*host_port(e["LB_HTTP"]), timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict({"Tus-Resumable": "1.0.0"}, **headers))
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp
    finally:
        conn.close()


def tus_put(e, name, data):
    """A tus upload as tus clients make it: created, then PATCHed; a PATCH
    cut (a connection lost, a 5xx) or answered 409 (the offset is not
    where the client thought) is followed by a HEAD for where the upload
    stands and a PATCH from there, as tus-js-client and tuspy do."""
    folder, leaf = name.rsplit("/", 1)
    status, resp = tus_request(e, "POST", "/" + folder + "/", {
        "Upload-Length": str(len(data)),
        "Upload-Metadata": "filename " + base64.b64encode(leaf.encode()).decode()})
    judge(status)
    where = re.sub(r"^https?://[^/]+", "", resp.getheader("Location", ""))
    offset = 0
    for _ in range(3):
        try:
            status, _ = tus_request(e, "PATCH", where, {
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream"}, data[offset:])
        except OSError:
            status = None
        if status == 204:
            return
        if status is not None and status != 409 and status < 500:
            raise Final("PATCH answered %d" % status)
        TUS_RESUMED.append(name)
        try:
            status, resp = tus_request(e, "HEAD", where, {})
        except OSError:
            continue
        if status != 200:
            raise ConnectionError("HEAD answered %d" % status)
        offset = int(resp.getheader("Upload-Offset", "0"))
    raise ConnectionError("the upload did not complete in 3 PATCHes")


def ftp_put(e, name, data):
    ftp = ftplib.FTP()
    try:
        ftp.connect(*host_port(e["LB_FTP"]), timeout=30)
        ftp.login("anonymous", "rolling@")
        ftp.storbinary("STOR " + name, io.BytesIO(data))
        ftp.quit()
    except ftplib.error_temp as err:  # 4yz: transient (RFC 959)
        raise ConnectionError(str(err))
    except ftplib.error_perm as err:
        raise Final(str(err))
    except EOFError as err:
        raise ConnectionError("closed: %s" % err)


def s3_client(e):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url="http://" + e["LB_S3"], region_name="us-east-1",
        aws_access_key_id="cluster", aws_secret_access_key="cluster-secret",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def s3_put(e, name, data, client):
    from botocore.exceptions import ClientError
    bucket, key = name.split("/", 1)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        judge(status or 599)


class Client(threading.Thread):
    """Uploads rolling/<protocol>/<n> until told to stop."""

    def __init__(self, e, protocol, put, stop):
        super().__init__(daemon=True)
        self.e, self.protocol, self.put, self.stop = e, protocol, put, stop
        self.acked, self.retryable, self.final = {}, [], []

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            name = "rolling/%s/%d.bin" % (self.protocol, n)
            data = os.urandom(SIZE)
            try:
                self.put(self.e, name, data)
                self.acked[name] = zlib.crc32(data)
            except Final as err:
                self.final.append("%s: %s" % (name, err))
            except Exception as err:  # connection errors, 5xx: retryable
                self.retryable.append("%s: %s: %s" % (name, type(err).__name__, err))
                time.sleep(0.1)


def restart_each_node(e, cluster):
    """Stops and starts each node in turn; waits for it to serve again."""
    env = dict(os.environ, FERRY_CLUSTER_DIR=os.path.dirname(os.path.abspath(e["_file"])))
    for k in range(1, int(e["NODES"]) + 1):
        time.sleep(2)
        subprocess.run([cluster, "node", "stop", str(k)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        subprocess.run([cluster, "node", "start", str(k)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The balancer's checks take it back within two passes (2 s).
        time.sleep(3)


def check(e, cluster):
    try:
        s3 = s3_client(e)
        s3.create_bucket(Bucket="rolling")
    except ImportError:
        return "SKIP", "boto3 is not installed (pip install boto3)"
    stop = threading.Event()
    puts = {"ferry": ferry_put, "http": plain_put, "webdav": dav_put, "tus": tus_put,
            "ftp": ftp_put, "s3": lambda e, name, data: s3_put(e, name, data, s3)}
    ftp = ftplib.FTP()
    ftp.connect(*host_port(e["LB_FTP"]), timeout=30)
    ftp.login("anonymous", "rolling@")
    for folder in ("rolling/ftp", "rolling/tus"):
        for part in (folder.split("/")[0], folder):
            try:
                ftp.mkd(part)
            except ftplib.error_perm:
                pass
    ftp.quit()
    clients = [Client(e, protocol, put, stop) for protocol, put in puts.items()]
    for client in clients:
        client.start()
    started = time.time()
    restart_each_node(e, cluster)
    time.sleep(2)
    stop.set()
    for client in clients:
        client.join(60)
    took = time.time() - started
    lost = []
    for client in clients:
        for name, crc in client.acked.items():
            conn = http.client.HTTPConnection(*host_port(e["LB_HTTP"]), timeout=30)
            conn.request("GET", "/" + name)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            if resp.status != 200 or zlib.crc32(body) != crc:
                lost.append("%s (%d, %d bytes)" % (name, resp.status, len(body)))
    acked = sum(len(c.acked) for c in clients)
    retryable = [r for c in clients for r in c.retryable]
    final = [f for c in clients for f in c.final]
    per = ", ".join("%s %d/%d" % (c.protocol, len(c.acked), len(c.acked) + len(c.retryable) + len(c.final))
                    for c in clients)
    if lost or final:
        return "FAIL", "%d acknowledged lost (%s), %d final refusals (%s)" % (
            len(lost), "; ".join(lost[:3]), len(final), "; ".join(final[:3]))
    first = ("; first: " + retryable[0]) if retryable else ""
    return "PASS", "%d nodes restarted one by one in %.0f s under six protocols: %d uploads " \
        "acknowledged, all intact; %d failed, all retryable; %d tus uploads went on from a " \
        "HEAD (acknowledged/tried: %s)%s" % (
            int(e["NODES"]), took, acked, len(retryable), len(TUS_RESUMED), per, first[:200])
