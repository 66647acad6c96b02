"""``tidal models``: the model registry (register, list, show, alias, tag) and exports (export)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console, print_json
from tidal.core._errors import TidalError

models_app = typer.Typer(help="The model registry: named models, numbered versions, aliases.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _registry(chosen: Path | None, announce: bool = True, create: bool = True):  # type: ignore[no-untyped-def]
    from tidal.models import ModelRegistry

    return ModelRegistry(settings.workspace(chosen=chosen, announce=announce, create=create))


def _tags(values: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in values or []:
        if "=" not in item:
            raise TidalError(f"tag '{item}' must be KEY=VALUE")
        key, value = item.split("=", 1)
        tags[key.strip()] = value
    return tags


@models_app.command("register")
def register(
    source: Annotated[str, typer.Argument(help="a run id (then NODE), or a model package folder or archive")],
    node: Annotated[str | None, typer.Argument(help="the node that produced the model, when SOURCE is a run id")] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="registered model name")] = "",
    port: Annotated[str | None, typer.Option("--port", help="output port, when the node has several models")] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="point this alias (e.g. production) at the new version")] = None,
    description: Annotated[str | None, typer.Option("--description", help="what this version is")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable)")] = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Register a model: `tidal models register RUN NODE --name churn` or `tidal models register model.zip --name churn`."""
    if not name:
        raise TidalError("give the registered model's name with --name NAME")
    registry = _registry(workspace, announce=not json_)
    if node is None:
        if not Path(source).exists():
            raise TidalError(f"'{source}' is neither a model package path nor followed by a NODE; "
                             "use `tidal models register RUN NODE --name NAME` or a package path")
        version = registry.register(Path(source), name, alias=alias, description=description, tags=_tags(tag))
    else:
        version = registry.register_from_run(source, node, name, port=port, alias=alias, description=description,
                                             tags=_tags(tag))
    if json_:
        print_json(version.to_dict())
        return
    aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
    console.print(f"registered [bold]{version.name}[/] version [bold]{version.version}[/]{aliases}: {version.model_uri}")


@models_app.command("list")
def list_models(json_: Annotated[bool, typer.Option("--json")] = False, workspace: WorkspaceOption = None) -> None:
    """Registered models with their newest version and aliases."""
    from rich.table import Table

    models = _registry(workspace, announce=not json_, create=False).list_models()
    if json_:
        print_json([model.to_dict() for model in models])
        return
    table = Table(title="models")
    for column in ("name", "latest", "aliases", "description", "updated"):
        table.add_column(column)
    for model in models:
        aliases = ", ".join(f"{alias}→{version}" for alias, version in sorted(model.aliases.items()))
        table.add_row(model.name, str(model.latest_version or ""), aliases, model.description or "",
                      model.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)


@models_app.command("show")
def show(
    model: Annotated[str, typer.Argument(help="NAME, or models:/NAME@ALIAS, models:/NAME/VERSION")],
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """A model's versions (lineage, aliases, tags), or one version with its manifest."""
    from rich.table import Table

    registry = _registry(workspace, announce=not json_, create=False)
    if model.startswith("models:/"):
        from tidal.models import read_package_manifest

        version = registry.resolve(model)
        facts = version.to_dict()
        path = registry.workspace.artifacts.local_path(version.uri)
        facts["manifest"] = {key: value for key, value in read_package_manifest(path).items() if key != "payload"}
        if json_:
            print_json(facts)
            return
        console.print(f"[bold]{version.name}[/] version {version.version}  {version.flavor} {version.task}")
        for key in ("model_uri", "aliases", "run_id", "node_id", "description", "tags", "uri", "created_at"):
            console.print(f"  {key}: {facts[key]}")
        inputs = facts["manifest"].get("signature", {}).get("inputs", [])
        console.print(f"  inputs: {', '.join(item['name'] + ':' + item.get('dtype', '?') for item in inputs)}")
        return
    found = registry.get_model(model)
    versions = registry.versions(model)
    if json_:
        print_json({**found.to_dict(), "versions": [item.to_dict() for item in versions]})
        return
    table = Table(title=f"{found.name}" + (f" — {found.description}" if found.description else ""))
    for column in ("version", "aliases", "flavor", "task", "run", "node", "tags", "created"):
        table.add_column(column)
    for item in versions:
        table.add_row(str(item.version), ", ".join(item.aliases), item.flavor, item.task, item.run_id or "",
                      item.node_id or "", ", ".join(f"{k}={v}" for k, v in item.tags.items()),
                      item.created_at.strftime("%Y-%m-%d %H:%M:%S") if item.created_at else "")
    console.print(table)


@models_app.command("alias")
def alias(
    name: Annotated[str, typer.Argument(help="registered model name")],
    alias_name: Annotated[str, typer.Argument(help="alias, e.g. production or staging")],
    version: Annotated[int | None, typer.Argument(help="version number (omit with --delete)")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="remove the alias")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Point an alias at a version (`tidal models alias churn production 3`), or remove it."""
    registry = _registry(workspace)
    if delete:
        registry.delete_alias(name, alias_name)
        console.print(f"removed alias {alias_name} of {name}")
        return
    if version is None:
        raise TidalError("give the VERSION the alias should point at, or --delete")
    registry.set_alias(name, alias_name, version)
    console.print(f"models:/{name}@{alias_name} → version {version}")


@models_app.command("tag")
def tag(
    name: Annotated[str, typer.Argument(help="registered model name")],
    tags: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs")],
    version: Annotated[int | None, typer.Option("--version", help="tag this version instead of the model")] = None,
    description: Annotated[str | None, typer.Option("--description", help="also set the description")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Add tags (and a description) to a model or one of its versions."""
    registry = _registry(workspace)
    if version is None:
        registry.update_model(name, description=description, tags=_tags(tags))
    else:
        registry.update_version(name, version, description=description, tags=_tags(tags))
    console.print("tagged")


class ExportFormat(enum.StrEnum):
    onnx = "onnx"
    pmml = "pmml"


def _read_rows(path: Path):  # type: ignore[no-untyped-def]
    """A CSV or Parquet file of rows to check an export on."""
    import pandas as pd

    from tidal.core._errors import DataError

    if not path.is_file():
        raise DataError(f"--data {path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise DataError(f"--data {path}: cannot read it as {'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'} "
                        f"({error})") from None


@models_app.command("export")
def export(
    model: Annotated[str, typer.Argument(help="NAME (newest version), NAME@ALIAS, NAME/VERSION, or models:/... the same")],
    to: Annotated[ExportFormat, typer.Option("--to", help="onnx or pmml")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: NAME-VERSION.onnx|.pmml here)")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="CSV or Parquet of held-out rows to check the export on "
                                                             "(default: rows generated from the model)")] = None,
    tolerance: Annotated[float | None, typer.Option("--tolerance", help="largest difference accepted "
                                                                         "(default 1e-5 ONNX, 1e-9 PMML)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace the output file if it exists")] = False,
    trust: Annotated[bool, typer.Option("--trust", help="allow model payloads that run code when loaded (pickle)")] = False,
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Export a registered model to ONNX or PMML, writing it only after it reproduces the model's answers."""
    from tidal.models import export_model, parse_model_uri
    from tidal.models._export import default_export_name

    reference = parse_model_uri(model if model.startswith("models:/") else f"models:/{model}")
    registry = _registry(workspace, announce=not json_)
    version = registry.resolve(reference)
    package = registry.load(version.model_uri, trust=trust)
    target = output if output is not None else Path(default_export_name(version.name, version.version, to.value))
    rows = _read_rows(data) if data is not None else None
    report = export_model(package, target, format=to.value, data=rows, tolerance=tolerance, overwrite=force,
                          source=version.model_uri)
    if json_:
        print_json({"model_uri": version.model_uri, **report.to_dict()})
        return
    console.print(f"exported {version.model_uri} to {report.path} ({report.converter}); {report.summary()}",
                  markup=False, highlight=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
