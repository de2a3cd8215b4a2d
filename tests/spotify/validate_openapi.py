#!/usr/bin/python3
"""Validates sample responses of the local Spotify server against Spotify's OpenAPI description.

Each sample is a JSON file {"path": "/search", "method": "get", "status": 200, "body": {...}}
written by test_spotify_server. The response schema is the operation's own for that status (or
the shared BadRequest / Unauthorized / NotFound / TooManyRequests response for an error status
the operation does not list), with every $ref resolved and OpenAPI 3.0 turned into JSON Schema:
`nullable` admits null, `allOf` parts are merged, and - stricter than the description itself -
objects admit no properties besides those documented, so that a misspelt field name fails.
Each body is also checked to fail once its first field is renamed: the check cannot pass vacuously.

Needs Debian's python3-yaml and python3-jsonschema: run it with /usr/bin/python3.
Usage: validate_openapi.py SPEC.yml SAMPLES_DIR
"""
import copy
import glob
import json
import os
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # a failure, not a skip: the test must not pass without checking anything
    sys.exit(f"FAIL: {e}; install Debian's python3-yaml and python3-jsonschema and run this with /usr/bin/python3")

SHARED_ERRORS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}


class Converter:
    def __init__(self, spec):
        self.spec = spec

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
                    out[k] = self.convert(v, depth + 1)
                elif k in ("oneOf", "anyOf"):
                    out[k] = [self.convert(s, depth + 1) for s in v]
                else:
                    out[k] = v
        if out.get("properties") is not None and "additionalProperties" not in out:
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


def main():
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
