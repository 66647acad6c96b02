"""A model server's gRPC endpoint in this process, on its own event loop in a thread, on a loopback port.

For tests that need the server's options (a token, draining) under their control without starting a
``tidal serve`` process; the tests against a real ``tidal serve --grpc-port`` are in tests/serving/test_grpc.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def grpc_endpoint(server: Any) -> Iterator[str]:
    """Serve ``server`` (a ModelServer) over gRPC on 127.0.0.1; yields ``host:port``."""
    from tidal.serving._grpc import GrpcEndpoint

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(60)

    endpoint = GrpcEndpoint(server, "127.0.0.1", 0)  # port 0: the system picks a free one
    try:
        port = run(endpoint.start())
        yield f"127.0.0.1:{port}"
    finally:
        run(endpoint.stop(1.0))
        run(server.repository.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
