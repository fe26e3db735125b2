"""boto3 and the AWS CLI in virtual-host style against ferry's S3 listener
served with `--s3-domain s3.localhost` (tests/s3/virtual_host.rs): each
request goes to `<bucket>.s3.localhost:PORT`, the bucket in Host, the key
in the path. Neither client is changed. This machine's resolver does not
answer `*.localhost`, so this script answers names under s3.localhost
with 127.0.0.1 by replacing `socket.getaddrinfo` in its own process (no
system file is touched), and runs the AWS CLI in the same process for the
same reason. Exits non-zero on the first difference; prints "ok" last.

usage: s3_virtual_host.py ENDPOINT KEY_ID SECRET   (ENDPOINT: http://127.0.0.1:PORT)
"""
import hashlib
import os
import socket
import sys
import tempfile
import urllib.request
from urllib.parse import urlsplit

endpoint, key_id, secret = sys.argv[1:4]
DOMAIN = "s3.localhost"
VIRTUAL = f"http://{DOMAIN}:{urlsplit(endpoint).port}"

resolve = socket.getaddrinfo


def loopback(host, *args, **kwargs):
    if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
        host = "127.0.0.1"
    return resolve(host, *args, **kwargs)


socket.getaddrinfo = loopback

from s3_boto3_client import s3_client  # noqa: E402 (after the resolver)

s3 = s3_client(VIRTUAL, key_id, secret, s3={"addressing_style": "virtual"})
hosts = set()
s3.meta.events.register(
    "before-send.s3", lambda request, **_: hosts.add(urlsplit(request.url).netloc)
)

s3.create_bucket(Bucket="vbkt")
s3.head_bucket(Bucket="vbkt")
s3.put_object(Bucket="vbkt", Key="dir/a b&c.txt", Body=b"hello")
assert s3.get_object(Bucket="vbkt", Key="dir/a b&c.txt")["Body"].read() == b"hello"
ranged = s3.get_object(Bucket="vbkt", Key="dir/a b&c.txt", Range="bytes=1-3")
assert ranged["Body"].read() == b"ell"
listed = s3.list_objects_v2(Bucket="vbkt", Prefix="dir/")
assert [o["Key"] for o in listed["Contents"]] == ["dir/a b&c.txt"], listed

# Multipart: its completion's body is taken in hand by the bucket in Host.
part = 5 << 20
data = os.urandom(part) + os.urandom(1000)
up = s3.create_multipart_upload(Bucket="vbkt", Key="big.bin")["UploadId"]
etags = [
    s3.upload_part(Bucket="vbkt", Key="big.bin", UploadId=up, PartNumber=n + 1, Body=chunk)["ETag"]
    for n, chunk in enumerate([data[:part], data[part:]])
]
s3.complete_multipart_upload(
    Bucket="vbkt",
    Key="big.bin",
    UploadId=up,
    MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
)
got = s3.get_object(Bucket="vbkt", Key="big.bin")["Body"].read()
assert hashlib.md5(got).digest() == hashlib.md5(data).digest()

gone = s3.delete_objects(Bucket="vbkt", Delete={"Objects": [{"Key": "dir/a b&c.txt"}]})
assert [d["Key"] for d in gone["Deleted"]] == ["dir/a b&c.txt"], gone

# A presigned GET names the bucket's host too (SigV4: boto3 presigns
# with SigV2 unless told).
signer = s3_client(
    VIRTUAL, key_id, secret, s3={"addressing_style": "virtual"}, signature_version="s3v4"
)
url = signer.generate_presigned_url("get_object", Params={"Bucket": "vbkt", "Key": "big.bin"})
assert urlsplit(url).hostname == "vbkt." + DOMAIN, url
with urllib.request.urlopen(url) as answer:
    assert answer.read() == data

assert hosts == {f"vbkt.{DOMAIN}:{urlsplit(endpoint).port}"}, hosts
# ListBuckets is on the domain itself.
assert "vbkt" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

# The AWS CLI, told `addressing_style = virtual` in its own config file.
home = tempfile.mkdtemp()
config = os.path.join(home, "config")
with open(config, "w") as f:
    f.write("[default]\ns3 =\n  addressing_style = virtual\n")
source = os.path.join(home, "cli.txt")
with open(source, "w") as f:
    f.write("from the cli\n")
os.environ.update(
    AWS_CONFIG_FILE=config,
    AWS_ACCESS_KEY_ID=key_id,
    AWS_SECRET_ACCESS_KEY=secret,
    AWS_DEFAULT_REGION="us-east-1",
)
from awscli.clidriver import create_clidriver  # noqa: E402

cli_hosts = set()


def cli(*args):
    driver = create_clidriver()
    driver.session.register(
        "before-send.s3", lambda request, **_: cli_hosts.add(urlsplit(request.url).hostname)
    )
    rc = driver.main(["--endpoint-url", VIRTUAL, *args])
    assert rc == 0, (args, rc)


cli("s3", "cp", source, "s3://vbkt/cli.txt")
cli("s3", "cp", "s3://vbkt/cli.txt", os.path.join(home, "back.txt"))
with open(os.path.join(home, "back.txt")) as f:
    assert f.read() == "from the cli\n"
assert cli_hosts == {"vbkt." + DOMAIN}, cli_hosts
print("ok")
