"""Access control: a token when bound beyond loopback, a Host check against DNS rebinding, and
cross-site request protection.

Bound to loopback the Studio runs without a login. Bound to any other address it needs a token
on every route, the live event stream and WebSocket upgrades included: ``?token=`` once (the
answer sets a cookie, as Jupyter does), the ``tidal_token`` cookie, or an ``Authorization:
Bearer`` header. A refused WebSocket upgrade gets an HTTP 401/403 JSON answer where the server
supports ASGI's ``websocket.http.response`` extension, else a close with code 1008.

Any web page the user visits can send "simple" cross-origin requests to a loopback Studio (a
form POST, or ``fetch`` in ``no-cors`` mode). So every state-changing API request (POST, PUT,
DELETE, PATCH under ``/api``) must carry ``Content-Type: application/json``, which such
requests cannot send without a CORS preflight the Studio never grants (else 415), and an
``Origin`` header, when present, must name the Studio's own host (else 403).
"""

from __future__ import annotations

import hmac
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

COOKIE = "tidal_token"
#: methods that change state; under /api they must be JSON and same-origin
WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}

Scope = dict[str, Any]


def new_token() -> str:
    return secrets.token_urlsafe(32)




def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


async def _send_json(
    scope: Scope, send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Refuse a request with a JSON body; a WebSocket upgrade gets the same HTTP answer, or a policy close."""
    payload = json.dumps(body).encode()
    all_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *(headers or [])]
    if scope["type"] == "websocket":
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": all_headers})
            await send({"type": "websocket.http.response.body", "body": payload})
        else:  # the server answers the upgrade with 403
            await send({"type": "websocket.close", "code": 1008, "reason": str(body.get("detail", ""))[:120]})
        return
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": payload})


def _with_port(netloc: str, default: str) -> str:
    """``host:port`` in lower case, the scheme's default port added when none is given."""
    netloc = netloc.strip().lower()
    host, _, port = ("", "", "") if netloc.endswith("]") else netloc.rpartition(":")
    return netloc if host and port.isdigit() else f"{netloc}:{default}"


def _same_origin(origin: str, host_header: str) -> bool:
    """True when ``origin`` (scheme://host[:port]) names the host the request was sent to."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or not host_header:
        return False  # "null" (sandboxed frames, file: pages) and anything odd
    default = "80" if parts.scheme == "http" else "443"
    return _with_port(parts.netloc, default) == _with_port(host_header, default)


def cross_site_refusal(scope: Scope) -> tuple[int, str] | None:
    """(status, reason) when a request may come from another site's page; None when it is fine."""
    origin = _header(scope, b"origin")
    if origin is not None and not _same_origin(origin, _header(scope, b"host") or ""):
        return 403, (f"cross-site request refused: Origin {origin!r} is not this Studio's own address; "
                     "open the Studio itself, or call the API without an Origin header")
    if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS or not scope["path"].startswith("/api"):
        return None
    content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        shown = content_type or "none"
        return 415, (f"{scope.get('method')} {scope['path']} needs 'Content-Type: application/json' (got {shown}); "
                     "state-changing requests must be JSON")
    return None


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
                await _send_json(scope, send, 403, {"detail": f"host {host!r} is not allowed; open the Studio at http://127.0.0.1"})
                return
        if self.token is None:
            await self._checked(scope, receive, send)
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
            await self._checked(scope, receive, send)
            return
        if not self._token_ok(from_query):
            await _send_json(
                scope,
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

        await self._checked(scope, receive, send_with_cookie)

    async def _checked(self, scope: Scope, receive: Any, send: Any) -> None:
        """Pass an allowed request on, after the cross-site checks."""
        refusal = cross_site_refusal(scope)
        if refusal is not None:
            await _send_json(scope, send, refusal[0], {"detail": refusal[1]})
            return
        await self.app(scope, receive, send)
