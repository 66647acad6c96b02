"""A PyTorch module's source file -> a network spec, meant to run in a process of its own.

Reading a module from source means running that source: its top level, its ``__init__`` and its
``forward`` on example inputs. The Studio never does that in its own process; it starts

    python -m tidal.nn._import_source REQUEST.json RESULT.json

in a private scratch folder, with a time limit, and reads the answer from ``RESULT.json``. The
request names the ``.py`` file (next to the request), the class, and one example input per
``forward`` argument (shape, batch first, and dtype). The answer is ``{"ok": true, "network": ...}``
(the spec as plain data) or ``{"ok": false, "detail": ..., "issues": [...]}``, every problem
naming the layer, the node or the line of the user's file.

:func:`import_source` is the same work in the calling process, for callers that already trust the
file (the worker itself; ``tidal nn import --trust`` does the same steps).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError
from tidal.nn._issues import NetworkError

#: dtypes an example input may have: float inputs, or integer token ids
EXAMPLE_DTYPES = ("float32", "int64")
MAX_EXAMPLE_SIZE = 1_000_000


def _line_of(error: BaseException, file: Path) -> str:
    """``line N`` of the user's file where ``error`` happened, or '' when it did not happen there."""
    if isinstance(error, SyntaxError) and error.lineno is not None:
        return f" (line {error.lineno})"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if Path(frame.filename).name == file.name]
    return f" (line {frames[-1].lineno})" if frames else ""


def _examples(inputs: list[dict[str, Any]]) -> list[Any]:
    from tidal.nn._torch import require_torch

    torch = require_torch()
    tensors = []
    for index, item in enumerate(inputs):
        shape = item.get("shape")
        dtype = item.get("dtype", "float32")
        if not (isinstance(shape, list) and 1 <= len(shape) <= 8 and all(
                isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= 65_536 for size in shape)):
            raise TidalError(f"example input {index + 1}: shape must be 1 to 8 sizes from 1 to 65536, batch first, got {shape!r:.80}")
        count = 1
        for size in shape:
            count *= size
        if count > MAX_EXAMPLE_SIZE:
            raise TidalError(f"example input {index + 1}: {count:,} values is more than {MAX_EXAMPLE_SIZE:,}; "
                             "use a batch of 1 or 2 and small sizes (symbols such as batch are found anyway)")
        if dtype not in EXAMPLE_DTYPES:
            raise TidalError(f"example input {index + 1}: dtype must be float32 or int64 (token ids), got {dtype!r:.40}")
        tensors.append(torch.zeros(tuple(shape), dtype=getattr(torch, dtype)))
    if not tensors:
        raise TidalError("give at least one example input: its shape (batch first) and dtype")
    return tensors


def build_named_module(module: Any, class_name: str, *, where: str, line_of: Callable[[BaseException], str] = lambda _: "") -> Any:
    """The ``nn.Module`` class ``class_name`` that ``module`` defines, built with no arguments.

    Refusals name what the module defines instead, or where building failed (``line_of`` can point
    at the line of the user's file)."""
    from tidal.nn._torch import require_torch

    torch = require_torch()
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        found = sorted(key for key, value in vars(module).items()
                       if isinstance(value, type) and issubclass(value, torch.nn.Module) and value.__module__ == module.__name__)
        raise TidalError(f"{where} has no nn.Module class {class_name!r}; it defines: {', '.join(found) or 'none'}")
    try:
        return cls()
    except Exception as error:
        raise TidalError(f"{class_name}() failed{line_of(error)}: {type(error).__name__}: {error}; "
                         "the class is built with no arguments, so give its arguments defaults") from None


def import_source(file: Path, class_name: str, inputs: list[dict[str, Any]], *, name: str | None = None,
                  output_names: list[str] | None = None, via: str = "auto") -> Any:
    """Run ``file`` (a ``.py`` file), build ``class_name()`` and read it into a spec with :func:`tidal.nn.from_module`.

    ``inputs``: one ``{"shape": [...], "dtype": "float32"}`` per ``forward`` argument. Runs the
    file's code in this process: call it only on code you would run with ``python``.
    """
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", class_name):
        raise TidalError(f"class name {class_name!r:.60} must be a Python name such as Net or MnistCnn")
    if via not in ("auto", "fx", "export"):
        raise TidalError(f"via must be auto, fx or export, not {via!r:.40}")
    spec = importlib.util.spec_from_file_location(f"tidal_nn_source_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise TidalError(f"cannot import {file.name} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look classes up here
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file: its own error, named with its line
        raise TidalError(f"running the module failed{_line_of(error, file)}: {type(error).__name__}: {error}; "
                         "fix the code and import again") from None
    instance = build_named_module(module, class_name, where="the code", line_of=lambda error: _line_of(error, file))
    examples = _examples(inputs)
    from tidal.nn._import import from_module

    try:
        return from_module(instance, examples, name=name, output_names=output_names, via=via)
    except NetworkError:
        raise  # names the layer, the node and the line already
    except Exception as error:  # forward() itself failed on the example inputs
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        shapes = ", ".join(str(item.get("shape")) for item in inputs)
        raise TidalError(f"{class_name}.forward failed{_line_of(error, file)} on example inputs of shape {shapes}: "
                         f"{type(error).__name__}: {first}; check the example input shapes (batch first) and dtypes") from None


def _answer(request_file: Path) -> dict[str, Any]:
    try:
        request = json.loads(request_file.read_text(encoding="utf-8"))
        file = request_file.parent / str(request["file"])
        network = import_source(file, str(request["class_name"]), list(request["inputs"]),
                                name=request.get("name"), output_names=request.get("output_names"),
                                via=str(request.get("via", "auto")))
    except NetworkError as error:
        return {"ok": False, "detail": str(error), "issues": [item.to_dict() for item in error.issues]}
    except TidalError as error:
        return {"ok": False, "detail": str(error), "issues": []}
    except Exception as error:  # noqa: BLE001 - anything else is reported to the server, which answers 4xx
        return {"ok": False, "detail": f"the import failed: {type(error).__name__}: {error}", "issues": []}
    return {"ok": True, "network": network.to_dict()}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tidal.nn._import_source REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    answer = _answer(Path(argv[0]))
    Path(argv[1]).write_text(json.dumps(answer, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
