#!/usr/bin/env python3
"""Extracts the Messages part of Twilio's OpenAPI description (twilio/twilio-oai,
spec/json/twilio_api_v2010.json at d50069b44ea8cd23141385bdb6db48f16ff75bb5, MIT: LICENSE here):
the two Messages paths and every schema they reference, unchanged, so that the 1.8 MB file
need not be vendored. Usage: extract_messages.py twilio_api_v2010.json > twilio_messages_openapi.json"""
import json
import sys

PATHS = ["/2010-04-01/Accounts/{AccountSid}/Messages.json", "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"]


def refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.add(v)
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main():
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    paths = {p: spec["paths"][p] for p in PATHS}
    schemas, pending = {}, set()
    refs(paths, pending)
    while pending:
        ref = pending.pop()
        name = ref.split("/")[-1]
        if name in schemas:
            continue
        schemas[name] = spec["components"]["schemas"][name]
        refs(schemas[name], pending)
    out = {"openapi": spec["openapi"], "info": spec["info"], "servers": spec.get("servers", []), "paths": paths,
           "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": spec["components"].get("securitySchemes", {})}}
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
