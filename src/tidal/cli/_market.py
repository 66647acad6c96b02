"""``tidal market ...`` (third-party component packages) and ``tidal components new`` (a plug-in project)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._catalog import components_app
from tidal.cli._render import console, print_json

market_app = typer.Typer(help="The algorithm market: search, install, verify and remove plug-in packages.", no_args_is_help=True)
app.add_typer(market_app, name="market")

IndexOption = Annotated[str | None, typer.Option("--index", help="index file, file:// or https:// URL (default: TIDAL_MARKET_INDEX, "
                                                                "else the empty index shipped with Tidal)")]


@components_app.command("new")
def components_new(
    name: Annotated[str, typer.Argument(help="the plug-in's distribution name, e.g. acme-tools (category acme_tools)")],
    folder: Annotated[Path | None, typer.Option("--dir", help="where to create the project folder (default: here)")] = None,
) -> None:
    """Write a plug-in project: pyproject with the entry point, one example component, its tests, README, CI."""
    from tidal.market import scaffold_plugin

    root = scaffold_plugin(name, folder)
    console.print(f"wrote {root}\n  cd {root} && pip install -e '.[test]' && pytest", markup=False, highlight=False, soft_wrap=True)


@market_app.command("search")
def market_search(
    text: Annotated[str, typer.Argument(help="words to look for in names, summaries and component ids")] = "",
    index: IndexOption = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Packages in the index whose name, summary or components hold every word."""
    from rich.markup import escape
    from rich.table import Table

    from tidal.market import load_index

    market = load_index(index)
    found = market.search(text)
    if json_:
        print_json([entry.to_dict() for entry in found])
        return
    table = Table(title=escape(f"{len(found)} packages in {market.name}"))
    for column in ("package", "version", "licence", "components", "summary"):
        table.add_column(column, overflow="fold")
    for entry in found:  # an index is someone else's text: never Rich markup
        table.add_row(entry.package, entry.version, escape(entry.licence), ", ".join(entry.components), escape(entry.summary))
    console.print(table)


@market_app.command("show")
def market_show(
    package: Annotated[str, typer.Argument(help="the package's name")],
    index: IndexOption = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace_dir: WorkspaceOption = None,
) -> None:
    """A package: its index entry (when listed), whether it is installed, its components, load errors and conformance."""
    from tidal.core._errors import NotFound
    from tidal.market import installed_plugins, load_index
    from tidal.market._index import canonical_name

    market = load_index(index)
    try:
        entry: dict[str, object] | None = market.find(package).to_dict()
    except NotFound:
        entry = None
    found = settings.existing_workspace(chosen=workspace_dir, announce=not json_)  # reading creates no workspace
    root = found.root if found is not None else Path.cwd()  # no workspace: no verification records to show
    plugin = next((item for item in installed_plugins(root) if canonical_name(item.distribution) == canonical_name(package)), None)
    if entry is None and plugin is None:
        raise NotFound(f"'{package}' is neither in the index {market.location} nor installed as a plug-in; "
                       "try `tidal market search WORDS`")
    if json_:
        print_json({"index": entry, "installed": plugin.to_dict() if plugin else None})
        return
    if entry is not None:  # an index is someone else's text: printed without Rich markup
        console.print(f"{entry['package']} {entry['version']} · licence {entry['licence']} · sha256 {entry['sha256']}",
                      markup=False, highlight=False)
        console.print(f"  {entry['summary']}\n  components: {', '.join(entry['components'])}",  # type: ignore[arg-type]
                      markup=False, highlight=False)
    if plugin is None:
        console.print("  not installed: `tidal market install " + package + "`")
        return
    console.print(f"installed {plugin.distribution} {plugin.version} · conformance {plugin.conformance}"
                  + (f" (verified {plugin.verified_version} at {plugin.verified_at})" if plugin.verified_at else ""))
    console.print(f"  components: {', '.join(plugin.components) or 'none'}")
    for name, error in plugin.load_errors.items():
        console.print(f"  [red]plug-in {name} failed to load:[/] {error}", highlight=False)


@market_app.command("install")
def market_install(
    package: Annotated[str, typer.Argument(help="the package's name in the index")],
    index: IndexOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="install without asking (the package's code will run in Tidal)")] = False,
) -> None:
    """Install a package from the index into this Python environment, after checking its sha256."""
    from tidal.core._errors import TidalError
    from tidal.market import install_package, load_index
    from tidal.market._install import check_package_name

    check_package_name(package)
    market = load_index(index)
    entry = market.find(package)
    if not yes:
        console.print(f"{entry.package} {entry.version} ({entry.licence}) from {market.location}\n"
                      f"  components: {', '.join(entry.components)}\n"
                      "  Installing runs this package's code inside Tidal with your permissions.", highlight=False)
        if not typer.confirm("Install it?", default=False):
            raise TidalError(f"{entry.package} was not installed (not confirmed); pass --yes to install without asking")
    result = install_package(entry.package, market)
    console.print(f"installed {result.package} {result.version} (sha256 {result.sha256} checked); "
                  f"run `tidal market verify {result.package}`", highlight=False)


@market_app.command("remove")
def market_remove(package: Annotated[str, typer.Argument(help="the installed plug-in's name")]) -> None:
    """Uninstall a plug-in package from this Python environment."""
    from tidal.market import remove_package

    version = remove_package(package)
    console.print(f"removed {package} {version}", highlight=False)


@market_app.command("verify")
def market_verify(
    package: Annotated[str, typer.Argument(help="the installed plug-in's name")],
    json_: Annotated[bool, typer.Option("--json")] = False,
    workspace_dir: WorkspaceOption = None,
) -> None:
    """Run the conformance suite over an installed plug-in's components and record the result in the workspace."""
    from rich.table import Table

    from tidal.market import verify_plugin

    root = settings.workspace(chosen=workspace_dir, announce=not json_).root
    result = verify_plugin(package, root)
    if json_:
        print_json(result.to_dict())
    else:
        from tidal.conformance import CHECKS

        table = Table(title=f"{result.distribution} {result.version}: {'passed' if result.passed else 'FAILED'}")
        table.add_column("component")
        for check in CHECKS:
            table.add_column(check)
        for spec_id, checks in result.components.items():
            table.add_row(spec_id, *["ok" if checks.get(check) is None else "[red]fail[/]" for check in CHECKS])
        console.print(table)
        for spec_id, checks in result.components.items():
            for check, message in checks.items():
                if message is not None:
                    console.print(f"[red]{spec_id} {check}:[/] {message}", highlight=False)
        for name, error in result.load_errors.items():
            console.print(f"[red]plug-in {name} failed to load:[/] {error}", highlight=False)
    if not result.passed:
        raise typer.Exit(1)
