#!/usr/bin/env python3
"""Generates AWS Signature Version 4 test vectors with botocore's own signers, for test_auth.

Random requests (methods, paths with odd characters and dot segments, repeated and odd query
parameters, headers with runs of spaces, repeats and folds, bodies, S3 and other services, with
and without session tokens, header signing and presigned URLs) are signed at a fixed time with
botocore.auth.SigV4Auth / S3SigV4Auth / SigV4QueryAuth / S3SigV4QueryAuth, and written as JSON:
the inputs as intg's sigv4::request takes them, and botocore's canonical request, string to sign,
signature, Authorization header and presigned URL.

How intg's inputs map to botocore's (so that both sign the same request):
- the path: S3 keys go to botocore encoded as botocore encodes them (quote, safe '/~'); other
  services get a wire path in several encodings (sub-delimiters left raw, lowercase hex) or raw
  like the AWS test suite's, which both sides encode once more.
- the query: intg gets a raw query string (mixed encodings, '+' as a plus, names without '=');
  botocore gets the decoded pairs (request.params), which it encodes itself.
- Host: intg gets the Host header botocore derives from the URL (botocore.auth._host_from_url).
- never generated: an X-Amz-Content-SHA256 header on an S3 request (botocore replaces it with
  the body's hash; intg, like aws-sdk-js, signs the payload line it declares), a Date header (botocore then signs with Date instead of X-Amz-Date) and, for
  presigning, Authorization and form bodies (botocore moves a presigned request's body into the
  query).

Usage: sigv4_botocore.py --output FILE [--seed N] [--count N]
  Without --seed a fresh seed is drawn and printed, so a failure can be reproduced.
Exit codes: 0 written, 2 bad arguments, 77 botocore cannot be imported (ctest: skipped).
"""
import argparse
import datetime
import hashlib
import json
import random
import sys
import types
from urllib.parse import quote

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"sigv4_botocore.py: botocore cannot be imported ({e}): install python3-botocore or pip install botocore")
    sys.exit(77)

OTHER_SERVICES = ["sqs", "sns", "execute-api", "dynamodb", "lambda", "es", "service", "sts"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]
SEGMENTS = ["a", "b", "Key", "photos", "2024", "x-y_z.~", "-._~", "", ".", "..", "a b", "a  b", "é", "ሴ", "😀",
            "!$&'()*+,;=:@", "100%", "q?x", "h#sh", "tab\tx", "plus+plus", "%41", "a%2Fb", "...", ".hidden",
            "UPPER", "semi;colon", "comma,1", "quote\"d", "back\\slash", "[br]", "{c}", "^`|", "<>"]
QUERY_NAMES = ["a", "A", "b", "Param", "list-type", "prefix", "max-keys", "x-id", "Action", "Version", "uploads",
               "é", "ሴ", "sp ace", "k+plus", "a=b", "amp&", "~tilde", "", "%", "Z", "z", "_"]
QUERY_VALUES = ["", "1", "2", "value", "Value", "a b", "a+b", "x=y", "&", "%", "é", "ሴ", "😀", "/path/", "*",
                "!'()", "~-._", "2015-08-30T12:36:00Z", "tab\tvalue", "UPPER", "  lead", "trail  "]
HEADER_NAMES = ["Content-Type", "X-Amz-Meta-Foo", "x-amz-meta-bar", "My-Header", "X-Custom", "Accept", "Range",
                "X-Amz-Storage-Class", "Content-MD5", "If-None-Match", "x!#$%&'*+.^_`|~1", "ZZ-Last", "a",
                "Content-Encoding", "X-Amz-Target", "Cache-Control"]
# Headers neither side signs. botocore's list grew (1.29, Debian 12's, leaves only Expect, User-Agent
# and X-Amzn-Trace-Id unsigned; intg follows the longer list of later releases): only the names
# this botocore leaves unsigned are generated.
UNSIGNED_HEADER_NAMES = [n for n in ["User-Agent", "Expect", "X-Amzn-Trace-Id", "Connection", "Keep-Alive", "TE", "Upgrade"]
                         if n.lower() in botocore.auth.SIGNED_HEADERS_BLACKLIST]
HEADER_VALUES = ["value", "  padded  ", "a   b   c", "\"a   b   c\"", "", "tab\tsep\t\tx", "application/json",
                 "text/plain; charset=utf-8", "bytes=0-9", "W/\"etag\"", "UPPER lower", "x,y", "100-continue",
                 "value1\n  value2\n     value3", "*"]
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"]
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def freeze_time(when):
    """botocore reads the signing time from get_current_datetime() (1.30 on) or from
    datetime.datetime.utcnow() (older releases, such as Debian 12's 1.29)."""
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *args, **kwargs: when
        return

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    botocore.auth.datetime = types.SimpleNamespace(datetime=Frozen)


def capturing(cls):
    """A botocore signer that keeps the canonical request, string to sign and signature it computes."""

    class Capturing(cls):
        def canonical_request(self, request):
            self.captured_canonical_request = super().canonical_request(request)
            return self.captured_canonical_request

        def string_to_sign(self, request, canonical_request):
            self.captured_string_to_sign = super().string_to_sign(request, canonical_request)
            return self.captured_string_to_sign

        def signature(self, string_to_sign, request):
            self.captured_signature = super().signature(string_to_sign, request)
            return self.captured_signature

    return Capturing


def encode_char(rng, ch, raw_ok):
    """One character of a raw query or path: raw when `raw_ok` allows it, else %XX in either case."""
    if ch in raw_ok and rng.random() < 0.7:
        return ch
    escaped = quote(ch, safe="")
    if escaped == ch:  # unreserved: optionally escaped anyway
        escaped = "".join(f"%{b:02X}" for b in ch.encode())
    return escaped.lower() if rng.random() < 0.3 else escaped


def raw_component(rng, text, raw_ok):
    return "".join(encode_char(rng, ch, raw_ok) for ch in text)


UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def make_path(rng, s3, presign):
    segments = [rng.choice(SEGMENTS) for _ in range(rng.randint(0, 5))]
    if s3:
        # A key, encoded the way botocore encodes keys; dots and empty segments are key names.
        return quote("/" + "/".join(segments), safe="/~")
    if not presign and rng.random() < 0.25:
        # Raw, like the AWS test suite's request lines ("/example space/"): no '%', and no '?',
        # '#' or tab (Python's urlsplit would cut at the first two and drop the third).
        return "/" + "/".join(s.replace("%", "").replace("?", "").replace("#", "").replace("\t", "") for s in segments)
    style = rng.random()
    parts = []
    for s in segments:
        if style < 0.4:
            parts.append(quote(s, safe=""))
        elif style < 0.8:
            parts.append(raw_component(rng, s, UNRESERVED + "!$&'()*+,;=:@"))
        else:
            parts.append(quote(s, safe="").lower())
    wire = "/" + "/".join(parts)
    if rng.random() < 0.2:
        wire += "/"
    return wire


def make_query(rng):
    pairs = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
        if pairs and rng.random() < 0.25:  # a repeated name, with another or the same value
            name = rng.choice(pairs)[0]
        else:
            name = rng.choice(QUERY_NAMES)
        pairs.append((name, rng.choice(QUERY_VALUES)))
    # The raw form: each name and value encoded its own way; '+' raw means a plus (RFC 3986).
    raw_parts = []
    for name, value in pairs:
        raw_name = raw_component(rng, name, UNRESERVED + "!$'()*+,;:@/?")
        if value == "" and name != "" and rng.random() < 0.5:
            raw_parts.append(raw_name)  # "flag" without '='
        else:
            raw_parts.append(raw_name + "=" + raw_component(rng, value, UNRESERVED + "!$'()*+,;:@/?="))
    if raw_parts and rng.random() < 0.15:
        raw_parts.insert(rng.randrange(len(raw_parts) + 1), "")  # an empty part ("a=1&&b=2")
    return pairs, "&".join(raw_parts)


def make_headers(rng, presign, payload, s3):
    headers = []
    for _ in range(rng.randint(0, 6)):
        if headers and rng.random() < 0.25:  # a repeated name, maybe in another case
            name = rng.choice(headers)[0]
            name = name.upper() if rng.random() < 0.5 else name
        elif rng.random() < 0.12:
            name = rng.choice(UNSIGNED_HEADER_NAMES)
        else:
            name = rng.choice(HEADER_NAMES)
        headers.append((name, rng.choice(HEADER_VALUES)))
    if not presign:
        if rng.random() < 0.1:
            headers.append(("Authorization", "AWS4-HMAC-SHA256 stale"))  # replaced by signing
        if rng.random() < 0.1:
            headers.append(("X-Amz-Date", "20000101T000000Z"))  # replaced by signing
        if rng.random() < 0.1:
            headers.append(("X-Amz-Security-Token", "stale-token"))  # replaced when there is a token
        if payload == "body" and not s3 and rng.random() < 0.08:
            # Declares the payload line, which botocore and intg both read. (For S3, botocore
            # replaces a declared value with the body's hash; intg keeps it, as aws-sdk-js does.)
            headers.append(("X-Amz-Content-SHA256", rng.choice(["UNSIGNED-PAYLOAD", hashlib.sha256(b"declared").hexdigest()])))
    return headers


def make_host(rng, service, region):
    if service == "s3":
        host = rng.choice([f"bucket-{rng.randint(1, 99)}.s3.amazonaws.com", f"s3.{region}.amazonaws.com"])
    else:
        host = f"{service}.{region}.amazonaws.com"
    r = rng.random()
    if r < 0.1:
        return "127.0.0.1:9000"
    if r < 0.15:
        return "[::1]:8443"
    if r < 0.25:
        return host + rng.choice([":443", ":80", ":8080"])
    return host


def random_secret(rng, n, alphabet):
    return "".join(rng.choice(alphabet) for _ in range(n))


def one_vector(rng, index, kind):
    s3 = rng.random() < 0.45
    service = "s3" if s3 else rng.choice(OTHER_SERVICES)
    region = rng.choice(REGIONS)
    presign = kind == "presign"
    method = rng.choice(["GET", "PUT"]) if presign else rng.choice(METHODS)
    scheme = "https" if rng.random() < 0.85 else "http"
    host = make_host(rng, service, region)
    path = make_path(rng, s3, presign)
    pairs, raw_query = make_query(rng)
    body = b"" if presign else rng.choice([b"", b"Param1=value1", b"{\"a\": 1}", bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))])
    when = datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=rng.randrange(37 * 365 * 86400))
    access_key = "AKIA" + random_secret(rng, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    secret_key = random_secret(rng, 40, TOKEN_CHARS[:-1])
    token = random_secret(rng, rng.randint(16, 160), TOKEN_CHARS) if rng.random() < 0.5 else None
    payload = "body" if presign else rng.choice(["body", "body", "precomputed", "unsigned"])
    headers = make_headers(rng, presign, payload, s3)
    if payload == "unsigned":
        scheme = "https"  # botocore always signs the payload over plain http
    expires = rng.choice([1, 60, 3600, 86400, 604800, rng.randint(1, 604800)])

    url = f"{scheme}://{host}{path}"
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay
    if presign:
        grouped = {}
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        request.params = grouped
    else:
        request.params = list(pairs)
    if payload == "unsigned":
        if s3:
            request.context["client_config"] = types.SimpleNamespace(s3={"payload_signing_enabled": False})
        else:
            request.context["payload_signing_enabled"] = False

    credentials = Credentials(access_key, secret_key, token)
    if presign:
        cls = botocore.auth.S3SigV4QueryAuth if s3 else botocore.auth.SigV4QueryAuth
        signer = capturing(cls)(credentials, service, region, expires=expires)
    else:
        cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
        signer = capturing(cls)(credentials, service, region)
    freeze_time(when)
    signer.add_auth(request)

    # intg's request: Host first (as botocore derives it), then the headers as given.
    ours = [["Host", botocore.auth._host_from_url(url)]] + [[n, v] for n, v in headers]
    expected = {
        "canonical_request": signer.captured_canonical_request,
        "string_to_sign": signer.captured_string_to_sign,
        "signature": signer.captured_signature,
    }
    if presign:
        expected["url"] = request.url
    else:
        expected["authorization"] = request.headers["Authorization"]
        expected["headers"] = {
            name: request.headers.get_all(name) or []
            for name in ["X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256", "Authorization"]
        }
    return {
        "id": index,
        "kind": kind,
        "service": service,
        "region": region,
        "time": int(when.replace(tzinfo=datetime.timezone.utc).timestamp()),
        "access_key_id": access_key,
        "secret_access_key": secret_key,
        "session_token": token or "",
        "method": method,
        "scheme": scheme,
        "path": path,
        "query": raw_query,
        "headers": ours,
        "body_hex": body.hex(),
        "payload_hash": {"body": "", "precomputed": hashlib.sha256(body).hexdigest(), "unsigned": "UNSIGNED-PAYLOAD"}[payload],
        "expires": expires if presign else 0,
        "expected": expected,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"sigv4_botocore.py: seed {seed}, botocore {botocore.__version__}, {args.count} vectors -> {args.output}")
    rng = random.Random(seed)
    # Two in three sign headers, one in three presigns.
    vectors = [one_vector(rng, i, "presign" if i % 3 == 2 else "header") for i in range(args.count)]
    head = {"generator": "tests/aws/sigv4_botocore.py", "botocore": botocore.__version__, "seed": seed}
    # One vector per line: a diff of the committed file reads vector by vector.
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "vectors": [\n')
        f.write(",\n".join(json.dumps(v, ensure_ascii=False) for v in vectors))
        f.write("\n]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
