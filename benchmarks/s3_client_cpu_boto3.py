#!/usr/bin/env python3
"""Client CPU per small-object PUT and GET with boto3 against moto, as s3_client_cpu.cpp measures
intg's: WARMUP calls of each, then CALLS PUTs and CALLS GETs of SIZE-byte objects over a kept-alive
connection, timed by getrusage(RUSAGE_SELF) deltas (this process only). Prints one JSON line.

Usage: s3_client_cpu_boto3.py ENDPOINT KEY_ID SECRET BUCKET CALLS WARMUP SIZE"""
import json
import resource
import sys
import time

import boto3
from botocore.config import Config


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    endpoint, key_id, secret, bucket = sys.argv[1:5]
    calls, warmup, size = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret,
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    body = b"b" * size
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        pass
    for _ in range(warmup):
        s3.put_object(Bucket=bucket, Key="warm", Body=body)
        s3.get_object(Bucket=bucket, Key="warm")["Body"].read()
    out = {"impl": "boto3 " + boto3.__version__}
    for op in ("put", "get"):
        c0, t0 = cpu(), time.perf_counter()
        for i in range(calls):
            key = f"k{i % 64}"
            if op == "put":
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            else:
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        out[op + "_cpu_us"] = (cpu() - c0) * 1e6 / calls
        out[op + "_wall_us"] = (time.perf_counter() - t0) * 1e6 / calls
    print(json.dumps(out))


if __name__ == "__main__":
    main()
