#!/usr/bin/env python3
"""Extracts from Discord's OpenAPI description (discord/discord-api-spec, openapi.json, OpenAPI
3.1, MIT licensed: LICENSE here) the operations the Discord fake serves, with every component they
reference, into discord_openapi.json (the full file is 1.2 MB; the extract is what the fake is
checked against).

Usage: extract_operations.py FULL_OPENAPI.json [OUT.json]
"""
import json
import sys

OPERATIONS = {
    "/users/@me": ["get"],
    "/channels/{channel_id}/messages": ["post"],
    "/channels/{channel_id}/messages/{message_id}": ["patch"],
    "/guilds/{guild_id}/channels": ["get"],
    "/webhooks/{webhook_id}/{webhook_token}": ["post"],
}


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
    full = json.load(open(sys.argv[1], encoding="utf-8"))
    out_path = sys.argv[2] if len(sys.argv) > 2 else "discord_openapi.json"
    paths = {}
    for path, methods in OPERATIONS.items():
        item = full["paths"][path]
        paths[path] = {k: v for k, v in item.items() if k in methods or k == "parameters"}
    spec = {"openapi": full["openapi"], "info": full["info"], "servers": full.get("servers", []), "paths": paths,
            "components": {}}
    pending, seen = set(), set()
    refs(paths, pending)
    while pending:  # the worklist: each referenced component, and what it references
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = full["components"][kind][name]
        spec["components"].setdefault(kind, {})[name] = node
        refs(node, pending)
    for kind in spec["components"]:
        spec["components"][kind] = dict(sorted(spec["components"][kind].items()))
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"{len(paths)} paths, {len(seen)} components -> {out_path}")


if __name__ == "__main__":
    main()
