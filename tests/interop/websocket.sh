#!/usr/bin/env bash
# WebSocket interop: intg's server against the ws package's client (Node) and python3-websockets'
# client (Debian's /usr/bin/python3, not a pyenv one), and intg's client against their servers.
# Usage: websocket.sh HELPER WORKDIR   (node_modules installed in WORKDIR with npm ci, as run.sh does;
# the servers started here are stopped by their PIDs).
set -euo pipefail
helper=$1
work=$2
src=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps installs it)"; exit 1; }
"$python" -c 'import websockets' 2>/dev/null ||
  { echo "Debian's python3-websockets is not installed for $python (scripts/test installs it)"; exit 1; }
mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/ws" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/websocket.js" "$src/websocket_interop.py" "$work/"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
wait_for() {  # a port file written by a server, for at most 10 s
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "no server wrote $1"; exit 1
}
rm -f "$work"/*.port

echo "== intg's server, ws (Node) and python3-websockets as clients"
"$helper" ws-serve "$work/intg.port" 2>"$work/intg-server.log" &
pids+=($!)
wait_for "$work/intg.port"
url="ws://127.0.0.1:$(cat "$work/intg.port")/echo"
(cd "$work" && node websocket.js client "$url")
"$python" "$work/websocket_interop.py" client "$url"

echo "== intg's client, ws (Node) and python3-websockets as servers"
(cd "$work" && exec node websocket.js serve "$work/node.port") &
pids+=($!)
"$python" "$work/websocket_interop.py" serve "$work/python.port" &
pids+=($!)
wait_for "$work/node.port"
wait_for "$work/python.port"
for server in node python; do
  for deflate in plain deflate; do
    "$helper" ws-client "ws://127.0.0.1:$(cat "$work/$server.port")/" "$deflate" | sed "s/^/$server: /"
  done
done
echo "websocket interop: passed"
