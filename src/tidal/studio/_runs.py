"""Runs started from the Studio: each in a background thread, its events kept for the live stream."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tidal.core import TidalError
from tidal.pipeline import Pipeline
from tidal.runtime import RunEvent, check_code_allowed, run_pipeline
from tidal.runtime._events import new_run_id
from tidal.runtime._run import check_executor_choice
from tidal.store import Workspace

#: finished runs whose events stay in memory (older ones replay from the store)
KEEP_FINISHED = 100


class ExecutorNotEnabled(TidalError):
    """A run asked for an executor that the operator did not enable on this Studio (403)."""


@dataclass
class ActiveRun:
    """A run this server started: its events so far, and the switch that cancels it."""

    id: str
    nodes: list[str]
    cancel: threading.Event = field(default_factory=threading.Event)
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.events.append({**event, "seq": len(self.events), "time": time.time()})

    def since(self, index: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events[index:])


class RunManager:
    """Starts runs with :func:`tidal.run` in threads; feeds each run's :class:`RunEvent` s to watchers."""

    def __init__(self, workspace: Workspace, workers: int | None = None, *, allow_code: bool = False,
                 executor: str = "local", address: str | None = None) -> None:
        check_executor_choice(executor, workers, address)
        self.workspace = workspace
        self.workers = workers
        #: the operator's switch (``tidal studio --allow-code``) for components that run code from the pipeline
        self.allow_code = allow_code
        #: where runs go unless a request picks another of :attr:`executors` (``tidal studio --executor``)
        self.executor = executor
        #: the Ray cluster, chosen by the operator (``--address``); a request never names a cluster
        self.address = address
        self.runs: dict[str, ActiveRun] = {}
        self.lock = threading.Lock()

    @property
    def executors(self) -> list[str]:
        """The executors a request may pick: the operator's choice first, and always local worker processes."""
        return list(dict.fromkeys([self.executor, "local"]))

    def start(
        self,
        pipeline: Pipeline,
        *,
        until: str | None = None,
        from_node: str | None = None,
        cache: bool = True,
        executor: str | None = None,
    ) -> ActiveRun:
        """Start a run (already validated by the caller) and return at once with its id.

        Raises :class:`~tidal.core.CodeNotAllowed` at once, before any thread starts, when the
        nodes to run include one that runs code from the pipeline and this server does not allow it,
        and :class:`ExecutorNotEnabled` for an executor the operator did not enable.
        """
        kind = executor or self.executor
        if kind not in self.executors:
            raise ExecutorNotEnabled(
                f"the {kind} executor is not enabled on this Studio (enabled: {', '.join(self.executors)}); "
                f"whoever starts the Studio enables it: `tidal studio --executor {kind}"
                + (" [--address HOST:6379]`" if kind == "ray" else "`"))
        run_id = new_run_id()
        selected = sorted(pipeline.ancestors(until) | {until}) if until else list(pipeline.nodes)
        check_code_allowed(pipeline.subset(set(selected)) if until else pipeline, self.allow_code)
        active = ActiveRun(run_id, [node for node in pipeline.nodes if node in selected])
        for node in active.nodes:
            active.add({"run_id": run_id, "status": "queued", "node_id": node})
        with self.lock:
            finished = [key for key, item in self.runs.items() if item.done]
            for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
                del self.runs[key]
            self.runs[run_id] = active

        def on_event(event: RunEvent) -> None:
            active.add(dataclasses.asdict(event))

        def work() -> None:
            try:
                run_pipeline(
                    pipeline,
                    workspace=self.workspace,
                    workers=self.workers if kind == self.executor else None,
                    executor=kind,
                    address=self.address if kind == "ray" else None,
                    cache=cache,
                    until=until,
                    from_node=from_node,
                    on_event=on_event,
                    cancel=active.cancel,
                    run_id=run_id,
                    allow_code=self.allow_code,
                )
            except Exception as error:  # reported on the stream; the run row says the same
                active.add({"run_id": run_id, "status": "failed", "node_id": None, "error": f"{type(error).__name__}: {error}"})
            finally:
                active.done = True
                active.add({"run_id": run_id, "status": "end", "node_id": None})

        threading.Thread(target=work, name=f"tidal-run-{run_id}", daemon=True).start()
        return active

    def get(self, run_id: str) -> ActiveRun | None:
        with self.lock:
            return self.runs.get(run_id)

    def cancel(self, run_id: str) -> bool:
        active = self.get(run_id)
        if active is None or active.done:
            return False
        active.cancel.set()
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        with self.lock:
            running = [active for active in self.runs.values() if not active.done]
        for active in running:
            active.cancel.set()
        deadline = time.monotonic() + timeout
        while any(not active.done for active in running) and time.monotonic() < deadline:
            time.sleep(0.05)
