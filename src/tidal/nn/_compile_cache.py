"""A compile cache per network, so a rerun does not pay ``torch.compile``'s cold compilation again.

Inductor keeps the graphs and kernels it generates in one cache folder. While a network trains
with a compiled variant (``acceleration: auto`` or ``compile: ...``), Tidal points that folder at
one of its own, named by the network: the spec's canonical JSON, the PyTorch version and the
Python version. A later run of the same network (another process, a rerun after the machine's
temporary files were cleared) finds its graphs there; another network never shares its folder.

The folders hold generated code and compiled libraries that PyTorch loads and runs, so they live
with the user, never in a workspace (a workspace is copied and shared; a cache from someone else
would be code from someone else): ``TIDAL_COMPILE_CACHE``, else ``$XDG_CACHE_HOME/tidal/compile``,
else ``~/.cache/tidal/compile``. The root is created private (0700) and refused when another user
owns it or others may write to it, the check SSH makes of ``~/.ssh``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError

ENV = "TIDAL_COMPILE_CACHE"


class UnsafeCache(TidalError):
    """The compile cache folder could be written by someone else; nothing is loaded from it."""


def cache_root() -> Path:
    """Where compile caches live (``TIDAL_COMPILE_CACHE``, else the user's cache folder)."""
    chosen = os.environ.get(ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "tidal" / "compile"


def network_key(spec_document: dict[str, Any]) -> str:
    """The folder name of one network's cache: what the generated code depends on, hashed."""
    import torch

    canonical = json.dumps({"spec": spec_document, "torch": torch.__version__, "python": platform.python_version()},
                           sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def _private(root: Path) -> None:
    """Create ``root`` for this user only, or refuse one that others could have written into."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = root.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeCache(f"compile cache {root} belongs to another user (uid {info.st_uid}); "
                          f"set {ENV} to a folder of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCache(f"compile cache {root} may be written by other users (mode {stat.filemode(info.st_mode)}); "
                          f"run `chmod go-w {root}` or set {ENV} to a private folder")


def _counters() -> tuple[int, int]:
    module = sys.modules.get("torch._dynamo.utils")
    if module is None:
        return 0, 0
    inductor = module.counters["inductor"]
    return int(inductor["fxgraph_cache_hit"]), int(inductor["fxgraph_cache_miss"])


@contextlib.contextmanager
def compile_cache(spec_document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Compile into this network's own cache folder; the yielded dict gets ``folder``, ``hits`` and ``misses``."""
    from torch._inductor.runtime.cache_dir_utils import temporary_cache_dir

    root = cache_root()
    _private(root)
    folder = root / network_key(spec_document)
    folder.mkdir(exist_ok=True, mode=0o700)
    report: dict[str, Any] = {"folder": str(folder)}
    hits, misses = _counters()
    try:
        with temporary_cache_dir(str(folder)):
            yield report
    finally:
        now_hits, now_misses = _counters()
        report.update(hits=now_hits - hits, misses=now_misses - misses)
