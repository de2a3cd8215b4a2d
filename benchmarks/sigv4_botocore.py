#!/usr/bin/env python3
"""Signatures per second of botocore's S3 signer (botocore.auth.S3SigV4Auth, what boto3 signs
S3 requests with) on the request set of sigv4_requests.py, at its fixed time. Prints the same JSON
line as sigv4_sign.cpp. Usage: sigv4_botocore.py REQUESTS.json [seconds]"""
import contextlib
import datetime
import json
import sys
import time
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    creds = Credentials(doc["access_key_id"], doc["secret_access_key"])
    signer = botocore.auth.S3SigV4Auth(creds, doc["service"], doc["region"])
    fixed = datetime.datetime.fromtimestamp(doc["time"], datetime.timezone.utc).replace(tzinfo=None)
    prepared = []
    for r in doc["requests"]:
        headers = {k: v for k, v in r["headers"] if k != "Host"}
        host = dict(r["headers"])["Host"]
        url = f"https://{host}{r['path']}" + (f"?{r['query']}" if r["query"] else "")
        prepared.append((r["method"], url, headers, r["body"].encode()))
    n = 0
    first = None
    # botocore reads the time with get_current_datetime() (datetime.datetime.utcnow() before 1.31):
    # pinned to the set's time with a plain function, which costs less than the clock it replaces.
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: fixed
        pinned = contextlib.nullcontext()
    else:
        pinned = mock.patch("botocore.auth.datetime")
    with pinned as dt:
        if dt is not None:
            dt.datetime.utcnow.return_value = fixed
            dt.datetime.strptime = datetime.datetime.strptime
        t0 = time.perf_counter()
        while True:
            for method, url, headers, body in prepared:
                req = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
                signer.add_auth(req)
                if first is None:
                    first = req.headers["Authorization"]
                n += 1
            if time.perf_counter() - t0 >= seconds:
                break
        took = time.perf_counter() - t0
    print(json.dumps({"impl": "botocore " + botocore.__version__, "requests": len(prepared), "signatures": n,
                      "seconds": took, "per_second": n / took, "first_authorization": first}))


if __name__ == "__main__":
    main()
