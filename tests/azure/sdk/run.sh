#!/usr/bin/env bash
# Writes fresh Shared Key and SAS vectors with @azure/storage-blob: run.sh WORKDIR OUTPUT [SEED].
# The SDK is installed in WORKDIR with npm ci (never in the source tree), reused while
# package-lock.json is unchanged. Exits 77 (skipped) without node or npm, or when npm ci fails.
set -euo pipefail
work=$1
out=$2
seed=${3:-$(date +%s)}
src=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null || { echo "node or npm not found: skipped"; exit 77; }
mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/@azure/storage-blob" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed: skipped"; exit 77; }
fi
cp "$src/generate_vectors.js" "$work/"
cd "$work" && node generate_vectors.js "$out" "$seed"
