"""One request to an ASGI app (a ModelServer's, the Studio's) in this process, without a socket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


def asgi_request(app: Any, method: str, path: str, **options: Any) -> httpx.Response:
    """``method`` ``path`` on ``app`` through httpx's ASGI transport; ``options`` go to ``httpx.AsyncClient.request``
    (``json=``, ``content=``, ``headers=`` ...)."""
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.request(method, path, **options)

    return asyncio.run(send())
