"""The network editor's work, over :mod:`tidal.nn`: the layer catalogue, checking a spec sent by the
editor (every edge's shape, every problem on its layer), and reading a PyTorch module's source in a
worker process.

Importing a module runs its code (its top level, ``__init__`` and ``forward``). That never happens in
the Studio's process: :func:`import_in_worker` writes the source into a private scratch folder and
runs ``python -m tidal.nn._import_source`` there, in a session of its own, without the Studio's token
in its environment, killed (with anything it started) when the time limit passes. At most
:data:`MAX_IMPORTS` run at once. Whether the Studio may import at all is the routes' decision
(loopback, or ``--allow-code``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from tidal.core._errors import TidalError
from tidal.core._yaml import check_nesting
from tidal.nn import (
    KINDS,
    LayerIssue,
    NetworkError,
    NetworkShapes,
    NetworkSpec,
    infer_shapes,
    parse_network,
)

#: categories of layer kinds in palette order, with their titles
CATEGORIES = {
    "dense": "Dense", "activation": "Activations", "normalization": "Normalization", "regularization": "Regularization",
    "convolution": "Convolution", "pooling": "Pooling", "sequence": "Sequence", "attention": "Attention",
    "shape": "Shape", "combine": "Combine", "reduce": "Reduce", "network": "Blocks",
}
#: JSON text of a spec sent by the editor, at most (the YAML loader's default file limit)
MAX_SPEC_BYTES = 10 * 1024 * 1024
#: imports running at once, at most; more are answered 429
MAX_IMPORTS = 2
#: the longest an import may take (seconds); TIDAL_STUDIO_IMPORT_TIMEOUT lowers or raises it
DEFAULT_IMPORT_TIMEOUT = 120.0
#: the largest answer read back from a worker
MAX_ANSWER_BYTES = 20 * 1024 * 1024
_SLOTS = threading.BoundedSemaphore(MAX_IMPORTS)
#: variables the import worker never sees (user code reads its environment)
_HIDDEN_ENV = ("TIDAL_STUDIO_TOKEN",)


class ImportBusy(TidalError):
    """Too many imports are running; try again in a moment."""


def category_title(category: str) -> str:
    return CATEGORIES.get(category, category.replace("_", " ").capitalize())


def kind_catalogue() -> list[dict[str, Any]]:
    """Every layer kind as the palette and the parameter form need it, in palette order."""
    order = {name: index for index, name in enumerate(CATEGORIES)}
    rows = []
    for kind in KINDS.values():
        outputs = [] if kind.outputs == ("*",) else list(kind.outputs)
        rows.append({
            "name": kind.name, "category": kind.category, "category_title": category_title(kind.category),
            "summary": kind.summary,
            "inputs": [{"name": port.name, "optional": port.optional, "variadic": port.variadic} for port in kind.inputs],
            "outputs": outputs, "numbered_outputs": kind.outputs == ("*",), "nested": kind.nested,
            "torch": kind.torch, "params_schema": kind.params_schema(),
            "required": [param.name for param in kind.params if param.required],
            "inferred": [param.name for param in kind.params if param.inferred],
        })
    return sorted(rows, key=lambda row: order.get(str(row["category"]), len(order)))


def spec_from_body(data: Any, base_dir: Path | None = None, source: str = "'network'") -> NetworkSpec:
    """A spec from the editor's request (the file's structure); every structural problem raised at once.

    ``base_dir``: the folder ``kind: module`` layers' ``file`` params resolve in (the workspace file's folder).
    """
    if not isinstance(data, dict):
        raise TidalError(f"{source} must be an object with 'tidal-nn', 'name', 'inputs', 'layers' and 'outputs'")
    check_nesting(data, source=source)
    size = len(json.dumps(data, default=str))
    if size > MAX_SPEC_BYTES:
        raise TidalError(f"{source} is {size:,} bytes of JSON; the limit is {MAX_SPEC_BYTES:,}: split the network "
                         "into sub-network files")
    if base_dir is None:
        return NetworkSpec.from_dict(data)
    # through the file reader, so that kind: module layers' files resolve inside base_dir as they do for a file
    return parse_network(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), base_dir=base_dir)


def shapes_out(shapes: NetworkShapes) -> dict[str, Any]:
    """Every edge's shape as text (``NetworkShapes.to_dict``), module layers with their block's shapes under ``module``."""
    data = shapes.to_dict()
    out = {key: data[key] for key in ("inputs", "layers", "outputs")}
    for layer in shapes.layers.values():
        if layer.module is not None:
            out["layers"][layer.id]["module"] = shapes_out(layer.module)
    return out


def check_spec(data: Any, base_dir: Path | None = None) -> dict[str, Any]:
    """What the editor shows: ``ok``, the shapes that could be inferred, and every issue (structural ones too)."""
    try:
        spec = spec_from_body(data, base_dir)
    except NetworkError as error:
        return {"ok": False, "issues": [item.to_dict() for item in error.issues], "shapes": None}
    shapes = infer_shapes(spec, check=False)
    return {"ok": shapes.ok, "issues": [item.to_dict() for item in shapes.issues], "shapes": shapes_out(shapes)}


def import_timeout(requested: float | None) -> float:
    """The requested time limit, never above the server's (``TIDAL_STUDIO_IMPORT_TIMEOUT``, default 120 s)."""
    raw = os.environ.get("TIDAL_STUDIO_IMPORT_TIMEOUT", "").strip()
    try:
        ceiling = float(raw) if raw else DEFAULT_IMPORT_TIMEOUT
    except ValueError:
        raise TidalError(f"TIDAL_STUDIO_IMPORT_TIMEOUT={raw!r} is not a number of seconds; set it to e.g. 60") from None
    return min(requested, ceiling) if requested is not None else ceiling


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the worker and everything it started (its own session), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.kill()
    process.wait()


def _tail(log: Path) -> str:
    try:
        with open(log, "rb") as stream:
            stream.seek(max(0, log.stat().st_size - 2000))
            text = stream.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return text.splitlines()[-1][:300] if text else ""


def import_in_worker(source: str, class_name: str, inputs: list[dict[str, Any]], *, name: str | None = None,
                     output_names: list[str] | None = None, via: str = "auto", timeout: float = DEFAULT_IMPORT_TIMEOUT) -> NetworkSpec:
    """``source`` (a Python file's text) read into a spec by ``class_name``, in a worker process killed after ``timeout`` s."""
    if not _SLOTS.acquire(blocking=False):
        raise ImportBusy(f"{MAX_IMPORTS} imports are running already; try again when one has finished")
    scratch: Path | None = None
    try:
        scratch = Path(tempfile.mkdtemp(prefix="tidal-nn-import-"))
        (scratch / "module.py").write_text(source, encoding="utf-8")
        request = {"file": "module.py", "class_name": class_name, "inputs": inputs, "name": name, "via": via,
                   "output_names": output_names}
        (scratch / "request.json").write_text(json.dumps(request), encoding="utf-8")
        env = {key: value for key, value in os.environ.items() if key not in _HIDDEN_ENV}
        env.setdefault("OMP_NUM_THREADS", "1")
        log = scratch / "output.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "tidal.nn._import_source", "request.json", "result.json"],
                cwd=scratch, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )
        started = time.monotonic()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise TidalError(f"the import was stopped after {timeout:g} s (the module's code, {class_name}() or its "
                             "forward did not finish); look for an endless loop, or import a smaller model") from None
        finally:
            if process.poll() is None:
                _kill(process)
        try:  # anything the module left running in its session goes too
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        result = scratch / "result.json"
        if not result.is_file() or result.stat().st_size > MAX_ANSWER_BYTES:
            last = _tail(log)
            raise TidalError(f"the import worker ended with exit code {process.returncode} after "
                             f"{time.monotonic() - started:.1f} s without an answer" + (f": {last}" if last else ""))
        answer = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TidalError(f"the import could not be read back: {error}") from None
    finally:
        _SLOTS.release()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if not isinstance(answer, dict) or not answer.get("ok"):
        detail = str(answer.get("detail", "the import failed")) if isinstance(answer, dict) else "the import failed"
        found = answer.get("issues") if isinstance(answer, dict) else None
        if found:
            raise NetworkError([LayerIssue(str(item.get("message", "")), node=item.get("layer"), port=item.get("port"),
                                           param=item.get("param"), hint=item.get("hint"), code=str(item.get("code", "import")))
                                for item in found if isinstance(item, dict)], subject=f"module {class_name}")
        raise TidalError(detail)
    return spec_from_body(answer.get("network"), source="the imported network")
