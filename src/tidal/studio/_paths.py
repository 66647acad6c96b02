"""Confinement of user-supplied paths to a root folder (the workspace, the artifact store).

A path from a request is accepted only when, after decoding and resolving symbolic links, it is
the root itself or lies inside it. Rejected: ``..`` segments (plain, URL-encoded or double
encoded), backslashes, ``;`` path parameters, NUL bytes, absolute paths, symlinks that leave the
root and sibling folders that merely share a prefix (``/ws`` vs ``/ws-other``).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from tidal.core._errors import TidalError


class PathRefused(TidalError):
    """A request named a path outside the folder it may touch."""


def _decoded(text: str) -> str:
    """Decode percent-escapes repeatedly so that double encoding cannot smuggle ``..`` past the check."""
    for _ in range(4):
        decoded = unquote(text)
        if decoded == text:
            return text
        text = decoded
    raise PathRefused(f"path {text!r} is encoded too many times")


def is_inside(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or inside it (component-wise, after resolving both)."""
    resolved, base = path.resolve(), root.resolve()
    return resolved == base or base in resolved.parents


def confine(root: Path, relative: str) -> Path:
    """The absolute path of ``relative`` inside ``root``; raises :class:`PathRefused` otherwise."""
    text = _decoded(relative)
    shown = relative if len(relative) < 200 else relative[:200] + "..."
    if not text or "\x00" in text:
        raise PathRefused(f"path {shown!r} is empty or holds a NUL byte")
    if "\\" in text:
        raise PathRefused(f"path {shown!r} holds a backslash; use '/' between folders")
    if ";" in text:
        raise PathRefused(f"path {shown!r} holds ';'; path parameters are not accepted")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise PathRefused(f"path {shown!r} is absolute; give a path relative to the workspace")
    parts = PurePosixPath(text).parts
    if any(part == ".." for part in parts):
        raise PathRefused(f"path {shown!r} leaves the workspace ('..' is not accepted)")
    candidate = root.joinpath(*parts)
    if not is_inside(candidate, root):
        raise PathRefused(f"path {shown!r} leads outside the workspace (through a symbolic link)")
    return candidate.resolve()
