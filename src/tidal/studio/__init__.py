"""Tidal Studio: build, run and inspect pipelines in the browser.

A FastAPI backend over Tidal's public API plus a single-page front end (built from ``web/`` into
``static/``). Start it with ``tidal studio`` or::

    from tidal.studio import create_app, serve
    serve(host="127.0.0.1", port=8765)
"""

from tidal.studio._app import create_app
from tidal.studio._serve import serve, studio_url

__all__ = ["create_app", "serve", "studio_url"]
