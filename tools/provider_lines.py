#!/usr/bin/env python3
"""Counts what a provider costs: non-blank, non-comment lines of C++ in include/intg/providers/NAME/
and include/intg/providers/NAME.hpp (models included; docs and tests are elsewhere).

Usage: python3 tools/provider_lines.py [NAME...]        all providers when no name is given
       python3 tools/provider_lines.py --rev REV [NAME...]   the same, at a git revision
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = "include/intg/providers"


def code_lines(text: str) -> int:
    """Lines that hold code once // and /* */ comments and blank lines are removed."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    count = 0
    for line in text.splitlines():
        line = re.sub(r"//.*", "", line).strip()
        if line:
            count += 1
    return count


def files_at(rev: str | None) -> dict[str, str]:
    if rev is None:
        base = ROOT / PROVIDERS
        return {p.relative_to(base).as_posix(): p.read_text() for p in base.rglob("*.hpp")} if base.exists() else {}
    listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", "include/intg/"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    out = {}
    for path in listing:
        # 0.1 kept the Spotify integration in include/intg/spotify/
        for prefix in (PROVIDERS + "/", "include/intg/"):
            if path.startswith(prefix) and path.endswith(".hpp"):
                rel = path[len(prefix):]
                if prefix == "include/intg/" and "/" not in rel:
                    continue
                text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True).stdout
                if "INTG_FORWARDING_HEADER" not in text:
                    out.setdefault(rel, text)
                break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    files = files_at(args.rev)
    totals: dict[str, int] = {}
    for rel, text in files.items():
        name = rel.split("/")[0].removesuffix(".hpp")
        totals[name] = totals.get(name, 0) + code_lines(text)
    names = args.names or sorted(totals)
    for n in names:
        print(f"{n}\t{totals.get(n, 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
