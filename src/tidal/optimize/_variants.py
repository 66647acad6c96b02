"""The variants a search tries, in the order it tries them (the most promising first, so a short
budget still measures them), and the ones it skips with the reason.

A :class:`Variant` is a name, a family, its settings, and ``make(context)`` that writes its file
(if any) and returns a runner; building is deferred so the budget can stop the search between
variants. Callers may add their own (``optimize_model(..., extra=[...])``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tidal.optimize._measure import OnnxRunner, PackageRunner, Runner
from tidal.optimize._quantize import describe, quantize_dynamic, quantize_static


@dataclass
class Context:
    """What building a variant needs: the package, the float32 graph, the validation rows, a scratch folder."""

    package: Any
    fp32: Path | None
    frame: pd.DataFrame
    folder: Path
    reduce_range: bool
    usable_cpus: int

    @property
    def classifier(self) -> bool:
        return self.package.task in ("binary", "multiclass")

    def onnx_runner(self, path: Path, settings: dict[str, Any]) -> OnnxRunner:
        chosen = getattr(self.package.model, "settings", {}) if self.package.flavor == "onnx" else {}
        return OnnxRunner(path, self.package.features, self.classifier, settings,
                          chosen.get("label_output"), chosen.get("proba_output"))


@dataclass
class Variant:
    name: str
    family: str
    settings: dict[str, Any]
    make: Callable[[Context], tuple[Runner, Path | None]]
    packable: bool = True
    note: str = ""


@dataclass
class Skipped:
    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


def _graph(settings: dict[str, Any]) -> Callable[[Context], tuple[Runner, Path | None]]:
    """The float32 graph with session options."""
    def make(context: Context) -> tuple[Runner, Path | None]:
        assert context.fp32 is not None
        return context.onnx_runner(context.fp32, settings), context.fp32
    return make


def _int8(name: str, settings: dict[str, Any]) -> Callable[[Context], tuple[Runner, Path | None]]:
    def make(context: Context) -> tuple[Runner, Path | None]:
        assert context.fp32 is not None
        target = context.folder / f"{name}.onnx"
        exclude = settings.get("exclude", ())
        if settings["quantization"] == "int8-dynamic":
            quantize_dynamic(context.fp32, target, per_channel=settings["per_channel"],
                             reduce_range=settings["reduce_range"], exclude=exclude)
        else:
            quantize_static(context.fp32, target, context.frame, context.package.features,
                            calibration=settings["calibration"], per_channel=settings["per_channel"],
                            reduce_range=settings["reduce_range"], qdq=settings["qdq"], exclude=exclude)
        return context.onnx_runner(target, {k: v for k, v in settings.items() if k in ("graph_level", "threads", "arena")}), target
    return make


def int8_variant(name: str, settings: dict[str, Any]) -> Variant:
    family = "fallback" if settings.get("exclude") else settings["quantization"]
    return Variant(name, family, {**settings, "recipe": describe(settings)}, _int8(name, settings))


def graph_variants(note: str = "") -> list[Variant]:
    """The float32 graph at onnxruntime's graph optimization levels (default threads); ``note`` says how the
    graph differs from the plain export (its inputs merged into one matrix)."""
    return [Variant("onnx-fp32", "onnx-fp32", {"graph_level": "all"}, _graph({"graph_level": "all"}), note=note),
            Variant("onnx-fp32-basic", "onnx-fp32", {"graph_level": "basic"}, _graph({"graph_level": "basic"})),
            Variant("onnx-fp32-extended", "onnx-fp32", {"graph_level": "extended"}, _graph({"graph_level": "extended"}))]


def int8_variants(reduce_range: bool) -> list[Variant]:
    """INT8 recipes, most promising first: static QDQ per channel, then dynamic, then other calibrations."""
    recipes: list[tuple[str, dict[str, Any]]] = [
        ("int8-static-minmax-pc", {"quantization": "int8-static", "calibration": "minmax", "per_channel": True, "qdq": True}),
        ("int8-dynamic", {"quantization": "int8-dynamic", "per_channel": False}),
        ("int8-static-entropy-pc", {"quantization": "int8-static", "calibration": "entropy", "per_channel": True, "qdq": True}),
        ("int8-static-percentile-pc", {"quantization": "int8-static", "calibration": "percentile", "per_channel": True,
                                       "qdq": True}),
        ("int8-static-minmax", {"quantization": "int8-static", "calibration": "minmax", "per_channel": False, "qdq": True}),
        ("int8-dynamic-pc", {"quantization": "int8-dynamic", "per_channel": True}),
        ("int8-static-qoperator", {"quantization": "int8-static", "calibration": "minmax", "per_channel": False, "qdq": False}),
    ]
    return [int8_variant(name, {**settings, "reduce_range": reduce_range}) for name, settings in recipes]


def runtime_variants(parent: Variant, usable_cpus: int, default_threads: bool = True) -> list[Variant]:
    """``parent`` with explicit intra-op thread counts (1, 2, 4 ... up to the usable CPUs) and without the arena."""
    counts = sorted({1, usable_cpus, *[2**power for power in range(1, 8) if 2**power < usable_cpus]})
    found = []
    for threads in counts:
        settings = {**parent.settings, "threads": threads}
        found.append(Variant(f"{parent.name}-t{threads}", "runtime", settings, _with_options(parent, settings)))
    arena = {**parent.settings, "arena": False}
    found.append(Variant(f"{parent.name}-noarena", "runtime", arena, _with_options(parent, arena)))
    return found


def _with_options(parent: Variant, settings: dict[str, Any]) -> Callable[[Context], tuple[Runner, Path | None]]:
    """The parent's file (built already) run with other session options."""
    def make(context: Context) -> tuple[Runner, Path | None]:
        path = context.folder / f"{parent.name}.onnx"
        source = path if path.exists() else context.fp32
        assert source is not None
        options: dict[str, Any] = {key: settings[key] for key in ("graph_level", "threads", "arena") if key in settings}
        return context.onnx_runner(source, options), source
    return make


def compile_variant() -> Variant:
    """torch.compile of the network, measured for the report (a package cannot carry a compiled module)."""
    def make(context: Context) -> tuple[Runner, Path | None]:
        import torch

        package = copy.copy(context.package)
        network = copy.copy(package.model)
        network._module = torch.compile(context.package.model.module())
        package.model = network
        return PackageRunner(package), None
    return Variant("torch-compile", "torch-compile", {"compile": "inductor"}, make, packable=False,
                   note="tidal serve runs torch packages eagerly; a compiled module cannot be stored in a package")
