"""Tidal: a one-stop machine-learning platform.

The public surface::

    import tidal
    from tidal import component, Param, Column, Pipeline

    @component("my.double", title="Double a column")
    def double(data: pd.DataFrame, *, column: Column) -> pd.DataFrame: ...

    with tidal.Pipeline("demo") as p: ...
    result = tidal.run(p)
"""

from typing import TYPE_CHECKING

from tidal.core._display import use_renderer
from tidal.core._lazy import lazy_attributes

__version__ = "0.1.0"

# objects display themselves in notebooks through tidal.notebook, imported at the first display only
use_renderer("tidal.notebook._render")

_EXPORTS = {
    "CodeNotAllowed": "tidal.core",
    "Column": "tidal.core",
    "Columns": "tidal.core",
    "ComponentSpec": "tidal.core",
    "DataError": "tidal.core",
    "Figure": "tidal.core",
    "InputFile": "tidal.core",
    "Issue": "tidal.core",
    "LazyTable": "tidal.core",
    "Metrics": "tidal.core",
    "ModelPackage": "tidal.models",
    "ModelRegistry": "tidal.models",
    "NotFound": "tidal.core",
    "OutputFile": "tidal.core",
    "Param": "tidal.core",
    "Pipeline": "tidal.pipeline",
    "Port": "tidal.core",
    "RunResult": "tidal.runtime",
    "Table": "tidal.core",
    "TidalError": "tidal.core",
    "ValidationFailed": "tidal.core",
    "Workspace": "tidal.store",
    "YamlError": "tidal.core",
    "component": "tidal.core",
    "get_component": "tidal.core",
    "load_model": "tidal.models",
    "load_pipeline": "tidal.pipeline",
    "registry": "tidal.core",
    "resolve_model_uri": "tidal.models",
    "resume_run": "tidal.runtime",
    "run": "tidal.runtime:run_pipeline",
    "validate": "tidal.pipeline",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from tidal.core import (
        CodeNotAllowed,
        Column,
        Columns,
        ComponentSpec,
        DataError,
        Figure,
        InputFile,
        Issue,
        LazyTable,
        Metrics,
        NotFound,
        OutputFile,
        Param,
        Port,
        Table,
        TidalError,
        ValidationFailed,
        YamlError,
        component,
        get_component,
        registry,
    )
    from tidal.models import ModelPackage, ModelRegistry, load_model, resolve_model_uri
    from tidal.pipeline import Pipeline, load_pipeline, validate
    from tidal.runtime import RunResult, resume_run
    from tidal.runtime import run_pipeline as run
    from tidal.store import Workspace

__all__ = [
    "CodeNotAllowed",
    "Column",
    "Columns",
    "ComponentSpec",
    "DataError",
    "Figure",
    "InputFile",
    "Issue",
    "LazyTable",
    "Metrics",
    "ModelPackage",
    "ModelRegistry",
    "NotFound",
    "OutputFile",
    "Param",
    "Pipeline",
    "Port",
    "RunResult",
    "Table",
    "TidalError",
    "ValidationFailed",
    "Workspace",
    "YamlError",
    "__version__",
    "component",
    "get_component",
    "load_model",
    "load_pipeline",
    "registry",
    "resolve_model_uri",
    "resume_run",
    "run",
    "validate",
]
