#!/usr/bin/env python3
"""Writes the request set the SigV4 benchmarks sign (scripts/bench-sigv4): S3 requests as an
application sends them, half GETs of keys with a query parameter, half PUTs with a 1 KiB body,
a content type and two user metadata headers, at a fixed time with the AWS documentation's
example keys. Every implementation signs the same list and must produce the same headers.

Usage: sigv4_requests.py OUT.json [count]
"""
import json
import sys


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    host = "examplebucket.s3.us-east-1.amazonaws.com"
    requests = []
    for i in range(count):
        key = f"/photos/2024/{i:05d}/image-{i}.jpg"
        if i % 2 == 0:
            requests.append({"method": "GET", "path": key, "query": f"versionId=v{i}",
                             "headers": [["Host", host]], "body": ""})
        else:
            body = "".join(chr(ord("a") + (i + j) % 26) for j in range(1024))
            requests.append({"method": "PUT", "path": key, "query": "",
                             "headers": [["Host", host], ["Content-Type", "image/jpeg"],
                                         ["X-Amz-Meta-Origin", "benchmark"], ["X-Amz-Meta-Index", str(i)]],
                             "body": body})
    doc = {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
           "region": "us-east-1", "service": "s3", "time": 1704067200, "requests": requests}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
