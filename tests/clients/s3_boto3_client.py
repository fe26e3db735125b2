"""The boto3 client every S3 test script makes: path-style addressing
(the tests talk to 127.0.0.1, which has no bucket subdomains; a script
may ask for `s3={"addressing_style": "virtual"}`), region us-east-1, no
retries (a test must see the first answer), and the caller's extra
botocore `Config` options.
"""
import boto3
from botocore.config import Config


def s3_client(endpoint, key_id, secret, ca=None, **config):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            s3=config.pop("s3", {"addressing_style": "path"}),
            retries={"max_attempts": 1},
            **config,
        ),
        verify=ca if ca else None,
    )
