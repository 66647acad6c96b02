"""Tidal: a one-stop machine-learning platform.

The public surface::

    import tidal
    from tidal import component, Param, Column, Pipeline

    @component("my.double", title="Double a column")
    def double(data: pd.DataFrame, *, column: Column) -> pd.DataFrame: ...

    with tidal.Pipeline("demo") as p: ...
    result = tidal.run(p)
"""

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

__version__ = "0.1.0"

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
