"""Commands that run pipelines and look at runs: run, runs, export, validate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import Progress, console, print_json, print_run, styled
from tidal.core._errors import RunFailed, TidalError

runs_app = typer.Typer(help="List, inspect, and resume runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


ExecutorOption = Annotated[str | None, typer.Option(
    "--executor", help="where nodes run: local (worker processes here, the default) or ray (a Ray cluster)")]
AddressOption = Annotated[str | None, typer.Option(
    "--address", help="the Ray cluster for --executor ray, e.g. 10.0.0.5:6379 (default: RAY_ADDRESS, else a Ray started here)")]


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="pipeline YAML file (or a Python script building one)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: NODE.PARAM=VALUE (repeatable)")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="recompute every node")] = False,
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="worker processes (0 runs in this process)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="run only this node and what it needs")] = None,
    from_node: Annotated[str | None, typer.Option("--from", help="recompute this node and everything after it")] = None,
    trust: Annotated[bool, typer.Option("--trust", help="allow model payloads that can run code (pickle)")] = False,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="allow nodes that run Python code written in the pipeline (tools.python_script); only for pipelines you trust")] = False,
    json_: Annotated[bool, typer.Option("--json", help="print the run as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no live progress")] = False,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Validate and run a pipeline; exit code 0 on success, 1 if a node failed, 2 for invalid input.

    The run goes to the pipeline's workspace (the nearest folder holding .tidal/ above the file, then
    above the current folder), and relative paths in the pipeline are read from that workspace's root.
    With --executor ray, nodes run as Ray tasks scheduled by their resource requests (docs/ray.md).
    """
    from tidal.pipeline import Pipeline, from_python
    from tidal.runtime import run_pipeline
    from tidal.runtime._run import check_executor_choice

    kind = executor or "local"
    check_executor_choice(kind, workers, address)

    pipeline = from_python(file) if file.suffix == ".py" else Pipeline.load(file)
    progress = Progress(list(pipeline.nodes), enabled=not (quiet or json_))
    with progress:
        result = run_pipeline(
            pipeline,
            workspace=settings.workspace(file, chosen=workspace, announce=not (quiet or json_)),
            workers=workers,
            cache=not no_cache,
            overrides=set_ or [],
            until=until,
            from_node=from_node,
            trust=trust,
            allow_code=allow_code,
            on_event=progress,
            executor=kind,
            address=address,
        )
    _finish(result, json_)


def _finish(result, json_: bool) -> None:  # type: ignore[no-untyped-def]
    if json_:
        print_json(result.to_dict())
    else:
        print_run(result)
        console.print(f"run id: [bold]{result.id}[/]  ·  artifacts: {result.workspace.artifacts_uri}")
    if result.status == "cancelled":
        raise typer.Exit(130)
    if result.status != "succeeded":
        if not json_:
            failed = [(node, record.error) for node, record in result.nodes.items() if record.status == "failed"]
            detail = "; ".join(f"node '{node}' failed: {error}" for node, error in failed)
            raise RunFailed(detail or result.run.error or f"run {result.id} {result.status}")
        raise typer.Exit(1)


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(help="how many runs, newest first")] = 20,
    status: Annotated[str | None, typer.Option(help="only runs with this status")] = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Runs in this workspace, newest first."""
    from rich.table import Table

    from tidal.runtime import effective_status

    store = settings.workspace(chosen=workspace, announce=not json_, create=False).metadata
    records = store.list_runs(limit=limit, status=status)
    if json_:
        print_json(
            [
                {
                    "id": record.id,
                    "pipeline": record.pipeline_name,
                    "status": effective_status(record),
                    "created_at": record.created_at.isoformat(),
                    "finished_at": record.finished_at.isoformat() if record.finished_at else None,
                }
                for record in records
            ]
        )
        return
    table = Table(title="runs")
    # the id is what every later command needs: never cut it; other columns fold first
    table.add_column("id", no_wrap=True, min_width=max((len(record.id) for record in records), default=2))
    for column in ("pipeline", "status", "started", "took"):
        table.add_column(column, overflow="fold")
    for record in records:
        took = ""
        if record.finished_at and record.started_at:
            took = f"{(record.finished_at - record.started_at).total_seconds():.1f}s"
        table.add_row(record.id, record.pipeline_name, styled(effective_status(record)), record.created_at.strftime("%Y-%m-%d %H:%M:%S"), took)
    console.print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="run id (a unique prefix is enough)")],
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """A run's nodes with status, cache use, timings, peak memory and metrics."""
    from tidal.runtime import RunResult

    result = RunResult.load(settings.workspace(chosen=workspace, announce=not json_, create=False), run_id)
    if json_:
        print_json(result.to_dict())
    else:
        print_run(result)


@runs_app.command("logs")
def runs_logs(
    run_id: Annotated[str, typer.Argument(help="run id")],
    node: Annotated[str | None, typer.Argument(help="node id (default: every node)")] = None,
    workspace_dir: WorkspaceOption = None,
) -> None:
    """Print the captured output (stdout, stderr, logging) of a run's nodes."""
    workspace = settings.workspace(chosen=workspace_dir, create=False)
    store = workspace.metadata
    run_record = store.get_run(run_id)
    records = store.node_runs(run_record.id)
    if node is not None:
        records = [record for record in records if record.node_id == node]
        if not records:
            raise TidalError(f"run {run_record.id} has no node '{node}'")
    for record in records:
        console.rule(f"{record.node_id} ({'cached' if record.cached else record.status})")
        if not record.log_uri:
            console.print("[dim](no log)[/]")
            continue
        try:
            text = workspace.artifacts.read_bytes(record.log_uri).decode("utf-8", "replace")
        except (FileNotFoundError, TidalError):
            text = "(log missing from the artifact store)"
        if text:
            console.print(text, markup=False, highlight=False)
        else:
            console.print("[dim](no output)[/]")


@runs_app.command("resume")
def runs_resume(
    run_id: Annotated[str, typer.Argument(help="the interrupted, failed or cancelled run")],
    workers: Annotated[int | None, typer.Option("--workers", min=0)] = None,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="allow nodes that run Python code written in the pipeline (tools.python_script); only for pipelines you trust")] = False,
    json_: Annotated[bool, typer.Option("--json")] = False,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    workspace_dir: WorkspaceOption = None,
) -> None:
    """Finish a run; nodes it already finished are reused, never recomputed.

    It runs on the executor (and Ray address) the run started with, unless --executor says otherwise."""
    from tidal.runtime import resume_run
    from tidal.runtime._run import check_executor_choice

    if executor is not None or address is not None:
        check_executor_choice(executor or "ray", workers, address)

    workspace = settings.workspace(chosen=workspace_dir, announce=not json_)
    record = workspace.metadata.get_run(run_id)
    from tidal.pipeline import Pipeline

    pipeline = Pipeline.from_yaml(record.pipeline_yaml)
    progress = Progress(list(pipeline.nodes), enabled=not json_)
    options: dict[str, Any] = {} if workers is None else {"workers": workers}
    if executor is not None:
        options["executor"] = executor
    if address is not None:
        options["address"] = address
    with progress:
        result = resume_run(record.id, workspace=workspace, on_event=progress, allow_code=allow_code, **options)
    _finish(result, json_)


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="pipeline YAML file")]) -> None:
    """Check a pipeline without running it; lists every problem with its node, port or parameter.

    Inputs that read registered models (models:/NAME@ALIAS) are looked up in the workspace's registry."""
    from tidal.pipeline import Pipeline, check
    from tidal.runtime._model_inputs import model_registry

    pipeline = Pipeline.load(file)
    check(pipeline, models=model_registry(pipeline, settings.workspace()))
    console.print(f"[green]✓[/] {file}: {len(pipeline.nodes)} nodes, no problems")


EXPORT_TARGETS = ("python", "yaml", "notebook", "marimo")


@app.command()
def export(
    file: Annotated[Path, typer.Argument(help="pipeline YAML file, or a Python script that builds a pipeline")],
    to: Annotated[str, typer.Option("--to", help="python, yaml, notebook (a Jupyter .ipynb) or marimo (a marimo app)")] = "python",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here instead of printing")] = None,
) -> None:
    """Convert a pipeline to a runnable Python script, notebook or marimo app, or a script back to YAML."""
    from tidal.pipeline import Pipeline, check, from_python, to_python

    if to not in EXPORT_TARGETS:
        raise TidalError(f"--to must be one of {', '.join(EXPORT_TARGETS)}, not {to!r}")
    pipeline = from_python(file) if file.suffix == ".py" else Pipeline.load(file)
    check(pipeline)
    if to in ("notebook", "marimo"):
        from tidal.notebook import to_marimo, to_notebook

        text = to_notebook(pipeline) if to == "notebook" else to_marimo(pipeline)
    else:
        text = to_python(pipeline) if to == "python" else pipeline.to_yaml()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the pipeline file format."""
    from tidal.pipeline import PIPELINE_SCHEMA

    print_json(PIPELINE_SCHEMA)
