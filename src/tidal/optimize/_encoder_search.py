"""The search for a sentence encoder (a flavor that offers :class:`~tidal.optimize._encoder.EncoderParts`).

Variants, most promising first (a short budget still measures them):

1. **baseline**: the package's own predict (the encoder eager in float32); its embeddings are the
   reference every variant is compared with;
2. **onnx-fp32**: the export (:func:`~tidal.optimize._encoder_graphs.export_encoder`, checked against
   the module), and **onnx-fp32-fused**: onnxruntime's BERT fusions of it (fused attention,
   LayerNorm with the residual add, GELU);
3. **INT8 dynamic** on the fused and on the plain graph, per tensor and per channel (``reduce_range``
   where the CPU lacks VNNI), matrix products only (quantizing the embedding lookup saves size, not
   time, and costs accuracy); **INT8 static** (QDQ, per channel, matrix products, MinMax and
   Percentile calibration on up to 64 validation texts padded to ``max_length``) on the plain graph;
4. **bf16-autocast**: the module eager under CPU autocast (measured; the packaged flavors run
   float32 or ONNX, so it is reported, never picked);
5. the plain graph at the ``basic`` and ``extended`` graph levels;
6. **per-layer fallback** when no INT8 recipe keeps within the bound: each ``Linear``'s cost in
   cosine is measured (:func:`~tidal.optimize._encoder_graphs.linear_costs`), and the 1, 2, 4, 8, 16
   costliest are kept in float32 in turn, until the bound is met; the same for static INT8 (each
   layer's cost measured with its input's range fixed ahead, as calibration fixes it), when the best
   of three calls shows static INT8 at least 10% faster than a dynamic recipe within the bound;
7. **runtime options** (intra-op threads, the arena) for the fastest-built float32 graph and the
   most accurate INT8 one within the bound;
8. **torch-compile** when asked (``compile=True``): the module under ``torch.compile`` (inductor, dynamic
   shapes), measured and reported, never packaged.

Every variant's sentence embeddings are compared with the baseline's on the validation texts (mean
and smallest cosine, both bounded); with a label, the head's predictions are scored with the metric
too, bounded by ``max_loss``. Without one, the metric is the mean cosine itself.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from tidal.optimize._cpu import cpu_info
from tidal.optimize._data import LossBound, check_metric, row_cosines, validation_frame
from tidal.optimize._encoder import (
    INPUTS,
    CosineBound,
    EagerRunner,
    EncoderParts,
    EncoderRunner,
    OnnxEncoderRunner,
    check_texts,
    embed_all,
    texts_of,
)
from tidal.optimize._measure import PackageRunner, Runner, Timing
from tidal.optimize._pick import Measurement, pick
from tidal.optimize._quantize import describe, quantize_dynamic, quantize_static_feeds
from tidal.optimize._search import OptimizeResult, _Search
from tidal.optimize._served import keep_original, served_check
from tidal.optimize._variants import Context, Skipped, Variant

#: the operators Tidal's INT8 recipes quantize in an encoder (fused attention and matrix products)
INT8_OPS = ("MatMul", "Attention")
#: how many of the costliest layers each fallback step keeps in float32
FALLBACK_STEPS = (1, 2, 4, 8, 16)
#: validation texts the layers' costs are measured on (each layer costs one pass over them), and static INT8 is
#: calibrated on, in batches of CALIBRATION_BATCH
COSTING_TEXTS = 64
CALIBRATION_BATCH = 8
#: calls of each side when static INT8 is compared with a dynamic recipe before its fallback (the fastest counts)
BEST_OF = 3
#: static INT8's fallback is built only when static INT8 takes at most this share of the time of the fastest dynamic
#: recipe within the bound: layers put back in float32 slow it down, so a static graph not clearly faster cannot win
STATIC_EDGE = 0.9


@dataclass
class EncoderContext(Context):
    parts: EncoderParts | None = None
    texts: list[str] = field(default_factory=list)
    fused: Path | None = None


Make = Callable[[Context], tuple[Runner, Path | None]]


def _parts(context: Context) -> tuple[EncoderContext, EncoderParts]:
    encoder = cast(EncoderContext, context)
    assert encoder.parts is not None
    return encoder, encoder.parts


def _session(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: settings[key] for key in ("graph_level", "threads", "arena") if key in settings}


def _graph(kind: str, settings: dict[str, Any]) -> Make:
    def make(context: Context) -> tuple[Runner, Path | None]:
        encoder, parts = _parts(context)
        path = encoder.fp32 if kind == "plain" else encoder.fused
        if path is None:
            raise RuntimeError(f"there is no {kind} graph")
        return OnnxEncoderRunner(parts, path, _session(settings)), path
    return make


def _int8(name: str, settings: dict[str, Any]) -> Make:
    def make(context: Context) -> tuple[Runner, Path | None]:
        encoder, parts = _parts(context)
        source = encoder.fused if settings["graph"] == "fused" else encoder.fp32
        if source is None:
            raise RuntimeError(f"there is no {settings['graph']} graph to quantize")
        target = encoder.folder / f"{name}.onnx"
        quantize_dynamic(source, target, per_channel=settings["per_channel"], reduce_range=settings["reduce_range"],
                         exclude=settings.get("exclude", ()), op_types=settings["op_types"])
        return OnnxEncoderRunner(parts, target, _session(settings)), target
    return make


def _int8_static(name: str, settings: dict[str, Any]) -> Make:
    """Static INT8 of the plain graph: activation ranges calibrated ahead on validation texts, padded to the
    encoder's ``max_length`` (onnxruntime's histogram calibrators need one shape across batches)."""
    def make(context: Context) -> tuple[Runner, Path | None]:
        encoder, parts = _parts(context)
        if encoder.fp32 is None:
            raise RuntimeError("there is no plain graph to quantize")
        rows = _costing_rows(encoder.texts)
        batches = []
        for start in range(0, len(rows), CALIBRATION_BATCH):
            ids, mask = parts.tokenize([encoder.texts[row] for row in rows[start:start + CALIBRATION_BATCH]], parts.max_length)
            batches.append({INPUTS[0]: ids, INPUTS[1]: mask})
        target = encoder.folder / f"{name}.onnx"
        quantize_static_feeds(encoder.fp32, target, batches, calibration=settings["calibration"],
                              per_channel=settings["per_channel"], reduce_range=settings["reduce_range"],
                              op_types=settings["op_types"], exclude=settings.get("exclude", ()))
        return OnnxEncoderRunner(parts, target, _session(settings)), target
    return make


def int8_variant(name: str, settings: dict[str, Any], family: str = "int8-dynamic", note: str = "") -> Variant:
    return Variant(name, family, {**settings, "recipe": describe(settings)}, _int8(name, settings), note=note)


def _eager_bf16() -> Variant:
    def make(context: Context) -> tuple[Runner, Path | None]:
        return EagerRunner(_parts(context)[1], autocast="bf16"), None
    return Variant("bf16-autocast", "torch-bf16", {"autocast": "bfloat16"}, make, packable=False,
                   note="the packaged flavors run float32 or ONNX; autocast is measured for the report")


def compiled_variant(backend: str = "inductor") -> Variant:
    """The module under ``torch.compile`` (dynamic shapes: texts come in many lengths); ``backend`` is torch's
    (``inductor`` for speed; the tests use ``eager``, which traces the same graph without generating code)."""
    def make(context: Context) -> tuple[Runner, Path | None]:
        import dataclasses

        import torch

        parts = _parts(context)[1]
        module = torch.compile(parts.module, dynamic=True, backend=backend)
        return EagerRunner(dataclasses.replace(parts, module=module)), None
    return Variant("torch-compile", "torch-compile", {"compile": backend, "dynamic": True}, make, packable=False,
                   note="measured for the report: the packaged flavors run the encoder eagerly or as ONNX, and a "
                        "compiled module cannot be stored in a package")


def _static_variant(calibration: str, reduce_range: bool) -> Variant:
    name = f"int8-static-{calibration}-pc"
    settings: dict[str, Any] = {"quantization": "int8-static", "qdq": True, "calibration": calibration, "graph": "plain",
                                "per_channel": True, "reduce_range": reduce_range, "op_types": ["MatMul"]}
    return Variant(name, "int8-static", {**settings, "recipe": describe(settings)}, _int8_static(name, settings),
                   note="activation ranges calibrated ahead on validation texts")


def _plan(reduce_range: bool) -> list[Variant]:
    int8 = {"quantization": "int8-dynamic", "reduce_range": reduce_range, "op_types": list(INT8_OPS)}
    return [
        Variant("onnx-fp32-fused", "onnx-fp32", {"graph": "fused", "graph_level": "all"},
                _graph("fused", {"graph_level": "all"}), note="onnxruntime's BERT fusions"),
        int8_variant("int8-dynamic-pc-fused", {**int8, "graph": "fused", "per_channel": True}),
        int8_variant("int8-dynamic-fused", {**int8, "graph": "fused", "per_channel": False}),
        _eager_bf16(),
        int8_variant("int8-dynamic-pc", {**int8, "graph": "plain", "per_channel": True}),
        int8_variant("int8-dynamic", {**int8, "graph": "plain", "per_channel": False}),
        _static_variant("minmax", reduce_range),
        _static_variant("percentile", reduce_range),
        Variant("onnx-fp32-basic", "onnx-fp32", {"graph": "plain", "graph_level": "basic"},
                _graph("plain", {"graph_level": "basic"})),
        Variant("onnx-fp32-extended", "onnx-fp32", {"graph": "plain", "graph_level": "extended"},
                _graph("plain", {"graph_level": "extended"})),
    ]


def _runtime_variants(parent: Variant, path: Path, usable_cpus: int) -> list[Variant]:
    counts = sorted({1, usable_cpus, *[2**power for power in range(1, 8) if 2**power < usable_cpus]})
    options = [({**parent.settings, "threads": threads}, f"{parent.name}-t{threads}") for threads in counts]
    options.append(({**parent.settings, "arena": False}, f"{parent.name}-noarena"))
    found = []
    for settings, name in options:
        def make(context: Context, settings: dict[str, Any] = settings) -> tuple[Runner, Path | None]:
            return OnnxEncoderRunner(_parts(context)[1], path, _session(settings)), path
        found.append(Variant(name, "runtime", settings, make))
    return found


class _EncoderSearch(_Search):
    """The variants of one encoder: embeddings compared by cosine, the head scored when there is a label."""

    def __init__(self, context: EncoderContext, metric: str, truth: np.ndarray | None, bound: LossBound, deadline: float,
                 timing: Timing, batch_sizes: list[int], cosine: CosineBound) -> None:
        super().__init__(context, metric, truth, bound, deadline, timing, batch_sizes)
        self.encoder, self.cosine = context, cosine
        assert context.parts is not None
        self.parts: EncoderParts = context.parts
        self.facts: dict[str, Any] = {"pooling": self.parts.pooling, "max_length": self.parts.max_length}

    def _score(self, answers: tuple[np.ndarray, np.ndarray | None], similarity: tuple[float, float] | None) -> float:
        if self.truth is None:
            return similarity[0] if similarity is not None else 0.0
        return super()._score(answers, similarity)

    def _evaluate(self, runner: Runner) -> tuple[tuple[np.ndarray, np.ndarray | None], np.ndarray]:
        if isinstance(runner, EncoderRunner):
            encoder = runner
        elif isinstance(runner, PackageRunner) and runner.package is self.context.package:
            encoder = EagerRunner(self.parts)  # the baseline: the package's own predict runs the encoder eagerly
        else:
            raise RuntimeError(f"a sentence encoder's variants give embeddings: {type(runner).__name__} is not an "
                               "EncoderRunner (tidal.optimize._encoder)")
        embeddings = embed_all(encoder, self.encoder.texts, self.parts.batch_size)
        if self.base_matrix is not None and getattr(encoder, "batch_dependent", False):
            # served alone (a single request) a text gets other activation scales than in the package's own
            # batches: each row keeps the worse of the two, so the bound holds for both
            alone = embed_all(encoder, self.encoder.texts, 1)
            worse = row_cosines(self.base_matrix, alone) < row_cosines(self.base_matrix, embeddings)
            embeddings = np.where(worse[:, None], alone, embeddings)
        probabilities = np.asarray(self.parts.head(embeddings), dtype=np.float64)
        prediction = np.asarray(self.parts.classes, dtype=object)[probabilities.argmax(axis=1)]
        return (prediction, probabilities), embeddings

    def run_baseline(self) -> None:
        super().run_baseline()
        base = self.measurements[0]
        base.settings.update({"torch_threads": _torch_threads(), "precision": "float32"})
        base.note = "the package's own predict: the encoder eager in float32"

    def within(self, item: Measurement) -> bool:
        return (item.error is None and item.loss is not None and item.loss <= self._allowed()
                and not self.cosine.misses(item.cosine_mean, item.cosine_min))

    def prepare_graphs(self) -> None:
        """The float32 export (checked) and its fused form; what could not be made is reported as skipped."""
        from tidal.optimize._encoder_graphs import check_export, export_encoder, fuse_encoder

        if time.monotonic() + self._timing_left() > self.deadline:
            self.skipped.append(Skipped("onnx variants", "the time budget was spent before the export"))
            return
        folder, reference = self.encoder.folder, self.base_matrix
        assert reference is not None
        try:
            self.facts["exporter"] = export_encoder(self.parts, folder / "fp32.onnx")
            check_export(reference, embed_all(OnnxEncoderRunner(self.parts, folder / "fp32.onnx"), self.encoder.texts,
                                              self.parts.batch_size))
            self.encoder.fp32 = folder / "fp32.onnx"
        except Exception as error:  # the exporter's or the check's refusal: the eager variants remain
            self.skipped.append(Skipped("onnx variants", f"the ONNX export failed: {_line(error)}"))
            return
        self.build(Variant("onnx-fp32", "onnx-fp32", {"graph": "plain", "graph_level": "all"},
                           _graph("plain", {"graph_level": "all"}), note=self.facts["exporter"]))
        try:
            self.facts["fused_operators"] = fuse_encoder(self.parts, folder / "fp32.onnx", folder / "fused.onnx")
            self.encoder.fused = folder / "fused.onnx"
        except Exception as error:  # the fusion tool missing, or no pattern found
            self.skipped.append(Skipped("onnx-fp32-fused", f"onnxruntime's BERT fusions did not apply: {_line(error)}"))

    def encoder_fallback(self) -> None:
        """Keep the costliest layers of the best INT8 recipes in float32, more at each step, until the bound is
        met: the dynamic recipe's, then the static one's unless static INT8 is already the slower."""
        dynamic = [item for item in self.measurements if item.family == "int8-dynamic" and item.name in self.variants]
        if dynamic and any(self.within(item) for item in dynamic):
            self.skipped.append(Skipped("fallback", "an INT8 recipe keeps within the bound already"))
        elif dynamic:
            parent = max(dynamic, key=lambda item: (item.settings["graph"] == "fused", item.cosine_min or -1.0))
            self._fallback_steps(parent, static=False)
        self._static_fallback()

    def _static_fallback(self) -> None:
        static = [item for item in self.measurements if item.family == "int8-static" and item.name in self.variants]
        if not static:
            return
        if any(self.within(item) for item in static):
            self.skipped.append(Skipped("static fallback", "a static INT8 recipe keeps within the bound already"))
            return
        parent = max(static, key=lambda item: item.cosine_min or -1.0)
        rivals = [item for item in self.measurements if item.family in ("int8-dynamic", "fallback")
                  and item.name in self.call_seconds and self.within(item)]
        if rivals:  # keeping layers in float32 only slows static INT8 down: no use when it is slower already
            rival = min(rivals, key=lambda item: self.call_seconds[item.name])
            mine, theirs = self._best_call(parent.name), self._best_call(rival.name)
            if mine > theirs * STATIC_EDGE:
                self.skipped.append(Skipped("static fallback", (
                    f"{parent.name} took {mine * 1000:.1f} ms a call at batch {max(self.batch_sizes)}, {rival.name} "
                    f"(within the bound) {theirs * 1000:.1f} ms (the best of {BEST_OF} calls each): static INT8 is not "
                    f"{round((1 - STATIC_EDGE) * 100)}% faster, and keeping its layers in float32 only slows it down")))
                return
        self._fallback_steps(parent, static=True)

    def _best_call(self, name: str) -> float:
        """The fastest of :data:`BEST_OF` calls of variant ``name`` at the largest batch size (a quick comparison
        that a busy machine's one slow call does not decide)."""
        from tidal.optimize._measure import batch_rows

        rows = batch_rows(self.context.frame, max(self.batch_sizes))
        best = np.inf
        for _ in range(BEST_OF):
            started = time.perf_counter()
            self.runners[name].answer(rows)
            best = min(best, time.perf_counter() - started)
        return float(best)

    def _fallback_steps(self, parent: Measurement, static: bool) -> None:
        from tidal.optimize._encoder_graphs import linear_costs, nodes_of_linears

        what = "static fallback" if static else "fallback"
        if time.monotonic() + self._timing_left() > self.deadline:
            self.skipped.append(Skipped(what, "the time budget was spent before the layers were measured"))
            return
        assert self.base_matrix is not None
        rows = _costing_rows(self.encoder.texts)
        costs = linear_costs(self.parts, [self.encoder.texts[row] for row in rows], self.base_matrix[rows], self.cosine,
                             per_channel=parent.settings["per_channel"], reduce_range=parent.settings["reduce_range"],
                             static=static)
        self.facts["static_layer_costs" if static else "layer_costs"] = [
            {"layer": name, "cost": round(cost, 4)} for name, cost in costs[:12]]
        graph = self.encoder.fused if parent.settings["graph"] == "fused" else self.encoder.fp32
        assert graph is not None
        owners = nodes_of_linears(self.parts, graph)
        base = {key: value for key, value in parent.settings.items() if key != "recipe"}
        for count in [step for step in FALLBACK_STEPS if step <= max(1, len(costs) // 2)]:
            names = [name for name, _ in costs[:count]]
            nodes = list(dict.fromkeys(node for name in names for node in owners.get(name, [])))
            if not nodes:
                continue
            note = f"keeps the {count} costliest layer(s) in float32 ({', '.join(names[:4])}{' ...' if count > 4 else ''})"
            settings = {**base, "exclude": nodes, "kept_fp32": names}
            name = f"{parent.name}-fp32-{count}"
            variant = (Variant(name, "fallback", {**settings, "recipe": describe(settings)}, _int8_static(name, settings),
                               note=note) if static else int8_variant(name, settings, family="fallback", note=note))
            measured = self.build(variant)
            if measured is None or self.within(measured):
                return

    def openvino_variants(self) -> list[Variant]:
        """OpenVINO's and NNCF's variants (:mod:`tidal.optimize._openvino`) where the extra is installed."""
        from tidal.optimize import _openvino

        versions = _openvino.installed()
        if versions is None:
            self.skipped += _openvino.skipped()
            return []
        if self.encoder.fp32 is None or self.base_matrix is None:
            return []
        self.facts["openvino"] = versions
        rows = _costing_rows(self.encoder.texts)
        plan = _openvino.OpenVinoPlan(self.parts, [self.encoder.texts[row] for row in rows], self.base_matrix[rows],
                                      self.cosine, lambda path: OnnxEncoderRunner(self.parts, path))
        return plan.variants(self.encoder.fp32, self.encoder.folder)

    def runtime_parents(self) -> list[Variant]:
        """The fused float32 graph (or the plain one), and the most accurate INT8 variant within the bound."""
        parents = []
        for name in ("onnx-fp32-fused", "onnx-fp32"):
            if name in self.variants and self.within(next(item for item in self.measurements if item.name == name)):
                parents.append(self.variants[name])
                break
        quantized = [item for item in self.measurements
                     if item.family in ("int8-dynamic", "int8-static", "int8-nncf", "fallback")
                     and item.name in self.variants and self.within(item)]
        if quantized:
            parents.append(self.variants[max(quantized, key=lambda item: item.cosine_mean or 0.0).name])
        return parents


def _costing_rows(texts: list[str]) -> list[int]:
    """Up to :data:`COSTING_TEXTS` validation rows to cost the layers on: the shortest texts (where INT8 loses
    most), and an even spread of the others."""
    if len(texts) <= COSTING_TEXTS:
        return list(range(len(texts)))
    by_length = sorted(range(len(texts)), key=lambda row: len(texts[row]))
    half = COSTING_TEXTS // 2
    rest = by_length[half:]
    spread = [rest[int(index)] for index in np.linspace(0, len(rest) - 1, COSTING_TEXTS - half)]
    return sorted(set(by_length[:half]) | set(spread))


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def optimize_encoder(package: Any, parts: EncoderParts, data: Any, *, label: str | None, metric: str | None,
                     max_loss: str | float, cosine: CosineBound, batch_sizes: list[int], started: float,
                     budget_minutes: float, timing: Timing, min_gain: float, source: str,
                     extra: Sequence[Variant] = (), compile: bool = False) -> OptimizeResult:
    """The search of :func:`tidal.optimize.optimize_model` for a sentence encoder; see the module notes."""
    frame, truth = validation_frame(package, data, label)
    check_texts(frame, parts.column)
    if label is None:
        chosen_metric, bound = "cosine", LossBound(max(0.0, 1.0 - cosine.mean), relative=False)
    else:
        chosen_metric, bound = check_metric(metric, package.task), LossBound.parse(max_loss)
    cpu = cpu_info()
    scratch = tempfile.TemporaryDirectory(prefix="tidal-optimize-")
    folder = Path(scratch.name)
    try:
        context = EncoderContext(package, None, frame, folder, reduce_range=not cpu.vnni, usable_cpus=cpu.usable_cpus,
                                 parts=parts, texts=texts_of(frame, parts.column))
        search = _EncoderSearch(context, chosen_metric, truth, bound, started + budget_minutes * 60, timing,
                                batch_sizes, cosine)
        search.run_baseline()
        search.prepare_graphs()
        plan = [*(_plan(context.reduce_range) if context.fp32 is not None else [_eager_bf16()]), *extra]
        if compile:
            plan.append(compiled_variant())
        else:
            search.skipped.append(Skipped("torch-compile", "off; ask for it with compile=True (--compile)"))
        for variant in plan:
            if variant.settings.get("graph") == "fused" and context.fused is None:
                continue  # reported once, as onnx-fp32-fused
            search.build(variant)
        for variant in search.openvino_variants():
            search.build(variant)
        search.encoder_fallback()
        for parent in search.runtime_parents():
            path = search.files.get(parent.name)
            if path is not None:
                for variant in _runtime_variants(parent, path, cpu.usable_cpus):
                    search.build(variant)
        search.time_all()
        chosen = pick(search.measurements, batch=batch_sizes[0], bound=bound, min_gain=min_gain, cosine=cosine)
        from tidal.optimize._output import encoder_package
        from tidal.optimize._report import build_report

        served: dict[str, Any] | None = None
        if not chosen.kept_original:  # the winner's package, timed as it will be served, against the original
            winner = next(item for item in search.measurements if item.name == chosen.winner)
            trial = encoder_package(package, parts, source, chosen, search.files.get(chosen.winner), winner, {},
                                    folder / "trial")
            served, slower = served_check(package, trial, frame, batch_sizes, timing)
            if slower:
                chosen = keep_original(chosen, search.measurements, slower)
        report = build_report(package, source, chosen, search.measurements, search.skipped, cpu,
                              metric=chosen_metric, bound=bound, batch_sizes=batch_sizes, rows=len(frame),
                              seconds=time.monotonic() - started, budget_minutes=budget_minutes)
        report["cosine_bound"] = cosine.to_dict()
        report["encoder"] = search.facts
        if served is not None:
            report["served"] = served
        winner = next(item for item in search.measurements if item.name == chosen.winner)
        result_package = encoder_package(package, parts, source, chosen, search.files.get(chosen.winner), winner,
                                         report, folder)
        return OptimizeResult(result_package, package, chosen, search.measurements, search.skipped, report,
                              search.files, scratch)
    except BaseException:
        scratch.cleanup()
        raise

