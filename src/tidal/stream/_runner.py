"""The stream job runner: source -> steps -> sinks, one micro-batch (an *epoch*) at a time, exactly once.

The protocol, per epoch ``n`` (as Spark Structured Streaming's offset and commit logs):

1. *Intent*: read a micro-batch from the checkpointed position; write ``intent`` = {epoch n, the
   batch's end position} atomically before anything else. A restart that finds the intent of the
   epoch it is about to run reads exactly that range again, so the epoch has the same rows.
2. *Process*: the steps turn (state, rows) into (state, output); rows they set aside (late,
   malformed) and malformed messages go to the dead letters with reason and offset.
3. *Sinks*: each sink writes its part file for epoch ``n`` (idempotent: rewritten on replay).
   Accepted learner snapshots are written as model packages named by their number.
4. *Commit*: ``checkpoint`` = {epoch n + 1, end position, every step's state, counters}, atomic
   and checksummed. Only now is epoch ``n`` done.

Killed anywhere (``kill -9``), the job restarts from its checkpoint, replays epoch ``n`` with the
same rows and the same state and rewrites the same parts: outputs and final state equal those of
an uninterrupted run. Kafka offsets live only in the checkpoint (the consumer seeks to them); no
consumer-group commit is needed for our own state.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tidal.core._errors import DataError
from tidal.stream import _checkpoint
from tidal.stream._endpoints import open_sink, open_source
from tidal.stream._job_spec import JobSpec
from tidal.stream._learn_step import LearnFTRL
from tidal.stream._sinks import DeadLetterSink
from tidal.stream._sources import TableSource
from tidal.stream._steps import build


@dataclass
class Progress:
    epoch: int
    rows: int
    rows_per_second: float
    lag: int | None
    dead: int


#: how often a running job reads its source's lag for its status when no live progress asks for it (seconds)
LAG_EVERY_S = 1.0


class StreamJob:
    """A running job over a :class:`JobSpec`; ``run`` processes epochs until told to stop."""

    def __init__(self, spec: JobSpec, *, source: Any = None) -> None:
        self.spec = spec
        self.folder = spec.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path, self.intent_path = self.folder / "checkpoint", self.folder / "intent"
        self.steps = [(step.id, build(step.component, step.params, where=f"step '{step.id}' ({step.component})",
                                      workspace=spec.workspace)) for step in spec.steps]
        self.sinks: list[tuple[str | None, Any]] = []
        self.source = source or self._source()
        self.dead = DeadLetterSink(spec.dead_letter or self.folder / "dead-letter")
        self.epoch, self.rows, self.dead_count, self.outputs = 0, 0, 0, 0
        self.columns: list[str] | None = None
        self.schema_changes: list[str] = []
        self.stopping = False
        try:
            self.sinks += [(s.get("after"), self._sink(s)) for s in spec.sinks]
            self._restore()
        except BaseException:
            self.close()  # an HTTP source's server, a Redis connection: nothing left open
            raise

    def _source(self) -> Any:
        return open_source(self.spec.source, self.spec)

    def _sink(self, sink: dict[str, Any]) -> Any:
        return open_sink(sink, self.spec)

    # -- checkpoint -------------------------------------------------------------------------------
    def _restore(self) -> None:
        document = _checkpoint.load(self.checkpoint_path)
        if document is None:
            return
        if document.get("job") != self.spec.name or document.get("source_kind") != self.source.kind:
            raise DataError(f"checkpoint {self.checkpoint_path} belongs to job {document.get('job')!r} reading a "
                            f"{document.get('source_kind')} source, not this one; delete the folder to start over")
        states = document["steps"]
        if [name for name, _op in self.steps] != list(states):
            raise DataError(f"checkpoint {self.checkpoint_path}: the job's steps changed since it was written "
                            f"({', '.join(states)} then); delete {self.folder} to start the job over")
        for name, operator in self.steps:
            operator.load(states[name])
        self.source.seek(document["position"])
        self.epoch, self.rows, self.dead_count, self.outputs = (int(document[k]) for k in ("epoch", "rows", "dead", "outputs"))
        self.columns = document.get("columns")
        self.schema_changes = list(document.get("schema_changes", []))

    def _commit(self, position: dict[str, Any]) -> None:
        _checkpoint.save(self.checkpoint_path, {
            "job": self.spec.name, "source_kind": self.source.kind, "epoch": self.epoch, "position": position,
            "rows": self.rows, "dead": self.dead_count, "outputs": self.outputs, "columns": self.columns,
            "schema_changes": self.schema_changes[-100:], "steps": {name: op.state() for name, op in self.steps}})

    def learner_state(self) -> dict[str, Any] | None:
        for _name, operator in self.steps:
            if isinstance(operator, LearnFTRL):
                return operator.learner.state()
        return None

    # -- one epoch --------------------------------------------------------------------------------
    def step(self) -> int | None:
        """Run one epoch; ``None`` when the source had nothing new (and no epoch was begun)."""
        intent = _checkpoint.load(self.intent_path)
        until = intent["end"] if intent is not None and intent.get("epoch") == self.epoch else None
        batch = self.source.read(self.spec.max_rows, until)
        if until is None:
            if not batch.rows and not batch.dead:
                return None
            _checkpoint.save(self.intent_path, {"epoch": self.epoch, "end": batch.end})
        frame = batch.frame
        self._check_schema(frame)
        dead = list(batch.dead)
        proposed: list[dict[str, Any]] = []
        outputs: dict[str, pd.DataFrame] = {}
        for name, operator in self.steps:
            result = operator.process(frame)
            frame = outputs[name] = result.frame
            if result.late is not None and len(result.late):
                dead += [{"reason": result.reason, "step": name, "row": json.dumps(row, default=str)}
                         for row in result.late.to_dict("records")]
            if isinstance(operator, LearnFTRL):
                proposed += operator.proposed
        for after, sink in self.sinks:
            sink.write(self.epoch, outputs[after] if after else frame)
        self.dead.write(self.epoch, dead)
        for snapshot in proposed:
            self._snapshot(snapshot, frame)
        self.rows += len(batch.rows)
        self.dead_count += len(dead)
        self.outputs += len(frame)
        self.epoch += 1
        self._commit(batch.end)
        if proposed and self.spec.model_name:
            self._register_snapshots()
        return len(batch.rows) + len(batch.dead)

    def _check_schema(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        columns = [str(c) for c in frame.columns]
        if self.columns is not None and set(columns) != set(self.columns):
            added = [c for c in columns if c not in self.columns]
            missing = [c for c in self.columns if c not in columns]
            self.schema_changes.append(f"epoch {self.epoch}: schema changed: added {added or 'none'}, missing {missing or 'none'}")
        self.columns = columns

    def _snapshot(self, snapshot: dict[str, Any], frame: pd.DataFrame) -> None:
        folder = self.folder / "snapshots"
        record = {k: v for k, v in snapshot.items() if k != "state"}
        _checkpoint.write_atomic(folder / f"snapshot-{snapshot['index']:05d}.json", json.dumps(record, sort_keys=True).encode())
        if snapshot["state"] is None:
            return
        from tidal.models import ModelPackage
        from tidal.stream._flavor import StreamModel
        from tidal.stream._ftrl import FTRLLogisticRegression

        learn = next(op for _n, op in self.steps if isinstance(op, LearnFTRL))
        learner = FTRLLogisticRegression.from_state(snapshot["state"])
        sample = pd.DataFrame({name: [0.0] for name in learn.features})
        package = ModelPackage.from_estimator(StreamModel(learner, [0, 1]), sample, features=learn.features, task="binary",
                                              label=learn.label, classes=[0, 1], metadata={"rows_seen": learner.n_seen, "job": self.spec.name})
        target = folder / f"model-{snapshot['index']:05d}"
        staging = folder / f".model-{snapshot['index']:05d}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        package.save(staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)

    def _register_snapshots(self) -> None:
        """Register committed, accepted snapshots not registered yet (a ledger keeps each to one version).

        It runs after the checkpoint: a snapshot is registered only once the state it came from is
        committed. A kill between registering and updating the ledger registers it again on restart;
        the registry answers the same package under the same name with its existing version.
        """
        from tidal.models import ModelRegistry
        from tidal.store import Workspace

        ledger_path = self.folder / "snapshots" / "registered.json"
        ledger = json.loads(ledger_path.read_text()) if ledger_path.exists() else {}
        learn = next((op for _n, op in self.steps if isinstance(op, LearnFTRL)), None)
        committed = learn.snapshots if learn is not None else 0
        pending = [path for path in sorted((self.folder / "snapshots").glob("model-*"))
                   if path.name not in ledger and int(path.name.split("-")[1]) <= committed]
        if not pending:
            return
        registry = ModelRegistry(Workspace.open(self.spec.workspace))
        assert self.spec.model_name is not None
        for path in pending:
            version = registry.register(path, self.spec.model_name, tags={"stream_job": self.spec.name, "snapshot": path.name})
            ledger[path.name] = version.version
            _checkpoint.write_atomic(ledger_path, json.dumps(ledger, sort_keys=True).encode())

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, *, max_batches: int | None = None, until_idle: bool = False,
            on_progress: Callable[[Progress], None] | None = None) -> Progress:
        started, done_rows, batches, empty = time.monotonic(), 0, 0, 0
        lag: int | None = None
        lag_read = -LAG_EVERY_S
        previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
        if previous is not None:
            signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        (self.folder / "pid").write_text(str(os.getpid()))
        if self.spec.model_name:
            self._register_snapshots()
        progress = Progress(self.epoch, self.rows, 0.0, None, self.dead_count)
        try:
            while not self.stopping and (max_batches is None or batches < max_batches):
                count = self.step()
                if count is None:
                    empty += 1
                    # idle: nothing left to read (a reassigned Kafka consumer may answer empty while it fetches;
                    # a file may end in a partial line, never read until it is finished)
                    if until_idle and (empty >= 10 or self.source.lag() == 0):
                        break
                    if not until_idle:
                        time.sleep(self.spec.poll_seconds)
                    continue
                empty = 0
                batches += 1
                done_rows += count
                elapsed = max(time.monotonic() - started, 1e-9)
                progress = Progress(self.epoch, self.rows, done_rows / elapsed, lag, self.dead_count)
                now = time.monotonic()
                if on_progress is not None or now - lag_read >= LAG_EVERY_S:  # the status file (the Studio) shows it too
                    progress.lag = lag = self.source.lag()
                    lag_read = now
                if on_progress is not None:
                    on_progress(progress)
                self._status("running", progress)
            self._status("stopped", progress)
            return progress
        except BaseException:
            self._status("failed", progress)
            raise
        finally:
            (self.folder / "pid").unlink(missing_ok=True)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _status(self, state: str, progress: Progress) -> None:
        status = {"job": self.spec.name, "state": state, "pid": os.getpid(), "epoch": self.epoch, "rows": self.rows,
                  "outputs": self.outputs, "dead_letters": self.dead_count, "rows_per_second": round(progress.rows_per_second, 1),
                  "lag": progress.lag, "schema_changes": self.schema_changes[-10:], "updated": time.time(),
                  "registered_model": self.spec.model_name}
        _checkpoint.write_atomic(self.folder / "status.json", json.dumps(status, indent=1).encode())

    def close(self) -> None:
        self.source.close()
        for _after, sink in self.sinks:
            if hasattr(sink, "close"):
                sink.close()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run_table(spec: JobSpec, table: pd.DataFrame) -> StreamJob:
    """A job over an in-memory table (tests, and the components' one-batch runs)."""
    return StreamJob(spec, source=TableSource(table))
