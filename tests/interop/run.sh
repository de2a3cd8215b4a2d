#!/usr/bin/env bash
# Interop between intg and Node: tokens intg signs verify in jsonwebtoken (npm) and tokens Node
# signs verify in intg; AES-256-GCM data sealed on either side opens on the other.
# Usage: run.sh HELPER WORKDIR   (node_modules are installed in WORKDIR with npm ci, never in the
# source tree; they are reused while package-lock.json is unchanged).
set -euo pipefail
helper=$1
work=$2
src=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps installs it)"; exit 1; }
mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/jsonwebtoken" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/interop.js" "$work/"
rm -f "$work/intg.json" "$work/node.json"
"$helper" prepare "$work"
(cd "$work" && node interop.js verify "$work")
"$helper" check "$work"
