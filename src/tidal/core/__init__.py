"""The component model: ports, parameters, the decorator and the registry."""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "CodeNotAllowed": "tidal.core._errors",
    "Column": "tidal.core._params",
    "Columns": "tidal.core._params",
    "ComponentSpec": "tidal.core._component",
    "DataError": "tidal.core._errors",
    "Figure": "tidal.core._ports",
    "InputFile": "tidal.core._params",
    "Issue": "tidal.core._errors",
    "LazyTable": "tidal.core._ports",
    "Metrics": "tidal.core._ports",
    "NotFound": "tidal.core._errors",
    "OutputFile": "tidal.core._params",
    "Param": "tidal.core._params",
    "ParamSpec": "tidal.core._params",
    "ParameterError": "tidal.core._errors",
    "Port": "tidal.core._component",
    "PortSpec": "tidal.core._component",
    "Registry": "tidal.core._registry",
    "Resources": "tidal.core._resources",
    "RunFailed": "tidal.core._errors",
    "Table": "tidal.core._ports",
    "TidalError": "tidal.core._errors",
    "UnsafeModelError": "tidal.core._errors",
    "ValidationFailed": "tidal.core._errors",
    "YamlError": "tidal.core._yaml",
    "YamlLimits": "tidal.core._yaml",
    "check_nesting": "tidal.core._yaml",
    "component": "tidal.core._component",
    "get_component": "tidal.core._registry",
    "load_yaml": "tidal.core._yaml",
    "load_yaml_file": "tidal.core._yaml",
    "read_yaml_text": "tidal.core._yaml",
    "registry": "tidal.core._registry",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
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
    from tidal.core._resources import Resources
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
    "Resources",
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
