#!/usr/bin/env python3
"""boto3 and intg on the same moto (the moto_server fixture): boto3 writes objects (a small one with
metadata and a SHA-256 checksum, and an 11 MiB multipart one), the test binary's suite s3_interop
reads them with intg and writes its own, then boto3 reads intg's: bytes, content type, metadata,
the checksum S3 keeps, and the multipart ETag. Usage: s3_interop.py TEST_CLOUD_BINARY [SUITE]
(INTG_MOTO_ENV names the fixture's env file; SUITE, the path of suite s3_interop in that
binary, test_cloud/s3_interop when test_cloud.cpp is compiled with other test files)."""
import base64
import hashlib
import os
import random
import string
import subprocess
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def pattern(n, seed):
    # Byte i is (i * 7 + seed) % 251, as test_cloud.cpp's pattern().
    return bytes((i * 7 + seed) % 251 for i in range(n))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    suite = sys.argv[2] if len(sys.argv) == 3 else "s3_interop"
    env = {}
    with open(os.environ["INTG_MOTO_ENV"], encoding="utf-8") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{env['INTG_MOTO_PORT']}", region_name=env["INTG_MOTO_REGION"],
                      aws_access_key_id=env["INTG_MOTO_ACCESS_KEY_ID"], aws_secret_access_key=env["INTG_MOTO_SECRET_ACCESS_KEY"],
                      config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
    bucket = "intg-interop-" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(10))
    s3.create_bucket(Bucket=bucket)

    small = b"written by boto3\n"
    s3.put_object(Bucket=bucket, Key="from-boto3/small.txt", Body=small, ContentType="text/plain",
                  Metadata={"origin": "boto3"}, ChecksumAlgorithm="SHA256")
    big = pattern(11 << 20, 5)
    transfer = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
    s3.upload_fileobj(__import__("io").BytesIO(big), bucket, "from-boto3/multipart.bin", Config=transfer)

    run = subprocess.run([sys.argv[1], "--run_test=" + suite, "--log_level=test_suite"],
                         env=dict(os.environ, INTG_S3_INTEROP_BUCKET=bucket))
    if run.returncode != 0:
        sys.exit(f"{sys.argv[1]} --run_test={suite} failed ({run.returncode})")

    got = s3.get_object(Bucket=bucket, Key="from-intg/small.txt", ChecksumMode="ENABLED")
    body = got["Body"].read()
    assert body == b"written by intg\n", body
    assert got["ContentType"] == "text/plain", got["ContentType"]
    assert got["Metadata"] == {"origin": "intg"}, got["Metadata"]
    assert got["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode(), got.get("ChecksumSHA256")
    assert got["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"', got["ETag"]

    content = pattern(11 << 20, 9)
    got = s3.get_object(Bucket=bucket, Key="from-intg/multipart.bin")
    data = got["Body"].read()
    assert data == content, "the multipart object intg wrote differs"
    parts = [content[i:i + (5 << 20)] for i in range(0, len(content), 5 << 20)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"
    assert got["ETag"] == f'"{etag}"', (got["ETag"], etag)
    assert got["Metadata"] == {"origin": "intg"}, got["Metadata"]
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "an upload was left open"

    for key in ("from-boto3/small.txt", "from-boto3/multipart.bin", "from-intg/small.txt", "from-intg/multipart.bin"):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    print("boto3 read what intg wrote, and intg read what boto3 wrote")


if __name__ == "__main__":
    main()
