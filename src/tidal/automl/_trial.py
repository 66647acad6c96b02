"""The ``automl.trial`` task: train one candidate on the train part, score it on the validation part.

The study controller submits it to an executor as an ordinary node task, so trials run on the
same worker processes (or cluster) as pipeline nodes, with the same timeouts, crash isolation,
log capture and atomic artifact writes. It is an internal component (``tags={"internal": True}``):
pipelines use ``automl.tune``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, NamedTuple

import pandas as pd

from tidal.automl._iterative import iterative_trainer
from tidal.automl._metrics import check_metric, score_model
from tidal.automl._pruning import make_pruner
from tidal.core import Metrics, Param, component
from tidal.core._errors import DataError, TidalError
from tidal.core._registry import registry
from tidal.models import ModelPackage


class TrialOutputs(NamedTuple):
    model: ModelPackage
    scores: Metrics


def fold_nested(params: dict[str, Any]) -> dict[str, Any]:
    """Dotted names set a key of a mapping parameter: ``{"layer_params.hidden.out_features": 64}`` becomes
    ``{"layer_params": {"hidden.out_features": 64}}`` (merged into what ``layer_params`` already holds)."""
    folded = {name: dict(value) if isinstance(value, dict) else value for name, value in params.items() if "." not in name}
    for name, value in params.items():
        if "." in name:
            outer, inner = name.split(".", 1)
            target = folded.setdefault(outer, {})
            if not isinstance(target, dict):
                raise TidalError(f"parameter '{name}' sets a key of '{outer}', which is {target!r}, not a mapping")
            target[inner] = value
    return folded


def fit_once(trainer: str, train: pd.DataFrame, label: str, params: dict[str, Any], module: str | None = None) -> ModelPackage:
    """Call the trainer component eagerly with ``params``; its first Model output."""
    params = fold_nested(params)
    spec = registry.get(trainer, module=module)
    tables = [port.name for port in spec.inputs if port.type == "Table"]
    models = [port.name for port in spec.outputs if port.type == "Model"]
    if not tables or not models:
        raise TidalError(f"'{trainer}' is not a trainer: it needs a table input and a model output")
    values = {"label": label, **params} if spec.param("label") is not None else dict(params)
    outputs = spec.execute({tables[0]: train}, values)
    return outputs[models[0]]  # type: ignore[no-any-return]


@component("automl.trial", title="AutoML trial", tags={"internal": True})
def trial(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    checkpoint: ModelPackage | None = None,
    *,
    trainer: Annotated[str, Param(help="the trainer component's id")],
    label: Annotated[str, Param(help="the label column")],
    metric: Annotated[str, Param(help="the metric the study optimizes")],
    direction: Annotated[str, Param(help="maximize or minimize")] = "maximize",
    params: Annotated[dict[str, Any], Param(help="this trial's parameters plus the fixed ones")] = {},  # noqa: B006
    steps: Annotated[int, Param(ge=0, help="train this many steps from the checkpoint (iterative trainers); 0: train once")] = 0,
    report_every: Annotated[int, Param(ge=0, help="score every this many steps, for early stopping")] = 0,
    pruner: Annotated[dict[str, Any] | None, Param(help="early stopping rule")] = None,
    trainer_module: Annotated[str | None, Param(help="the module defining the trainer, so a worker imports only it")] = None,
    reference: Annotated[dict[str, list[float]] | None, Param(help="scores other trials reached, by step")] = None,
) -> TrialOutputs:
    """Train one candidate and score it; returns the model and its validation metrics.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> result = trial(frame[:400], frame[400:], trainer="classification.logistic_regression",
    ...                label="target", metric="auc", params={"C": 1.0})
    >>> result.scores["value"] > 0.9
    True
    """
    check_metric(metric)
    for name, table in (("train", train), ("valid", valid)):
        if len(table) == 0:
            raise DataError(f"the {name} part is empty; give the study more rows or a different validation ratio")
    sign = 1.0 if direction == "maximize" else -1.0
    intermediate: list[dict[str, float]] = []
    pruned_at = None
    if steps <= 0:
        model = fit_once(trainer, train, label, params, trainer_module)
        scores = score_model(model, valid, label)
    else:
        stepper = iterative_trainer(trainer)
        rule = make_pruner(pruner)
        chunk = report_every if report_every and rule else steps
        done, state, scores = 0, checkpoint, {}
        start = int((checkpoint.metadata or {}).get("steps", 0)) if checkpoint is not None else 0
        while done < steps:
            size = min(chunk, steps - done)
            model = state = stepper.train(train, label, fold_nested(params), size, state)
            done += size
            scores = score_model(model, valid, label)
            value = scores.get(metric, math.nan)
            intermediate.append({"step": start + done, "value": value})
            if rule is not None and done < steps:
                others = [sign * v for v in (reference or {}).get(str(start + done), [])]
                if rule.should_stop(start + done, sign * value, others):
                    pruned_at = start + done
                    break
    if metric not in scores:
        raise DataError(f"metric '{metric}' does not apply to this {model.task} model (it gives: {', '.join(scores)})")  # type: ignore[union-attr]
    values: dict[str, Any] = {"value": scores[metric], **scores}
    if pruned_at is not None:
        values.update(pruned=1.0, pruned_at=float(pruned_at))
    return TrialOutputs(model, Metrics(values, tables={"intermediate": intermediate} if intermediate else None))  # type: ignore[arg-type]
