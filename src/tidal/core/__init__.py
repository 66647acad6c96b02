"""The component model: ports, parameters, the decorator and the registry."""

from tidal.core._component import ComponentSpec, Port, PortSpec, component
from tidal.core._errors import (
    CodeNotAllowed,
    DataError,
    Issue,
    NotFound,
    ParameterError,
    RunFailed,
    TidalError,
    UnsafeModelError,
    ValidationFailed,
)
from tidal.core._params import Column, Columns, InputFile, OutputFile, Param, ParamSpec
from tidal.core._ports import Figure, LazyTable, Metrics, Table
from tidal.core._registry import Registry, get_component, registry
from tidal.core._yaml import (
    YamlError,
    YamlLimits,
    check_nesting,
    load_yaml,
    load_yaml_file,
    read_yaml_text,
)

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
    "NotFound",
    "OutputFile",
    "Param",
    "ParamSpec",
    "ParameterError",
    "Port",
    "PortSpec",
    "Registry",
    "RunFailed",
    "Table",
    "TidalError",
    "UnsafeModelError",
    "ValidationFailed",
    "YamlError",
    "YamlLimits",
    "check_nesting",
    "component",
    "get_component",
    "load_yaml",
    "load_yaml_file",
    "read_yaml_text",
    "registry",
]
