"""boto3 against ferry's S3 listener (tests/clients/s3.rs): every
operation of the first slice as a script would call it, with the
errors boto3 raises; exits non-zero on the first difference.

Then what the SDK streams: its additional checksums (over HTTPS in the
trailer of an aws-chunked body, over HTTP in a header) and presigned
GET and PUT URLs (SigV4 and boto3's default, SigV2), fetched with
http.client.

usage: s3_boto3.py ENDPOINT KEY_ID SECRET [CA_BUNDLE]
"""
import hashlib
import io
import ssl
import sys
import http.client
import urllib.parse

from botocore.exceptions import ClientError

from s3_boto3_client import s3_client

endpoint, key_id, secret = sys.argv[1:4]
ca = sys.argv[4] if len(sys.argv) > 4 else None


def client(key=key_id, password=secret, **config):
    return s3_client(endpoint, key, password, ca, **config)


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    raise AssertionError("no error")


s3 = client()
s3.create_bucket(Bucket="boto")
s3.head_bucket(Bucket="boto")
assert "boto" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert s3.get_bucket_location(Bucket="boto").get("LocationConstraint") in (None, "")

body = bytes(range(256)) * 8
odd = 'dir/k é&+"x.txt'
put = s3.put_object(Bucket="boto", Key=odd, Body=body)
assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), put["ETag"]
assert s3.get_object(Bucket="boto", Key=odd)["Body"].read() == body
assert s3.get_object(Bucket="boto", Key=odd, Range="bytes=10-19")["Body"].read() == body[10:20]
assert s3.head_object(Bucket="boto", Key=odd)["ContentLength"] == len(body)

for key in ["a", "b/c", "b/d", "e"]:
    s3.put_object(Bucket="boto", Key=key, Body=key.encode())
keys = []
pages = s3.get_paginator("list_objects_v2").paginate(Bucket="boto", PaginationConfig={"PageSize": 2})
for page in pages:
    keys += [o["Key"] for o in page.get("Contents", [])]
assert keys == ["a", "b/c", "b/d", "dir/k é&+\"x.txt", "e"], keys
top = s3.list_objects_v2(Bucket="boto", Delimiter="/")
assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "dir/"], top
assert [o["Key"] for o in top["Contents"]] == ["a", "e"]
v1 = s3.list_objects(Bucket="boto", Prefix="b/")
assert [o["Key"] for o in v1["Contents"]] == ["b/c", "b/d"]

assert error_code(lambda: s3.delete_bucket(Bucket="boto")) == "BucketNotEmpty"
s3.delete_object(Bucket="boto", Key="a")
assert error_code(lambda: s3.get_object(Bucket="boto", Key="a")) == "NoSuchKey"
assert error_code(lambda: s3.list_objects_v2(Bucket="nosuchbucket")) == "NoSuchBucket"
assert error_code(lambda: client(password="wrong").list_buckets()) == "SignatureDoesNotMatch"
assert error_code(lambda: client(key="FERRYUNKNOWNKEY00000").list_buckets()) == "InvalidAccessKeyId"
assert error_code(lambda: s3.put_bucket_acl(Bucket="boto", ACL="private")) == "NotImplemented"
algorithms = ["CRC32", "SHA256"]
try:  # botocore computes CRC-32C only with awscrt
    import awscrt  # noqa: F401
    algorithms.append("CRC32C")
except ImportError:
    pass
for algorithm in algorithms:
    key = "sums/" + algorithm
    put = s3.put_object(Bucket="boto", Key=key, Body=io.BytesIO(body), ChecksumAlgorithm=algorithm)
    assert put.get("Checksum" + algorithm), put
    assert s3.get_object(Bucket="boto", Key=key)["Body"].read() == body
# Metadata kept with an object, answered by GET and HEAD, copied or replaced.
meta = {"colour": "blue", "two-words": "a b"}
s3.put_object(Bucket="boto", Key="meta/k", Body=io.BytesIO(body), Metadata=meta,
              ContentType="text/csv", CacheControl="max-age=60", ContentDisposition="inline")
head = s3.head_object(Bucket="boto", Key="meta/k")
assert head["Metadata"].get("colour") == "blue" and head["Metadata"].get("two-words") == "a b", head
assert (head["ContentType"], head["CacheControl"], head["ContentDisposition"]) == ("text/csv", "max-age=60", "inline")
assert "ContentEncoding" not in head, head  # aws-chunked is the request's coding, not the object's
got = s3.get_object(Bucket="boto", Key="meta/k")
assert got["ContentType"] == "text/csv" and got["Metadata"]["colour"] == "blue", got
s3.copy_object(Bucket="boto", Key="meta/copy", CopySource={"Bucket": "boto", "Key": "meta/k"})
assert s3.head_object(Bucket="boto", Key="meta/copy")["Metadata"]["colour"] == "blue"
s3.copy_object(Bucket="boto", Key="meta/copy", CopySource={"Bucket": "boto", "Key": "meta/k"},
               MetadataDirective="REPLACE", Metadata={"new": "1"}, ContentType="image/png")
head = s3.head_object(Bucket="boto", Key="meta/copy")
# Exactly the new metadata: no time but one a client stored.
assert head["Metadata"] == {"new": "1"} and head["ContentType"] == "image/png", head
checked = s3.head_object(Bucket="boto", Key="meta/k", ChecksumMode="ENABLED")
assert checked.get("ChecksumCRC32C"), checked

big = bytes(range(251)) * 20000
s3.upload_fileobj(io.BytesIO(big), "boto", "sums/streamed")
assert s3.get_object(Bucket="boto", Key="sums/streamed")["Body"].read() == big

# Presigned URLs: SigV4 when asked, SigV2 by default (boto3's
# generate_presigned_url with a custom endpoint and path style), fetched
# as curl or requests would: no Content-Type unless one is given (SigV2
# signs the type; urllib would add one of its own).
context = ssl.create_default_context(cafile=ca) if ca else None


def fetch(url, method="GET", data=None, headers=None):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, context=context)
    else:
        connection = http.client.HTTPConnection(parts.netloc)
    connection.request(method, f"{parts.path}?{parts.query}", body=data, headers=headers or {})
    answer = connection.getresponse()
    return answer.status, answer.read()


where = {"Bucket": "boto", "Key": "presigned/é x.txt"}
for signer, version in ((client(signature_version="s3v4"), "X-Amz-Signature="), (s3, "AWSAccessKeyId=")):
    url = signer.generate_presigned_url("put_object", Params=where, ExpiresIn=60)
    assert version in url, url
    assert fetch(url, "PUT", b"presigned")[0] == 200, (url, fetch(url, "PUT", b"presigned"))
    url = signer.generate_presigned_url("get_object", Params=where, ExpiresIn=60)
    assert fetch(url) == (200, b"presigned"), url

# SigV2 signs the type: a URL made with ContentType takes that type only.
typed = dict(where, Key="presigned/typed.txt", ContentType="text/plain")
url = s3.generate_presigned_url("put_object", Params=typed, ExpiresIn=60)
assert fetch(url, "PUT", b"typed", {"Content-Type": "text/plain"})[0] == 200
assert s3.head_object(Bucket="boto", Key="presigned/typed.txt")["ContentType"] == "text/plain"
status, body = fetch(url, "PUT", b"other", {"Content-Type": "text/html"})
assert status == 403 and b"SignatureDoesNotMatch" in body, (status, body)
url = s3.generate_presigned_url("get_object", Params=where, ExpiresIn=-10)
status, body = fetch(url)
assert status == 403 and b"AccessDenied" in body, (status, body)

# A client that signs every request with SigV2 in its header (ceph's
# s3-tests' v2 client): buckets, which it signs as /bucket/, and keys.
v2 = client(signature_version="s3")
v2.create_bucket(Bucket="boto-v2")
v2.put_object(Bucket="boto-v2", Key="k", Body=b"signed v2")
assert v2.get_object(Bucket="boto-v2", Key="k")["Body"].read() == b"signed v2"
assert [o["Key"] for o in v2.list_objects(Bucket="boto-v2")["Contents"]] == ["k"]
v2.delete_object(Bucket="boto-v2", Key="k")
v2.delete_bucket(Bucket="boto-v2")

# A SigV4 request with a Date field is signed at its Date, without
# X-Amz-Date (botocore drops it then): SigV4 allows either.
from email.utils import formatdate

dated = client()
dated.meta.events.register(
    "before-call.s3.PutObject",
    lambda **kw: kw["params"]["headers"].update({"Date": formatdate(usegmt=True)}),
)
dated.put_object(Bucket="boto", Key="dated", Body=b"signed at Date")
assert s3.get_object(Bucket="boto", Key="dated")["Body"].read() == b"signed at Date"
print("ok")
