#!/usr/bin/env python3
"""Extracts from a provider's OpenAPI description the operations a fake serves, with every component
they reference (and the security schemes), unchanged, so that the full file (1-2 MB) need not be
vendored. The fakes' exchanges are validated against the extract.

Usage: extract_openapi.py FULL_OPENAPI.json OUT.json PATH[:method,method] ...
  A path without methods keeps all of them; with methods, those and the path's shared parameters.
Used for tests/fakes/twilio (twilio/twilio-oai, spec/json/twilio_api_v2010.json) and
tests/fakes/discord (discord/discord-api-spec, openapi.json); their licences are kept beside.
"""
import json
import sys


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
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    full = json.load(open(sys.argv[1], encoding="utf-8"))
    paths = {}
    for arg in sys.argv[3:]:
        path, _, methods = arg.partition(":")
        item = full["paths"][path]
        keep = set(methods.split(",")) | {"parameters"} if methods else set(item)
        paths[path] = {k: v for k, v in item.items() if k in keep}
    components, pending, seen = {}, set(), set()
    refs(paths, pending)
    while pending:  # the worklist: each referenced component, and what it references
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = full["components"][kind][name]
        components.setdefault(kind, {})[name] = node
        refs(node, pending)
    out = {kind: dict(sorted(components[kind].items())) for kind in sorted(components)}
    if "securitySchemes" in full.get("components", {}):
        out["securitySchemes"] = full["components"]["securitySchemes"]
    spec = {"openapi": full["openapi"], "info": full["info"], "servers": full.get("servers", []), "paths": paths,
            "components": out}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"{len(paths)} paths, {len(seen)} components -> {sys.argv[2]}")


if __name__ == "__main__":
    main()
