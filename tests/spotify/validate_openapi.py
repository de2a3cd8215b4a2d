#!/usr/bin/python3
"""Validates what local fakes of remote APIs answer (and receive) against the providers' own API
descriptions (OpenAPI 3.0 or Swagger 2.0).

Mode 1 (the local Spotify server's sample responses):

Each sample is a JSON file {"path": "/search", "method": "get", "status": 200, "body": {...}}
written by test_spotify (suite spotify_server). The response schema is the operation's own for that status (or
the shared BadRequest / Unauthorized / NotFound / TooManyRequests response for an error status
the operation does not list), with every $ref resolved and OpenAPI 3.0 turned into JSON Schema:
`nullable` admits null, `allOf` parts are merged, and - stricter than the description itself -
objects admit no properties besides those documented, so that a misspelt field name fails.
Each body is also checked to fail once its first field is renamed: the check cannot pass vacuously.

Mode 2 (--exchanges: the JSON Lines log of a fake built on intg/testing/fake_api.hpp): every
exchange's request (its query, form or JSON arguments against the operation's documented
parameters: required ones present, types right, nothing undocumented) and its response (against
the operation's schema for that status, or its `default` schema for errors, which Slack reports
as `{"ok": false}` on HTTP 200). Here the description's own `additionalProperties` rules apply
(no strictness added). Swagger 2.0 quirk handled: a schema whose `items` is a list and which is
not an array (Slack's description writes unions so) means anyOf those schemas. Exchanges broken
on purpose (connection faults, HTML error pages) are counted and skipped. A deviations file lists
where the fake knowingly follows the live API rather than the description, each with a reason;
the report says how many exchanges relied on each.

OpenAPI 3.0 descriptions (Twilio's) are read the same way: query parameters with their `schema`
type, form bodies from the requestBody's application/x-www-form-urlencoded schema. Where a
description documents no error responses (Twilio's), --error-schema names a file holding the
provider's documented error object as JSON Schema, used for 4xx and 5xx answers. --strict makes
objects admit no undocumented properties, as in mode 1: a description that requires nothing and
allows everything (Twilio's) would otherwise accept a misspelt field.

OpenAPI 3.1 descriptions (Discord's) are JSON Schema 2020-12 already (`type` arrays, `oneOf` with
null, `$ref` with siblings): their schemas are not converted but validated as they stand
(Draft 2020-12, $refs resolved in the description, recursive ones included); a JSON request body
is validated against the operation's requestBody schema, query arguments against its parameters;
an answer's status may be documented by its class ("4XX").

Mode 3 (--stripe-shapes: the Stripe fake's log; Stripe's OpenAPI file is too large to vendor):
Stripe's envelope rules for every JSON answer (objects carry `object` and `id`; list objects are
exactly {object: "list", data, has_more, url}; errors are exactly {error: {type, message, ...}}
with a known type), form-encoded request bodies, and Request-Id on every answer the fake made.

Needs Debian's python3-yaml and python3-jsonschema: run it with /usr/bin/python3.
Usage: validate_openapi.py SPEC.yml SAMPLES_DIR
       validate_openapi.py --exchanges SPEC LOG.jsonl [--base-path /api] [--deviations FILE] [--error-schema FILE] [--strict]
       validate_openapi.py --stripe-shapes LOG.jsonl
"""
import copy
import glob
import json
import os
import sys
import urllib.parse

try:
    import jsonschema
    import yaml
except ImportError as e:  # a failure, not a skip: the test must not pass without checking anything
    sys.exit(f"FAIL: {e}; install Debian's python3-yaml and python3-jsonschema and run this with /usr/bin/python3")

SHARED_ERRORS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}


class Converter:
    def __init__(self, spec, strict=True):
        self.spec = spec
        self.strict = strict  # add additionalProperties: false to every object (Spotify mode)

    def resolve(self, ref):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    def convert(self, schema, depth=0):
        """An OpenAPI 3.0 schema as a self-contained, strict JSON Schema (draft 7)."""
        if depth > 60:
            raise RuntimeError("schema nesting too deep (recursive $ref?)")
        if "$ref" in schema:
            return self.convert(self.resolve(schema["$ref"]), depth + 1)
        if isinstance(schema.get("items"), list) and schema.get("type") != "array":
            # Swagger 2.0 as Slack writes it: {"items": [A, B]} on a non-array means A or B.
            return {"anyOf": [self.convert(s, depth + 1) for s in schema["items"]]}
        nullable = bool(schema.get("nullable"))
        out = {}
        if "allOf" in schema:
            merged = {"type": "object", "properties": {}, "required": []}
            for part in schema["allOf"]:
                p = self.convert(part, depth + 1)
                if "anyOf" in p and len(p["anyOf"]) == 2 and {"type": "null"} in p["anyOf"]:
                    p = next(x for x in p["anyOf"] if x != {"type": "null"})
                for k, v in p.items():
                    if k == "properties":
                        merged["properties"].update(v)
                    elif k == "required":
                        merged["required"] = sorted(set(merged["required"]) | set(v))
                    elif k != "additionalProperties":
                        merged[k] = v
            # Siblings of allOf (AlbumObject puts its `required` list there).
            if "properties" in schema:
                merged["properties"].update({n: self.convert(s, depth + 1) for n, s in schema["properties"].items()})
            if "required" in schema:
                merged["required"] = sorted(set(merged["required"]) | set(schema["required"]))
            out = merged
        else:
            for k, v in schema.items():
                if k in ("nullable", "description", "example", "deprecated", "discriminator", "title") or k.startswith("x-"):
                    continue
                if k == "properties":
                    out[k] = {n: self.convert(s, depth + 1) for n, s in v.items()}
                elif k == "items":
                    out[k] = [self.convert(x, depth + 1) for x in v] if isinstance(v, list) else self.convert(v, depth + 1)
                elif k in ("oneOf", "anyOf"):
                    out[k] = [self.convert(s, depth + 1) for s in v]
                else:
                    out[k] = v
        if self.strict and out.get("properties") is not None and "additionalProperties" not in out:
            out["additionalProperties"] = False
            if not out.get("required"):
                out.pop("required", None)
        if nullable:
            return {"anyOf": [out, {"type": "null"}]}
        return out


def response_schema(spec, conv, path, method, status):
    op = spec["paths"][path][method]
    resp = op["responses"].get(str(status))
    if resp is None and status in SHARED_ERRORS:
        resp = spec["components"]["responses"][SHARED_ERRORS[status]]
    if resp is None:
        raise KeyError(f"{method.upper()} {path} documents no {status} response")
    if "$ref" in resp:
        resp = conv.resolve(resp["$ref"])
    return conv.convert(resp["content"]["application/json"]["schema"])


def where(e):
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)


def load_spec(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f) if path.endswith(".json") else yaml.safe_load(f)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_json_answer(x):
    return "json" in x["response"]["headers"].get("content-type", "") and not x.get("fault")


def request_args(x):
    """The arguments a request carried: query, then form or JSON body (JSON values keep their type)."""
    args = dict(urllib.parse.parse_qsl(x.get("query", ""), keep_blank_values=True))
    body = x["request"]["body"]
    ctype = x["request"]["headers"].get("content-type", "")
    if body:
        if "json" in ctype:
            args.update(json.loads(body))
        else:
            args.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
    return args


def type_ok(value, typ):
    if typ == "boolean":
        return isinstance(value, bool) or value in ("true", "false", "1", "0")
    if typ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.lstrip("-").isdigit())
    if typ == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        try:
            float(value)
            return True
        except (TypeError, ValueError):
            return False
    if typ == "string":
        return True  # form values are strings; JSON bodies may carry blocks/attachments as arrays
    return True


def check_request(op, x, json_body_by_schema=False):
    """Problems with a request against an operation's parameters (Swagger 2.0 `in: formData`, or
    OpenAPI 3.0 query parameters and a form requestBody). `json_body_by_schema`: a JSON body is
    checked against the requestBody schema instead (OpenAPI 3.1), only the query here."""
    problems = []
    if json_body_by_schema and "json" in x["request"]["headers"].get("content-type", ""):
        args = dict(urllib.parse.parse_qsl(x.get("query", ""), keep_blank_values=True))
    else:
        args = request_args(x)
    authorized = x["request"]["headers"].get("authorization", "").lower().startswith("bearer ")
    documented = {}
    for prm in op.get("parameters", []):
        if prm.get("in") in ("query", "formData", "header"):
            documented[prm["name"]] = dict(prm, type=prm.get("type", prm.get("schema", {}).get("type")))
    form = op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {}).get("schema", {})
    for name, sch in form.get("properties", {}).items():
        documented[name] = {"name": name, "in": "formData", "type": sch.get("type"), "required": name in form.get("required", [])}
    # A request the fake refused (ok:false, 4xx) may lack what is required on purpose: that is
    # the error path under test. Types and undocumented arguments are still checked.
    refused = x["response"]["status"] >= 400 or '"ok":false' in x["response"]["body"].replace(" ", "")
    for name, prm in documented.items():
        present = name in args or (prm["in"] == "header" and name in x["request"]["headers"])
        if name == "token":
            present = present or authorized  # Slack: the token as a bearer header or an argument
        if prm.get("required") and not present and not refused:
            problems.append(f"required parameter '{name}' missing")
        if name in args and not type_ok(args[name], prm.get("type")):
            problems.append(f"parameter '{name}' is not a {prm.get('type')}: {str(args[name])[:40]!r}")
    for name in args:
        if name not in documented:
            problems.append(f"undocumented parameter '{name}'")
    return problems


def response_schema_for(spec, conv, op, status, body, error_schema=None):
    responses = op["responses"]
    resp = responses.get(str(status), responses.get(f"{status // 100}XX"))
    if resp is None or (isinstance(body, dict) and body.get("ok") is False and "default" in responses):
        resp = responses.get("default", resp)
    if resp is None and error_schema is not None and status >= 400:
        return copy.deepcopy(error_schema)  # the provider documents its error object elsewhere
    if resp is None:
        raise KeyError(f"no {status} or default response documented")
    if "$ref" in resp:
        resp = (conv or Converter(spec)).resolve(resp["$ref"])
    if "schema" in resp:  # Swagger 2.0
        return conv.convert(resp["schema"])
    if conv is None:  # OpenAPI 3.1: JSON Schema as it stands
        return copy.deepcopy(resp["content"]["application/json"]["schema"])
    return conv.convert(resp["content"]["application/json"]["schema"])


def validator_31(spec, schema):
    """A Draft 2020-12 validator whose "#/components/..." references resolve in the description."""
    return jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver("", spec))


def apply_deviations(schema, deviations, opname, status, body, used):
    """The schema with the documented deviations for this operation and answer applied."""
    for i, d in enumerate(deviations):
        if d.get("operation", "*") not in ("*", opname):
            continue
        kind = d["kind"]
        if kind == "extra_property" and "properties" in schema and d["property"] in body:
            schema["properties"][d["property"]] = d["schema"]
            used[i] += 1
        elif kind == "min_items" and d["property"] in schema.get("properties", {}) and body.get(d["property"]) == []:
            schema["properties"][d["property"]].pop("minItems", None)
            used[i] += 1
        elif kind == "error_code" and status == d.get("status", status) and body.get("error") == d["code"]:
            err = schema.get("properties", {}).get("error", {})
            if "enum" in err and d["code"] not in err["enum"]:
                err["enum"] = err["enum"] + [d["code"]]
                used[i] += 1
    return schema


def has_key(node, key):
    if isinstance(node, dict):
        return key in node or any(has_key(v, key) for v in node.values())
    if isinstance(node, list):
        return any(has_key(v, key) for v in node)
    return False


def segment_matches(templ, seg):
    """A path segment against a template segment: literal, "{name}", or "{name}.suffix" (Twilio's "{Sid}.json")."""
    if templ == seg:
        return True
    if templ.startswith("{") and "}" in templ:
        suffix = templ[templ.index("}") + 1:]
        return len(seg) > len(suffix) and seg.endswith(suffix)
    return False


def find_operation(spec, path, method, deviations, used):
    item = spec["paths"].get(path)
    if item is None:
        for templ, it in spec["paths"].items():
            parts, tparts = path.split("/"), templ.split("/")
            if len(parts) == len(tparts) and all(segment_matches(t, p) for t, p in zip(tparts, parts)):
                item = it
                break
    if item is None:
        raise KeyError(f"path {path} is not documented")
    if method in item:
        return item[method]
    for i, d in enumerate(deviations):
        if d["kind"] == "method" and d["accepted"] == method and d["documented"] in item:
            used[i] += 1
            return item[d["documented"]]
    raise KeyError(f"{method.upper()} {path} is not documented")


def main_exchanges(argv):
    spec_path, log_path = argv[0], argv[1]
    base_path, dev_path, error_schema, strict = "", None, None, False
    rest = argv[2:]
    while rest:
        if rest[0] == "--base-path":
            base_path, rest = rest[1], rest[2:]
        elif rest[0] == "--deviations":
            dev_path, rest = rest[1], rest[2:]
        elif rest[0] == "--strict":
            strict, rest = True, rest[1:]
        elif rest[0] == "--error-schema":
            error_schema, rest = json.load(open(rest[1], encoding="utf-8"))["schema"], rest[2:]
        else:
            print(f"unknown option {rest[0]}")
            return 2
    spec = load_spec(spec_path)
    deviations = json.load(open(dev_path, encoding="utf-8"))["deviations"] if dev_path else []
    used = [0] * len(deviations)
    # Members current objects have and the description's definitions lack (counted per exchange
    # whose answer has them).
    for d in deviations:
        if d["kind"] == "definition_property":
            spec["definitions"][d["definition"]]["properties"][d["property"]] = d["schema"]
        elif d["kind"] == "component_property":  # OpenAPI 3: a component schema's property as the live API sends it
            spec["components"]["schemas"][d["component"]]["properties"][d["property"]] = d["schema"]
    v31 = str(spec.get("openapi", "")).startswith("3.1")
    conv = None if v31 else Converter(spec, strict=strict)
    exchanges = read_jsonl(log_path)
    if not exchanges:
        print("no exchanges in " + log_path)
        return 1
    failures = validated = skipped = 0
    for n, x in enumerate(exchanges, 1):
        label = f"#{n} {x['method']} {x['path']} {x['response']['status']}" + (f" [{x['scenario']}]" if x.get("scenario") else "")
        if not is_json_answer(x):
            skipped += 1
            continue
        path = x["path"][len(base_path):] if base_path and x["path"].startswith(base_path) else x["path"]
        problems = []
        try:
            op = find_operation(spec, path, x["method"].lower(), deviations, used)
        except KeyError as e:
            print(f"FAIL {label}: {e}")
            failures += 1
            continue
        problems += [f"request: {p}" for p in check_request(op, x, v31)]
        req_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if v31 and req_schema and x["request"]["body"] and "json" in x["request"]["headers"].get("content-type", ""):
            problems += [f"request body at {where(e)}: {e.message[:200]}"
                         for e in validator_31(spec, req_schema).iter_errors(json.loads(x["request"]["body"]))]
        body = json.loads(x["response"]["body"])
        status = x["response"]["status"]
        for i, d in enumerate(deviations):
            if d["kind"] == "definition_property" and has_key(body, d["property"]):
                used[i] += 1
            elif d["kind"] == "component_property" and has_key(body, d["witness"]):
                used[i] += 1
        try:
            schema = apply_deviations(response_schema_for(spec, conv, op, status, body, error_schema), deviations, path, status, body, used)
            validator = validator_31(spec, schema) if v31 else jsonschema.Draft7Validator(schema)
            problems += [f"response at {where(e)}: {e.message[:200]}" for e in validator.iter_errors(body)]
            if not problems and isinstance(body, dict) and body:
                broken = copy.deepcopy(body)
                first = next(iter(broken))
                broken[first + "_misspelt"] = broken.pop(first)
                if validator.is_valid(broken):
                    problems.append(f"the schema also accepts the body with '{first}' renamed (vacuous check)")
        except KeyError as e:
            problems.append(str(e))
        if problems:
            failures += 1
            print(f"FAIL {label}")
            for p in problems[:6]:
                print(f"    {p}")
        else:
            validated += 1
    print(f"{validated} exchanges valid (request and response), {failures} invalid, {skipped} skipped (connection faults, non-JSON error pages)")
    for d, k in zip(deviations, used):
        print(f"deviation used {k} time(s): {d['kind']} {d.get('operation', d.get('definition', '*'))} {d.get('property', d.get('code', d.get('accepted', '')))}: {d['reason']}")
    return 1 if failures else 0


STRIPE_ERROR_TYPES = {"api_error", "card_error", "idempotency_error", "invalid_request_error"}
STRIPE_ERROR_KEYS = {"type", "message", "code", "decline_code", "param", "doc_url", "payment_intent", "charge", "request_log_url"}


def stripe_problems(x):
    problems = []
    req_ctype = x["request"]["headers"].get("content-type", "")
    if x["method"] == "POST" and x["request"]["body"] and "x-www-form-urlencoded" not in req_ctype:
        problems.append(f"POST body is not form-encoded ({req_ctype})")
    body = json.loads(x["response"]["body"])
    status = x["response"]["status"]
    if not x.get("scenario") and "request-id" not in x["response"]["headers"] and x.get("route"):
        problems.append("no Request-Id header")
    if status >= 400:
        if set(body) != {"error"} or not isinstance(body["error"], dict):
            return problems + ["an error answer is not exactly {error: {...}}"]
        e = body["error"]
        if e.get("type") not in STRIPE_ERROR_TYPES:
            problems.append(f"unknown error type {e.get('type')!r}")
        if not isinstance(e.get("message"), str):
            problems.append("error without a message")
        extra = set(e) - STRIPE_ERROR_KEYS
        if extra:
            problems.append(f"unexpected error members {sorted(extra)}")
        return problems

    def check_object(o, where):
        if not isinstance(o, dict) or not isinstance(o.get("object"), str):
            problems.append(f"{where}: not a Stripe object (no 'object')")
            return
        if o["object"] == "list":
            if set(o) != {"object", "data", "has_more", "url"}:
                problems.append(f"{where}: list object members {sorted(o)}")
            if not isinstance(o.get("has_more"), bool) or not isinstance(o.get("data"), list):
                problems.append(f"{where}: list object types")
            if o.get("url") != x["path"]:
                problems.append(f"{where}: list url {o.get('url')!r} is not the request path")
            for i, item in enumerate(o.get("data", [])):
                check_object(item, f"{where}.data[{i}]")
        elif o["object"] != "balance":
            if not isinstance(o.get("id"), str) or "_" not in o["id"]:
                problems.append(f"{where}: {o['object']} without a prefixed id")
            if o.get("livemode", False) is not False:  # refunds have no livemode member
                problems.append(f"{where}: livemode is not false")
            if "metadata" in o and not (isinstance(o["metadata"], dict) and all(isinstance(v, str) for v in o["metadata"].values())):
                problems.append(f"{where}: metadata is not a map of strings")

    check_object(body, "$")
    return problems


def main_stripe(argv):
    exchanges = read_jsonl(argv[0])
    if not exchanges:
        print("no exchanges in " + argv[0])
        return 1
    failures = validated = skipped = 0
    for n, x in enumerate(exchanges, 1):
        if not is_json_answer(x):
            skipped += 1
            continue
        problems = stripe_problems(x)
        if problems:
            failures += 1
            print(f"FAIL #{n} {x['method']} {x['path']} {x['response']['status']}")
            for p in problems[:6]:
                print(f"    {p}")
        else:
            validated += 1
    print(f"{validated} exchanges follow Stripe's envelope rules, {failures} do not, {skipped} skipped (connection faults, non-JSON error pages)")
    return 1 if failures else 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "--exchanges":
        return main_exchanges(sys.argv[2:])
    if len(sys.argv) == 3 and sys.argv[1] == "--stripe-shapes":
        return main_stripe(sys.argv[2:])
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    spec = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
    conv = Converter(spec)
    files = sorted(glob.glob(os.path.join(sys.argv[2], "*.json")))
    if not files:
        print("no samples in " + sys.argv[2])
        return 1
    failures = 0
    for f in files:
        name = os.path.basename(f)
        sample = json.load(open(f, encoding="utf-8"))
        try:
            schema = response_schema(spec, conv, sample["path"], sample["method"], sample["status"])
        except KeyError as e:
            print(f"FAIL {name}: {e}")
            failures += 1
            continue
        validator = jsonschema.Draft7Validator(schema)
        errors = sorted(validator.iter_errors(sample["body"]), key=lambda e: list(e.absolute_path))
        if errors:
            failures += 1
            print(f"FAIL {name} ({sample['method'].upper()} {sample['path']} {sample['status']}): {len(errors)} error(s)")
            for e in errors[:5]:
                where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
                print(f"    at {where}: {e.message[:300]}")
            continue
        # The schema must be able to say no: the same body with its first field renamed fails.
        broken = copy.deepcopy(sample["body"])
        if isinstance(broken, dict) and broken:
            first = next(iter(broken))
            broken[first + "_misspelt"] = broken.pop(first)
            if validator.is_valid(broken):
                failures += 1
                print(f"FAIL {name}: the schema also accepts the body with '{first}' renamed (vacuous check)")
                continue
        print(f"ok   {name} ({sample['method'].upper()} {sample['path']} {sample['status']})")
    print(f"{len(files) - failures} valid, {failures} invalid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
