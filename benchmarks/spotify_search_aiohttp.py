#!/usr/bin/python3
"""The workload of benchmarks/spotify_search.cpp in Python aiohttp (the seed's ecosystem): an app
token by client credentials, then C concurrent callers searching tracks (limit 10) over keep-alive
connections on one event loop, each answer parsed from JSON; searches/s and p50/p99 latency.

    spotify_search_aiohttp.py API_BASE ACCOUNTS_BASE CLIENT_ID CLIENT_SECRET CALLERS SECONDS
"""
import asyncio
import base64
import json
import sys
import time

import aiohttp

QUERIES = ["midnight", "love", "night", "blue", "river", "city", "dream", "fire"]


async def main(api: str, accounts: str, client_id: str, secret: str, callers: int, seconds: float) -> int:
    done = failed = 0
    stop = measuring = False
    latencies = []
    connector = aiohttp.TCPConnector(limit=callers)
    async with aiohttp.ClientSession(connector=connector) as session:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        async with session.post(f"{accounts}/api/token", data={"grant_type": "client_credentials"},
                                headers={"Authorization": f"Basic {basic}"}) as r:
            token = (await r.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

        async def caller(i: int) -> None:
            nonlocal done, failed
            while not stop:
                q = QUERIES[i % len(QUERIES)]
                i += 1
                start = time.perf_counter()
                async with session.get(f"{api}/search", params={"q": q, "type": "track", "limit": "10", "offset": "0"},
                                       headers=headers) as r:
                    body = await r.read()
                    if r.status == 200 and "tracks" in json.loads(body):
                        done += 1
                        if measuring:
                            latencies.append((time.perf_counter() - start) * 1e6)
                    else:
                        failed += 1

        tasks = [asyncio.create_task(caller(i)) for i in range(callers)]
        await asyncio.sleep(1.0)
        measuring, start_done, t0 = True, done, time.monotonic()
        await asyncio.sleep(seconds)
        n, elapsed = done - start_done, time.monotonic() - t0
        measuring = stop = True
        await asyncio.gather(*tasks)
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0
    print(f"aiohttp {aiohttp.__version__}: {n / elapsed:.0f} searches/s, p50 {pct(0.5):.0f} us, "
          f"p99 {pct(0.99):.0f} us, {failed} errors, {callers} callers")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    a = sys.argv
    sys.exit(asyncio.run(main(a[1], a[2], a[3], a[4], int(a[5]), float(a[6]))))
