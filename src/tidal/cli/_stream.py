"""``tidal stream run | list | status | stop``: stream jobs (``tidal-stream: 1`` files) in a workspace."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console, errors, print_json
from tidal.core._errors import TidalError

stream_app = typer.Typer(help="Stream jobs: a source, stream.* steps and sinks, checkpointed exactly once.", no_args_is_help=True)
app.add_typer(stream_app, name="stream")


def _jobs_folder(workspace: Path | None) -> Path:
    return settings.workspace(chosen=workspace, announce=False).root / ".tidal" / "streams"


def _status(folder: Path) -> dict[str, Any]:
    from tidal.stream._status import job_status

    return job_status(folder)


def _alive(pid: int) -> bool:
    from tidal.stream._status import alive

    return alive(pid)


@stream_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="the stream job file (tidal-stream: 1)")],
    max_batches: Annotated[int | None, typer.Option("--max-batches", min=1, help="stop after this many micro-batches")] = None,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="stop when the source has nothing new")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no live progress line")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Run (or resume from its checkpoint) a stream job; a live line shows throughput and lag."""
    from tidal.stream._job_spec import read
    from tidal.stream._runner import StreamJob

    if not file.is_file():
        raise TidalError(f"no stream job file at {file}")
    root = settings.workspace(file.parent, chosen=workspace).root
    job = StreamJob(read(file, root))
    try:
        if quiet:
            progress = job.run(max_batches=max_batches, until_idle=until_idle)
        else:
            from rich.live import Live

            with Live(console=errors, refresh_per_second=4, transient=False) as live:
                def show(p: Any) -> None:
                    live.update(f"[cyan]{job.spec.name}[/] epoch {p.epoch}  rows {p.rows:,}  {p.rows_per_second:,.0f} rows/s  "
                                f"lag {p.lag if p.lag is not None else '?'}  dead letters {p.dead:,}")
                progress = job.run(max_batches=max_batches, until_idle=until_idle, on_progress=show)
    finally:
        job.close()
    console.print(f"{job.spec.name}: epoch {progress.epoch}, {progress.rows:,} rows, {job.outputs:,} outputs, "
                  f"{progress.dead:,} dead letters", highlight=False)
    for change in job.schema_changes[-5:]:
        errors.print(f"[yellow]{change}[/]", highlight=False)


@stream_app.command("list")
def list_jobs(workspace: WorkspaceOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The stream jobs of the workspace and their state."""
    folder = _jobs_folder(workspace)
    from tidal.stream._status import list_jobs as read_jobs

    jobs = read_jobs(folder.parent.parent)
    if as_json:
        print_json(jobs)
        return
    if not jobs:
        console.print("no stream jobs in this workspace")
    for job in jobs:
        console.print(f"{job['job']}: {job['state']}  epoch {job.get('epoch', 0)}  rows {job.get('rows', 0):,}", highlight=False)


def _job_folder(name: str, workspace: Path | None) -> Path:
    from tidal.stream._job_spec import NAME

    folder = _jobs_folder(workspace) / name
    if not NAME.match(name) or not folder.is_dir():
        raise TidalError(f"no stream job named {name!r} in this workspace; see `tidal stream list`")
    return folder


@stream_app.command("status")
def status(name: str, workspace: WorkspaceOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One job's state: epoch, rows, outputs, dead letters, throughput, lag, schema changes."""
    found = _status(_job_folder(name, workspace))
    if as_json:
        print_json(found)
        return
    for key, value in found.items():
        console.print(f"{key}: {value}", highlight=False)


@stream_app.command("stop")
def stop(name: str, workspace: WorkspaceOption = None) -> None:
    """Ask a running job to stop after its current micro-batch (SIGTERM to the pid it recorded)."""
    pid_file = _job_folder(name, workspace) / "pid"
    pid = int(pid_file.read_text() or 0) if pid_file.exists() else 0
    if not _alive(pid):
        raise TidalError(f"stream job {name!r} is not running")
    os.kill(pid, signal.SIGTERM)
    console.print(f"asked {name} (pid {pid}) to stop after its current micro-batch")
