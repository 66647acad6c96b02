"""PyTorch, imported only where a network is built or read from a module (the ``nn`` extra)."""

from __future__ import annotations

from types import ModuleType


def require_torch() -> ModuleType:
    """``torch``, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            "building or reading PyTorch modules needs PyTorch: pip install 'tidal-ml[nn]' "
            "(or install torch first, e.g. the CPU build from https://download.pytorch.org/whl/cpu)"
        ) from None
    return torch
