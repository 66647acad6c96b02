"""The ``tidal`` command line."""

from tidal.cli._app import app, main

__all__ = ["app", "main"]
