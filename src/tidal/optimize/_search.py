"""``optimize_model``: build the variants, score them on the validation rows, time them, pick one.

::

    result = optimize_model(package, validation, label="target", max_loss="1%", batch_sizes=(1, 32))
    result.pick.winner, result.report["variants"]     # what won, and every variant's figures
    result.save("optimized/")                         # model/ (a package), report.json, report.html

Order: the baseline (the package's own predict) and the float32 ONNX export (checked against
the model by :func:`tidal.models.export_model`); graph optimization levels; INT8 recipes (when
the graph has matrix products or convolutions); per-layer fallback when no static INT8 recipe
keeps within the bound; for ``tidal.nn`` networks given training rows, structured pruning with
fine-tuning; explicit thread counts and arena settings for the float32 graph, the best INT8 recipe
and the most pruned network within the bound; ``torch.compile`` when asked. Each variant is built
and scored in turn until the budget is spent (what was left is reported as skipped); then every built variant is timed in
one interleaved pass (:func:`tidal.optimize._measure.time_runners`) and :func:`pick` decides.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.optimize._cpu import cpu_info
from tidal.optimize._data import (
    LossBound,
    OptimizeRefused,
    check_metric,
    cosine,
    loss,
    score,
    validation_frame,
)
from tidal.optimize._encoder import CosineBound, encoder_parts_of
from tidal.optimize._measure import PackageRunner, Runner, Timing, answer_all, time_runners
from tidal.optimize._onnx_files import (
    check_onnx_file,
    merge_column_inputs,
    name_nodes,
    quantizable_nodes,
)
from tidal.optimize._pick import BASELINE, MIN_GAIN, Measurement, Pick, pick
from tidal.optimize._prune_variants import check_pruning, pruning_variants
from tidal.optimize._served import keep_original, served_check
from tidal.optimize._variants import (
    Context,
    Skipped,
    Variant,
    compile_variant,
    graph_variants,
    int8_variant,
    int8_variants,
    runtime_variants,
)

#: flavors converted to ONNX graphs; a flavor whose models are sentence encoders (``text_encoder``) is searched
#: through the parts it offers (:mod:`tidal.optimize._encoder`)
SUPPORTED_FLAVORS = ("sklearn", "lightgbm", "xgboost", "torch", "onnx", "text_encoder")
SUPPORTED_TASKS = ("binary", "multiclass", "regression")
TARGETS = ("cpu",)
#: per-node fallback below this many quantizable nodes; per operator type above
FALLBACK_NODES = 8


@dataclass
class OptimizeResult:
    """The pick, every variant's measurement, the report, and the winning package (built on save)."""

    package: Any
    source: Any
    pick: Pick
    measurements: list[Measurement]
    skipped: list[Skipped]
    report: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def save(self, folder: str | Path) -> Path:
        """Write ``model/`` (the chosen package), ``report.json`` and ``report.html`` into ``folder``."""
        from tidal.optimize._report import write_report

        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        self.package.save(target / "model")
        write_report(self.report, target)
        return target

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.cleanup()
            self.scratch = None


def _check_request(package: Any, target: str, batch_sizes: Sequence[int], encoder: bool = False) -> None:
    if package.flavor not in SUPPORTED_FLAVORS and not encoder:
        raise OptimizeRefused(f"a model of flavor '{package.flavor}' cannot be optimized; supported flavors: "
                              f"{', '.join(SUPPORTED_FLAVORS)} (convert it to ONNX first, or retrain it with one of those)")
    if package.task not in SUPPORTED_TASKS:
        raise OptimizeRefused(f"a {package.task} model cannot be optimized: the search scores classifiers and regressors "
                              f"({', '.join(SUPPORTED_TASKS)})")
    if target not in TARGETS:
        raise OptimizeRefused(f"target '{target}' is not built yet; the search measures on {', '.join(TARGETS)}")
    if not batch_sizes or any(int(size) < 1 for size in batch_sizes):
        raise OptimizeRefused(f"batch sizes must be whole numbers of 1 or more, got {list(batch_sizes)}")


def _saved_bytes(package: Any, folder: Path) -> int | None:
    """The original's size on disk: its package folder as saved (payload and manifest), to set against the graphs'."""
    try:
        saved = Path(package.save(folder))
    except Exception:  # a size is one figure of the report: a package that will not save again is still measured
        return None
    try:
        return sum(path.stat().st_size for path in saved.rglob("*") if path.is_file())
    finally:
        shutil.rmtree(saved, ignore_errors=True)


def _float32_graph(package: Any, frame: pd.DataFrame, folder: Path, source: str) -> tuple[Path | None, str]:
    """The float32 ONNX graph to start from (with named nodes, its column inputs merged into one matrix where
    :func:`~tidal.optimize._onnx_files.merge_column_inputs` applies), or ``None`` and why."""
    import onnx

    from tidal.models import ExportRefused, export_model

    if package.flavor == "onnx":
        original = Path(package.model.path)
    else:
        original = folder / "export.onnx"
        try:
            export_model(package, original, format="onnx", data=frame, source=source, overwrite=True)
        except ExportRefused as error:
            return None, f"the ONNX export was refused: {error}"
    model = name_nodes(check_onnx_file(original))
    merged = merge_column_inputs(model, list(package.features))
    target = folder / "fp32.onnx"
    onnx.save(model, str(target))
    return target, (f"one [N, {len(package.features)}] input '{merged}' in place of {len(package.features)} column "
                    "inputs" if merged else "")


def optimize_model(
    package: Any,
    data: Any,
    *,
    label: str | None = None,
    metric: str | None = None,
    max_loss: str | float = "1%",
    batch_sizes: Sequence[int] = (1, 32),
    budget_minutes: float = 10.0,
    target: str = "cpu",
    compile: bool = False,
    timing: Timing | None = None,
    min_gain: float = MIN_GAIN,
    source: str = "",
    extra: Sequence[Variant] = (),
    cosine_mean: float = 0.99,
    cosine_min: float = 0.97,
    train: pd.DataFrame | None = None,
    prune: Sequence[float] = (0.25, 0.5),
    fine_tune_epochs: int = 3,
) -> OptimizeResult:
    """Search the variants of ``package`` on the validation table ``data``; see the module notes.

    ``max_loss``: ``"1%"`` relative to the baseline's score, or an absolute number in the metric's
    units. The pick is made at ``batch_sizes[0]``; every batch size is measured and a variant slower
    than the baseline at any of them is never picked. ``source`` (a registry URI or path) is
    recorded in the lineage of the result.

    Sentence encoders (a flavor offering ``encoder_parts``, such as ``text_encoder``) are searched by
    :func:`tidal.optimize._encoder_search.optimize_encoder`: every variant's sentence embeddings must
    keep a mean cosine of at least ``cosine_mean`` and a smallest one of at least ``cosine_min`` to
    the original's, and ``label`` is optional (without it the embeddings alone are compared).

    A ``tidal.nn`` network is also pruned (:mod:`tidal.optimize._prune_variants`): for each share in
    ``prune``, that share of the output channels of every prunable layer is removed and the network
    fine-tuned ``fine_tune_epochs`` on ``train`` (rows with the model's columns and ``label``; without
    them pruning is reported as skipped).
    """
    started = time.monotonic()
    deadline = started + budget_minutes * 60
    batch_sizes = [int(size) for size in batch_sizes]
    parts = encoder_parts_of(package)
    _check_request(package, target, batch_sizes, encoder=parts is not None)
    if parts is not None:
        from tidal.optimize._encoder_search import optimize_encoder

        return optimize_encoder(package, parts, data, label=label, metric=metric, max_loss=max_loss,
                                cosine=CosineBound(cosine_mean, cosine_min), batch_sizes=batch_sizes, started=started,
                                budget_minutes=budget_minutes, timing=timing or Timing(), min_gain=min_gain,
                                source=source, extra=extra, compile=compile)
    if label is None:
        raise OptimizeRefused("give the label: the column of the validation table that holds the true answers (--label for "
                              "`tidal optimize`, label for model.optimize); only sentence encoders are judged without one")
    chosen_metric = check_metric(metric, package.task)
    bound = LossBound.parse(max_loss)
    frame, truth = validation_frame(package, data, label)
    train = check_pruning(package, train, label, tuple(prune), fine_tune_epochs)
    assert truth is not None
    timing = timing or Timing()
    cpu = cpu_info()
    scratch = tempfile.TemporaryDirectory(prefix="tidal-optimize-")
    folder = Path(scratch.name)
    try:
        fp32, why_not = _float32_graph(package, frame, folder, source)
        graph_note, why_not = (why_not, "") if fp32 is not None else ("", why_not)
        context = Context(package, fp32, frame, folder, reduce_range=not cpu.vnni, usable_cpus=cpu.usable_cpus)
        search = _Search(context, chosen_metric, truth, bound, deadline, timing, batch_sizes)
        search.run_baseline()
        plan: list[Variant] = []
        nodes: list[tuple[str, str]] = []
        if fp32 is None:
            search.skipped.append(Skipped("onnx variants", why_not))
        else:
            plan += graph_variants(graph_note)
            graph = check_onnx_file(fp32)
            nodes = quantizable_nodes(graph)
            if nodes:
                plan += int8_variants(context.reduce_range)
            plan += _openvino_plan(graph, context, search.skipped, chosen_metric, truth, bound.allowed(search.base_score))
            if not nodes:
                search.skipped.append(Skipped("int8", "the graph has no Conv, Gemm or MatMul nodes (tree ensembles and "
                                                      "linear models run as single ai.onnx.ml operators): nothing to quantize"))
        if package.flavor == "torch":
            if compile:
                plan.append(compile_variant())
            else:
                search.skipped.append(Skipped("torch-compile", "off; ask for it with compile=True (--compile)"))
            pruned, why = pruning_variants(package, train, label, tuple(prune), fine_tune_epochs)
            plan += pruned
            search.skipped += why
        elif train is not None:
            search.skipped.append(Skipped("pruning", f"only networks built with tidal.nn are pruned; the training rows "
                                                     f"were not used (this model's flavor: {package.flavor})"))
        plan += list(extra)
        for variant in plan:
            search.build(variant)
        if fp32 is not None:
            if nodes:
                search.fallback(nodes)
            for parent in search.runtime_parents():
                for variant in runtime_variants(parent, cpu.usable_cpus):
                    search.build(variant)
        search.time_all()
        chosen = pick(search.measurements, batch=batch_sizes[0], bound=bound, min_gain=min_gain)
        from tidal.optimize._output import output_package
        from tidal.optimize._report import build_report

        files = search.files
        served: dict[str, Any] | None = None
        if not chosen.kept_original:  # the winner's package, timed as it will be served, against the original
            winner = next(item for item in search.measurements if item.name == chosen.winner)
            trial = output_package(package, source, chosen, files.get(chosen.winner), winner,
                                   search.runners[chosen.winner], {}, folder / "trial")
            served, slower = served_check(package, trial, frame, batch_sizes, timing)
            if slower:
                chosen = keep_original(chosen, search.measurements, slower)
        report = build_report(package, source, chosen, search.measurements, search.skipped, cpu,
                              metric=chosen_metric, bound=bound, batch_sizes=batch_sizes, rows=len(frame),
                              seconds=time.monotonic() - started, budget_minutes=budget_minutes)
        if graph_note:
            report["graph"] = {"inputs": graph_note}
        if served is not None:
            report["served"] = served
        winner = next(item for item in search.measurements if item.name == chosen.winner)
        result_package = output_package(package, source, chosen, files.get(chosen.winner), winner,
                                        search.runners[chosen.winner], report, folder)
        return OptimizeResult(result_package, package, chosen, search.measurements, search.skipped, report, files, scratch)
    except BaseException:
        scratch.cleanup()
        raise


def _openvino_plan(graph: Any, context: Context, skipped: list[Skipped], metric: str, truth: np.ndarray,
                   allowed: float) -> list[Variant]:
    """OpenVINO's and NNCF's variants where the extra is installed and OpenVINO can read the graph."""
    from tidal.optimize import _openvino

    if _openvino.installed() is None:
        skipped += _openvino.skipped()
        return []
    ml = sorted({node.op_type for node in graph.graph.node if node.domain == "ai.onnx.ml"})
    if ml:
        skipped.append(Skipped("openvino", f"OpenVINO reads no ai.onnx.ml operators, and this graph runs "
                                           f"{', '.join(ml)}"))
        return []
    return _openvino.graph_variants(context, metric, truth, allowed)


class _Search:
    """The variants built so far, their runners and measurements, and the budget."""

    def __init__(self, context: Context, metric: str, truth: np.ndarray | None, bound: LossBound, deadline: float,
                 timing: Timing, batch_sizes: list[int]) -> None:
        self.context, self.metric, self.truth, self.bound = context, metric, truth, bound
        self.deadline, self.timing, self.batch_sizes = deadline, timing, batch_sizes
        self.measurements: list[Measurement] = []
        self.runners: dict[str, Runner] = {}
        self.files: dict[str, Path] = {}
        self.variants: dict[str, Variant] = {}
        self.skipped: list[Skipped] = []
        self.call_seconds: dict[str, float] = {}
        self.base_answers: tuple[np.ndarray, np.ndarray | None] | None = None
        self.base_matrix: np.ndarray | None = None
        self.base_score = 0.0

    def _score(self, answers: tuple[np.ndarray, np.ndarray | None], similarity: tuple[float, float] | None) -> float:
        assert self.truth is not None
        return score(self.metric, self.truth, answers[0], answers[1], self.context.package.classes)

    def _evaluate(self, runner: Runner) -> tuple[tuple[np.ndarray, np.ndarray | None], np.ndarray]:
        """The runner's answers on every validation row, and the matrix its cosine to the baseline is taken on."""
        answers = answer_all(runner, self.context.frame)
        return answers, answers[1] if answers[1] is not None else answers[0]

    def run_baseline(self) -> None:
        runner = PackageRunner(self.context.package)
        self.base_answers, self.base_matrix = self._evaluate(runner)
        self.base_score = self._score(self.base_answers, (1.0, 1.0))
        settings: dict[str, Any] = {"flavor": self.context.package.flavor}
        if self.context.package.flavor == "torch":
            import torch

            settings["torch_threads"] = torch.get_num_threads()
        item = Measurement(BASELINE, "baseline", settings, score=self.base_score, loss=0.0,
                           cosine_mean=1.0, cosine_min=1.0, agreement=1.0, note="the model's own predict",
                           size_bytes=_saved_bytes(self.context.package, self.context.folder / "baseline"))
        self.measurements.append(item)
        self.runners[BASELINE] = runner
        self._call_cost(BASELINE, runner)

    def _call_cost(self, name: str, runner: Runner) -> None:
        """Seconds one timed call costs at the largest batch size: what timing this variant will take."""
        from tidal.optimize._measure import batch_rows

        rows = batch_rows(self.context.frame, max(self.batch_sizes))
        start = time.perf_counter()
        runner.answer(rows)
        self.call_seconds[name] = time.perf_counter() - start

    def _timing_left(self) -> float:
        per_call = self.timing.warmup + self.timing.rounds * self.timing.calls
        return sum(self.call_seconds.values()) * per_call * len(self.batch_sizes)

    def build(self, variant: Variant) -> Measurement | None:
        if time.monotonic() + self._timing_left() > self.deadline:
            self.skipped.append(Skipped(variant.name, "the time budget was spent before this variant was built"))
            return None
        item = Measurement(variant.name, variant.family, dict(variant.settings), packable=variant.packable, note=variant.note)
        self.measurements.append(item)
        try:
            runner, path = variant.make(self.context)
            item.settings, item.note = dict(variant.settings), variant.note  # what building found (a pruned network's widths)
            answers, matrix = self._evaluate(runner)
            self._call_cost(variant.name, runner)
        except Exception as error:  # a recipe the quantizer or runtime cannot do: reported, the search goes on
            item.error = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
            return item
        assert self.base_answers is not None
        similarity = cosine(self.base_matrix, matrix)
        if similarity is not None:
            item.cosine_mean, item.cosine_min = similarity
        item.score = self._score(answers, similarity)
        item.loss = loss(self.metric, self.base_score, item.score)
        if self.context.classifier:
            item.agreement = float(np.mean([str(a) == str(b) for a, b in zip(self.base_answers[0], answers[0], strict=True)]))
        if path is not None:
            item.size_bytes = path.stat().st_size
            self.files[variant.name] = path
        self.runners[variant.name] = runner
        self.variants[variant.name] = variant
        return item

    def _allowed(self) -> float:
        return self.bound.allowed(self.base_score)

    def fallback(self, nodes: list[tuple[str, str]]) -> None:
        """Keep in float32 the nodes (or operator types) whose quantization costs the most, greedily."""
        statics = [item for item in self.measurements if item.family == "int8-static" and item.loss is not None
                   and item.settings.get("qdq")]
        if not statics or any(item.loss is not None and item.loss <= self._allowed() for item in statics):
            return  # nothing to rescue, or a static recipe already keeps within the bound
        best = min(statics, key=lambda item: item.loss if item.loss is not None else np.inf)
        base_settings = {key: value for key, value in best.settings.items() if key != "recipe"}
        by_type = len(nodes) > FALLBACK_NODES
        groups: dict[str, list[str]] = {}
        for name, op_type in nodes:
            groups.setdefault(op_type if by_type else name, []).append(name)
        excluded: list[str] = []
        for step in range(1, len(groups)):
            trials: list[tuple[float, str, Measurement]] = []
            for group, members in groups.items():
                if members[0] in excluded:
                    continue
                settings = {**base_settings, "exclude": [*excluded, *members]}
                measured = self.build(int8_variant(f"fallback-{step}-{len(trials)}", settings))
                if measured is None:
                    return
                if measured.loss is not None:
                    trials.append((measured.loss, group, measured))
            if not trials:
                return
            trials.sort(key=lambda entry: entry[0])
            chosen_loss, group, chosen = trials[0]
            excluded += groups[group]
            chosen.note = f"keeps {', '.join(excluded)} in float32 (the greedy choice at step {step})"
            for _, _, other in trials[1:]:  # the step's other trials are dropped: only the greedy path is timed
                self._drop(other.name)
            if chosen_loss <= self._allowed():
                return

    def _drop(self, name: str) -> None:
        self.measurements = [item for item in self.measurements if item.name != name]
        for table in (self.runners, self.files, self.variants, self.call_seconds):
            table.pop(name, None)  # type: ignore[attr-defined]

    def runtime_parents(self) -> list[Variant]:
        """The float32 graph, the most accurate INT8 variant within the bound, and the most pruned network within it."""
        parents = [self.variants["onnx-fp32"]] if "onnx-fp32" in self.variants else []
        pruned = [item for item in self.measurements if item.family == "pruning" and item.loss is not None
                  and item.loss <= self._allowed() and item.name in self.variants]
        if pruned:
            parents.append(self.variants[max(pruned, key=lambda item: float(item.settings["ratio"])).name])
        quantized = [item for item in self.measurements if item.family in ("int8-static", "int8-dynamic", "int8-nncf", "fallback")
                     and item.loss is not None and item.loss <= self._allowed() and item.name in self.variants]
        if quantized:
            parents.append(self.variants[min(quantized, key=lambda item: item.loss or 0.0).name])
        return parents

    def time_all(self) -> None:
        latencies = time_runners(self.runners, self.context.frame, self.batch_sizes, self.timing)
        for item in self.measurements:
            if item.name in latencies:
                item.latency = latencies[item.name]
