"""boto3's multipart uploads against ferry's S3 listener
(tests/clients/s3.rs): create, upload_part (out of order, one sent
again), upload_part_copy (a range, a condition), list_parts,
list_multipart_uploads, complete (also with IfNoneMatch / IfMatch),
abort, the errors boto3 raises, upload_file with a small
TransferConfig (parts sent in parallel by s3transfer), also with a
SHA-256 (its composite checksum answered), and a full-object CRC-32
upload by hand (checked, answered by HEAD and by part); exits non-zero
on the first difference.

usage: s3_boto3_multipart.py ENDPOINT KEY_ID SECRET WORKDIR
"""
import base64
import hashlib
import os
import sys
import zlib

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from s3_boto3_client import s3_client

endpoint, key_id, secret, workdir = sys.argv[1:5]
MIB = 1024 * 1024

s3 = s3_client(endpoint, key_id, secret)


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    raise AssertionError("no error")


def md5(data):
    return hashlib.md5(data).hexdigest()


s3.create_bucket(Bucket="parts")
key = "dir/object.bin"
one, two = os.urandom(5 * MIB), os.urandom(123)
upload = s3.create_multipart_upload(Bucket="parts", Key=key)
uid = upload["UploadId"]
assert upload["Key"] == key and upload["Bucket"] == "parts", upload

e2 = s3.upload_part(Bucket="parts", Key=key, UploadId=uid, PartNumber=2, Body=two)["ETag"]
s3.upload_part(Bucket="parts", Key=key, UploadId=uid, PartNumber=1, Body=two)
e1 = s3.upload_part(Bucket="parts", Key=key, UploadId=uid, PartNumber=1, Body=one)["ETag"]
assert (e1, e2) == ('"%s"' % md5(one), '"%s"' % md5(two)), (e1, e2)

parts = s3.list_parts(Bucket="parts", Key=key, UploadId=uid)["Parts"]
assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
    (1, e1, len(one)),
    (2, e2, len(two)),
], parts
listed = s3.list_multipart_uploads(Bucket="parts")["Uploads"]
assert [(u["Key"], u["UploadId"]) for u in listed] == [(key, uid)], listed

done = {"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]}
code = error_code(
    lambda: s3.complete_multipart_upload(Bucket="parts", Key=key, UploadId=uid, MultipartUpload=done)
)
assert code == "InvalidPartOrder", code
done = {"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}
completed = s3.complete_multipart_upload(Bucket="parts", Key=key, UploadId=uid, MultipartUpload=done)
whole = hashlib.md5(bytes.fromhex(md5(one)) + bytes.fromhex(md5(two))).hexdigest()
assert completed["ETag"] == '"%s-2"' % whole, completed
assert s3.get_object(Bucket="parts", Key=key)["Body"].read() == one + two
code = error_code(lambda: s3.list_parts(Bucket="parts", Key=key, UploadId=uid))
assert code == "NoSuchUpload", code

gone = s3.create_multipart_upload(Bucket="parts", Key="abandoned")["UploadId"]
s3.upload_part(Bucket="parts", Key="abandoned", UploadId=gone, PartNumber=1, Body=b"x")
s3.abort_multipart_upload(Bucket="parts", Key="abandoned", UploadId=gone)
code = error_code(lambda: s3.abort_multipart_upload(Bucket="parts", Key="abandoned", UploadId=gone))
assert code == "NoSuchUpload", code
assert s3.list_multipart_uploads(Bucket="parts").get("Uploads", []) == []

# upload_part_copy: a part copied from an object, whole and by range,
# completed beside an uploaded one.
source = os.urandom(6 * MIB)
s3.put_object(Bucket="parts", Key="source.bin", Body=source)
cid = s3.create_multipart_upload(Bucket="parts", Key="copied.bin")["UploadId"]
first = s3.upload_part_copy(
    Bucket="parts", Key="copied.bin", UploadId=cid, PartNumber=1,
    CopySource={"Bucket": "parts", "Key": "source.bin"},
    CopySourceRange="bytes=0-%d" % (5 * MIB - 1),
)["CopyPartResult"]
assert first["ETag"] == '"%s"' % md5(source[: 5 * MIB]), first
assert first["LastModified"] is not None, first
second = s3.upload_part_copy(
    Bucket="parts", Key="copied.bin", UploadId=cid, PartNumber=2,
    CopySource={"Bucket": "parts", "Key": "source.bin"},
    CopySourceIfMatch='"%s"' % md5(source),
)["CopyPartResult"]
assert second["ETag"] == '"%s"' % md5(source), second
code = error_code(lambda: s3.upload_part_copy(
    Bucket="parts", Key="copied.bin", UploadId=cid, PartNumber=3,
    CopySource={"Bucket": "parts", "Key": "source.bin"},
    CopySourceIfNoneMatch='"%s"' % md5(source),
))
assert code == "PreconditionFailed", code
third = s3.upload_part(Bucket="parts", Key="copied.bin", UploadId=cid, PartNumber=3, Body=b"tail")["ETag"]
done = {"Parts": [
    {"PartNumber": 1, "ETag": first["ETag"]},
    {"PartNumber": 2, "ETag": second["ETag"]},
    {"PartNumber": 3, "ETag": third},
]}
s3.complete_multipart_upload(Bucket="parts", Key="copied.bin", UploadId=cid, MultipartUpload=done)
got = s3.get_object(Bucket="parts", Key="copied.bin")["Body"].read()
assert got == source[: 5 * MIB] + source + b"tail", len(got)

# A conditional completion: IfNoneMatch over a key that exists fails and
# keeps the upload; IfMatch with the key's ETag completes it.
s3.put_object(Bucket="parts", Key="guarded", Body=b"first")
tag = s3.head_object(Bucket="parts", Key="guarded")["ETag"]
gid = s3.create_multipart_upload(Bucket="parts", Key="guarded")["UploadId"]
gtag = s3.upload_part(Bucket="parts", Key="guarded", UploadId=gid, PartNumber=1, Body=b"second")["ETag"]
gdone = {"Parts": [{"PartNumber": 1, "ETag": gtag}]}
code = error_code(lambda: s3.complete_multipart_upload(
    Bucket="parts", Key="guarded", UploadId=gid, MultipartUpload=gdone, IfNoneMatch="*"
))
assert code == "PreconditionFailed", code
assert s3.get_object(Bucket="parts", Key="guarded")["Body"].read() == b"first"
s3.complete_multipart_upload(
    Bucket="parts", Key="guarded", UploadId=gid, MultipartUpload=gdone, IfMatch=tag
)
assert s3.get_object(Bucket="parts", Key="guarded")["Body"].read() == b"second"

# upload_file above the threshold: parts of 5 MiB, four at once.
path = os.path.join(workdir, "file.bin")
data = os.urandom(17 * MIB + 5)
with open(path, "wb") as f:
    f.write(data)
config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
s3.upload_file(path, "parts", "transfer.bin", Config=config)
back = os.path.join(workdir, "back.bin")
s3.download_file("parts", "transfer.bin", back)
with open(back, "rb") as f:
    assert f.read() == data

# upload_file with a SHA-256: s3transfer creates the upload with it and
# sends it with every part; the object's is the composite one, S3's.
def b64(raw):
    return base64.b64encode(raw).decode()


s3.upload_file(path, "parts", "summed.bin", Config=config, ExtraArgs={"ChecksumAlgorithm": "SHA256"})
chunks = [data[at : at + 5 * MIB] for at in range(0, len(data), 5 * MIB)]
sums = b"".join(hashlib.sha256(chunk).digest() for chunk in chunks)
composite = "%s-%d" % (b64(hashlib.sha256(sums).digest()), len(chunks))
head = s3.head_object(Bucket="parts", Key="summed.bin", ChecksumMode="ENABLED")
assert (head.get("ChecksumSHA256"), head.get("ChecksumType")) == (composite, "COMPOSITE"), head
attributes = s3.get_object_attributes(Bucket="parts", Key="summed.bin", ObjectAttributes=["Checksum", "ObjectParts"])
got = [p.get("ChecksumSHA256") for p in attributes["ObjectParts"]["Parts"]]
assert got == [b64(hashlib.sha256(chunk).digest()) for chunk in chunks], got

# A full-object CRC-32 by hand: each part's computed by botocore, the
# object's stated on the completion and answered whole and by part.
def crc32(raw):
    return b64(zlib.crc32(raw).to_bytes(4, "big"))


made = s3.create_multipart_upload(Bucket="parts", Key="crc.bin", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
assert (made["ChecksumAlgorithm"], made.get("ChecksumType")) == ("CRC32", "FULL_OBJECT"), made
fid = made["UploadId"]
halves = [data[: 5 * MIB], data[5 * MIB :]]
listed = []
for number, half in enumerate(halves, 1):
    sent = s3.upload_part(Bucket="parts", Key="crc.bin", UploadId=fid, PartNumber=number, Body=half, ChecksumAlgorithm="CRC32")
    assert sent["ChecksumCRC32"] == crc32(half), sent
    listed.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumCRC32": sent["ChecksumCRC32"]})
code = error_code(lambda: s3.complete_multipart_upload(
    Bucket="parts", Key="crc.bin", UploadId=fid, MultipartUpload={"Parts": listed}, ChecksumCRC32=crc32(b"other")
))
assert code == "BadDigest", code
done = s3.complete_multipart_upload(
    Bucket="parts", Key="crc.bin", UploadId=fid, MultipartUpload={"Parts": listed}, ChecksumCRC32=crc32(data)
)
assert (done["ChecksumCRC32"], done.get("ChecksumType")) == (crc32(data), "FULL_OBJECT"), done
head = s3.head_object(Bucket="parts", Key="crc.bin", ChecksumMode="ENABLED")
assert head["ChecksumCRC32"] == crc32(data), head
second = s3.get_object(Bucket="parts", Key="crc.bin", PartNumber=2, ChecksumMode="ENABLED")
assert second["ChecksumCRC32"] == crc32(halves[1]) and second["Body"].read() == halves[1], second
print("ok")
