"""What a run produced: node statuses, timings, metrics and access to every output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tidal.core._display import Displayable
from tidal.core._errors import NotFound
from tidal.store._metadata import ArtifactRecord, NodeRunRecord, RunRecord
from tidal.store._workspace import Workspace


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_status(run: RunRecord) -> str:
    """A run left 'running' by a process that no longer exists was interrupted (kill -9, power loss)."""
    if run.status == "running" and not _pid_alive((run.options or {}).get("pid")):
        return "interrupted"
    return run.status


@dataclass
class RunResult(Displayable):
    workspace: Workspace
    run: RunRecord
    nodes: dict[str, NodeRunRecord]
    artifacts: dict[str, dict[str, ArtifactRecord]]

    @classmethod
    def load(cls, workspace: Workspace, run_id: str) -> RunResult:
        store = workspace.metadata
        run = store.get_run(run_id)
        nodes = {record.node_id: record for record in store.node_runs(run.id)}
        artifacts: dict[str, dict[str, ArtifactRecord]] = {}
        for item in store.artifacts(run.id):
            artifacts.setdefault(item.node_id, {})[item.port] = item
        return cls(workspace, run, nodes, artifacts)

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        return effective_status(self.run)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def artifact(self, node: str, port: str | None = None) -> ArtifactRecord:
        outputs = self.artifacts.get(node)
        if not outputs:
            raise NotFound(f"run {self.id} has no outputs for node '{node}'")
        if port is None:
            if len(outputs) != 1:
                raise NotFound(f"node '{node}' has several outputs ({', '.join(outputs)}); name one")
            return next(iter(outputs.values()))
        if port not in outputs:
            raise NotFound(f"node '{node}' has no output '{port}' (outputs: {', '.join(outputs)})")
        return outputs[port]

    def output(self, node: str, port: str | None = None, *, trust: bool = False) -> Any:
        """Load an output: a LazyTable, ModelPackage, Metrics or Figure."""
        record = self.artifact(node, port)
        from tidal.runtime._values import (
            read_value,  # pandas and pyarrow: only when a value is read
        )

        return read_value(self.workspace.artifacts.local_path(record.uri), record.type, trust)

    def metrics(self, node: str | None = None) -> dict[str, Any]:
        """Scalar metrics of one node, or of every node that produced Metrics."""
        found: dict[str, Any] = {}
        for node_id, outputs in self.artifacts.items():
            if node is not None and node_id != node:
                continue
            for record in outputs.values():
                if record.type == "Metrics":
                    found.update((record.meta or {}).get("metrics", {}))
        return found

    def node_metrics(self, node_id: str) -> dict[str, Any]:
        return self.metrics(node_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.run.id,
            "pipeline": self.run.pipeline_name,
            "pipeline_path": self.run.pipeline_path,
            "status": self.status,
            "error": self.run.error,
            "created_at": self.run.created_at.isoformat() if self.run.created_at else None,
            "finished_at": self.run.finished_at.isoformat() if self.run.finished_at else None,
            # the registered version each models:/ input read ("node.port" -> models:/NAME/VERSION)
            "models": dict((self.run.options or {}).get("models") or {}),
            "nodes": {
                node_id: {
                    "component": record.component,
                    "status": record.status,
                    "cached": bool(record.cached),
                    "metrics": self.metrics(node_id),
                    "attempts": record.attempts,
                    "duration_s": record.duration_s,
                    "peak_memory_bytes": record.peak_memory_bytes,
                    "input_rows": record.input_rows,
                    "input_bytes": record.input_bytes,
                    "error": record.error,
                    "outputs": {
                        port: {"type": item.type, "uri": self.workspace.artifacts.full_uri(item.uri), "size_bytes": item.size_bytes, "id": item.id}
                        for port, item in self.artifacts.get(node_id, {}).items()
                    },
                }
                for node_id, record in self.nodes.items()
            },
        }

    def summary(self) -> str:
        """A plain-text report: each node's status and time, errors, then every node's metrics."""
        lines = [f"run {self.id} · {self.run.pipeline_name} · {self.status}"]
        width = max((len(node_id) for node_id in self.nodes), default=4)
        for node_id, record in self.nodes.items():
            status = "cached" if record.cached else record.status
            took = "" if record.duration_s is None or record.cached else f"{record.duration_s:.2f}s"
            lines.append(f"  {node_id:<{width}}  {record.component:<36} {status:<10} {took}".rstrip())
        for node_id, record in self.nodes.items():
            if record.status == "failed" and record.error:
                lines.append(f"  x {node_id}: {record.error}")
        for node_id in self.nodes:
            values = self.metrics(node_id)
            if values:
                shown = "  ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                                  for key, value in values.items())
                lines.append(f"  {node_id}: {shown}")
        return "\n".join(lines)

    def print_summary(self) -> None:
        print(self.summary())
