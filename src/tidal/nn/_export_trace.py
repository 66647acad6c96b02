"""Running ``torch.export`` for :func:`tidal.nn.from_module`: the exported program (the named dims
dynamic, the module in eval mode, torch's own messages kept quiet), its run on the example, and
where a node came from (the module it ran in, the line of Python that called it).

A failed export becomes a :class:`NetworkError` naming the line: data-dependent control flow
(``if x.sum() > 0:``) fails here, as it fails torch.fx.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import re
import traceback
from collections.abc import Sequence
from typing import Any

from tidal.nn._import_trace import SKIP_DIRS, value_of
from tidal.nn._issues import NetworkError, issue
from tidal.nn._torch import require_torch

torch = require_torch()
import torch.fx as fx  # noqa: E402

_CHATTY = (
    "torch.fx.experimental.symbolic_shapes",
    "torch._dynamo",
    "torch._export",
    "torch.export",
)
_FRAME = re.compile(
    r'File "(?P<file>[^"]+)", line (?P<line>\d+), in [^\n]*(?:\n(?!\s*File ")(?P<code>[^\n]*))?'
)


def _user_line(frames: list[tuple[str, int, str | None]]) -> str | None:
    """The last frame outside torch and Tidal (and not code torch compiled itself), as ``file:line: `code```."""
    mine = [
        frame
        for frame in frames
        if not frame[0].startswith((*SKIP_DIRS, "<string>", "<eval_with_key>"))
    ]
    if not mine:
        return None
    filename, line, code = mine[-1]
    code = (code or "").strip()
    return f"{filename}:{line}" + (f": `{code}`" if code else "")


def node_line(node: Any) -> str | None:
    trace = node.meta.get("stack_trace") or ""
    frames = [
        (match["file"], int(match["line"]), match["code"]) for match in _FRAME.finditer(trace)
    ]
    return _user_line(frames)


def node_module(node: Any) -> str | None:
    """The module a node ran in (``bert.encoder.layer.0.attention.self``), from export's module stack."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [path for path, _ in stack.values() if path]
    return paths[-1] if paths else None


def forward_names(module: Any, count: int) -> list[str]:
    try:
        parameters = [
            parameter.name
            for parameter in inspect.signature(module.forward).parameters.values()
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        parameters = []
    return [
        parameters[index] if index < len(parameters) else f"input_{index}" for index in range(count)
    ]


def _declared(
    index: int, name: str, example: Any, shapes: Any, batch_dim: int | None
) -> list[int | str] | None:
    """The dims input ``index`` declares: names for symbolic dims, numbers for fixed ones."""
    given = shapes[index] if isinstance(shapes, list) else (shapes or {}).get(name)
    if given is not None:
        return list(given)
    if batch_dim is not None and example.dim() > batch_dim:
        dims: list[int | str] = list(example.shape)
        dims[batch_dim] = "batch"
        return dims
    return None


def export_program(
    module: Any,
    examples: Sequence[Any],
    names: list[str],
    shapes: Any,
    batch_dim: int | None,
    fx_problem: str | None,
) -> tuple[Any, list[list[int | str] | None]]:
    """``torch.export`` of ``module`` in eval mode, the named dims dynamic; a :class:`NetworkError` naming the line if it fails."""
    from torch.export import Dim

    declared = [
        _declared(index, name, example, shapes, batch_dim)
        if isinstance(example, torch.Tensor)
        else None
        for index, (name, example) in enumerate(zip(names, examples, strict=True))
    ]
    dynamic = tuple(
        {axis: Dim.AUTO for axis, dim in enumerate(dims) if isinstance(dim, str)} if dims else None
        for dims in declared
    )
    modes = [(child, child.training) for child in module.modules()]
    loggers = [(logger, logger.level) for logger in map(logging.getLogger, _CHATTY)]
    module.eval()
    try:
        for logger, _ in loggers:
            # a failed export logs its graph as a warning and prints it on stderr; the refusal says it better
            logger.setLevel(logging.ERROR)
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            program = torch.export.export(
                module, tuple(examples), dynamic_shapes=dynamic, strict=False
            )
    except Exception as error:  # export raises many types, from inside the user's forward
        frames = [
            (frame.filename, frame.lineno or 0, frame.line)
            for frame in traceback.extract_tb(error.__traceback__)
        ]
        where = _user_line(frames)
        text = str(error)
        if "data-dependent" in text or "DataDependent" in type(error).__name__:
            what = "data-dependent control flow (an `if` or loop on tensor values)"
        else:
            before = f"torch.fx cannot trace it ({fx_problem}), and " if fx_problem else ""
            what = f"{before}torch.export fails with {type(error).__name__}: {text.splitlines()[0] if text else ''}"
        raise NetworkError(
            [
                issue(
                    f"cannot trace {type(module).__name__}.forward: {what}"
                    + (f" at {where}" if where else ""),
                    code="untraceable",
                    hint="Tidal follows one path through forward; decide branches from settings, not from "
                    "tensor values",
                )
            ],
            subject=f"module {type(module).__name__}",
        ) from None
    finally:
        for child, mode in modes:
            child.training = mode
        for logger, level in loggers:
            logger.setLevel(level)
    return program, declared


class Run(fx.Interpreter):
    """Runs the exported graph on the example: each node's (shape, dtype), and the values of constant nodes."""

    def __init__(self, graph_module: Any, constant: set[Any]) -> None:
        super().__init__(graph_module)
        self.constant = constant
        self.kept: dict[Any, Any] = {}

    def run_node(self, node: Any) -> Any:
        result = super().run_node(node)
        node.meta["tidal_value"] = value_of(result)
        if node in self.constant:
            self.kept[node] = result
        return result
