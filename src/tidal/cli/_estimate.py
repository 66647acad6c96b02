"""``tidal estimate FILE``: what each node of a pipeline will need, from the workspace's earlier runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console, print_json
from tidal.core._errors import TidalError


@app.command()
def estimate(
    file: Annotated[Path, typer.Argument(help="pipeline YAML file (or a Python script building one)")],
    json_: Annotated[bool, typer.Option("--json", help="print the estimates as JSON")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Predict each node's peak memory and duration from the runs this workspace recorded (docs/ray.md).

    A node is estimated from its component's recorded runs, at the input size its own node read last
    time; nodes whose component never ran here are listed as unknown. Nothing runs and nothing is written.
    """
    from rich.table import Table

    from tidal.pipeline import Pipeline, from_python
    from tidal.runtime._estimate import estimate_pipeline, human_bytes
    from tidal.runtime._machine import visible_memory_bytes

    pipeline = from_python(file) if file.suffix == ".py" else Pipeline.load(file)
    ws = settings.existing_workspace(file, chosen=workspace)
    if ws is None:
        raise TidalError(f"no Tidal workspace at {file.parent} or above it: there are no recorded runs to estimate from; "
                         "run the pipeline once (`tidal run FILE`)")
    estimates = estimate_pipeline(pipeline, ws.metadata)
    if json_:
        print_json({node_id: (estimates[node_id].to_dict() if node_id in estimates else None) for node_id in pipeline.nodes})
        return
    limit = visible_memory_bytes()
    table = Table("node", "component", "memory", "duration", "runs", "basis")
    for node_id, node in pipeline.nodes.items():
        need = estimates.get(node_id)
        if need is None:
            table.add_row(node_id, node.component, "unknown", "", "0", "no recorded run of this component")
            continue
        memory = human_bytes(need.memory_bytes)
        if limit is not None and need.memory_bytes > limit:
            memory = f"[red]{memory} (this machine has {human_bytes(limit)})[/]"
        duration = f"{need.duration_s:.2f} s" if need.duration_s is not None else ""
        table.add_row(node_id, node.component, memory, duration, str(need.runs), need.basis)
    console.print(table)
