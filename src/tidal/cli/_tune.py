"""AutoML commands: ``tidal tune CONFIG.yaml`` and ``tidal studies list|show|resume``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console, errors, format_metric, print_json, styled
from tidal.cli._runs import AddressOption, ExecutorOption
from tidal.core._errors import CodeNotAllowed, TidalError

studies_app = typer.Typer(help="List, inspect and resume AutoML studies.", no_args_is_help=True)
app.add_typer(studies_app, name="studies")

CONFIG_KEYS = {"name", "data", "trainer", "label", "metric", "direction", "strategy", "budget", "search_space", "params",
               "options", "validation", "seed", "workers", "timeout", "pruner", "steps", "report_every", "refit", "register"}


def _check_executor(executor: str | None, workers: int | None, address: str | None) -> None:
    from tidal.runtime._run import check_executor_choice

    check_executor_choice(executor or "local", workers, address)


def _executor_options(executor: str | None, workers: int | None, address: str | None) -> dict[str, Any]:
    """Trials at once and where: two local worker processes by default, 0 in this process, or Ray tasks."""
    if executor == "ray":
        return {"executor": "ray", "workers": workers, "address": address}
    count = 2 if workers is None else workers
    return {"executor": "local" if count > 0 else "inline", "workers": count}


def load_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise TidalError(f"no study file at {path}")
    from tidal.core import load_yaml_file

    config = load_yaml_file(path)  # size, encoding, depth and aliases checked; YamlError names the file
    if not isinstance(config, dict):
        raise TidalError(f"{path}: a study file is a mapping with at least 'data', 'trainer' and 'label'")
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise TidalError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(CONFIG_KEYS))})")
    missing = [key for key in ("data", "trainer", "label") if key not in config]
    if missing:
        raise TidalError(f"{path}: missing {', '.join(missing)}")
    return config


def load_data(source: Any, base: Path, allow_code: bool = False, beside: Path | None = None) -> Any:
    """``data: file.csv|file.parquet`` or ``data: {component: io.dataset, params: {name: breast_cancer}}``.

    A relative path is read from ``base`` (the workspace root, as a pipeline's paths are), else from
    ``beside`` (the study file's folder). A component that runs code from its parameters
    (``runs_user_code``) needs ``allow_code``.
    """
    import pandas as pd

    from tidal.core import get_component

    if isinstance(source, str):
        path = Path(source).expanduser()
        if not path.is_absolute():
            candidates = [base / path] + ([beside / path] if beside is not None else [])
            path = next((candidate for candidate in candidates if candidate.exists()), candidates[0])
        if not path.exists():
            where = f" (relative paths are read from the workspace {base}" + (f", then from {beside})" if beside else ")")
            raise TidalError(f"data file {source} does not exist{where if not Path(source).is_absolute() else ''}")
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if isinstance(source, dict) and "component" in source:
        spec = get_component(source["component"])
        if spec.runs_user_code and not allow_code:
            raise CodeNotAllowed(f"'data' uses {spec.id}, which runs code written in the study file; "
                                 "allow it only for study files you trust: `tidal tune --allow-code`")
        with contextlib.chdir(base):  # a component's relative paths are read from the workspace, as in a pipeline
            outputs = spec.execute({}, dict(source.get("params") or {}))
        value = next(iter(outputs.values()))
        return value.to_pandas() if hasattr(value, "to_pandas") else value
    raise TidalError("'data' must be a file path or {component: ID, params: {...}} (e.g. io.dataset)")


class StudyProgress:
    """One line per finished trial, with the best value so far."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        if event.status == "started":
            errors.print(f"study {event.study_id} running")
        elif event.status == "trial_finished":
            value = "" if event.value is None else f" {format_metric(event.value)}"
            best = "" if event.best_value is None else f"  best {format_metric(event.best_value)} (trial {event.best_trial})"
            detail = f"  {event.error[:120]}" if event.error and event.trial_status != "succeeded" else ""
            errors.print(f"  trial {event.trial}: {styled(event.trial_status or '')}{value}  "
                         f"[{event.finished_trials}/{event.budget}]{best}{detail}", soft_wrap=True, highlight=False)


@app.command()
def tune(
    config_file: Annotated[Path, typer.Argument(help="study file (YAML): data, trainer, label, metric, strategy, budget ...")],
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="trials at once (0: in this process)")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print the study as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no live progress")] = False,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="allow data or trainer components that run code written in the study file; only for files you trust")] = False,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    workspace_dir: WorkspaceOption = None,
) -> None:
    """Run an AutoML study from a YAML file; every trial is recorded (`tidal studies show`).

    The study goes to the study file's workspace (found as for `tidal run`); a relative `data` path
    is read from the workspace root, then from the study file's folder.
    """
    from tidal.automl import create_study

    _check_executor(executor, workers, address)
    config = load_config(config_file)
    workspace = settings.workspace(config_file, chosen=workspace_dir, announce=not (quiet or json_))
    data = load_data(config.pop("data"), workspace.root, allow_code, beside=config_file.parent.resolve())
    register = config.pop("register", None)
    chosen = config.pop("workers", None) if workers is None else workers
    config.pop("workers", None)
    study = create_study(data, workspace=workspace, allow_code=allow_code, **config)
    record = study.optimize(**_executor_options(executor, None if chosen is None else int(chosen), address),
                            on_event=StudyProgress(not (quiet or json_)))
    if register and record.status == "succeeded":
        name, alias = (register, None) if isinstance(register, str) else (register.get("name"), register.get("alias"))
        version = study.register_best(name, alias=alias)
        if not json_:
            console.print(f"registered models:/{name}/{version}" + (f" (alias {alias})" if alias else ""))
    _show(study, json_)
    if record.status == "cancelled":
        raise typer.Exit(130)
    if record.status != "succeeded":
        raise typer.Exit(1)


def _show(study: Any, json_: bool) -> None:
    from rich.table import Table

    data = study.to_dict()
    if json_:
        print_json(data)
        return
    table = Table(title=f"study {data['id']} · {data['name']} · {styled(data['status'])} · {data['strategy']} · {data['metric']} ({data['direction']})")
    names = list((data.get("search_space") or {}).keys())
    # headers never cut: each column is at least as wide as its name; the note folds first
    for column in ("trial", "status", "value", *names, "time"):
        table.add_column(column, min_width=len(column), overflow="fold")
    table.add_column("note", overflow="fold")
    for trial in data["trials"]:
        meta = trial["meta"] or {}
        note = ", ".join(f"{key} {meta[key]}" for key in ("round", "generation", "parent") if meta.get(key) is not None)
        if trial["error"]:
            note = (trial["error"] or "")[:80]
        table.add_row(
            str(trial["number"]), styled(trial["status"]), "" if trial["value"] is None else format_metric(trial["value"]),
            *[format_metric(trial["params"].get(name, "")) for name in names],
            "" if trial["duration_s"] is None else f"{trial['duration_s']:.1f}s", note,
        )
    console.print(table)
    if data["best_value"] is not None:
        console.print(f"best: trial {data['best_trial']} {data['metric']}={format_metric(data['best_value'])}  model: {data['best_model_uri']}")


@studies_app.command("list")
def studies_list(
    limit: Annotated[int, typer.Option(help="how many studies, newest first")] = 20,
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Studies in this workspace, newest first."""
    from rich.table import Table

    # the workspace first: importing tidal.automl loads the component registry (seconds), a missing workspace is instant
    chosen = settings.workspace(chosen=workspace, announce=not json_, create=False)
    from tidal.automl import StudyStore, effective_status

    store = StudyStore(chosen.metadata.engine)
    records = store.list_studies(limit)
    rows: list[dict[str, Any]] = [{"id": r.id, "name": r.name, "status": effective_status(r, store.study_pid(r.id)), "strategy": r.strategy,
             "metric": r.metric, "budget": r.budget, "best_value": r.best_value, "best_trial": r.best_trial,
             "created_at": r.created_at.isoformat() if r.created_at else None} for r in records]
    if json_:
        print_json(rows)
        return
    table = Table(title="studies")
    table.add_column("id", no_wrap=True, min_width=max((len(row["id"]) for row in rows), default=2))
    for column in ("name", "status", "strategy", "metric", "budget", "best"):
        table.add_column(column, min_width=len(column), overflow="fold")
    for row in rows:
        table.add_row(row["id"], row["name"], styled(row["status"]), row["strategy"], row["metric"], str(row["budget"]),
                      "" if row["best_value"] is None else format_metric(row["best_value"]))
    console.print(table)


@studies_app.command("show")
def studies_show(
    study_id: Annotated[str, typer.Argument(help="study id (a unique prefix or the study's name)")],
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """A study's trials: parameters, values, status, timings, errors, lineage."""
    chosen = settings.workspace(chosen=workspace, announce=not json_, create=False)  # before the seconds of imports
    from tidal.automl import load_study

    _show(load_study(study_id, chosen), json_)


@studies_app.command("resume")
def studies_resume(
    study_id: Annotated[str, typer.Argument(help="the interrupted, cancelled or failed study")],
    workers: Annotated[int | None, typer.Option("--workers", min=0)] = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Continue a study; trials it already finished are kept, never rerun."""
    _check_executor(executor, workers, address)
    chosen = settings.workspace(chosen=workspace, announce=not (quiet or json_), create=False)  # before the imports
    from tidal.automl import load_study

    study = load_study(study_id, chosen)
    if study.record.status == "succeeded":
        raise TidalError(f"study {study.id} already finished; there is nothing to resume")
    record = study.optimize(**_executor_options(executor, workers, address), on_event=StudyProgress(not (quiet or json_)))
    _show(study, json_)
    if record.status != "succeeded":
        raise typer.Exit(1)
