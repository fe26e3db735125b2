"""boto3 and S3's folder markers against ferry's S3 listener
(tests/s3/folders.rs): put_object of `dir/` with no body (as the S3
console and s3fs make a folder), head_object and get_object of it,
list_objects_v2 with and without a delimiter, a paginator over the
bucket, delete_object of a marker whose folder holds a key (the key
stays) and of an empty one (it goes), a body on a marker refused;
exits non-zero on the first difference.

usage: s3_boto3_folders.py ENDPOINT KEY_ID SECRET [CA]
(with CA, over HTTPS: boto3 then codes every body, the markers' empty
ones too, as aws-chunked with a CRC trailer)
"""
import sys

from botocore.exceptions import ClientError

from s3_boto3_client import s3_client

endpoint, key_id, secret = sys.argv[1:4]
ca = sys.argv[4] if len(sys.argv) > 4 else None
EMPTY_ETAG = '"d41d8cd98f00b204e9800998ecf8427e"'

s3 = s3_client(endpoint, key_id, secret, ca)


def keys(**kwargs):
    answer = s3.list_objects_v2(Bucket="bkt", **kwargs)
    return (
        [o["Key"] for o in answer.get("Contents", [])],
        [p["Prefix"] for p in answer.get("CommonPrefixes", [])],
    )


made = s3.put_object(Bucket="bkt", Key="photos/2026/", Body=b"")
assert made["ETag"] == EMPTY_ETAG, made
head = s3.head_object(Bucket="bkt", Key="photos/2026/")
assert head["ContentLength"] == 0 and head["ETag"] == EMPTY_ETAG, head
got = s3.get_object(Bucket="bkt", Key="photos/2026/")
assert got["Body"].read() == b"", got

assert keys() == (["photos/2026/"], []), keys()
assert keys(Delimiter="/") == ([], ["photos/"]), keys(Delimiter="/")
assert keys(Prefix="photos/", Delimiter="/") == ([], ["photos/2026/"])
# The marker the prefix names is listed, as S3 lists it.
assert keys(Prefix="photos/2026/") == (["photos/2026/"], []), keys(Prefix="photos/2026/")
marker = keys(Prefix="photos/2026/", Delimiter="/")
assert marker == (["photos/2026/"], []), marker
s3.put_object(Bucket="bkt", Key="photos/2026/a.jpg", Body=b"jpeg")
assert keys() == (["photos/2026/a.jpg"], []), keys()

for n in range(5):
    s3.put_object(Bucket="bkt", Key=f"m{n}/", Body=b"")
pages = s3.get_paginator("list_objects_v2").paginate(
    Bucket="bkt", PaginationConfig={"PageSize": 2}
)
listed = [o["Key"] for page in pages for o in page.get("Contents", [])]
assert listed == [f"m{n}/" for n in range(5)] + ["photos/2026/a.jpg"], listed

# A marker's deletion leaves the keys in its folder, as S3 does.
s3.delete_object(Bucket="bkt", Key="photos/2026/")
assert s3.get_object(Bucket="bkt", Key="photos/2026/a.jpg")["Body"].read() == b"jpeg"
s3.delete_object(Bucket="bkt", Key="m0/")
try:
    s3.head_object(Bucket="bkt", Key="m0/")
    raise AssertionError("m0/ still there")
except ClientError as err:
    assert err.response["Error"]["Code"] == "404", err.response

try:
    s3.put_object(Bucket="bkt", Key="notes/", Body=b"some bytes")
    raise AssertionError("a marker with bytes was stored")
except ClientError as err:
    assert err.response["Error"]["Code"] == "XFerryInvalidKey", err.response
assert keys(Prefix="notes") == ([], [])
print("ok")
