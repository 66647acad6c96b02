"""A fully cached run without importing a component or starting a worker: the plan memo.

Finding that every node of a pipeline is cached needs each node's cache key, and computing a key
the usual way needs the component (its parameter model for defaults, its code for the code
hash), which means importing the component's module and, through it, scikit-learn, SciPy and
pandas: about two seconds before anything is looked up. Yet when nothing changed since the last
run, the keys are the ones that run computed.

So a run that finishes with every node cacheable writes a memo under ``.tidal/plans/``: per node,
its key document (everything the cache key covers except the inputs' content hashes), the file
of the module that defines its component, and the size and modification time of every file it
fingerprinted. The memo's name is a hash of the pipeline's nodes, the workspace's stores, the
installed component plug-ins and the size and modification time of every file of the ``tidal``
package, so any change to Tidal itself, to a node or to a plug-in list looks up another memo.

A later run of the same pipeline first tries :func:`try_cached_run`. It uses the memo only when
every module file and every fingerprinted file is unchanged (same size, same modification time:
the assumption the in-process fingerprint memo already makes), recomputes each key from the
recorded document and the content hashes of the outputs it finds upstream (exactly what the
engine does), and finds every key's outputs intact in the artifact store. Then it records the run
with every node cached, as the engine would, and returns it. In any other case it returns None,
having written nothing, and the run goes the usual way (which writes a fresh memo).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidal.pipeline._graph import Pipeline
from tidal.runtime._cache import canonical_json, folder_fingerprint, key_from
from tidal.runtime._events import RunEvent
from tidal.runtime._result import RunResult
from tidal.store._metadata import ArtifactRecord, NodeRunRecord, RunRecord, now
from tidal.store._workspace import STATE_DIR, Workspace

log = logging.getLogger(__name__)

#: the memos' folder under a workspace's ``.tidal/``
PLANS_DIR = "plans"
#: the memo format; a memo of another version is ignored
MEMO_VERSION = 1
#: turns the memo off (both reading and writing) when set to 0
MEMO_VARIABLE = "TIDAL_PLAN_MEMO"

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_installation: str | None = None


def enabled() -> bool:
    return os.environ.get(MEMO_VARIABLE, "1") != "0"


def _stat(path: str | Path) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def _installation_fingerprint() -> str:
    """Size and modification time of every Python file of the ``tidal`` package, plus the plug-ins."""
    global _installation
    if _installation is None:
        digest = hashlib.sha256()
        for parent, folders, files in os.walk(_PACKAGE_ROOT):
            folders[:] = sorted(name for name in folders if name != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(parent, name)
                    digest.update(f"{os.path.relpath(path, _PACKAGE_ROOT)}\0{_stat(path)}\n".encode())
        plugins = sorted(f"{entry.name}={entry.value}" for entry in importlib.metadata.entry_points(group="tidal.components"))
        digest.update(json.dumps([sys.version, plugins, os.environ.get("TIDAL_PLUGINS", "")]).encode())
        _installation = digest.hexdigest()
    return _installation


def plan_key(pipeline: Pipeline, workspace: Workspace) -> str:
    document = {
        "memo": MEMO_VERSION,
        "nodes": [node.to_dict() for node in pipeline.nodes.values()],
        "stores": [workspace.db_url, workspace.artifacts_uri],
        "installation": _installation_fingerprint(),
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def _memo_path(pipeline: Pipeline, workspace: Workspace) -> Path:
    return workspace.root / STATE_DIR / PLANS_DIR / f"{plan_key(pipeline, workspace)}.json"


@dataclass
class NodeMemo:
    """What the memo keeps of one node."""

    document: dict[str, Any]
    module_file: str | None
    files: dict[str, Any]
    user_code: bool

    def to_dict(self) -> dict[str, Any]:
        return {"document": self.document, "module_file": self.module_file, "module_stat": _stat(self.module_file) if self.module_file else None,
                "files": self.files, "user_code": self.user_code}


def write_memo(pipeline: Pipeline, workspace: Workspace, nodes: dict[str, NodeMemo]) -> None:
    """Keep the plan of a run that finished with every node cacheable (never fails the run)."""
    if not enabled():
        return
    try:
        path = _memo_path(pipeline, workspace)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"memo": MEMO_VERSION, "nodes": {node_id: item.to_dict() for node_id, item in nodes.items()}},
                          default=str)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(body)
        os.replace(scratch, path)
    except OSError as error:  # a read-only workspace runs as before, only without the shortcut
        log.debug("plan memo not written: %s", error)


def cached_records(
    run_id: str, node_id: str, component: str, version: str, key: str, outputs: list[ArtifactRecord], source: NodeRunRecord
) -> tuple[NodeRunRecord, list[ArtifactRecord]]:
    """The node run and output records of a node served from the cache (the engine writes the same)."""
    copies = [
        ArtifactRecord(run_id=run_id, node_id=node_id, port=item.port, type=item.type, uri=item.uri, content_hash=item.content_hash,
                       size_bytes=item.size_bytes, cache_key=key, meta=item.meta)
        for item in outputs
    ]
    finished = now()
    record = NodeRunRecord(
        run_id=run_id,
        node_id=node_id,
        component=component,
        component_version=version,
        status="cached",
        cache_key=key,
        attempts=0,
        started_at=finished,
        cached=True,
        source_run_id=source.source_run_id or source.run_id,
        finished_at=finished,
        duration_s=0.0,
        log_uri=source.log_uri,
        input_rows=source.input_rows,
        input_bytes=source.input_bytes,
    )
    return record, copies


def _unchanged(item: dict[str, Any]) -> bool:
    if item.get("module_file") and _stat(item["module_file"]) != item.get("module_stat"):
        return False
    for path, seen in (item.get("files") or {}).items():
        if isinstance(seen, list):
            if _stat(path) != seen:
                return False
        elif seen == "missing":
            if os.path.exists(path):
                return False
        elif seen != folder_fingerprint(Path(path)):
            return False
    return True


def _cached_outputs(
    pipeline: Pipeline, workspace: Workspace, allow_code: bool
) -> tuple[dict[str, tuple[str, list[ArtifactRecord], NodeRunRecord]], dict[str, dict[str, Any]]] | None:
    """Per node: its cache key, intact cached outputs and the run that made them; None unless every node has them."""
    try:
        memo = json.loads(_memo_path(pipeline, workspace).read_text())
    except FileNotFoundError:
        return None
    nodes = memo.get("nodes") if isinstance(memo, dict) and memo.get("memo") == MEMO_VERSION else None
    if not isinstance(nodes, dict) or set(nodes) != set(pipeline.nodes):
        return None
    documents = {node_id: item["document"] for node_id, item in nodes.items()}
    if any(documents[node_id].get("component") != node.component for node_id, node in pipeline.nodes.items()):
        return None
    if any(item.get("user_code") for item in nodes.values()) and not allow_code:
        return None  # the usual path refuses it with the reason
    if not all(_unchanged(item) for item in nodes.values()):
        return None
    store, artifacts = workspace.metadata, workspace.artifacts
    found: dict[str, tuple[str, list[ArtifactRecord], NodeRunRecord]] = {}
    for node_id in pipeline.topological_order():
        hashes = {}
        for port, ref in sorted(pipeline.nodes[node_id].inputs.items()):
            if ref.model is not None:
                return None
            upstream = found[ref.node][1]
            chosen = upstream[0] if ref.port is None else next((item for item in upstream if item.port == ref.port), None)
            if chosen is None:
                return None
            hashes[port] = chosen.content_hash
        key = key_from(documents[node_id], hashes)
        for outputs in store.cached_outputs(key):
            if outputs and all(artifacts.intact(item.uri, item.size_bytes) for item in outputs):
                found[node_id] = (key, outputs, store.node_run(outputs[0].run_id, outputs[0].node_id))
                break
        else:
            return None
    return found, documents


def try_cached_run(
    pipeline: Pipeline,
    workspace: Workspace,
    *,
    allow_code: bool,
    options: dict[str, Any],
    run_id: str,
    pipeline_path: str | None = None,
    on_event: Any = None,
) -> RunResult | None:
    """Record and return a run with every node cached, when the memo proves it; otherwise None."""
    if not enabled():
        return None
    try:
        found = _cached_outputs(pipeline, workspace, allow_code)
    except (TypeError, KeyError, AttributeError, ValueError, OSError) as error:  # a damaged memo is only a missed shortcut
        log.debug("plan memo not used: %s", error)
        return None
    if found is None:
        return None
    found_outputs, documents = found
    store = workspace.metadata
    started = now()
    run = RunRecord(id=run_id, pipeline_name=pipeline.name, pipeline_yaml=pipeline.to_yaml(), pipeline_path=pipeline_path,
                    status="running", created_at=started, started_at=started, options={**options, "plan_memo": True})
    store.create_run(run)
    _emit(on_event, run.id, "running")
    for node_id, (key, outputs, source) in found_outputs.items():
        document = documents[node_id]
        record, copies = cached_records(run.id, node_id, document["component"], document["version"], key, outputs, source)
        store.save_node_run(record, copies)
        _emit(on_event, run.id, "cached", node_id, cached=True, duration_s=source.duration_s)
    store.update_run(run.id, status="succeeded", error=None, finished_at=now())
    _emit(on_event, run.id, "succeeded")
    return RunResult.load(workspace, run.id)


def _emit(on_event: Any, run_id: str, status: str, node_id: str | None = None, **details: Any) -> None:
    if on_event is not None:
        on_event(RunEvent(run_id, status, node_id, **details))
