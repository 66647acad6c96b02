"""Python load generators for the serving benchmark: open loop at a fixed rate, or closed loop at a fixed concurrency.

Open loop (``--rate``): latency is measured from each request's scheduled send time. Measuring from
the schedule (not from the actual send) avoids coordinated omission: a server that stalls is charged
for the requests that queued behind the stall.

Closed loop (``--concurrency``): that many requests in flight at all times (one coroutine each,
sending the next as soon as its last answer is in), counted over ``--seconds`` after a warm-up;
the gRPC counterpart of ``wrk -c32`` for the paths wrk cannot drive.

Both send the body file's bytes as they are and read the answer without decoding it, as wrk does:

* HTTP (``--url``): a POST with the body and each ``--header NAME:VALUE`` (aiohttp, one connection
  per request in flight);
* gRPC (``--grpc HOST:PORT``): the body is a serialized ``inference.ModelInferRequest``, sent to
  ``ModelInfer`` over one channel (one HTTP/2 connection carrying every request in flight), the
  way a gRPC client is normally used, or spread over ``--grpc-channels`` connections.

The output is one JSON object: counts, requests/s, percentiles, and the CPU this process used over
the measured window (``client_cpu``, 1.0 = one core busy) and, with ``--server-pid``, the server's.

    python loadgen.py --url URL --body FILE --rate 400 --seconds 8
    python loadgen.py --grpc 127.0.0.1:8081 --body FILE --concurrency 32 --seconds 8 --server-pid PID
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import numpy as np

GRPC_METHOD = "/inference.GRPCInferenceService/ModelInfer"
TIMEOUT_S = 30.0
WARMUP_REQUESTS = 200


def process_cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system, all threads) a process has used; this process's own when ``pid`` is None."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class CpuWindow:
    """The CPU share (1.0 = one core) of this process and of the server over a window of wall time."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.started = time.perf_counter()
        self.client = process_cpu_seconds(None)
        self.server = process_cpu_seconds(server_pid) if server_pid else 0.0

    def shares(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        shares = {"client_cpu": (process_cpu_seconds(None) - self.client) / wall}
        if self.server_pid:
            shares["server_cpu"] = (process_cpu_seconds(self.server_pid) - self.server) / wall
        return shares


async def http_sender(stack: AsyncExitStack, url: str, body: bytes, headers: dict[str, str],
                      connections: int) -> Callable[[], Awaitable[bool]]:
    import aiohttp

    session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)))
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)

    async def send() -> bool:
        async with session.post(url, data=body, headers=headers, timeout=timeout) as response:
            await response.read()
            return response.status == 200

    return send


async def grpc_sender(stack: AsyncExitStack, target: str, body: bytes, channels: int) -> Callable[[], Awaitable[bool]]:
    import itertools

    import grpc

    calls = []
    for index in range(channels):
        # a channel argument of its own per channel, or grpc shares one connection among equal channels
        channel = grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", -1),
                                                             ("grpc.channel_id", index)])
        stack.push_async_callback(channel.close)
        calls.append(channel.unary_unary(GRPC_METHOD))  # no serializers: bytes out as they are, answers stay bytes
    rotation = itertools.cycle(calls)

    async def send() -> bool:
        await next(rotation)(body, timeout=TIMEOUT_S)
        return True

    return send


async def attempt(send: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await send()
    except Exception:  # a refused, failed or timed-out request counts as an error
        return False


def percentiles(latencies: list[float]) -> dict[str, float]:
    values = np.array(latencies) * 1000.0
    if not len(values):
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max())}


async def open_loop(send: Callable[[], Awaitable[bool]], rate: float, seconds: float,
                    server_pid: int | None) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        if await attempt(send):
            latencies.append(time.perf_counter() - scheduled)
        else:
            errors += 1

    total = int(rate * seconds)
    window = CpuWindow(server_pid)
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
    return {"rate": rate, "sent": total, "ok": len(latencies), "errors": errors,
            "achieved_rps": len(latencies) / elapsed, **percentiles(latencies), **window.shares()}


async def closed_loop(send: Callable[[], Awaitable[bool]], concurrency: int, seconds: float,
                      server_pid: int | None) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal errors
        while (began := time.perf_counter()) < deadline:
            if await attempt(send):
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

    window = CpuWindow(server_pid)
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start  # includes the last answers, as wrk's does
    return {"concurrency": concurrency, "ok": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "seconds": elapsed, **percentiles(latencies), **window.shares()}


async def run(args: argparse.Namespace, body: bytes) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        if args.grpc:
            send = await grpc_sender(stack, args.grpc, body, args.grpc_channels)
        else:
            headers = dict(item.split(":", 1) for item in args.header)
            send = await http_sender(stack, args.url, body, headers, max(args.concurrency or 0, 256 if args.rate else 32))
        # warm up: open the connections (as many as will be in flight) and the server's first-call paths
        width = args.concurrency or 32
        for _ in range(max(1, WARMUP_REQUESTS // width)):
            results = await asyncio.gather(*(attempt(send) for _ in range(width)))
        if not any(results):
            raise SystemExit("every warm-up request failed: is the server up, and does it take this body?")
        if args.rate:
            return await open_loop(send, args.rate, args.seconds, args.server_pid)
        return await closed_loop(send, args.concurrency, args.seconds, args.server_pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="HTTP: POST the body to this URL")
    target.add_argument("--grpc", metavar="HOST:PORT", help="gRPC: send the body (a ModelInferRequest) to ModelInfer")
    parser.add_argument("--body", required=True, help="file with the request body's bytes")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE", help="HTTP header (repeatable)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rate", type=float, help="open loop: requests per second")
    mode.add_argument("--concurrency", type=int, help="closed loop: requests in flight")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--grpc-channels", type=int, default=1,
                        help="gRPC: channels (connections) the requests are spread over, in turn")
    parser.add_argument("--server-pid", type=int, help="also report this process's CPU share over the window")
    args = parser.parse_args()
    with open(args.body, "rb") as handle:
        body = handle.read()
    if not args.grpc:  # grpc.aio is only supported on asyncio's own event loop
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
    print(json.dumps(asyncio.run(run(args, body))))


if __name__ == "__main__":
    main()
