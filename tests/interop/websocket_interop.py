#!/usr/bin/python3
"""Python side of the WebSocket interop test (run by websocket.sh with Debian's /usr/bin/python3
and its python3-websockets):
  websocket_interop.py client URL       checks intg's echo server: text, binary, permessage-deflate,
                                        an oversized message (1009), a refused Origin (403), a clean close;
  websocket_interop.py serve PORTFILE   an echo server (permessage-deflate on) for intg's client."""
import asyncio
import os
import sys

import websockets

failures = 0


def check(ok, what):
    global failures
    if not ok:
        failures += 1
    print(("ok   " if ok else "FAIL ") + what, file=sys.stdout if ok else sys.stderr)


def close_code(exc):
    rcvd = getattr(exc, "rcvd", None)
    return rcvd.code if rcvd is not None else exc.code


async def client(url):
    async with websockets.connect(url, max_size=4 * 1024 * 1024) as ws:
        check(any(e.name == "permessage-deflate" for e in ws.extensions), "permessage-deflate negotiated")
        await ws.send("h\u00e9llo \u2713")
        check(await ws.recv() == "h\u00e9llo \u2713", "text echo")
        binary = bytes(i % 251 for i in range(70000))
        await ws.send(binary)
        check(await ws.recv() == binary, "binary echo (70000 bytes)")
        await ws.send(["Hel", "lo, ", "world"])  # one message in three fragments
        check(await ws.recv() == "Hello, world", "fragmented message")
    check(ws.close_code == 1000, "clean close (1000)")

    async with websockets.connect(url, compression=None) as big:
        try:
            # The server may close while the client is still writing: send raises then.
            await big.send("x" * (2 * 1024 * 1024))
            await big.recv()
            check(False, "oversized message closed with 1009")
        except websockets.exceptions.ConnectionClosed as e:
            # The server drains what is still sent before closing: no reset loses the close frame.
            check(close_code(e) == 1009, "oversized message closed with 1009 (got %d)" % close_code(e))

    try:
        async with websockets.connect(url, origin="https://evil.example"):
            check(False, "foreign Origin refused with 403")
    except websockets.exceptions.InvalidStatusCode as e:
        check(e.status_code == 403, "foreign Origin refused with 403")


async def serve(port_file):
    async def echo(ws, path=None):
        async for message in ws:
            await ws.send(message)

    async with websockets.serve(echo, "127.0.0.1", 0, max_size=4 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(port_file + ".tmp", port_file)
        await asyncio.Future()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("client", "serve"):
        print("usage: websocket_interop.py client URL | serve PORTFILE", file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2]))
        sys.exit(1 if failures else 0)
    asyncio.run(serve(sys.argv[2]))
