"""Tracing for :func:`tidal.nn.from_module`: the fx tracer, the shape recorder, and where a node came from.

torch.fx's own ways to do two of these are slow on first use: recording stack traces imports
``torch._dynamo``, and ``ShapeProp`` imports sympy (seconds each). Walking the frames and running
the graph with a small interpreter cost microseconds.
"""

from __future__ import annotations

import linecache
import os
import sys
from typing import Any

from tidal.nn._torch import require_torch

torch = require_torch()
import torch.fx as fx  # noqa: E402

SKIP_DIRS = (os.path.dirname(str(torch.__file__)), os.path.dirname(__file__))
CONTAINERS = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)


class Tracer(fx.Tracer):
    """Keeps torch.nn layers whole; your own modules too when they become sub-networks."""

    def __init__(self, nested: bool) -> None:
        super().__init__()
        self.nested = nested

    def create_node(self, *args: Any, **kwargs: Any) -> Any:
        """Each node remembers the line of your code that made it (fx's own stack recording imports
        torch._dynamo, seconds on first use; walking the frames here costs microseconds)."""
        node = super().create_node(*args, **kwargs)
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith(SKIP_DIRS):
            frame = frame.f_back  # type: ignore[assignment]
        if frame is not None:
            node.meta["tidal_line"] = _frame_text(frame.f_code.co_filename, frame.f_lineno, None)
        return node

    def is_leaf_module(self, module: Any, qualname: str) -> bool:
        if isinstance(module, CONTAINERS):
            return False
        if type(module).__module__.startswith(("torch.nn", "torch.ao.nn")):
            return True
        return self.nested


def _frame_text(filename: str, line: int, code: str | None) -> str:
    code = (code or linecache.getline(filename, line)).strip()
    return f"{filename}:{line}" + (f": `{code}`" if code else "")


def user_frame(frames: list[tuple[str, int, str | None]]) -> str | None:
    mine = [frame for frame in frames if not frame[0].startswith(SKIP_DIRS)]
    return _frame_text(*mine[-1]) if mine else None


def node_line(node: Any) -> str | None:
    return node.meta.get("tidal_line")


class Recorder(fx.Interpreter):
    """Runs the traced graph and keeps each node's result as (shape, dtype), nested like the result
    (torch.fx's ShapeProp would do, but it imports sympy: seconds on first use)."""

    def run_node(self, node: Any) -> Any:
        result = super().run_node(node)
        node.meta["tidal_value"] = value_of(result)
        return result


def value_of(result: Any) -> Any:
    if isinstance(result, torch.Tensor):
        return (tuple(result.shape), result.dtype)
    if isinstance(result, (tuple, list)):
        return tuple(value_of(item) for item in result)
    return None


def flat_values(value: Any) -> list[tuple[tuple[int, ...], Any]]:
    if value is None:
        return []
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], torch.dtype):
        return [value]
    return [item for part in value for item in flat_values(part)]
