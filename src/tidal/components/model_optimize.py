"""Optimizing a model for inference: ONNX, graph levels, INT8 and runtime options, measured and picked."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import pandas as pd

from tidal.core import Column, Figure, Metrics, Param, component
from tidal.models import ModelPackage


class Optimized(NamedTuple):
    model: ModelPackage
    report: pd.DataFrame
    chart: Figure
    summary: Metrics


@component("model.optimize", title="Optimize Model",
           tags={"sample": "classification", "sample_params": {"label": "label"}, "measures_time": True})
def optimize(
    model: ModelPackage,
    data: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    label: Annotated[Column | None, Param(help="the column of true answers; optional for a sentence encoder (a "
                                               "text_encoder package), whose variants are then judged by the cosine "
                                               "of their embeddings alone")] = None,
    metric: Annotated[Literal["accuracy", "auc", "log_loss", "rmse", "r2"] | None,
                      Param(help="what the bound is on; empty: accuracy for classifiers, rmse for regressors")] = None,
    max_loss: Annotated[str, Param(help="how much worse than the original a variant may score: '1%' (relative to "
                                        "its score) or '0.01' (absolute, in the metric's units)")] = "1%",
    batch: Annotated[str, Param(help="batch sizes to time, comma-separated; the first decides the pick")] = "1,32",
    budget: Annotated[float, Param(ge=0, help="minutes the search may take; what is left is reported as skipped")] = 10.0,
    compile: Annotated[bool, Param(help="also measure torch.compile for torch networks and sentence encoders "
                                           "(reported, not packaged)")] = False,
    prune: Annotated[str, Param(help="shares of channels to prune from tidal.nn networks, comma-separated, one "
                                     "variant each; needs the train input; empty: no pruning")] = "0.25,0.5",
    fine_tune_epochs: Annotated[int, Param(ge=1, help="epochs of fine-tuning on train after pruning")] = 3,
    min_cosine_mean: Annotated[float, Param(ge=-1, le=1, help="sentence encoders: the least mean cosine of a "
                                                              "variant's embeddings to the original's")] = 0.99,
    min_cosine: Annotated[float, Param(ge=-1, le=1, help="sentence encoders: the least cosine of any one text's "
                                                         "embedding to the original's")] = 0.97,
) -> Optimized:
    """Measure variants of a model on validation rows and keep the fastest within the accuracy bound.

    The model's own predict is the baseline. Tried: the ONNX export (checked against the model)
    at onnxruntime's graph optimization levels; INT8 dynamic and static (QDQ and QOperator, per
    tensor and per channel, MinMax / Entropy / Percentile calibration on ``data``, ``reduce_range``
    where the CPU lacks VNNI) for graphs with convolutions or matrix products, with per-layer
    fallback when no static recipe keeps within the bound; intra-op thread counts and the memory
    arena. A network built with ``tidal.nn`` is also pruned when ``train`` is given: for each share in
    ``prune``, that share of the output channels of every prunable convolution and linear layer (the
    smallest by L1 norm) is removed and the network fine-tuned ``fine_tune_epochs`` on ``train``, then
    exported and measured like the other graphs. Each is scored with ``metric`` on ``data`` (which must hold the model's columns and
    ``label``, nothing else) and timed at every batch size. A sentence encoder (a
    ``text_encoder`` package) is searched over its encoder's graphs instead, and every variant must
    also keep its embeddings within ``min_cosine_mean`` (the mean cosine to the original's) and
    ``min_cosine`` (the smallest); without ``label`` the cosines alone decide. The winner is the fastest at the first
    batch size among those within ``max_loss`` and no slower than the baseline at any batch size;
    when none qualifies the original model comes back unchanged. ``report`` has one row per
    variant (latencies, size, score, loss, verdict and the reason it won or lost); ``chart`` plots
    latency against loss; ``summary`` is the whole report, which the Studio shows as a page: the
    outcome and the pick's reason, the settings, the CPU and its instruction sets, both charts
    (latency against loss, file size) and the variants table, as ``tidal optimize`` writes it in
    report.html.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_iris(as_frame=True).frame
    >>> result = optimize(logistic_regression(frame, label="target"), frame, label="target", batch="1")
    >>> result.report["variant"].iloc[0], result.model.task
    ('baseline', 'multiclass')
    >>> sorted(set(result.report["family"]))
    ['baseline', 'onnx-fp32', 'runtime']
    >>> sorted(result.summary.figures), result.summary["winner"] == result.report["variant"][result.report["verdict"] == "won"].item()
    (['latency_vs_loss', 'size'], True)
    """
    from tidal.optimize import optimize_model
    from tidal.optimize._prune_variants import parse_ratios
    from tidal.optimize._report import charts, report_metrics, rows_for_table

    sizes = [int(part) for part in batch.split(",") if part.strip()] if batch.strip() else []
    result = optimize_model(model, data, label=label, metric=metric, max_loss=max_loss, batch_sizes=sizes,
                            budget_minutes=budget, compile=compile, cosine_mean=min_cosine_mean, cosine_min=min_cosine,
                            train=train, prune=parse_ratios(prune, "prune"), fine_tune_epochs=fine_tune_epochs)
    try:
        table = pd.DataFrame(rows_for_table(result.report))
        chart = Figure(charts(result.report)["latency_vs_loss"])
        package = result.package
        if package is not model:
            package = _detached(package)
        return Optimized(package, table, chart, report_metrics(result.report))
    finally:
        result.close()


def _detached(package: ModelPackage) -> ModelPackage:
    """The package moved out of the search's scratch folder into one that lives as long as the package
    (an onnx package reads its graph file again when it is saved)."""
    import shutil
    import tempfile
    import weakref
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="tidal-optimized-"))
    loaded = ModelPackage.load(package.save(folder / "model"))
    weakref.finalize(loaded, shutil.rmtree, folder, True)
    return loaded
