#!/usr/bin/env bash
# Runs one of the SDK scripts here against a fake that test_providers serves in-process.
# Usage: run.sh WORKDIR SCRIPT ARGS...   (the SDKs are installed in WORKDIR with npm ci, never in
# the source tree, and reused while package-lock.json is unchanged).
set -euo pipefail
work=$1
script=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps installs it)"; exit 1; }
mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/stripe" ] || [ ! -d "$work/node_modules/@slack/web-api" ] || [ ! -d "$work/node_modules/twilio" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/$script" "$src/check.js" "$work/"
cd "$work" && node "$script" "$@"
