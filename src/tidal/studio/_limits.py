"""A bound on request bodies for routes that take small JSON (models, services): 413 beyond it, before any parsing.

The body is read here, up to the limit, and handed on whole; a body that declares or sends more is
answered with 413 and a JSON reason, and never reaches the route.
"""

from __future__ import annotations

import json
from typing import Any

#: the largest body of a models or services request (a test request's row or v2 tensors, a registration)
MAX_BODY_BYTES = 1024 * 1024


async def _refuse(send: Any, limit: int) -> None:
    payload = json.dumps({"detail": f"the request body is larger than {limit} bytes, the most this route takes; "
                                    "send fewer rows or values", "issues": []}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Pure ASGI middleware: bodies of requests under ``prefixes`` are at most ``limit`` bytes."""

    def __init__(self, app: Any, prefixes: tuple[str, ...], limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.prefixes, self.limit = app, prefixes, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes) or scope.get("method") == "GET":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await _refuse(send, self.limit)
                return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _refuse(send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
