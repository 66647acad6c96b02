"""The run engine: schedules a pipeline's nodes on an executor, with caching, retries and resume."""

from __future__ import annotations

import heapq
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tidal.core._registry import BUILTIN_PACKAGE, registry
from tidal.core._resources import Resources
from tidal.pipeline._graph import Pipeline
from tidal.pipeline._validate import check
from tidal.runtime._cache import FileFingerprints, key_document, key_from
from tidal.runtime._estimate import apply_estimates
from tidal.runtime._events import EventHandler, RunEvent, new_run_id
from tidal.runtime._executor import Executor, LocalExecutor, make_executor
from tidal.runtime._model_inputs import ResolvedModel, model_registry, resolve_model_inputs
from tidal.runtime._plan_memo import NodeMemo, cached_records, write_memo
from tidal.runtime._preflight import check_code_allowed, resource_requests
from tidal.runtime._result import RunResult
from tidal.runtime._run import run_options, stored_path
from tidal.runtime._worker import InputArtifact, NodeTask, TaskResult
from tidal.store._metadata import ArtifactRecord, NodeRunRecord, RunRecord, now
from tidal.store._workspace import Workspace

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "cached")
#: how long the scheduling loop may keep the records of quick nodes before it writes them (one transaction
#: for many nodes instead of one per round); a node that ran longer than this, and any failure, retry, skip
#: or cancellation, is written at once, so a crash loses at most this much work per node in flight
RECORD_DELAY_S = 0.05


@dataclass
class _NodeState:
    status: str = "pending"
    outputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    attempts: int = 0
    cache_key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    started_at: Any = None
    #: what the plan memo keeps of this node (None where the node cannot be served from a memo)
    memo: NodeMemo | None = None


class _Run:
    def __init__(
        self,
        pipeline: Pipeline,
        workspace: Workspace,
        run: RunRecord,
        executor: Executor,
        *,
        use_cache: bool,
        force: set[str],
        trust: bool,
        allow_code: bool = False,
        on_event: EventHandler | None,
        reused: dict[str, tuple[NodeRunRecord, list[ArtifactRecord]]],
        models: dict[tuple[str, str], ResolvedModel] | None = None,
        requests: dict[str, Resources] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.workspace = workspace
        self.store = workspace.metadata
        self.artifacts = workspace.artifacts
        self.run = run
        self.executor = executor
        self.use_cache = use_cache
        self.force = force
        self.trust = trust
        self.allow_code = allow_code
        self.on_event = on_event
        self.reused = reused
        self.models = models or {}
        self.requests = requests or {}
        self.fingerprints = FileFingerprints()
        self.states = {node_id: _NodeState() for node_id in pipeline.nodes}
        self.order = pipeline.topological_order()
        self.parents = {node_id: tuple(pipeline.upstream(node_id)) for node_id in self.order}
        #: ready nodes without a scan of every node each round: each node's count of unfinished parents, and a
        #: heap (by topological position) of the nodes whose count reached zero
        self.position = {node_id: index for index, node_id in enumerate(self.order)}
        self.children: dict[str, list[str]] = {node_id: [] for node_id in self.order}
        for node_id, parents in self.parents.items():
            for parent in parents:
                self.children[parent].append(node_id)
        self.unfinished = {node_id: len(parents) for node_id, parents in self.parents.items()}
        self._ready = [self.position[node_id] for node_id, count in self.unfinished.items() if count == 0]
        heapq.heapify(self._ready)
        self.running: set[str] = set()
        #: while the scheduling loop runs: node records and events kept until the loop writes them, all in one
        #: transaction, just before it waits on the workers (nodes are handed out first, recorded second)
        self._pending: list[tuple[NodeRunRecord | None, list[ArtifactRecord] | None, RunEvent | None]] | None = None
        self._flushed_at = 0.0
        self._urgent = False  # a kept record that must not wait (see RECORD_DELAY_S)

    # -- events and records ------------------------------------------------------------------
    def emit(self, status: str, node_id: str | None = None, **details: Any) -> None:
        if self.on_event is None:
            return
        event = RunEvent(self.run.id, status, node_id, **details)
        if self._pending is not None:  # after the records before it are written
            self._pending.append((None, None, event))
            return
        self.on_event(event)

    def flush(self) -> None:
        """Write the kept node records in one transaction, then send the kept events, in order."""
        pending, self._pending = self._pending, ([] if self._pending is not None else None)
        self._flushed_at, self._urgent = time.monotonic(), False
        if not pending:
            return
        records = [(record, outputs) for record, outputs, _ in pending if record is not None]
        if records:
            self.store.save_node_runs(records)
        if self.on_event is not None:
            for _, _, event in pending:
                if event is not None:
                    self.on_event(event)

    def record(self, node_id: str, status: str, outputs: list[ArtifactRecord] | None = None, **values: Any) -> None:
        node = self.pipeline.nodes[node_id]
        spec = registry.get(node.component)
        state = self.states[node_id]
        record = NodeRunRecord(
            run_id=self.run.id,
            node_id=node_id,
            component=node.component,
            component_version=spec.version,
            status=status,
            cache_key=state.cache_key,
            attempts=state.attempts,
            started_at=state.started_at,
            **values,
        )
        if self._pending is not None:
            self._pending.append((record, outputs, None))
            if status not in ("running", "succeeded") or (values.get("duration_s") or 0.0) >= RECORD_DELAY_S:
                self._urgent = True
            return
        self.store.save_node_run(record, outputs)

    # -- scheduling ----------------------------------------------------------------------------
    def ready(self) -> list[str]:
        """Pending nodes whose parents have all finished, in topological order."""
        states, order = self.states, self.order
        self._ready = [index for index in self._ready if states[order[index]].status == "pending"]
        self._ready.sort()  # a sorted list is a heap
        return [order[index] for index in self._ready]

    def finished(self, node_id: str) -> None:
        """``node_id`` succeeded (or came from the cache): its children may be ready now."""
        for child in self.children[node_id]:
            self.unfinished[child] -= 1
            if self.unfinished[child] == 0:
                heapq.heappush(self._ready, self.position[child])

    def skip_descendants(self, node_id: str) -> None:
        for child in self.pipeline.descendants(node_id):
            if self.states[child].status == "pending":
                self.states[child].status = "skipped"
                self.record(child, "skipped", error=f"not run: upstream node '{node_id}' failed")
                self.emit("skipped", child)

    def inputs_of(self, node_id: str) -> dict[str, ArtifactRecord]:
        node = self.pipeline.nodes[node_id]
        found = {}
        for port, ref in node.inputs.items():
            if ref.model is not None:  # a registered model, resolved when the run started
                found[port] = self.models[(node_id, port)].record(self.run.id, node_id, port)
                continue
            source = self.states[ref.node].outputs
            if ref.port is None:
                found[port] = next(iter(source.values()))
            else:
                found[port] = source[ref.port]
        return found

    def start(self, node_id: str) -> None:
        node = self.pipeline.nodes[node_id]
        spec = registry.get(node.component)
        state = self.states[node_id]
        state.params = spec.validate_params(node.params, node_id)
        inputs = self.inputs_of(node_id)
        used: dict[str, Any] = {}
        document = key_document(spec, state.params, self.workspace.root, self.fingerprints, used)
        state.cache_key = key_from(document, {port: record.content_hash for port, record in sorted(inputs.items())})
        if node.cache and spec.cacheable and "remote" not in used.values():
            module = sys.modules.get(spec.func.__module__)
            state.memo = NodeMemo(document, getattr(module, "__file__", None), used, spec.runs_user_code)
        if node_id in self.reused:
            previous, outputs = self.reused[node_id]
            self.finish_from(node_id, previous.status, outputs, previous, same_run=True)
            return
        cacheable = self.use_cache and node.cache and spec.cacheable and node_id not in self.force
        if cacheable:
            for outputs in self.store.cached_outputs(state.cache_key):
                damaged = [item for item in outputs if not self.artifacts.intact(item.uri, item.size_bytes)]
                if not damaged:
                    source = self.store.node_run(outputs[0].run_id, outputs[0].node_id)
                    self.finish_from(node_id, "cached", outputs, source, same_run=False)
                    return
                log.warning("node '%s': its cached output %s is missing or damaged in the artifact store; recomputing",
                            node_id, ", ".join(f"'{item.port}' ({item.uri})" for item in damaged))
        self.submit(node_id, inputs)

    def finish_from(
        self, node_id: str, status: str, outputs: list[ArtifactRecord], source: NodeRunRecord, same_run: bool
    ) -> None:
        state = self.states[node_id]
        state.status = status
        state.outputs = {item.port: item for item in outputs}
        self.finished(node_id)
        if not same_run:
            spec = registry.get(self.pipeline.nodes[node_id].component)
            record, copies = cached_records(self.run.id, node_id, spec.id, spec.version, state.cache_key or "", outputs, source)
            state.started_at = record.started_at
            self.store.save_node_run(record, copies)
        self.emit(status, node_id, cached=status == "cached", duration_s=source.duration_s)

    def submit(self, node_id: str, inputs: dict[str, ArtifactRecord]) -> None:
        node = self.pipeline.nodes[node_id]
        state = self.states[node_id]
        state.attempts += 1
        state.status = "running"
        state.started_at = now()
        task = NodeTask(
            run_id=self.run.id,
            node_id=node_id,
            component=node.component,
            params=state.params,
            inputs={
                port: InputArtifact(record.uri, record.type, record.size_bytes, (record.meta or {}).get("rows"))
                for port, record in inputs.items()
            },
            artifacts_uri=self.workspace.artifacts_uri,
            storage_options=self.workspace.storage_options,
            workdir=str(self.workspace.root),
            attempt=state.attempts,
            timeout=node.timeout,
            trust=self.trust,
            allow_code=self.allow_code,
            cache_key=state.cache_key,
            module=registry.get(node.component).func.__module__,
            resources=self.requests.get(node_id),
            partitions=node.partitions,
        )
        self.running.add(node_id)
        if getattr(self.executor, "runs_on_submit", False):  # inline: the node has run when submit returns
            self.record(node_id, "running")
            self.emit("running", node_id, attempt=state.attempts)
            self.flush()  # so the record and the event say "running" while it runs
            self.executor.submit(task)
            return
        self.executor.submit(task)  # the worker starts on it while the engine records that it runs
        self.record(node_id, "running")
        self.emit("running", node_id, attempt=state.attempts)

    def collect(self, result: TaskResult) -> None:
        node_id = result.node_id
        node = self.pipeline.nodes[node_id]
        state = self.states[node_id]
        self.running.discard(node_id)
        measures: dict[str, Any] = {
            "finished_at": now(),
            "duration_s": result.duration_s,
            "peak_memory_bytes": result.peak_memory_bytes,
            "input_rows": result.input_rows,
            "input_bytes": result.input_bytes,
            "log_uri": result.log_uri,
        }
        if result.ok:
            outputs = [
                ArtifactRecord(
                    run_id=self.run.id,
                    node_id=node_id,
                    port=item.port,
                    type=item.type,
                    uri=item.uri,
                    content_hash=item.content_hash,
                    size_bytes=item.size_bytes,
                    cache_key=state.cache_key,
                    meta=item.meta,
                )
                for item in result.outputs
            ]
            self.record(node_id, "succeeded", outputs, **measures)
            state.status = "succeeded"
            state.outputs = {item.port: item for item in outputs}
            self.finished(node_id)
            self.emit("succeeded", node_id, duration_s=result.duration_s, attempt=state.attempts)
            return
        retryable = result.error_kind != "user"
        if retryable and state.attempts <= node.retries:
            self.record(node_id, "retrying", error=result.error, **measures)
            self.emit("retrying", node_id, attempt=state.attempts, error=result.error)
            self.submit(node_id, self.inputs_of(node_id))
            return
        state.status = "failed"
        self.record(node_id, "failed", error=result.error, **measures)
        self.emit("failed", node_id, error=result.error, attempt=state.attempts, duration_s=result.duration_s)
        self.skip_descendants(node_id)

    def keep_plan(self) -> None:
        """Write the plan memo when every node can be found in the cache by it (``runtime._plan_memo``)."""
        memos = {node_id: state.memo for node_id, state in self.states.items()}
        if all(memo is not None for memo in memos.values()):
            write_memo(self.pipeline, self.workspace, {node_id: memo for node_id, memo in memos.items() if memo is not None})

    def loop(self, cancel: threading.Event | None = None) -> None:
        self._pending = []
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                for node_id in self.ready():
                    if len(self.running) >= self.executor.capacity:
                        break
                    self.start(node_id)
                if not self.running:
                    if not self.ready():
                        return
                    continue
                # the nodes just handed out already run; record them (and what finished before) while they do, at
                # once when a record must not wait, else when the last write is RECORD_DELAY_S old
                waited = time.monotonic() - self._flushed_at
                if self._urgent or waited >= RECORD_DELAY_S:
                    self.flush()
                    waited = 0.0
                timeout = max(0.001, RECORD_DELAY_S - waited) if self._pending else 0.5
                for result in self.executor.wait(timeout=timeout):
                    self.collect(result)
        finally:
            self.flush()
            self._pending = None

    def cancel(self) -> None:
        stopped = set(self.executor.cancel()) | self.running
        for node_id in stopped:
            self.states[node_id].status = "cancelled"
            self.record(node_id, "cancelled", error="cancelled by the user", finished_at=now())
            self.emit("cancelled", node_id)
        self.running.clear()


def first_wave(pipeline: Pipeline) -> int:
    """How many nodes can start at once at the beginning (those with no upstream node): workers to start early."""
    return max(1, sum(1 for node in pipeline.nodes.values() if not any(ref.node for ref in node.inputs.values())))


def component_modules(pipeline: Pipeline) -> list[str]:
    """The built-in component modules a pipeline's components likely live in (by category), for workers to preload."""
    import importlib.util
    import pkgutil

    # the library sits above the runtime: it is found by name, as the registry finds it
    found = importlib.util.find_spec(BUILTIN_PACKAGE)
    if found is None or not found.submodule_search_locations:
        return []
    categories = {node.component.split(".", 1)[0] for node in pipeline.nodes.values()}
    return sorted(f"{BUILTIN_PACKAGE}.{module.name}" for module in pkgutil.iter_modules(found.submodule_search_locations)
                  if not module.name.startswith("_") and module.name.split("_", 1)[0] in categories)


def run_prepared(
    pipeline: Pipeline,
    ws: Workspace,
    *,
    workers: int | None,
    executor: str | Executor,
    address: str | None,
    cache: bool,
    until: str | None,
    from_node: str | None,
    trust: bool,
    allow_code: bool,
    on_event: EventHandler | None,
    cancel: threading.Event | None,
    run_id: str | None,
    _resume: RunRecord | None,
) -> RunResult:
    """The engine's part of :func:`tidal.runtime.run_pipeline`: the pipeline has its overrides, ``ws`` is open."""
    kind = executor if isinstance(executor, str) else type(executor).__name__
    early = None
    if kind == "local" and workers:  # workers start now, importing while the pipeline is validated
        early = make_executor(kind, workers, address=address)
        if isinstance(early, LocalExecutor):
            early.prestart(first_wave(pipeline), component_modules(pipeline))
    try:
        registry = model_registry(pipeline, ws)
        check(pipeline, models=registry)
        if until is not None:
            pipeline = pipeline.subset(pipeline.ancestors(until) | {until})
        check_code_allowed(pipeline, allow_code)
        pinned = (_resume.options or {}).get("models") if _resume is not None else None
        models = resolve_model_inputs(pipeline, registry, pinned) if registry is not None else {}
        force = set()
        if from_node is not None:
            force = pipeline.descendants(from_node) | {from_node}
        requests = resource_requests(pipeline)
    except BaseException:
        if early is not None:
            early.shutdown()
        raise
    chosen = early or (executor if not isinstance(executor, str) else make_executor(executor, workers, address=address))
    try:
        chosen.check(requests, ws.artifacts)
    except BaseException:
        chosen.shutdown()
        raise
    options = run_options(workers, cache, until, from_node, kind)
    estimates = apply_estimates(pipeline, ws.metadata, requests, chosen, kind)
    if estimates:  # what each node was expected to need, from the workspace's earlier runs
        options["estimates"] = estimates
    if address is not None:
        options["address"] = address
    if models:  # which version each models:/ input read, for lineage and for resume
        options["models"] = {f"{node_id}.{port}": item.model_uri for (node_id, port), item in sorted(models.items())}
    reused: dict[str, tuple[NodeRunRecord, list[ArtifactRecord]]] = {}
    store = ws.metadata
    if _resume is not None:
        run = _resume
        for record in store.node_runs(run.id):
            if record.status in FINISHED and record.node_id in pipeline.nodes:
                outputs = store.artifacts(run.id, record.node_id)
                if outputs and all(ws.artifacts.intact(item.uri, item.size_bytes) for item in outputs):
                    reused[record.node_id] = (record, outputs)
        store.update_run(run.id, status="running", error=None, finished_at=None, options={**(run.options or {}), "pid": os.getpid()})
    else:
        run = RunRecord(
            id=run_id or new_run_id(),
            pipeline_name=pipeline.name,
            pipeline_yaml=pipeline.to_yaml(),
            pipeline_path=stored_path(pipeline.source, ws.root),
            status="running",
            created_at=now(),
            started_at=now(),
            options=options,
        )
        store.create_run(run)
    state = _Run(pipeline, ws, run, chosen, use_cache=cache, force=force, trust=trust, allow_code=allow_code, on_event=on_event,
                 reused=reused, models=models, requests=requests)
    state.emit("running")
    status, error = "succeeded", None
    try:
        state.loop(cancel)
        failed = [node_id for node_id, item in state.states.items() if item.status == "failed"]
        if failed:
            status, error = "failed", f"failed node(s): {', '.join(failed)}"
    except KeyboardInterrupt:
        state.cancel()
        status, error = "cancelled", "cancelled by the user"
    except BaseException as crash:
        state.cancel()
        store.update_run(run.id, status="failed", error=f"engine error: {crash}", finished_at=now())
        raise
    finally:
        chosen.shutdown()
    store.update_run(run.id, status=status, error=error, finished_at=now())
    if status == "succeeded" and _resume is None and until is None and from_node is None and not models and kind in ("local", "inline"):
        state.keep_plan()
    state.emit(status, error=error)
    return RunResult.load(ws, run.id)
