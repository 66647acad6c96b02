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


@dataclass
class Settings:
    home: Path | None = None
    db: str | None = None
    artifacts: str | None = None

    def workspace(self):  # type: ignore[no-untyped-def]
        from tidal.store import Workspace

        return Workspace.open(self.home, db=self.db, artifacts=self.artifacts)


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
    home: Annotated[Path | None, typer.Option("--home", help="workspace folder (default: current directory or TIDAL_HOME)")] = None,
    db: Annotated[str | None, typer.Option("--db", help="metadata database URL, e.g. postgresql://user@host/tidal")] = None,
    artifacts: Annotated[str | None, typer.Option("--artifacts", help="artifact store URI, e.g. s3://bucket/tidal")] = None,
) -> None:
    settings.home, settings.db, settings.artifacts = home, db, artifacts


def main() -> None:
    """Entry point: user mistakes print a clear message and exit 2, never a traceback."""
    from tidal.cli import _catalog, _demo, _models, _runs, _serve, _studio, _tune  # noqa: F401 - registers commands
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
