"""Commands that describe things: components and artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console, format_metric, human_bytes, print_json
from tidal.core._errors import NotFound

components_app = typer.Typer(help="The component catalogue.", no_args_is_help=True)
artifacts_app = typer.Typer(help="Look at what runs produced.", no_args_is_help=True)
app.add_typer(components_app, name="components")
app.add_typer(artifacts_app, name="artifacts")


@components_app.command("list")
def components_list(
    category: Annotated[str | None, typer.Option("--category", "-c", help="only this category, e.g. data")] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help="words to look for in ids, titles and docs")] = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every registered component (built-in and plug-ins)."""
    from rich.table import Table

    from tidal.core import registry

    registry.load_new_plugins()  # plug-ins installed since the registry loaded in this process (market install)
    specs = registry.all()
    if category:
        specs = [spec for spec in specs if spec.category == category]
    if search:
        words = search.lower().split()
        specs = [spec for spec in specs if all(word in f"{spec.id} {spec.title} {spec.description}".lower() for word in words)]
    if json_:
        print_json([{**spec.to_dict(), "origin": registry.origins.get(spec.id, "tidal")} for spec in specs])
        _print_plugin_errors(registry.plugin_errors, to_errors=True)
        return
    table = Table(title=f"{len(specs)} components")
    for column in ("id", "title", "inputs", "outputs", "origin", "summary"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        table.add_row(
            spec.id,
            spec.title,
            ", ".join(f"{port.name}:{port.type}" for port in spec.inputs),
            ", ".join(f"{port.name}:{port.type}" for port in spec.outputs),
            registry.origins.get(spec.id, "tidal"),
            spec.description.split("\n", 1)[0],
        )
    console.print(table)
    _print_plugin_errors(registry.plugin_errors)


def _print_plugin_errors(plugin_errors: dict[str, str], *, to_errors: bool = False) -> None:
    """Each plug-in that failed to load, with its error (on stderr beside --json output)."""
    from rich.markup import escape

    from tidal.cli._render import errors

    for name, error in plugin_errors.items():
        (errors if to_errors else console).print(f"[yellow]plug-in {escape(name)} failed to load:[/] {escape(error)}",
                                                 highlight=False, soft_wrap=True)


@components_app.command("show")
def components_show(
    component_id: Annotated[str, typer.Argument(help="e.g. classification.logistic_regression")],
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A component's ports, parameters (with bounds and defaults) and documentation."""
    from tidal.core import get_component

    spec = get_component(component_id)
    if json_:
        print_json(spec.to_dict())
        return
    console.print(render_component_markdown(spec.to_dict()), markup=False, highlight=False)


def render_component_markdown(info: dict[str, Any]) -> str:
    """The same text `tidal components show` prints, as Markdown (also used for docs/components)."""
    lines = [f"## {info['title']} (`{info['id']}`, v{info['version']})", ""]
    ports = [("Inputs", info["inputs"]), ("Outputs", info["outputs"])]
    for heading, items in ports:
        lines.append(f"**{heading}:** " + (", ".join(
            f"`{port['name']}` ({port['type']}{', optional' if port.get('optional') else ''})" for port in items
        ) or "none"))
    lines.append("")
    schema = info["params"]
    required = set(schema.get("required", []))
    properties = schema.get("properties", {})
    if properties:
        lines += ["| parameter | type | default | constraints | help |", "| --- | --- | --- | --- | --- |"]
        for name, prop in properties.items():
            lines.append(
                f"| `{name}` | {_type_text(prop)} | {'required' if name in required else repr(prop.get('default'))} "
                f"| {_constraints(prop)} | {prop.get('description', '')} |"
            )
        lines.append("")
    tags = {key: value for key, value in info.get("tags", {}).items() if key not in ("sample", "sample_params", "file_format")}
    if tags:
        lines.append("**Tags:** " + ", ".join(f"{key}={value}" for key, value in tags.items()))
        lines.append("")
    lines.append(_fence_examples(info["description"]))
    return "\n".join(lines)


def _fence_examples(description: str) -> str:
    """Show a numpy-style 'Examples' section as a code block."""
    head, marker, examples = description.partition("Examples\n--------\n")
    if not marker:
        return description
    return f"{head.rstrip()}\n\n**Examples**\n\n```python\n{examples.strip()}\n```"


def _type_text(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(map(str, prop["enum"]))
    if "anyOf" in prop:
        return " or ".join(_type_text(item) for item in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    return str(prop.get("type", "any"))


def _constraints(prop: dict[str, Any]) -> str:
    marks = {"exclusiveMinimum": ">", "minimum": "≥", "exclusiveMaximum": "<", "maximum": "≤"}
    parts = [f"{symbol} {prop[key]}" for key, symbol in marks.items() if key in prop]
    if prop.get("x-log"):
        parts.append("log scale")
    if prop.get("x-column-of"):
        parts.append("column")
    return ", ".join(parts)


@artifacts_app.command("show")
def artifacts_show(
    run_id: Annotated[str, typer.Argument(help="run id")],
    output: Annotated[str, typer.Argument(help="NODE or NODE.PORT")],
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, max=10000, help="table rows to show")] = 10,
    offset: Annotated[int, typer.Option("--offset", min=0, help="first table row to show")] = 0,
    max_columns: Annotated[int, typer.Option("--max-columns", min=1, help="table columns to show")] = 8,
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace_dir: WorkspaceOption = None,
) -> None:
    """Preview an output: a table's first rows and columns, metrics, a model's summary."""
    from rich.table import Table

    from tidal.runtime import RunResult
    from tidal.runtime._values import preview

    workspace = settings.workspace(chosen=workspace_dir, announce=not json_)
    result = RunResult.load(workspace, run_id)
    node, _, port = output.partition(".")
    if node not in result.nodes:
        raise NotFound(f"run {result.id} has no node '{node}' (nodes: {', '.join(result.nodes)})")
    record = result.artifact(node, port or None)
    view = preview(workspace.artifacts.local_path(record.uri), record.type, rows=rows, offset=offset)
    view["uri"], view["size_bytes"] = workspace.artifacts.full_uri(record.uri), record.size_bytes
    if json_:
        print_json(view)
        return
    console.print(f"[bold]{node}.{record.port}[/] · {record.type} · {human_bytes(record.size_bytes)} · {view['uri']}")
    if record.type == "Table":
        shown_columns = view["columns"][:max_columns]
        hidden = len(view["columns"]) - len(shown_columns)
        more = f", {hidden} more columns: raise --max-columns or use --json" if hidden else ""
        table = Table(title=f"{view['rows']:,} rows × {len(view['columns'])} columns (rows {offset}-{offset + len(view['data']) - 1}{more})")
        names = [column["name"] for column in shown_columns]
        for column in shown_columns:
            table.add_column(f"{column['name']}\n[dim]{column['type']}[/]", overflow="fold")
        for row in view["data"]:
            table.add_row(*[format_metric(row.get(name)) for name in names])
        console.print(table)
    elif record.type == "Metrics":
        table = Table(title="metrics")
        table.add_column("name")
        table.add_column("value")
        for key, value in view.get("metrics", {}).items():
            table.add_row(key, format_metric(value))
        console.print(table)
        if view.get("figures"):
            console.print("figures: " + ", ".join(view["figures"]) + "  (use --json for the Vega-Lite specs)")
    elif record.type == "Model":
        summary = view["summary"]
        console.print(f"flavor {summary['flavor']} · task {summary['task']} · label {summary.get('label')}")
        console.print(f"classes: {summary.get('classes')}")
        console.print("inputs: " + ", ".join(f"{item['name']}:{item['dtype']}" for item in summary["signature"]["inputs"]))
        console.print(f"params: {summary.get('params')}")
        console.print(f"lineage: {summary.get('lineage')}  ·  libraries: {summary.get('libraries')}")
    else:
        print_json(view["spec"])


def write_catalogue(folder: Path) -> list[Path]:
    """One Markdown page per category, generated from the registry (built-in components only)."""
    from tidal.core import registry
    from tidal.core._categories import category_title

    folder.mkdir(parents=True, exist_ok=True)
    by_category: dict[str, list[Any]] = {}
    for spec in registry.all():
        if spec.func.__module__.startswith("tidal.components."):
            by_category.setdefault(spec.category, []).append(spec)
    written = []
    index = ["# Component catalogue", "", "Generated from the registry by `tidal components docs`; do not edit by hand.", ""]
    for category, specs in sorted(by_category.items()):
        page = folder / f"{category}.md"
        sections = [f"# {category_title(category)} (`{category}.*`)", "", f"{len(specs)} components.", ""]
        sections += [render_component_markdown(spec.to_dict()) + "\n" for spec in specs]
        page.write_text("\n".join(sections))
        written.append(page)
        index.append(f"- [{category_title(category)}]({category}.md) (`{category}.*`): {len(specs)} components — "
                     + ", ".join(f"`{spec.name}`" for spec in specs))
    (folder / "README.md").write_text("\n".join(index) + "\n")
    return written


@components_app.command("docs")
def components_docs(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the generated pages")] = Path("docs/components"),
) -> None:
    """Write the component catalogue as Markdown, one page per category."""
    pages = write_catalogue(out)
    console.print(f"wrote {len(pages)} category pages to {out}")
