#!/usr/bin/env python3
"""Checks the exchanges of the Google Cloud Storage fake (tests/fakes/gcs_fake.hpp) against the
Cloud Storage JSON API's discovery document (storage_v1.json here, Apache-2.0: LICENSE-apitools).

Each exchange (JSON Lines, as intg::testing::fake_api writes them) must be a method of the
document: its HTTP method and path (the service path, or the media upload path for the upload
protocols), every query parameter one the method or the API takes, of the declared type and
enum, the required ones present; a JSON request body (or the metadata part of a multipart upload)
an instance of the method's request schema; a 2xx JSON answer an instance of its response schema,
with no member the schema does not declare; errors Google's error document. The token endpoint
(RFC 6749 token answers) and the metadata server are checked for their own shapes. The methods
the tests must have used are listed in REQUIRED: an exchange log that misses one fails.

Usage: validate_discovery.py storage_v1.json gcs_exchanges.jsonl
"""
import email.parser
import json
import re
import sys
import urllib.parse

REQUIRED = {
    "storage.buckets.insert", "storage.buckets.list", "storage.buckets.delete",
    "storage.objects.insert:media", "storage.objects.insert:multipart", "storage.objects.insert:resumable",
    "storage.objects.get", "storage.objects.get:media", "storage.objects.list", "storage.objects.delete",
    "token", "metadata",
}
UPLOAD_PARAMS = {"uploadType", "upload_id"}


def methods_of(doc):
    out = []

    def walk(resources):
        for res in resources.values():
            for m in res.get("methods", {}).values():
                out.append(m)
            walk(res.get("resources", {}))

    walk(doc["resources"])
    return out


def template_re(path):
    # "b/{bucket}/o/{object}" -> one segment per parameter ({+name} would allow '/': not used here)
    return re.compile("^" + re.sub(r"\\\{([A-Za-z]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.schemas = doc["schemas"]
        self.globals = doc["parameters"]
        self.routes = []
        service = "/" + doc["servicePath"]
        for m in methods_of(doc):
            self.routes.append((m["httpMethod"], template_re(service + m["path"]), m, False))
            for proto in m.get("mediaUpload", {}).get("protocols", {}).values():
                self.routes.append((m["httpMethod"], template_re(proto["path"]), m, True))
        self.errors = []
        self.used = set()

    def fail(self, where, why):
        self.errors.append(f"{where}: {why}")

    def check_value(self, where, schema, value):
        if "$ref" in schema:
            return self.check_value(where, self.schemas[schema["$ref"]], value)
        t = schema.get("type")
        if t == "object":
            if not isinstance(value, dict):
                return self.fail(where, "not an object")
            props = schema.get("properties")
            extra = schema.get("additionalProperties")
            for k, v in value.items():
                if props is not None and k in props:
                    self.check_value(f"{where}.{k}", props[k], v)
                elif extra is not None:
                    self.check_value(f"{where}.{k}", extra, v)
                else:
                    self.fail(where, f"member {k!r} is not in the schema")
        elif t == "array":
            if not isinstance(value, list):
                return self.fail(where, "not an array")
            for i, v in enumerate(value):
                self.check_value(f"{where}[{i}]", schema["items"], v)
        elif t == "string":
            if not isinstance(value, str):
                return self.fail(where, "not a string")
            fmt = schema.get("format")
            if fmt in ("int64", "uint64") and not re.fullmatch(r"-?[0-9]+", value):
                self.fail(where, f"not a decimal {fmt}")
            if fmt == "date-time" and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value):
                self.fail(where, "not an RFC 3339 time")
            if "enum" in schema and value not in schema["enum"]:
                self.fail(where, f"{value!r} is not one of {schema['enum']}")
        elif t == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(where, "not an integer")
        elif t == "boolean":
            if not isinstance(value, bool):
                self.fail(where, "not a boolean")
        elif t == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.fail(where, "not a number")

    def check_param(self, where, spec, value):
        t, fmt = spec.get("type"), spec.get("format")
        if t == "integer" or fmt in ("int64", "uint64"):
            if not re.fullmatch(r"-?[0-9]+", value):
                self.fail(where, f"{value!r} is not an integer")
            elif fmt in ("uint32", "uint64") and value.startswith("-"):
                self.fail(where, "negative")
        elif t == "boolean" and value not in ("true", "false"):
            self.fail(where, f"{value!r} is not a boolean")
        if "enum" in spec and value not in spec["enum"]:
            self.fail(where, f"{value!r} is not one of {spec['enum']}")

    def check_error(self, where, body):
        try:
            e = json.loads(body)
        except ValueError:
            return self.fail(where, "an error answer that is not JSON")
        err = e.get("error") if isinstance(e, dict) else None
        if not isinstance(err, dict) or set(e) != {"error"}:
            return self.fail(where, "an error answer without Google's {\"error\": {...}}")
        if not isinstance(err.get("code"), int) or not isinstance(err.get("message"), str):
            self.fail(where, "error.code must be an integer and error.message a string")
        for item in err.get("errors", []):
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("domain", "reason", "message")):
                self.fail(where, "error.errors[] needs domain, reason and message strings")

    def check(self, n, ex):
        where = f"exchange {n} ({ex['method']} {ex['path']})"
        status = ex["response"]["status"]
        if ex.get("scenario") or ex.get("fault"):
            return  # scripted misbehaviour: not the API's shape by design
        if ex["path"] == "/token":
            self.used.add("token")
            body = json.loads(ex["response"]["body"])
            if status == 200:
                if not (isinstance(body.get("access_token"), str) and isinstance(body.get("expires_in"), int)
                        and body.get("token_type") == "Bearer"):
                    self.fail(where, "not an RFC 6749 token answer")
            elif not isinstance(body.get("error"), str):
                self.fail(where, "not an RFC 6749 error answer")
            return
        if ex["path"] == "/computeMetadata/v1/instance/service-accounts/default/token":
            self.used.add("metadata")
            if ex["response"]["headers"].get("metadata-flavor") != "Google":
                self.fail(where, "the metadata server answers with Metadata-Flavor: Google")
            return
        candidates = [(m, rx.match(ex["path"]), upload) for (verb, rx, m, upload) in self.routes if verb == ex["method"]]
        candidates = [(m, match, upload) for (m, match, upload) in candidates if match]
        query = urllib.parse.parse_qs(ex["query"], keep_blank_values=True)
        is_session = "upload_id" in query
        if not candidates and is_session and ex["method"] in ("PUT", "DELETE"):
            # A resumable session's chunks and its cancellation go to the session URL (the upload
            # path with upload_id), which the protocol, not the document, defines.
            if not any(template_re(p["path"]).match(ex["path"]) for m in methods_of(self.doc)
                       for p in m.get("mediaUpload", {}).get("protocols", {}).values()) and "/upload/" not in ex["path"]:
                self.fail(where, "a session request outside an upload path")
            if query.get("uploadType") != ["resumable"]:
                self.fail(where, "a session URL without uploadType=resumable")
            if ex["method"] == "PUT" and status not in (200, 201, 308) and status < 400:
                self.fail(where, f"a chunk answered {status}")
            if status >= 400 and status != 499:
                self.check_error(where, ex["response"]["body"])
            return
        if not candidates:
            return self.fail(where, "no method of the discovery document has this HTTP method and path")
        m, match, upload = candidates[0]
        name = m["id"]
        params = dict(self.globals)
        params.update(m.get("parameters", {}))
        for k, values in query.items():
            if k in UPLOAD_PARAMS and upload:
                continue
            if k not in params:
                self.fail(where, f"query parameter {k!r} is not one {name} takes")
                continue
            if params[k].get("location", "query") != "query":
                self.fail(where, f"{k!r} is a {params[k].get('location')} parameter")
            for v in values:
                if k == "alt" and v == "media" and m.get("supportsMediaDownload"):
                    continue  # the discovery format's media download: alt=media on such methods
                self.check_param(f"{where} {k}", params[k], v)
        for k, spec in m.get("parameters", {}).items():
            if spec.get("required") and spec.get("location") == "query" and k not in query:
                self.fail(where, f"required query parameter {k!r} is missing")
        kind = name
        if upload:
            ut = query.get("uploadType", [""])[0]
            if ut not in ("media", "multipart", "resumable"):
                self.fail(where, f"uploadType {ut!r}")
            kind = f"{name}:{ut}"
        elif query.get("alt") == ["media"]:
            kind = f"{name}:media"
        # The request body.
        req_body = ex["request"]["body"]
        ctype = ex["request"]["headers"].get("content-type", "")
        if "request" in m and req_body:
            meta = None
            if ctype.startswith("application/json"):
                meta = req_body
            elif ctype.startswith("multipart/related"):
                msg = email.parser.Parser().parsestr("Content-Type: " + ctype + "\r\n\r\n" + req_body)
                parts = msg.get_payload() if msg.is_multipart() else []
                if len(parts) != 2 or not parts[0].get_content_type() == "application/json":
                    self.fail(where, "a multipart upload is the metadata (application/json) and the media")
                else:
                    meta = parts[0].get_payload()
            if meta is not None:
                try:
                    self.check_value(f"{where} request", {"$ref": m["request"]["$ref"]}, json.loads(meta))
                except ValueError:
                    self.fail(where, "the request's metadata is not JSON")
        # The answer.
        body = ex["response"]["body"]
        if status >= 400:
            self.check_error(where, body)
        elif 200 <= status < 300 and body and kind != f"{name}:media" and not (upload and query.get("uploadType") == ["resumable"]):
            if "response" not in m:
                self.fail(where, f"{name} answers no body, but one was sent")
            else:
                try:
                    self.check_value(f"{where} response", {"$ref": m["response"]["$ref"]}, json.loads(body))
                except ValueError:
                    self.fail(where, "the answer is not JSON")
        if status < 400:
            self.used.add(kind)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
    checker = Checker(doc)
    n = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            checker.check(n, json.loads(line))
    missing = REQUIRED - checker.used
    for e in checker.errors[:50]:
        print("FAIL", e)
    if missing:
        print("FAIL the exchanges never used", ", ".join(sorted(missing)))
    print(f"{n} exchanges checked against {doc['id']} revision {doc['revision']}: {len(checker.errors)} problems")
    sys.exit(1 if checker.errors or missing or n == 0 else 0)


if __name__ == "__main__":
    main()
