"""Reading an index or a wheel from a path, a ``file://`` URL, ``https://`` or loopback ``http://``.

Everything is read with a size cap, in chunks, so a huge or endless answer stops at the cap
instead of filling memory or disk. Plain ``http://`` is refused unless the host is this machine:
an index or a wheel fetched in clear text could be swapped on the way.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from tidal.core._errors import TidalError
from tidal.core._hosts import is_loopback

CHUNK = 1 << 16
TIMEOUT_SECONDS = 30


class MarketRefused(TidalError):
    """An index, an entry or a wheel that Tidal will not use (bad location, hash, name or size)."""


def is_url(location: str) -> bool:
    return "://" in location


def check_url(url: str, what: str) -> str:
    """``url`` if Tidal may fetch it: https, file, or http to this machine only."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return url
    if scheme == "file":
        return url
    if scheme == "http" and parts.hostname:
        if is_loopback(parts.hostname):
            return url
        raise MarketRefused(
            f"{what} {url} uses plain http:// to another machine ({parts.hostname}); anyone on the way could swap it. "
            "Use https://, a file path, or http:// to localhost only"
        )
    raise MarketRefused(f"{what} {url} is not a path, a file:// URL, an https:// URL or a loopback http:// URL")


def local_path(location: str) -> Path | None:
    """The local file behind a path or a ``file://`` URL; None for a network URL."""
    if not is_url(location):
        return Path(location).expanduser()
    parts = urlsplit(location)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise MarketRefused(f"{location} names a file on another host ({parts.netloc}); use a local path")
        return Path(unquote(parts.path))
    return None


def _chunks(stream: BinaryIO, limit: int, what: str, location: str) -> Iterator[bytes]:
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise MarketRefused(f"{what} {location} is larger than {limit:,} bytes, the limit; nothing was used")
        yield chunk


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL Tidal would fetch itself (no https -> plain http downgrade)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_url(newurl, f"the redirect from {req.full_url} to")
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise MarketRefused(f"{req.full_url} redirects to {newurl}; only http(s) redirects are followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_CheckedRedirects)


def _open(location: str, what: str) -> BinaryIO:
    path = local_path(location)
    if path is not None:
        if not path.is_file():
            raise MarketRefused(f"{what} {location} does not exist or is not a file")
        return path.open("rb")
    check_url(location, what)
    try:
        return _opener.open(location, timeout=TIMEOUT_SECONDS)  # type: ignore[no-any-return]
    except MarketRefused:
        raise
    except OSError as error:
        raise MarketRefused(f"cannot fetch {what} {location}: {error}") from None


def read_limited(location: str, limit: int, what: str) -> bytes:
    """All of ``location``'s bytes, refused beyond ``limit``."""
    with _open(location, what) as stream:
        return b"".join(_chunks(stream, limit, what, location))


def copy_limited(location: str, target: Path, limit: int, what: str) -> str:
    """Copy ``location`` to ``target`` (at most ``limit`` bytes); the sha256 of what was copied."""
    digest = hashlib.sha256()
    with _open(location, what) as stream, target.open("wb") as out:
        for chunk in _chunks(stream, limit, what, location):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
