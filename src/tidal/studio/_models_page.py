"""What the Studio's Models page shows of the registry: models, versions with lineage, signature and metrics.

Everything is read through :class:`tidal.models.ModelRegistry` (as ``tidal models list|show`` reads
it), the package manifest (:func:`tidal.models.read_package_manifest`, no payload loaded) and the
producing run (:class:`tidal.runtime.RunResult`): a version's metrics are the scalar metrics of
the run that made it, by node (an evaluation node's ``auc``, ``accuracy``...).
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from tidal.core._errors import NotFound, TidalError
from tidal.models import ModelRegistry, ModelVersion, read_package_manifest
from tidal.runtime import RunResult
from tidal.store import Workspace

#: run ids are letters, digits, '-' and '_' (a prefix of one is accepted, as the CLI accepts it)
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{3,63}$")
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,199}$")
#: manifests read, by content hash (a version's package never changes)
_MANIFESTS: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def check_run_and_node(run_id: str, node_id: str) -> None:
    if not RUN_ID.match(run_id):
        raise TidalError(f"'{run_id[:80]}' is not a run id (letters, digits, '-', '_'; at least 4); see GET /api/runs")
    if not NODE_ID.match(node_id):
        raise TidalError(f"'{node_id[:80]}' is not a node id (letters, digits, '_', '-', starting with a letter or '_')")


def manifest_of(workspace: Workspace, version: ModelVersion) -> dict[str, Any]:
    """The version's package manifest without its payload; {} (with an ``error``) when the package is unreadable."""
    with _LOCK:
        cached = _MANIFESTS.get(version.content_hash)
    if cached is not None:
        return cached
    try:
        path = workspace.artifacts.local_path(version.uri)
        manifest = {key: value for key, value in read_package_manifest(path).items() if key != "payload"}
    except (TidalError, OSError) as error:
        return {"error": f"the package of {version.model_uri} cannot be read: {error}"}
    with _LOCK:
        if len(_MANIFESTS) > 256:
            _MANIFESTS.clear()
        _MANIFESTS[version.content_hash] = manifest
    return manifest


def run_facts(workspace: Workspace, run_id: str | None, node_id: str | None) -> dict[str, Any]:
    """The producing run's status, pipeline, the node's component and every node's scalar metrics."""
    if not run_id:
        return {"run_status": None, "pipeline": None, "component": None, "metrics": {}}
    try:
        result = RunResult.load(workspace, run_id)
    except NotFound:
        return {"run_status": "missing", "pipeline": None, "component": None, "metrics": {}}
    metrics = {node: values for node in result.nodes if (values := result.metrics(node))}
    node = result.nodes.get(node_id or "")
    return {"run_status": result.status, "pipeline": result.run.pipeline_name,
            "component": node.component if node is not None else None, "metrics": finite(metrics)}


def version_detail(workspace: Workspace, version: ModelVersion) -> dict[str, Any]:
    manifest = manifest_of(workspace, version)
    signature = manifest.get("signature") or {}
    return {
        **version.to_dict(),
        "signature": {"inputs": list(signature.get("inputs") or []), "outputs": list(signature.get("outputs") or [])},
        "label": manifest.get("label"),
        "classes": finite(manifest.get("classes")),
        "libraries": manifest.get("libraries") or {},
        "package_error": manifest.get("error"),
        **run_facts(workspace, version.run_id, version.node_id),
    }


def model_detail(registry: ModelRegistry, name: str) -> dict[str, Any]:
    model = registry.get_model(name)
    versions = [version_detail(registry.workspace, item) for item in registry.versions(name)]
    return {**model.to_dict(), "versions": versions[::-1]}  # newest first


def model_candidates(workspace: Workspace, limit: int) -> list[dict[str, Any]]:
    """The Model outputs of the newest runs, each a node output that can be registered."""
    store = workspace.metadata
    found = []
    for run in store.list_runs(limit=limit):
        components = {record.node_id: record.component for record in store.node_runs(run.id)}
        for artifact in store.artifacts(run.id):
            if artifact.type == "Model":
                found.append({"run_id": run.id, "pipeline": run.pipeline_name, "node_id": artifact.node_id,
                              "port": artifact.port, "component": components.get(artifact.node_id),
                              "created_at": run.created_at.isoformat() if run.created_at else None})
    return found
