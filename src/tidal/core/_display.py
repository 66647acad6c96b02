"""Rich display in notebooks, as a seam: objects answer ``_repr_mimebundle_`` through a renderer
that a higher layer (``tidal.notebook``) provides.

The core cannot import the notebook package (it sits above every other layer), so the root
package names it here (:func:`use_renderer`) and it is imported on the first display only:
``import tidal`` stays as cheap as before, and a script that never displays anything never
imports it. Without a renderer (or when it fails to import) an object shows its plain ``repr``.
"""

from __future__ import annotations

import importlib
from typing import Any

_state: dict[str, Any] = {"module": None, "renderer": None}


def use_renderer(module: str) -> None:
    """Name the module whose ``mimebundle(obj, include, exclude)`` and ``display_object(obj)`` render."""
    _state["module"], _state["renderer"] = module, None


def _renderer() -> Any:
    if _state["renderer"] is None and _state["module"]:
        try:
            _state["renderer"] = importlib.import_module(_state["module"])
        except ImportError:
            _state["module"] = None  # not installed: plain repr from now on
    return _state["renderer"]


class Displayable:
    """Mixin: a rich view in Jupyter (a widget, with static HTML for nbconvert and GitHub) and marimo."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        renderer = _renderer()
        return None if renderer is None else renderer.mimebundle(self, include, exclude)  # type: ignore[no-any-return]

    def _repr_html_(self) -> str | None:
        renderer = _renderer()
        return None if renderer is None else renderer.static_html(self)  # type: ignore[no-any-return]

    def _display_(self) -> Any:  # marimo: the object to show in place of this one
        renderer = _renderer()
        return repr(self) if renderer is None else renderer.display_object(self)
