#!/usr/bin/python3
"""The same load as benchmarks/http_client.cpp with Python's aiohttp (the seed's ecosystem):
C concurrent request loops over keep-alive connections on one event loop.

    http_client_aiohttp.py URL CONNECTIONS SECONDS
"""
import asyncio
import sys
import time

import aiohttp


async def main(url: str, connections: int, seconds: float) -> int:
    done = failed = 0
    stop = False
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            nonlocal done, failed
            while not stop:
                async with session.get(url) as r:
                    await r.read()
                    if r.status == 200:
                        done += 1
                    else:
                        failed += 1

        tasks = [asyncio.create_task(loop()) for _ in range(connections)]
        await asyncio.sleep(1.0)  # warm-up, as the C++ client does
        start_done, t0 = done, time.monotonic()
        await asyncio.sleep(seconds)
        n, elapsed = done - start_done, time.monotonic() - t0
        stop = True
        await asyncio.gather(*tasks)
    print(f"aiohttp {aiohttp.__version__}: {n / elapsed:.0f} requests/s, {failed} errors, {connections} connections")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))))
