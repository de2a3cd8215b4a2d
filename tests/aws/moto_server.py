#!/usr/bin/env python3
"""moto (the PATH's python3: moto, boto3, botocore) for intg's S3 tests, in IAM authentication mode,
with the checks S3 makes that moto 5 leaves out, done with botocore's own signer:

- presigned URLs (X-Amz-Signature in the query): moto in authentication mode fails on them (no
  Authorization header). Here the signature is recomputed with botocore's S3SigV4QueryAuth from
  the key moto holds for the access key id, and the expiry is checked: an unknown key is 403
  InvalidAccessKeyId, a wrong signature 403 SignatureDoesNotMatch, an expired URL 403 AccessDenied
  "Request has expired", as S3 answers. A valid one is handed to moto signed in the header (with
  botocore's S3SigV4Auth and the same key), so that moto applies the user's IAM policy to it.
- payload hashes: x-amz-content-sha256 (400 XAmzContentSHA256Mismatch), Content-MD5 (400
  InvalidDigest / BadDigest) and x-amz-checksum-sha256 (400 BadDigest) are compared with the body.

- header signatures on URLs moto cannot see as sent: moto checks a signature on the URL werkzeug
  rebuilds, which decodes %2B in a path and %2F in a query (so a key with '+' or a prefix with '/'
  fails moto's check, from boto3 as from intg). For those requests only, the signature is checked
  here with botocore's S3SigV4Auth on the URL as sent, and moto gets the request signed again, with
  the same key, for the URL it rebuilds.

- STS AssumeRoleWithWebIdentity without credentials: AWS takes it unsigned (the web identity
  token is the credential) and checks the token; moto in authentication mode fails on it (no
  Authorization header) and checks nothing. Here the token must be a JWT (three base64url parts,
  a JSON payload with "sub" and "aud") or STS's 400 InvalidIdentityToken is answered, and one whose
  "exp" has passed gets 400 ExpiredTokenException; a valid one is handed to moto with its
  authentication skipped for this action only, and moto hands out credentials that it then checks
  on every S3 request (access key, secret and session token) against the role's policy.

Everything else is moto's own: header signatures (a wrong secret, an unknown key, a tampered
path, query or date are refused by moto), IAM policies, and S3 itself.

  moto_server.py serve --port PORT              serves on 127.0.0.1:PORT until SIGTERM
  moto_server.py setup --endpoint URL --env FILE  creates IAM user "intg" with an s3:* policy and an
                                                  access key, and role "intg-web-identity" with the
                                                  same policy (the first six actions, which moto
                                                  lets through when INITIAL_NO_AUTH_ACTION_COUNT=6),
                                                  checks that authentication is on, appends the key
                                                  and the role's ARN to FILE
"""
import argparse
import base64
import datetime
import hashlib
import io
import json
import signal
import sys
from urllib.parse import parse_qsl, quote, urlencode

S3_ERROR = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>intg-moto-check</RequestId></Error>'


def error_response(start_response, status, code, message, extra=""):
    body = S3_ERROR.format(code=code, message=message, extra=extra).encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def header_map(environ):
    headers = {}
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            headers[k[5:].replace("_", "-").lower()] = v
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


def secret_for(access_key_id):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key

    try:
        return create_access_key(DEFAULT_ACCOUNT_ID, "aws", access_key_id, {}).create_credentials()
    except CreateAccessKeyFailure:
        return None


def check_presigned(environ, start_response, app):
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params = dict(query)
    try:
        key_id, date, region, service, _ = params["X-Amz-Credential"].split("/")
        amz_date = params["X-Amz-Date"]
        expires = int(params["X-Amz-Expires"])
        signed = params["X-Amz-SignedHeaders"].split(";")
        signature = params["X-Amz-Signature"]
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except (KeyError, ValueError):
        return error_response(start_response, "400 Bad Request", "AuthorizationQueryParametersError",
                              "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    now = datetime.datetime.now(datetime.timezone.utc)
    if now > when + datetime.timedelta(seconds=expires):
        return error_response(start_response, "403 Forbidden", "AccessDenied", "Request has expired",
                              f"<X-Amz-Expires>{expires}</X-Amz-Expires><Expires>{(when + datetime.timedelta(seconds=expires)).strftime('%Y-%m-%dT%H:%M:%SZ')}</Expires><ServerTime>{now.strftime('%Y-%m-%dT%H:%M:%SZ')}</ServerTime>")
    creds = secret_for(key_id)
    if creds is None:
        return error_response(start_response, "403 Forbidden", "InvalidAccessKeyId",
                              "The AWS Access Key Id you provided does not exist in our records.")
    headers = header_map(environ)
    path = raw_path(environ)
    unsigned_query = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    url = "http://" + headers.get("host", "localhost") + path + ("?" + urlencode(unsigned_query, quote_via=quote) if unsigned_query else "")
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers={h: headers[h] for h in signed if h in headers})
    request.context["timestamp"] = amz_date
    auth = S3SigV4QueryAuth(creds, service, region, expires=expires)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if expected != signature:
        return error_response(start_response, "403 Forbidden", "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
    # Valid: hand it to moto as a header-signed request with the same key, so that moto applies
    # the user's policy.
    kept = [(k, v) for k, v in query if not k.startswith("X-Amz-")]
    environ["QUERY_STRING"] = urlencode(kept, quote_via=quote)
    inner_url = "http://" + headers.get("host", "localhost") + path + ("?" + environ["QUERY_STRING"] if kept else "")
    body = read_body(environ)
    inner = AWSRequest(method=environ["REQUEST_METHOD"], url=inner_url, data=body, headers={"host": headers.get("host", "localhost")})
    S3SigV4Auth(creds, service, region).add_auth(inner)
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
        environ["HTTP_" + name.upper().replace("-", "_")] = inner.headers[name]
    if "REQUEST_URI" in environ:
        environ["REQUEST_URI"] = path + ("?" + environ["QUERY_STRING"] if kept else "")
    if "RAW_URI" in environ:
        environ["RAW_URI"] = path + ("?" + environ["QUERY_STRING"] if kept else "")
    return app(environ, start_response)


def raw_path(environ):
    """The path as the client sent it (percent-encoded), also from a proxy's absolute-form target."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"), safe="/~")
    if raw.startswith(("http://", "https://")):
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    return raw.split("?")[0] or "/"


def read_body(environ):
    if "intg.body" in environ:
        return environ["intg.body"]
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    body = stream.read(int(length)) if length else (stream.read() if environ.get("wsgi.input_terminated") else b"")
    environ["intg.body"] = body
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def check_payload(environ, start_response):
    """None when the body matches every hash the request declares, else the error answer."""
    body = read_body(environ)
    declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")
    if declared and declared != "UNSIGNED-PAYLOAD" and not declared.startswith("STREAMING-"):
        if hashlib.sha256(body).hexdigest() != declared:
            return error_response(start_response, "400 Bad Request", "XAmzContentSHA256Mismatch",
                                  "The provided 'x-amz-content-sha256' header does not match what was computed.")
    md5 = environ.get("HTTP_CONTENT_MD5")
    if md5 is not None:
        try:
            want = base64.b64decode(md5, validate=True)
        except ValueError:
            want = b""
        if len(want) != 16:
            return error_response(start_response, "400 Bad Request", "InvalidDigest", "The Content-MD5 you specified was invalid.")
        if hashlib.md5(body).digest() != want:
            return error_response(start_response, "400 Bad Request", "BadDigest", "The Content-MD5 you specified did not match what we received.")
    sha = environ.get("HTTP_X_AMZ_CHECKSUM_SHA256")
    if sha is not None and base64.b64encode(hashlib.sha256(body).digest()).decode() != sha:
        return error_response(start_response, "400 Bad Request", "BadDigest", "The SHA256 you specified did not match the calculated checksum.")
    return None


def moto_view(environ):
    """The path and query moto checks signatures on (werkzeug's rebuilt request URL)."""
    from urllib.parse import urlsplit
    from werkzeug.wrappers import Request

    u = urlsplit(Request(environ).url)
    return u.path or "/", u.query


def check_header_signed(environ, start_response, app):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest

    path, query = raw_path(environ), environ.get("QUERY_STRING", "")
    seen_path, seen_query = moto_view(environ)
    if (path, query) == (seen_path, seen_query):
        return app(environ, start_response)  # moto checks it itself
    auth = environ["HTTP_AUTHORIZATION"]

    def part(name):
        return auth.partition(name + "=")[2].partition(",")[0].strip()

    try:
        key_id, _, region, service, _ = part("Credential").split("/")
    except ValueError:
        return error_response(start_response, "400 Bad Request", "AuthorizationHeaderMalformed", "The authorization header is malformed.")
    signed = part("SignedHeaders").split(";")
    creds = secret_for(key_id)
    if creds is None:
        return error_response(start_response, "403 Forbidden", "InvalidAccessKeyId",
                              "The AWS Access Key Id you provided does not exist in our records.")
    headers = header_map(environ)
    host = headers.get("host", "localhost")
    body = read_body(environ)

    def signature_for(url, hdrs, signer):
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, data=body, headers=hdrs)
        request.context["timestamp"] = hdrs["x-amz-date"]
        return signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)

    signer = S3SigV4Auth(creds, service, region)
    as_sent = {h: headers[h] for h in signed if h in headers}
    if "x-amz-date" not in as_sent or signature_for("http://" + host + path + ("?" + query if query else ""), as_sent, signer) != part("Signature"):
        return error_response(start_response, "403 Forbidden", "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
    # Valid as sent: sign it again, with the same key and headers, for the URL moto rebuilds.
    again = signature_for("http://" + host + seen_path + ("?" + seen_query if seen_query else ""), as_sent, signer)
    environ["HTTP_AUTHORIZATION"] = auth.replace("Signature=" + part("Signature"), "Signature=" + again)
    return app(environ, start_response)


STS_ERROR = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code>'
             '<Message>{message}</Message></Error><RequestId>intg-moto-check</RequestId></ErrorResponse>')


def check_web_identity(environ, start_response, app):
    """An unsigned AssumeRoleWithWebIdentity: the token checked as STS checks its shape and expiry."""
    body = read_body(environ)
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def refuse(code, message):
        text = STS_ERROR.format(code=code, message=message).encode()
        start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(text)))])
        return [text]

    token = form.get("WebIdentityToken", "")
    try:
        header, payload, _ = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        if not isinstance(claims, dict) or "sub" not in claims or "aud" not in claims:
            raise ValueError("claims")
    except (ValueError, UnicodeDecodeError):
        return refuse("InvalidIdentityToken", "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp < datetime.datetime.now(datetime.timezone.utc).timestamp():
        return refuse("ExpiredTokenException", "Token expired: current date/time must be before the expiration date/time")
    environ["intg.web_identity_checked"] = "1"
    return app(environ, start_response)


def allow_unsigned_web_identity():
    """moto authenticates every action; AWS does not authenticate AssumeRoleWithWebIdentity."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def authenticate(self, resource="*"):
        if self._get_action() == "AssumeRoleWithWebIdentity" and "Authorization" not in self.headers:
            return None  # check_web_identity has checked the token
        return original(self, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authenticate


def checked(app):
    def wsgi(environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if (environ.get("REQUEST_METHOD") == "POST" and "HTTP_AUTHORIZATION" not in environ
                and b"Action=AssumeRoleWithWebIdentity" in read_body(environ)):
            return check_web_identity(environ, start_response, app)
        if "X-Amz-Signature=" in query:
            return check_presigned(environ, start_response, app)
        if "Signature=" in query and "HTTP_AUTHORIZATION" not in environ:
            return error_response(start_response, "400 Bad Request", "InvalidRequest",
                                  "Only AWS4-HMAC-SHA256 presigned URLs are accepted here (Signature Version 2 is not).")
        if environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            refused = check_payload(environ, start_response)
            if refused is not None:
                return refused
        if "HTTP_AUTHORIZATION" in environ:
            return check_header_signed(environ, start_response, app)
        return app(environ, start_response)

    return wsgi


def serve(port):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    allow_unsigned_web_identity()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, checked(app), threaded=True)


def setup(endpoint, env_file):
    import boto3
    import botocore.exceptions

    region = "us-east-1"
    # moto lets the first INITIAL_NO_AUTH_ACTION_COUNT (6) actions through unauthenticated.
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                       aws_secret_access_key="bootstrap")
    iam.create_user(UserName="intg")
    policy = iam.create_policy(PolicyName="intg-s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.attach_user_policy(UserName="intg", PolicyArn=policy["Policy"]["Arn"])
    key = iam.create_access_key(UserName="intg")["AccessKey"]
    role = iam.create_role(RoleName="intg-web-identity", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.intg.test"},
                                                 "Action": "sts:AssumeRoleWithWebIdentity"}]}))["Role"]
    iam.attach_role_policy(RoleName="intg-web-identity", PolicyArn=policy["Policy"]["Arn"])
    # From now on moto checks signatures: a wrong secret must be refused.
    bad = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key["AccessKeyId"],
                       aws_secret_access_key=key["SecretAccessKey"] + "x")
    try:
        bad.list_buckets()
        sys.exit("moto accepted a wrong secret: authentication mode is not on")
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "SignatureDoesNotMatch":
            sys.exit(f"moto refused a wrong secret with {e.response['Error']['Code']}, not SignatureDoesNotMatch")
    with open(env_file, "a", encoding="utf-8") as f:
        f.write(f"INTG_MOTO_ACCESS_KEY_ID={key['AccessKeyId']}\n")
        f.write(f"INTG_MOTO_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
        f.write(f"INTG_MOTO_REGION={region}\n")
        f.write(f"INTG_MOTO_ROLE_ARN={role['Arn']}\n")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    u = sub.add_parser("setup")
    u.add_argument("--endpoint", required=True)
    u.add_argument("--env", required=True)
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.port)
    else:
        setup(args.endpoint, args.env)


if __name__ == "__main__":
    main()
