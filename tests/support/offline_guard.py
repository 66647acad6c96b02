"""A guard for tests that must run offline: any socket connection beyond a local Unix socket fails the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class NetworkUsed(AssertionError):
    pass


@contextmanager
def no_network() -> Iterator[list[Any]]:
    """Inside the block, connecting or sending over an internet socket raises NetworkUsed (and is recorded)."""
    attempts: list[Any] = []
    originals = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}
    original_lookup = socket.getaddrinfo

    def refuse(name: str) -> Any:
        def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if self.family != socket.AF_UNIX:
                attempts.append((name, args))
                raise NetworkUsed(f"socket.{name}{args} while the network is off")
            return originals[name](self, *args, **kwargs)

        return guarded

    def lookup(*args: Any, **kwargs: Any) -> Any:
        attempts.append(("getaddrinfo", args))
        raise NetworkUsed(f"socket.getaddrinfo{args} while the network is off")

    for name in originals:
        setattr(socket.socket, name, refuse(name))
    socket.getaddrinfo = lookup
    try:
        yield attempts
    finally:
        for name, original in originals.items():
            setattr(socket.socket, name, original)
        socket.getaddrinfo = original_lookup
