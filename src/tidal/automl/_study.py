"""The study controller: asks a strategy, runs trials on an executor, records every one.

::

    study = create_study(frame, trainer="classification.lightgbm", label="target",
                         metric="auc", strategy="evolutionary", budget=12)
    record = study.optimize(workers=2)          # or resume_study(study.id) after a crash
    study.best_model()

Trials are ``automl.trial`` node tasks submitted to the runtime's executors (worker processes
by default), several at once. Each trial row is written when the trial starts and when it ends,
with its parameters, metrics, timings, log and model artifact. A failing, crashing or timed-out
trial is recorded with its cause and the study goes on. A study killed at any moment resumes:
finished trials are kept, trials that were running are run again with the same parameters, and
the strategy is rebuilt from the recorded trials.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from tidal.automl._iterative import ITERATIVE, iterative_trainer
from tidal.automl._metrics import check_metric, default_direction, default_metric
from tidal.automl._records import StudyRecord, TrialRecord
from tidal.automl._space import SearchSpace
from tidal.automl._store import StudyStore
from tidal.automl._strategies import STRATEGIES, make_strategy
from tidal.automl._strategy import Suggestion, score_of
from tidal.automl._trial import fit_once
from tidal.core._display import Displayable
from tidal.core._errors import CodeNotAllowed, DataError, TidalError
from tidal.core._registry import registry
from tidal.runtime._executor import Executor, make_executor
from tidal.runtime._machine import visible_cpus
from tidal.runtime._values import write_value
from tidal.runtime._worker import InputArtifact, NodeTask, TaskResult
from tidal.store._metadata import now
from tidal.store._workspace import Workspace

TRIAL_COMPONENT = "automl.trial"
TRIAL_MODULE = "tidal.automl._trial"


@dataclass(frozen=True)
class StudyEvent:
    """What a watcher (CLI progress, a server) is told; immutable."""

    study_id: str
    status: str  # started, trial_started, trial_finished, finished
    trial: int | None = None
    trial_status: str | None = None
    value: float | None = None
    best_value: float | None = None
    best_trial: int | None = None
    finished_trials: int = 0
    budget: int = 0
    error: str | None = None


EventHandler = Callable[[StudyEvent], None]


def _new_id() -> str:
    return f"{now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _open(workspace: Workspace | str | Path | None) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)


def _store(workspace: Workspace) -> StudyStore:
    return StudyStore(workspace.metadata.engine)


def _put_table(workspace: Workspace, frame: pd.DataFrame) -> dict[str, Any]:
    staging = workspace.artifacts.staging_dir()
    path, suffix, meta = write_value(frame, "Table", staging)
    uri, digest, size = workspace.artifacts.put_content_addressed(path, suffix)
    return {"uri": uri, "hash": digest, "size": size, "rows": meta["rows"]}


def _split(frame: pd.DataFrame, label: str, ratio: float, seed: int, classification: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    if not 0 < ratio < 1:
        raise TidalError(f"validation must be a fraction between 0 and 1, got {ratio}")
    stratify = None
    if classification:
        counts = frame[label].value_counts()
        if len(counts) > 1 and counts.min() >= 2:
            stratify = frame[label]
    train, valid = train_test_split(frame, test_size=ratio, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), valid.reset_index(drop=True)


def create_study(
    data: pd.DataFrame,
    *,
    trainer: str,
    label: str,
    metric: str | None = None,
    direction: str | None = None,
    strategy: str = "random",
    budget: int = 20,
    search_space: SearchSpace | dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    validation: float = 0.2,
    seed: int = 0,
    timeout: float | None = None,
    pruner: dict[str, Any] | None = None,
    steps: int | None = None,
    report_every: int | None = None,
    refit: bool = False,
    name: str | None = None,
    workspace: Workspace | str | Path | None = None,
    fingerprint: str | None = None,
    allow_code: bool = False,
    origin: dict[str, str] | None = None,
) -> Study:
    """Record a new study (its data split goes to the artifact store); run it with :meth:`Study.optimize`.

    ``params`` are fixed trainer parameters; ``options`` the strategy's own (see docs/automl.md).
    ``pruner`` (``{"type": "median"}`` or ``{"type": "successive_halving"}``) with ``steps`` and
    ``report_every`` stops poor trials of iterative trainers early. A trainer tagged
    ``runs_user_code`` (it runs code from its parameters) is refused unless ``allow_code``.
    ``origin`` records the pipeline run and node that started the study (``automl.tune`` sets it).
    """
    ws = _open(workspace)
    spec = registry.get(trainer)
    if spec.runs_user_code and not allow_code:
        raise CodeNotAllowed(f"trainer {trainer} runs code taken from its parameters; allow it only for studies you trust: "
                             "`tidal tune --allow-code` or create_study(..., allow_code=True)")
    if strategy not in STRATEGIES:
        raise TidalError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if budget < 1:
        raise TidalError(f"budget must be at least 1 trial, got {budget}")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"the study's data must be a table, got {type(data).__name__}")
    if label not in data.columns:
        raise DataError(f"label column '{label}' is not in the data (columns: {', '.join(map(str, data.columns[:20]))})")
    if len(data) < 4:
        raise DataError(f"the data has {len(data)} row(s); a study needs at least 4 to split into train and validation")
    classification = "regression" not in str(spec.tags.get("task", "")) and spec.category != "regression"
    metric = metric or default_metric("binary" if classification else "regression")
    check_metric(metric)
    direction = direction or default_direction(metric)
    if direction not in ("maximize", "minimize"):
        raise TidalError(f"direction must be maximize or minimize, not {direction!r}")
    space = search_space if isinstance(search_space, SearchSpace) else (
        SearchSpace.from_dict(search_space) if search_space else SearchSpace.from_component(spec))
    unknown = [name for name in space.names if spec.param(name.split(".", 1)[0]) is None]
    if unknown:
        raise TidalError(f"search space parameter(s) {', '.join(unknown)} are not parameters of {trainer} "
                         f"(it takes: {', '.join(p.name for p in spec.params)})")
    flat = [name for name in space.names if "." in name and not _takes_mapping(spec.param(name.split(".", 1)[0]))]
    if flat:
        raise TidalError(f"search space parameter(s) {', '.join(flat)}: a dotted name sets a key of a mapping parameter "
                         f"(like nn.train's layer_params.hidden.out_features), and '{flat[0].split('.', 1)[0]}' is not one")
    options = dict(options or {})
    iterative = strategy == "pbt" or bool(pruner)
    if iterative:
        stepper = iterative_trainer(trainer)
        if strategy == "pbt":
            options.setdefault("fixed", list(stepper.structural))
    make_strategy(strategy, space, direction=direction, budget=budget, seed=seed, options=options)  # checks options
    train, valid = _split(data, label, validation, seed, classification)
    record = StudyRecord(
        id=_new_id(),
        name=name or f"{trainer.split('.', 1)[1]}-{strategy}",
        status="created",
        direction=direction,
        metric=metric,
        strategy=strategy,
        budget=int(budget),
        created_at=now(),
        config={
            "trainer": trainer, "label": label, "space": space.to_dict(), "params": dict(params or {}),
            "options": options, "seed": int(seed), "validation": validation, "timeout": timeout,
            "pruner": pruner, "steps": steps, "report_every": report_every, "refit": refit, "fingerprint": fingerprint,
            "origin": dict(origin) if origin else None,
            "data": {"train": _put_table(ws, train), "valid": _put_table(ws, valid),
                     "full": _put_table(ws, data) if refit else None},
        },
    )
    _store(ws).create_study(record)
    return Study(ws, record)


def load_study(study_id: str, workspace: Workspace | str | Path | None = None) -> Study:
    ws = _open(workspace)
    return Study(ws, _store(ws).get_study(study_id))


def list_studies(workspace: Workspace | str | Path | None = None, limit: int = 50) -> list[StudyRecord]:
    return _store(_open(workspace)).list_studies(limit)


def resume_study(study_id: str, workspace: Workspace | str | Path | None = None, **options: Any) -> StudyRecord:
    """Continue an interrupted, cancelled or failed study; finished trials are never rerun."""
    study = load_study(study_id, workspace)
    if study.record.status == "succeeded":
        raise TidalError(f"study {study.id} already finished; there is nothing to resume")
    return study.optimize(**options)


def study_fingerprint(data: pd.DataFrame, settings: dict[str, Any]) -> str:
    """A hash of the data's content and the study's settings: the same tune node on the same input."""
    import hashlib

    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    digest.update(json.dumps([str(name) for name in data.columns]).encode())
    return digest.hexdigest()


def find_unfinished_study(fingerprint: str, workspace: Workspace | str | Path | None = None) -> Study | None:
    """The newest interrupted or cancelled study with this fingerprint (its controller is gone), if any."""
    ws = _open(workspace)
    store = _store(ws)
    for record in store.list_studies(limit=200):
        if (record.config or {}).get("fingerprint") != fingerprint:
            continue
        if effective_status(record, store.study_pid(record.id)) in ("interrupted", "cancelled"):
            return Study(ws, record)
        return None
    return None


def effective_status(record: StudyRecord, pid: int | None) -> str:
    """'interrupted' for a study marked running whose controller process is gone."""
    if record.status != "running" or pid is None:
        return record.status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "interrupted"
    except PermissionError:
        return record.status
    return record.status


class Study(Displayable):
    def __init__(self, workspace: Workspace, record: StudyRecord) -> None:
        self.workspace = workspace
        self.record = record
        self.store = _store(workspace)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def config(self) -> dict[str, Any]:
        return self.record.config

    @property
    def space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.config["space"])

    def refresh(self) -> StudyRecord:
        self.record = self.store.get_study(self.id)
        return self.record

    def trials(self) -> list[TrialRecord]:
        return self.store.trials(self.id)

    def status(self) -> str:
        return effective_status(self.refresh(), self.store.study_pid(self.id))

    def best_trial(self) -> TrialRecord | None:
        finished = [trial for trial in self.trials() if trial.status == "succeeded"]
        if not finished:
            return None
        return max(finished, key=lambda trial: (score_of(trial, self.record.direction), -trial.number))

    def best_model(self, trust: bool = False) -> Any:
        from tidal.models import ModelPackage

        uri = self.refresh().best_model_uri
        if not uri:
            raise TidalError(f"study {self.id} has no successful trial yet, so no best model")
        return ModelPackage.load(self.workspace.artifacts.local_path(uri), trust=trust)

    def to_dict(self) -> dict[str, Any]:
        record = self.refresh()
        trials = self.trials()
        return {
            "id": record.id, "name": record.name, "status": effective_status(record, self.store.study_pid(self.id)),
            "strategy": record.strategy, "metric": record.metric, "direction": record.direction, "budget": record.budget,
            "trainer": record.config.get("trainer"), "label": record.config.get("label"),
            "created_at": record.created_at.isoformat() if record.created_at else None,
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
            "best_trial": record.best_trial, "best_value": record.best_value, "best_model_uri": record.best_model_uri,
            "error": record.error, "search_space": record.config.get("space"), "options": record.config.get("options"),
            "counts": {status: sum(1 for t in trials if t.status == status) for status in sorted({t.status for t in trials})},
            "trials": [trial.to_dict() for trial in trials],
        }

    def report(self) -> Any:
        """The study's :class:`~tidal.core.Metrics`: best value and counts, and Vega-Lite charts (best so far,
        parallel coordinates, parameter importance; intermediate values of pruned trials; PBT lineage)."""
        from tidal.automl._report import report

        record = self.refresh()
        return report(self.trials(), self.space, metric=record.metric, direction=record.direction, study_id=record.id)

    def mark_cancelled(self, reason: str = "cancelled by the user") -> StudyRecord:
        """Record a study whose controller is gone (killed with the run that held it) as cancelled; its
        unfinished trials too. A study still running elsewhere is refused: stop its controller instead."""
        status = self.status()
        if status == "running":
            raise TidalError(f"study {self.id} is still running in process {self.store.study_pid(self.id)}; "
                             "stop that process (Ctrl-C) or the run that holds it")
        if status != "interrupted":
            return self.record
        for trial in self.trials():
            if not trial.finished:
                self.store.save_trial(replace(trial, status="cancelled", error=reason, finished_at=now()))
        self.store.update_study(self.id, status="cancelled", error=reason, finished_at=now())
        return self.refresh()

    def register_best(self, name: str, *, alias: str | None = None) -> int:
        """Register the best model in the workspace's model registry; returns the version number."""
        from tidal.models import ModelRegistry

        record = self.refresh()
        if not record.best_model_uri:
            raise TidalError(f"study {self.id} has no best model to register yet")
        version = ModelRegistry(self.workspace).register_artifact(
            record.best_model_uri, name, alias=alias, description=f"best of AutoML study {self.id} ({record.name})",
            tags={"study": self.id, "metric": record.metric, "value": str(record.best_value)},
        )
        return int(version.version)

    # -- running ---------------------------------------------------------------------------------
    def optimize(
        self,
        *,
        workers: int | None = None,
        executor: Executor | str = "local",
        on_event: EventHandler | None = None,
        cancel: threading.Event | None = None,
        address: str | None = None,
    ) -> StudyRecord:
        """Run trials until the budget is spent; returns the study record (check ``status``).

        ``executor="ray"`` runs the trials as Ray tasks on the cluster at ``address`` (or
        ``RAY_ADDRESS``, or a Ray started here); ``workers`` then caps the trials in flight."""
        if workers is None and executor != "ray":
            workers = int(self.config.get("workers") or max(1, min(4, os.cpu_count() or 1)))
        # trials run side by side: each worker gets its share of the cores for its native thread pools, or
        # OpenMP's spinning threads (LightGBM's, XGBoost's) oversubscribe them (measured: 117 s -> 14 s for
        # the 12 LightGBM trials of examples/automl.yaml on 2 cores)
        threads = max(1, visible_cpus() // workers) if workers and workers > 1 else None
        chosen = executor if not isinstance(executor, str) else make_executor(executor, workers, address=address,
                                                                               threads=threads)
        try:
            chosen.check({}, self.workspace.artifacts)  # artifacts every machine of the executor can reach
        except BaseException:
            chosen.shutdown()
            raise
        run = _Controller(self, chosen, on_event)
        self.store.update_study(self.id, status="running", started_at=self.record.started_at or now(), error=None,
                                finished_at=None, pid=os.getpid())
        status, error = "succeeded", None
        try:
            run.loop(cancel)
            if not any(trial.status == "succeeded" for trial in run.trials.values()):
                status, error = "failed", "no trial succeeded; see the trials' errors with `tidal studies show`"
        except KeyboardInterrupt:
            run.cancel()
            status, error = "cancelled", "cancelled by the user"
        except BaseException as crash:
            run.cancel()
            self.store.update_study(self.id, status="failed", error=f"controller error: {crash}", finished_at=now())
            raise
        finally:
            chosen.shutdown()
        if status == "succeeded":
            self._finish_best()
        self.store.update_study(self.id, status=status, error=error, finished_at=now())
        record = self.refresh()
        run.emit("finished", error=error)
        return record

    def _finish_best(self) -> None:
        best = self.best_trial()
        if best is None:
            return
        uri = best.model_uri
        config = self.config
        full = (config.get("data") or {}).get("full")
        if config.get("refit") and full and self.record.strategy != "pbt" and not config.get("pruner"):
            frame = pd.read_parquet(self.workspace.artifacts.local_path(full["uri"]))
            model = fit_once(config["trainer"], frame, config["label"], {**config.get("params", {}), **best.params})
            model.lineage = {"study_id": self.id, "trial": best.number, "refit": True}
            staging = self.workspace.artifacts.staging_dir()
            path, suffix, _ = write_value(model, "Model", staging)
            uri, _, _ = self.workspace.artifacts.put_content_addressed(path, suffix)
        self.store.update_study(self.id, best_trial=best.number, best_value=best.value, best_model_uri=uri)


class _Controller:
    def __init__(self, study: Study, executor: Executor, on_event: EventHandler | None) -> None:
        self.study = study
        self.executor = executor
        self.on_event = on_event
        self.config = study.config
        record = study.record
        self.strategy = make_strategy(record.strategy, study.space, direction=record.direction, budget=record.budget,
                                      seed=int(self.config.get("seed", 0)), options=self.config.get("options"))
        self.trials = {trial.number: trial for trial in study.trials()}
        self.strategy.restore(list(self.trials.values()))
        self.running: set[int] = set()
        self.best: TrialRecord | None = study.best_trial()

    def emit(self, status: str, trial: TrialRecord | None = None, error: str | None = None) -> None:
        if self.on_event is None:
            return
        finished = sum(1 for item in self.trials.values() if item.finished)
        self.on_event(StudyEvent(
            self.study.id, status, trial.number if trial else None, trial.status if trial else None,
            trial.value if trial else None, self.best.value if self.best else None,
            self.best.number if self.best else None, finished, self.strategy.budget if hasattr(self.strategy, "budget") else 0,
            error or (trial.error if trial else None),
        ))

    def loop(self, cancel: threading.Event | None) -> None:
        self.emit("started")
        # trials that were running when the controller stopped run again, with the same parameters
        queue = [trial for trial in sorted(self.trials.values(), key=lambda item: item.number) if not trial.finished]
        while True:
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            while queue and len(self.running) < self.executor.capacity:
                trial = queue.pop(0)
                self.submit(trial.number, Suggestion(trial.params, trial.meta), attempts=trial.attempts)
            while not queue and len(self.running) < self.executor.capacity and not self.strategy.done:
                suggestion = self.strategy.ask()
                if suggestion is None:
                    break
                self.submit(max(self.trials, default=-1) + 1, suggestion)
            if not self.running and not queue:
                return
            for result in self.executor.wait(timeout=0.5):
                self.collect(result)

    def submit(self, number: int, suggestion: Suggestion, attempts: int = 0) -> None:
        config = self.config
        data = config["data"]
        inputs = {
            "train": InputArtifact(data["train"]["uri"], "Table", data["train"]["size"], data["train"]["rows"]),
            "valid": InputArtifact(data["valid"]["uri"], "Table", data["valid"]["size"], data["valid"]["rows"]),
        }
        params: dict[str, Any] = {
            "trainer": config["trainer"], "label": config["label"], "metric": self.study.record.metric,
            "direction": self.study.record.direction, "params": {**config.get("params", {}), **suggestion.params},
            "trainer_module": registry.get(config["trainer"]).func.__module__,
        }
        meta = dict(suggestion.meta)
        if self.study.record.strategy == "pbt":
            params["steps"] = int(meta.get("steps", 1))
            parent = meta.get("parent")
            if parent is not None:
                source = self.trials[int(parent)]
                if source.model_uri:
                    inputs["checkpoint"] = InputArtifact(source.model_uri, "Model", 0)
        elif config.get("pruner") and config["trainer"] in ITERATIVE:
            params.update(steps=int(config.get("steps") or 100), report_every=int(config.get("report_every") or 10),
                          pruner=config["pruner"], reference=self.reference())
        trial = TrialRecord(self.study.id, number, "running", params=dict(suggestion.params), meta=meta,
                            attempts=attempts + 1, started_at=now())
        self.trials[number] = trial
        self.study.store.save_trial(trial)
        task = NodeTask(
            run_id=self.study.id, node_id=f"trial-{number}", component=TRIAL_COMPONENT, params=params, inputs=inputs,
            artifacts_uri=self.study.workspace.artifacts_uri, storage_options=self.study.workspace.storage_options,
            workdir=str(self.study.workspace.root), attempt=trial.attempts, timeout=config.get("timeout"),
            module=TRIAL_MODULE,
        )
        self.running.add(number)
        self.emit("trial_started", trial)
        self.executor.submit(task)

    def reference(self) -> dict[str, list[float]]:
        """What finished trials scored at each step (for early stopping)."""
        found: dict[str, list[float]] = {}
        for trial in self.trials.values():
            if trial.finished:
                for point in trial.meta.get("intermediate", []):
                    found.setdefault(str(point["step"]), []).append(point["value"])
        return found

    def collect(self, result: TaskResult) -> None:
        number = int(result.node_id.split("-", 1)[1])
        self.running.discard(number)
        trial = self.trials[number]
        trial = replace(trial, finished_at=now(), duration_s=result.duration_s, log_uri=result.log_uri)
        if result.ok:
            outputs = {item.port: item for item in result.outputs}
            scores = json.loads(self.study.workspace.artifacts.local_path(outputs["scores"].uri).read_text())
            values = scores.get("metrics", {})
            trial.metrics = {k: v for k, v in values.items() if k not in ("value", "pruned", "pruned_at")}
            trial.value = values.get("value")
            trial.model_uri = outputs["model"].uri
            intermediate = (scores.get("tables") or {}).get("intermediate")
            if intermediate:
                trial.meta = {**trial.meta, "intermediate": intermediate}
            if values.get("pruned"):
                trial.status = "pruned"
                trial.meta = {**trial.meta, "pruned_at": values.get("pruned_at")}
            else:
                trial.status = "succeeded"
        else:
            kinds = {"timeout": "timeout", "crash": "crashed"}
            trial.status = kinds.get(result.error_kind or "", "failed")
            trial.error, trial.error_kind = result.error, result.error_kind
        self.trials[number] = trial
        self.study.store.save_trial(trial)
        if trial.status == "succeeded" and (
            self.best is None or score_of(trial, self.study.record.direction) > score_of(self.best, self.study.record.direction)
        ):
            self.best = trial
            self.study.store.update_study(self.study.id, best_trial=trial.number, best_value=trial.value,
                                          best_model_uri=trial.model_uri)
        self.strategy.tell(trial)
        self.emit("trial_finished", trial)

    def cancel(self) -> None:
        self.executor.cancel()
        for number in list(self.running):
            trial = replace(self.trials[number], status="cancelled", error="cancelled by the user", finished_at=now())
            self.trials[number] = trial
            self.study.store.save_trial(trial)
        self.running.clear()


def _takes_mapping(param: Any) -> bool:
    """Whether a parameter's type admits a mapping (``dict[...]``, maybe ``| None``)."""
    import types
    import typing

    def mapping(annotation: Any) -> bool:
        origin = typing.get_origin(annotation)
        if annotation is dict or origin is dict:
            return True
        if origin is typing.Annotated:
            return mapping(typing.get_args(annotation)[0])
        return origin in (typing.Union, types.UnionType) and any(mapping(item) for item in typing.get_args(annotation))

    return mapping(param.annotation)
