"""Rich rendering shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from tidal.runtime import RunEvent, RunResult

console = Console()
errors = Console(stderr=True)

STATUS_STYLE = {
    "succeeded": "green",
    "cached": "cyan",
    "running": "yellow",
    "retrying": "yellow",
    "pending": "dim",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "magenta",
    "interrupted": "magenta",
}


def styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def human_bytes(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def format_metric(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def print_run(result: RunResult) -> None:
    table = Table(title=f"run {result.id} · {result.run.pipeline_name} · {styled(result.status)}")
    for column in ("node", "component", "status", "time", "peak memory", "rows in"):
        table.add_column(column)
    for node_id, record in result.nodes.items():
        status = "cached" if record.cached else record.status
        duration = "" if record.duration_s is None or record.cached else f"{record.duration_s:.2f}s"
        table.add_row(
            node_id,
            record.component,
            styled(status),
            duration,
            human_bytes(record.peak_memory_bytes) if not record.cached else "",
            "" if record.input_rows is None else f"{record.input_rows:,}",
        )
    console.print(table)
    for node_id, record in result.nodes.items():
        if record.status == "failed" and record.error:
            console.print(f"[red]✗ {node_id}[/]: {escape(record.error)}", soft_wrap=True)
    metrics = {node: result.metrics(node) for node in result.nodes}
    for node_id, values in metrics.items():
        if values:
            shown = "  ".join(f"{key}={format_metric(value)}" for key, value in values.items())
            console.print(f"[bold]{node_id}[/] {shown}")


class Progress:
    """Live per-node progress: a table on a terminal, one line per event otherwise."""

    def __init__(self, node_ids: list[str], enabled: bool = True) -> None:
        self.states = dict.fromkeys(node_ids, "pending")
        self.details: dict[str, str] = {}
        self.enabled = enabled
        self.interactive = console.is_terminal
        self.live: Any = None

    def render(self) -> Table:
        table = Table(show_header=True, header_style="bold")
        table.add_column("node")
        table.add_column("status")
        table.add_column("")
        for node_id, status in self.states.items():
            table.add_row(node_id, styled(status), self.details.get(node_id, ""))
        return table

    def __enter__(self) -> Progress:
        if self.enabled and self.interactive:
            from rich.live import Live

            self.live = Live(self.render(), console=console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def __call__(self, event: RunEvent) -> None:
        if event.node_id is None:
            if self.enabled and not self.interactive and event.status == "running":
                errors.print(f"run {event.run_id} started")
            return
        status = "cached" if event.cached else event.status
        self.states[event.node_id] = status
        if event.duration_s is not None and status in ("succeeded", "failed"):
            self.details[event.node_id] = f"{event.duration_s:.2f}s"
        if event.status == "retrying":
            self.details[event.node_id] = f"attempt {event.attempt} failed, retrying"
        if not self.enabled:
            return
        if self.live is not None:
            self.live.update(self.render())
        else:
            extra = f" ({self.details[event.node_id]})" if event.node_id in self.details else ""
            errors.print(f"  {event.node_id}: {styled(status)}{extra}", soft_wrap=True)
