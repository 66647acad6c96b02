"""AutoML studies from the Studio: start one from a pipeline's ``automl.tune`` node, stop it, resume it.

A study starts as a pipeline run up to its ``automl.tune`` node (the run and its outputs land in the
history like any other); the tune node records that run as the study's origin. Stopping such a
study cancels its run, which ends the node's worker process, and then records the study and its
unfinished trials as cancelled. A resumed study runs in this server's process, in a thread, through
:func:`tidal.automl.Study.optimize` (as ``tidal studies resume`` does); stopping it sets its cancel
switch. A study whose controller is another process (``tidal tune`` in a terminal) is not stopped
from here: the server answers 409 and names the process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tidal.automl import Study, effective_status, load_study
from tidal.core._errors import TidalError
from tidal.pipeline import Pipeline
from tidal.store import Workspace
from tidal.studio._runs import ActiveRun, RunManager

TUNE_COMPONENT = "automl.tune"
#: how long a stop waits for the run that holds the study to end before it records the study as cancelled
STOP_WAIT_S = 30.0
log = logging.getLogger(__name__)


class StudyBusy(TidalError):
    """The study is running under a controller this server cannot stop or already controls (answered with 409)."""


@dataclass
class ResumedStudy:
    """A study this server resumed: its thread and the switch that stops it."""

    study_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def tune_node(pipeline: Pipeline, node: str | None) -> str:
    """The ``automl.tune`` node to start: the one named, or the pipeline's only one."""
    tunes = [
        node_id for node_id, item in pipeline.nodes.items() if item.component == TUNE_COMPONENT
    ]
    if node is None:
        if len(tunes) == 1:
            return tunes[0]
        if not tunes:
            raise TidalError(
                f"pipeline '{pipeline.name}' has no {TUNE_COMPONENT} node; add one to start a study"
            )
        raise TidalError(
            f"pipeline '{pipeline.name}' has {len(tunes)} {TUNE_COMPONENT} nodes ({', '.join(tunes)}); "
            "name the one to start in 'node'"
        )
    if node not in pipeline.nodes:
        raise TidalError(
            f"there is no node '{node}' in pipeline '{pipeline.name}' (its {TUNE_COMPONENT} nodes: "
            f"{', '.join(tunes) or 'none'})"
        )
    if node not in tunes:
        raise TidalError(
            f"node '{node}' is a {pipeline.nodes[node].component}, not an {TUNE_COMPONENT} node; "
            f"a study starts from one ({', '.join(tunes) or 'the pipeline has none'})"
        )
    return node


class StudyManager:
    """Starts, stops and resumes studies for the Studio; everything else is read from the study store."""

    def __init__(self, workspace: Workspace, runs: RunManager) -> None:
        self.workspace = workspace
        self.runs = runs
        self.resumed: dict[str, ResumedStudy] = {}
        self.lock = threading.Lock()

    def start(self, pipeline: Pipeline, node: str | None) -> tuple[ActiveRun, str]:
        """Run ``pipeline`` up to its tune node; the study appears in the list once that node starts."""
        chosen = tune_node(pipeline, node)
        return self.runs.start(pipeline, until=chosen), chosen

    def holding_run(self, study: Study) -> ActiveRun | None:
        """The run of this server that holds the study (the pipeline run its tune node belongs to), while it runs."""
        origin = study.config.get("origin") or {}
        active = self.runs.get(str(origin.get("run_id"))) if origin.get("run_id") else None
        return active if active is not None and not active.done else None

    def controlled(self, study: Study) -> bool:
        """This server can stop the study now (it resumed it, or one of its runs holds it)."""
        with self.lock:
            resumed = self.resumed.get(study.id)
        return (resumed is not None and resumed.alive) or self.holding_run(study) is not None

    def stop(self, study_id: str) -> Study:
        study = load_study(study_id, self.workspace)
        with self.lock:
            resumed = self.resumed.get(study.id)
        if resumed is not None and resumed.alive:
            resumed.cancel.set()  # the controller records the study and its running trials as cancelled
            return study
        run = self.holding_run(study)
        if run is not None:
            self.runs.cancel(run.id)
            threading.Thread(
                target=self._record_stopped,
                args=(study, run),
                name=f"tidal-stop-{study.id}",
                daemon=True,
            ).start()
            return study
        status = study.status()
        if status == "running":
            raise StudyBusy(
                f"study {study.id} runs in another process (pid {study.store.study_pid(study.id)}), "
                "not under this Studio; stop it there (Ctrl-C in its terminal)"
            )
        raise StudyBusy(
            f"study {study.id} is not running (status {status}); there is nothing to stop"
        )

    def _record_stopped(self, study: Study, run: ActiveRun) -> None:
        deadline = time.monotonic() + STOP_WAIT_S
        while not run.done and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            study.mark_cancelled("stopped from the Studio")
        except TidalError as error:  # still running somehow: leave it as it is, say so in the log
            log.warning("study %s was not marked cancelled: %s", study.id, error)

    def resume(self, study_id: str) -> Study:
        """Continue the study in this process, in a thread; finished trials are kept, never rerun."""
        study = load_study(study_id, self.workspace)
        if study.record.status == "succeeded":
            raise TidalError(f"study {study.id} already finished; there is nothing to resume")
        if self.controlled(study) or study.status() == "running":
            raise StudyBusy(f"study {study.id} is running already; stop it before resuming it")
        resumed = ResumedStudy(study.id)
        workers, executor, address = self.runs.workers, self.runs.executor, self.runs.address

        def work() -> None:
            try:
                study.optimize(workers=workers, executor=executor, address=address, cancel=resumed.cancel)
            except Exception:  # recorded on the study itself (status failed, its error)
                log.exception("study %s failed", study.id)

        resumed.thread = threading.Thread(target=work, name=f"tidal-study-{study.id}", daemon=True)
        with self.lock:
            self.resumed[study.id] = resumed
        resumed.thread.start()
        return study

    def shutdown(self, timeout: float = 10.0) -> None:
        with self.lock:
            running = [item for item in self.resumed.values() if item.alive]
        for item in running:
            item.cancel.set()
        deadline = time.monotonic() + timeout
        for item in running:
            if item.thread is not None:
                item.thread.join(max(0.0, deadline - time.monotonic()))


def summary_of(study: Study, counts: dict[str, int], controlled: bool) -> dict[str, Any]:
    record = study.record
    origin = (record.config or {}).get("origin") or {}
    return {
        "id": record.id,
        "name": record.name,
        "status": effective_status(record, study.store.study_pid(record.id)),
        "strategy": record.strategy,
        "metric": record.metric,
        "direction": record.direction,
        "budget": record.budget,
        "trainer": (record.config or {}).get("trainer"),
        "label": (record.config or {}).get("label"),
        "trials": sum(counts.values()),
        "counts": counts,
        "best_value": record.best_value,
        "best_trial": record.best_trial,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "error": record.error,
        "run_id": origin.get("run_id"),
        "node_id": origin.get("node_id"),
        "controlled": controlled,
    }
