"""Access control: a token when bound beyond loopback, and a Host check against DNS rebinding.

Bound to loopback the Studio runs without a login. Bound to any other address it needs a token
on every route, the live event stream included: ``?token=`` once (the answer sets a cookie, as
Jupyter does), the ``tidal_token`` cookie, or an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

COOKIE = "tidal_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

Scope = dict[str, Any]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *(headers or [])],
    })
    await send({"type": "http.response.body", "body": payload})


class AccessMiddleware:
    """Pure ASGI middleware (so streaming responses pass through untouched)."""

    def __init__(self, app: Any, token: str | None, allowed_hosts: set[str] | None) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts

    def _token_ok(self, candidate: str | None) -> bool:
        if not candidate or self.token is None:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.allowed_hosts is not None:
            host = _host_name(_header(scope, b"host") or "")
            if host not in self.allowed_hosts:
                await _send_json(send, 403, {"detail": f"host {host!r} is not allowed; open the Studio at http://127.0.0.1"})
                return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        from_query = next((value for key, value in query if key == "token"), None)
        authorization = _header(scope, b"authorization") or ""
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is simply not a credential
            cookie = SimpleCookie()
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        if self._token_ok(bearer) or self._token_ok(from_cookie):
            await self.app(scope, receive, send)
            return
        if not self._token_ok(from_query):
            await _send_json(
                send,
                401,
                {"detail": "this Studio needs its token: open the URL printed at start (…/?token=…), "
                           "or send 'Authorization: Bearer TOKEN'"},
                [(b"www-authenticate", b"Bearer")],
            )
            return
        set_cookie = (b"set-cookie", f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode())
        if scope["type"] == "http" and not scope["path"].startswith("/api") and scope.get("method") == "GET":
            rest = urlencode([(key, value) for key, value in query if key != "token"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", location.encode()), set_cookie, (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), set_cookie]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
