"""Who may call which route of the model server: the token, the repository switch, and cross-site checks.

The rules, checked in this order before a request reaches a route:

* ``GET /v2/health/live``, ``GET /v2/health/ready`` and ``GET /metrics`` are always open (probes, scrapers).
* A route needs the token (``Authorization: Bearer TOKEN``, compared in constant time) when it is a
  repository route (``/v2/repository/...``) on a server started with ``admin``, or, on a server bound
  beyond loopback, any route. Missing or wrong: ``401`` with ``WWW-Authenticate: Bearer``.
* Repository routes on a server without ``admin``: ``404``, saying how the operator switches them on.
* A POST whose ``Origin`` header names another site: ``403`` (a web page on another site can send a
  "simple" cross-site POST to a server on the user's machine, but it always says where it came from).
* Repository routes that change what is served take ``Content-Type: application/json`` only (``415``),
  the one body type a cross-site page cannot send without the browser asking first.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from typing import Any

TOKEN_VARIABLE = "TIDAL_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
OPEN_ROUTES = {"/v2/health/live", "/v2/health/ready", "/metrics"}
REPOSITORY_PREFIX = "/v2/repository/"
CHANGING_PREFIX = "/v2/repository/models/"  # load, unload, traffic: they change what is served
ADMIN_OFF = ("the repository API (load, unload, traffic, index) is off on this server; the operator switches "
             "it on with `tidal serve --admin` (it then needs the token: --admin-token or TIDAL_SERVE_TOKEN)")

Scope = dict[str, Any]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def resolve_token(token: str | None, needed: bool) -> tuple[str | None, bool]:
    """The server's token: the one given, else ``$TIDAL_SERVE_TOKEN``, else a new one when one is needed.

    Returns the token and whether it was generated here (then the caller must show it to the operator).
    """
    token = token or os.environ.get(TOKEN_VARIABLE) or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        from tidal.core._errors import TidalError

        raise TidalError(f"the server token (--admin-token or {TOKEN_VARIABLE}) has {len(token)} characters; use at "
                         f"least {MIN_TOKEN_LENGTH}, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if token is None and needed:
        return new_token(), True
    return token, False


def bearer_ok(authorization: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` value is ``Bearer TOKEN`` with the server's token (compared in constant time)."""
    scheme, _, candidate = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not candidate.strip() or token is None:
        return False
    return hmac.compare_digest(candidate.strip().encode(), token.encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_port(netloc: str, scheme: str) -> str:
    """``host[:port]`` in lower case, without the scheme's default port."""
    netloc = netloc.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    return netloc[: -len(default)] if default and netloc.endswith(default) else netloc


def foreign_origin(scope: Scope) -> str | None:
    """The request's ``Origin`` when it is present and is not this server's own origin (else ``None``)."""
    origin = _header(scope, b"origin")
    if origin is None:
        return None
    scheme, separator, netloc = origin.partition("://")
    host = _header(scope, b"host") or ""
    if separator and netloc and _host_port(netloc, scheme.lower()) == _host_port(host, scope.get("scheme", "http")):
        return None  # the scheme may differ behind a TLS-terminating proxy; the host and port may not
    return origin


def _media_type(scope: Scope) -> str:
    return (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()


async def send_json(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                    *(headers or [])],
    })
    await send({"type": "http.response.body", "body": payload})


class AccessMiddleware:
    """Pure ASGI middleware that applies the rules above; a request that passes reaches the routes unchanged."""

    def __init__(self, app: Any, *, admin: bool, token: str | None, loopback: bool) -> None:
        if token is None and (admin or not loopback):
            raise ValueError("a server with the repository API, or bound beyond loopback, needs a token")
        self.app = app
        self.admin = admin
        self.token = token
        self.loopback = loopback

    def token_ok(self, scope: Scope) -> bool:
        return bearer_ok(_header(scope, b"authorization"), self.token)

    def refusal(self, scope: Scope) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        """(status, message, headers) when the request is refused; ``None`` when it may go on."""
        path, method = scope.get("path", ""), scope.get("method", "GET")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted under a prefix: the rules are about the route itself
            path = path[len(root):]
        if path in OPEN_ROUTES and method in ("GET", "HEAD"):
            return None
        repository = path.startswith(REPOSITORY_PREFIX)
        if ((repository and self.admin) or not self.loopback) and not self.token_ok(scope):
            given = _header(scope, b"authorization") is not None
            message = ("the token is wrong" if given else "this route needs the server's token") + \
                ": send 'Authorization: Bearer TOKEN' (the operator sets it with --admin-token or TIDAL_SERVE_TOKEN, " \
                "or reads the one printed at start)"
            return 401, message, [(b"www-authenticate", b"Bearer")]
        if repository and not self.admin:
            return 404, ADMIN_OFF, []
        if method in ("GET", "HEAD", "OPTIONS"):
            return None  # reads: a page on another site cannot read the answer (no CORS headers here)
        origin = foreign_origin(scope)
        if origin is not None:
            return 403, (f"requests from another site (Origin: {origin[:100]}) may not call {method} {path}; "
                         "call the server from a script or from its own origin"), []
        if path.startswith(CHANGING_PREFIX) and _media_type(scope) != "application/json":
            got = _media_type(scope) or "none"
            return 415, (f"{path} takes a JSON body with 'Content-Type: application/json' (got {got[:100]}); "
                         "e.g. curl -H 'Content-Type: application/json' -d '{...}'"), []
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, message, headers = refused
        await send_json(send, status, {"error": message}, headers)
