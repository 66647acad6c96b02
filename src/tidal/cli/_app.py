"""The ``tidal`` command line (Typer + Rich)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from tidal.core._errors import TidalError

app = typer.Typer(
    name="tidal",
    help="Tidal: typed components, YAML pipelines, cached and resumable runs, model packages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: Rich's help renderer alone costs ~0.3 s at every start
)


WORKSPACE_HELP = ("workspace folder (default: the nearest one holding .tidal/ above the pipeline file, "
                  "then above the current folder; or TIDAL_WORKSPACE)")
#: ``--workspace`` on a command; the same as ``tidal --workspace DIR COMMAND``, and wins over it
WorkspaceOption = Annotated[Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)]


@dataclass
class Settings:
    home: Path | None = None
    db: str | None = None
    artifacts: str | None = None

    def workspace(self, near: Path | None = None, *, chosen: Path | None = None, announce: bool = True,  # type: ignore[no-untyped-def]
                  create: bool = True):
        """The workspace for a command about ``near`` (a pipeline or study file, or a folder).

        ``chosen`` (the command's ``--workspace``) beats ``tidal --workspace``, which beats
        ``TIDAL_WORKSPACE``, which beats discovery (``tidal.store.find_workspace``). ``announce``
        prints ``workspace: PATH`` on stderr (never on stdout, where ``--json`` writes). A command
        that only reads (``create=False``) refuses where there is no workspace instead of making one.
        """
        from tidal.store import Workspace, find_workspace
        from tidal.store._workspace import STATE_DIR

        root = find_workspace(near, chosen=chosen or self.home)
        new = not (root / STATE_DIR).is_dir()
        if root.exists() and not root.is_dir():
            raise TidalError(f"the workspace {root} is a file, not a folder; choose a folder with --workspace")
        if new and not create:
            raise TidalError(f"no Tidal workspace at {root} or above it (no {STATE_DIR}/ folder), so there is nothing "
                             "to show or resume; run a pipeline there first (`tidal run FILE`, `tidal demo`), or point at one "
                             "with --workspace FOLDER")
        workspace = Workspace.open(root, db=self.db, artifacts=self.artifacts)
        if announce:
            from rich.markup import escape

            from tidal.cli._render import errors

            errors.print(f"[dim]workspace: {escape(str(root))}{' (new)' if new else ''}[/]", highlight=False, soft_wrap=True)
        return workspace


    def existing_workspace(self, near: Path | None = None, *, chosen: Path | None = None,  # type: ignore[no-untyped-def]
                           announce: bool = True):
        """The workspace if there is one, else None (nothing is created): for commands that need one only sometimes."""
        from tidal.store import find_workspace
        from tidal.store._workspace import STATE_DIR

        root = find_workspace(near, chosen=chosen or self.home)
        return self.workspace(near, chosen=chosen, announce=announce) if (root / STATE_DIR).is_dir() else None


settings = Settings()


def _print_version(value: bool) -> None:
    if value:
        import tidal

        typer.echo(f"tidal {tidal.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="print Tidal's version and exit")] = False,
    home: Annotated[Path | None, typer.Option("--workspace", "-w", "--home", help=WORKSPACE_HELP)] = None,
    db: Annotated[str | None, typer.Option("--db", help="metadata database URL, e.g. postgresql://user@host/tidal")] = None,
    artifacts: Annotated[str | None, typer.Option("--artifacts", help="artifact store URI, e.g. s3://bucket/tidal")] = None,
) -> None:
    settings.home, settings.db, settings.artifacts = home, db, artifacts


def main() -> None:
    """Entry point: user mistakes print a clear message and exit 2, never a traceback."""
    from tidal.cli import (  # noqa: F401 - registers commands
        _catalog,
        _demo,
        _estimate,
        _market,
        _models,
        _nn,
        _notebook,
        _optimize,
        _runs,
        _serve,
        _stream,
        _studio,
        _tune,
    )
    from tidal.cli._render import errors

    try:
        app()
    except TidalError as error:
        from rich.markup import escape

        errors.print(f"[red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        errors.print("[magenta]interrupted[/]")
        sys.exit(130)
