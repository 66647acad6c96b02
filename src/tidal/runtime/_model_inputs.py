"""Node inputs fed by registered models (``models:/NAME@ALIAS``): resolved once per run.

Before a run starts, every ``models:/`` input is resolved through the workspace's model registry
to one version; the whole run uses that version even if the alias moves meanwhile, and a resumed
run uses the versions its first start resolved (kept in the run's options under ``models``). The
version's package archive is the input's artifact: its content hash enters the node's cache key,
so moving an alias to another version recomputes the nodes that read it, and moving it back finds
their cached outputs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tidal.core._errors import Issue, NotFound, TidalError, ValidationFailed
from tidal.pipeline._graph import Pipeline
from tidal.pipeline._validate import model_inputs
from tidal.store._metadata import ArtifactRecord
from tidal.store._workspace import Workspace


@dataclass(frozen=True)
class ResolvedModel:
    """The registered version a ``models:/`` input resolved to, and its archive in the artifact store."""

    reference: str
    model_uri: str
    uri: str
    content_hash: str
    size_bytes: int

    def record(self, run_id: str, node_id: str, port: str) -> ArtifactRecord:
        """The input as an artifact record, as if an upstream node had produced the archive."""
        return ArtifactRecord(run_id=run_id, node_id=node_id, port=port, type="Model", uri=self.uri,
                              content_hash=self.content_hash, size_bytes=self.size_bytes,
                              meta={"model_uri": self.model_uri, "reference": self.reference})


def model_registry(pipeline: Pipeline, workspace: Workspace) -> Any:
    """The workspace's model registry when the pipeline reads registered models, else None."""
    if not model_inputs(pipeline):
        return None
    from tidal.models._registry import ModelRegistry

    return ModelRegistry(workspace)


def resolve_model_inputs(pipeline: Pipeline, registry: Any, pinned: dict[str, str] | None = None) -> dict[tuple[str, str], ResolvedModel]:
    """(node, port) -> the version each ``models:/`` input reads; ``pinned`` ("node.port" -> models:/NAME/VERSION)
    keeps the versions an earlier start of the same run resolved."""
    resolved: dict[tuple[str, str], ResolvedModel] = {}
    issues = []
    for (node_id, port), reference in model_inputs(pipeline).items():
        wanted = (pinned or {}).get(f"{node_id}.{port}", reference)
        try:
            version = registry.resolve(wanted)
            size = registry.workspace.artifacts.size(version.uri)
        except NotFound as error:
            issues.append(Issue(f"'{reference}': {error}", node=node_id, port=port, code="unknown_model"))
            continue
        except TidalError as error:
            issues.append(Issue(f"'{reference}': {error}", node=node_id, port=port, code="bad_model_reference"))
            continue
        resolved[(node_id, port)] = ResolvedModel(reference, version.model_uri, version.uri, version.content_hash, size)
    if issues:
        raise ValidationFailed(issues, subject=f"pipeline '{pipeline.name}'")
    return resolved
