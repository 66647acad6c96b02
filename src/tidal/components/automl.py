"""AutoML in pipelines: ``automl.tune`` searches a trainer's parameters and outputs the best model.

The study behind it is recorded in the workspace like any other (``tidal studies list``), its
trials run on worker processes, and the best model can be registered under an alias in the same
step. See docs/automl.md.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Annotated, Any, Literal, NamedTuple

import pandas as pd

import tidal.automl._trial  # noqa: F401 - registers the internal automl.trial task next to automl.tune
from tidal.core import Column, Metrics, Param, component
from tidal.core._errors import DataError
from tidal.models import ModelPackage


class TuneResult(NamedTuple):
    model: ModelPackage
    trials: pd.DataFrame
    report: Metrics


@component(
    "automl.tune",
    title="AutoML Tune",
    tags={
        "sample": "classification",
        "task": "binary|multiclass|regression",
        "sample_params": {"trainer": "classification.logistic_regression", "budget": 3, "workers": 0, "record": False},
    },
)
def tune(
    data: pd.DataFrame,
    *,
    trainer: Annotated[str, Param(help="the trainer component to tune, e.g. classification.lightgbm")],
    label: Annotated[Column, Param(help="the column to predict")],
    metric: Annotated[Literal["auto", "auc", "accuracy", "f1", "logloss", "rmse", "mae", "r2"],
                      Param(help="what the validation part is scored by; auto: auc for classifiers, rmse for regressors")] = "auto",
    direction: Annotated[Literal["auto", "maximize", "minimize"], Param(help="auto: the metric's own")] = "auto",
    strategy: Annotated[Literal["grid", "random", "tpe", "evolutionary", "pbt"], Param(help="the search strategy")] = "random",
    budget: Annotated[int, Param(ge=1, le=100_000, help="how many trials")] = 20,
    search_space: Annotated[dict[str, Any] | None, Param(help="ranges by parameter; empty: the trainer's declared ranges")] = None,
    params: Annotated[dict[str, Any] | None, Param(help="fixed trainer parameters")] = None,
    options: Annotated[dict[str, Any] | None, Param(help="strategy options, e.g. {candidates: 4, keep: 2, radius: 1.0}")] = None,
    validation: Annotated[float, Param(gt=0, lt=1, help="share of rows held out to score each trial")] = 0.2,
    seed: Annotated[int, Param(ge=0)] = 0,
    workers: Annotated[int, Param(ge=0, help="trials at once, each in a worker process; 0: one at a time in this process")] = 2,
    timeout: Annotated[float | None, Param(gt=0, help="seconds a trial may take before it is stopped and recorded as timed out")] = None,
    refit: Annotated[bool, Param(help="retrain the best parameters on all the data for the output model")] = True,
    name: Annotated[str | None, Param(help="the study's name")] = None,
    record: Annotated[bool, Param(help="keep the study in the workspace (tidal studies list)")] = True,
    register_as: Annotated[str | None, Param(help="register the best model under this name in the model registry")] = None,
    alias: Annotated[str | None, Param(help="alias for the registered version, e.g. staging")] = None,
) -> TuneResult:
    """Search a trainer's parameters; outputs the best model, every trial, and a report with charts.

    Each trial trains ``trainer`` on the train part and scores the validation part. The report's
    figures are the best-so-far curve, parallel coordinates and parameter importance.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> result = tune(frame, trainer="classification.logistic_regression", label="target",
    ...               strategy="random", budget=3, workers=0, record=False)
    >>> len(result.trials), result.report["best_value"] > 0.95
    (3, True)
    """
    from tidal.automl._report import report as make_report
    from tidal.automl._report import trials_table
    from tidal.automl._study import create_study, find_unfinished_study, study_fingerprint
    from tidal.runtime import current_node
    from tidal.store import Workspace

    if len(data) == 0:
        raise DataError("the training table is empty; check the upstream split or filter")
    scratch = None if record else tempfile.mkdtemp(prefix="tidal-tune-")
    workspace = Workspace.open(scratch) if scratch else Workspace.open()
    settings = {"trainer": trainer, "label": label, "metric": metric, "direction": direction, "strategy": strategy,
                "budget": budget, "search_space": search_space, "params": params, "options": options,
                "validation": validation, "seed": seed, "timeout": timeout, "refit": refit, "name": name}
    fingerprint = study_fingerprint(data, settings)
    try:
        # a pipeline run that was killed in this node and is now resumed continues its study
        study = find_unfinished_study(fingerprint, workspace)
        node = current_node()
        origin = {"run_id": node.run_id, "node_id": node.node_id} if node else None
        if study is not None and origin:  # the run that continues it now holds it (the Studio stops it through that run)
            study.store.update_study(study.id, config={**study.config, "origin": origin})
            study.refresh()
        if study is None:
            study = create_study(
                data, trainer=trainer, label=label, metric=None if metric == "auto" else metric,
                direction=None if direction == "auto" else direction, strategy=strategy, budget=budget,
                search_space=search_space, params=params, options=options, validation=validation, seed=seed,
                timeout=timeout, refit=refit, name=name, workspace=workspace, fingerprint=fingerprint,
                origin=origin,
            )
        result = study.optimize(workers=workers, executor="local" if workers > 0 else "inline")
        if result.best_model_uri is None:
            errors = {trial.error for trial in study.trials() if trial.error}
            raise DataError(f"no trial of study {study.id} succeeded: {'; '.join(sorted(errors))[:2000]}")
        model = study.best_model()
        trials = study.trials()
        space = study.space
        summary = make_report(trials, space, metric=result.metric, direction=result.direction,
                              study_id=study.id if record else None)
        if register_as:
            version = study.register_best(register_as, alias=alias)
            summary["registered"] = f"models:/{register_as}/{version}"
        return TuneResult(model, trials_table(trials, space), summary)
    finally:
        workspace.close()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
