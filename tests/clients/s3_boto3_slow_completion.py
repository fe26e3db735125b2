"""boto3 against a CompleteMultipartUpload that takes longer than its
read timeout (tests/clients/s3.rs holds the assembly): ferry's early
200 and its spaces keep boto3 reading, and the result, or the <Error>
document that ends the 200, is what boto3 returns or raises. Prints
"ok"; exits non-zero on the first difference.

usage: s3_boto3_slow_completion.py ENDPOINT KEY_ID SECRET READ_TIMEOUT EXPECTED
(EXPECTED: "stored", or the S3 error code boto3 must raise)
"""
import sys

from botocore.exceptions import ClientError

from s3_boto3_client import s3_client

endpoint, key_id, secret, read_timeout, expected = sys.argv[1:6]

s3 = s3_client(endpoint, key_id, secret, read_timeout=float(read_timeout))

s3.create_bucket(Bucket="slow")
upload = s3.create_multipart_upload(Bucket="slow", Key="k")["UploadId"]
# The last part may be of any size: one small part is a whole upload.
etag = s3.upload_part(
    Bucket="slow", Key="k", UploadId=upload, PartNumber=1, Body=b"slow part"
)["ETag"]
parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
try:
    done = s3.complete_multipart_upload(
        Bucket="slow", Key="k", UploadId=upload, MultipartUpload=parts
    )
    got = "stored"
    assert done["ETag"].endswith('-1"'), done
    assert s3.get_object(Bucket="slow", Key="k")["Body"].read() == b"slow part"
except ClientError as err:
    got = err.response["Error"]["Code"]
assert got == expected, (got, expected)
print("ok")
