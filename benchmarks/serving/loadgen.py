"""Open-loop load at a fixed rate: latency measured from each request's scheduled send time.

Measuring from the schedule (not from the actual send) avoids coordinated omission: a server
that stalls is charged for the requests that queued behind the stall.

    python loadgen.py URL BODY_FILE RATE SECONDS  ->  JSON {sent, ok, errors, p50_ms, p99_ms, ...}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
import numpy as np


async def run(url: str, body: bytes, rate: float, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=256)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as session:
        # warm up the connections
        for _ in range(20):
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                async with session.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        return
            except Exception:
                errors += 1
                return
            latencies.append(time.perf_counter() - scheduled)

        total = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    values = np.array(latencies) * 1000.0
    return {
        "rate": rate,
        "sent": total,
        "ok": len(latencies),
        "errors": errors,
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(values, 50)) if len(values) else float("nan"),
        "p99_ms": float(np.percentile(values, 99)) if len(values) else float("nan"),
        "max_ms": float(values.max()) if len(values) else float("nan"),
    }


if __name__ == "__main__":
    url, body_file, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    with open(body_file, "rb") as handle:
        payload = handle.read()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(url, payload, rate, seconds))))
