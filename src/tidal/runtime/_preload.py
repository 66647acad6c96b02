"""Imported once by the worker fork server so every worker starts with the components loaded."""

from tidal.core._registry import registry
from tidal.runtime import _worker  # noqa: F401

registry.load()
