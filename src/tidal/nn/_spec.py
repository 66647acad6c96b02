"""The network file format (``tidal-nn: 1``): the spec model, reading, writing.

A network file reads like a pipeline file::

    tidal-nn: 1
    name: mnist-cnn
    inputs:
      image: {shape: [batch, 1, 28, 28], dtype: float32}
    layers:
      - {id: conv1, kind: conv2d, inputs: [image], params: {out_channels: 8, kernel_size: 3}}
      - {id: act1, kind: relu, inputs: [conv1]}
      - {id: flat, kind: flatten, inputs: [act1]}
      - {id: fc, kind: linear, inputs: [flat], params: {out_features: 10}}
    outputs: {logits: fc}
    modules: {}          # named sub-networks (inputs, layers, outputs) for `kind: module`
    layout: {conv1: [40, 80]}

Input dims are numbers or symbol names (``batch``, ``seq``). A layer's ``inputs`` are refs:
an input name, a layer id (its first output) or ``layer.port`` (``lstm.h_n``, ``split.1``).
``outputs`` maps names to refs (a list of refs is also accepted). Keys starting with ``x-`` are
kept and ignored, anywhere a layer, network or sub-network has keys.

Files go through :func:`tidal.core.load_yaml_file` (size, encoding, depth and alias limits).
Structural problems are reported all at once as a :class:`NetworkError`; graph and shape
problems come later, from :func:`tidal.nn.validate_network` and :func:`tidal.nn.infer_shapes`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tidal.core._display import Displayable
from tidal.core._errors import TidalError
from tidal.core._yaml import load_yaml, load_yaml_file
from tidal.nn._issues import LayerIssue, NetworkError, issue

FORMAT_KEY = "tidal-nn"
FORMAT_VERSION = 1
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?$"
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
FLOAT_DTYPES = frozenset({"float32", "float64", "float16", "bfloat16"})

Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=100)]
Reference = Annotated[str, Field(pattern=REF_PATTERN, max_length=201)]


def _check_dim(value: Any) -> Any:
    ok_int = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**40
    ok_name = isinstance(value, str) and len(value) <= 50 and re.match(ID_PATTERN, value) is not None
    if not (ok_int or ok_name):
        raise ValueError(f"a dim must be a positive integer or a symbol name such as batch or seq, got {value!r:.60}")
    return value


Dimension = Annotated[
    int | str,
    BeforeValidator(_check_dim),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 2**40},
                              {"type": "string", "pattern": ID_PATTERN, "maxLength": 50}]}),
]
DType = Literal["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]

_OPEN: Any = {"patternProperties": {"^x-": {}}, "additionalProperties": False}


def _only_x_extras(model: BaseModel, allowed: str) -> None:
    extras = [key for key in (model.model_extra or {}) if not key.startswith("x-")]
    if extras:
        raise ValueError(f"unknown key {extras[0]!r} (allowed keys: {allowed}; prefix your own keys with 'x-')")


class TensorSpec(BaseModel):
    """One input tensor: its shape (numbers and symbol names) and dtype."""

    model_config = ConfigDict(extra="forbid", strict=True)

    shape: list[Dimension] = Field(max_length=16, description="dims: numbers, or symbol names such as batch, seq")
    dtype: DType = "float32"


class LayerSpec(BaseModel):
    """One layer: ``id`` (a Python identifier), ``kind``, ``inputs`` (refs, in port order) and ``params``."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra=_OPEN)

    id: Identifier
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    inputs: list[Reference] = Field(default_factory=list, max_length=256,
                                    description="refs in port order: an input name, 'layer' or 'layer.port'")
    params: dict[str, Any] = Field(default_factory=dict)
    title: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _check_extras(self) -> LayerSpec:
        _only_x_extras(self, "id, kind, inputs, params, title")
        return self


def _check_outputs(value: Any) -> Any:
    if not isinstance(value, (list, dict)):
        raise ValueError("outputs must be a mapping of output name to layer ref, or a list of layer refs")
    if not value:
        raise ValueError("outputs must name at least one layer")
    names = list(value) if isinstance(value, dict) else []
    refs = list(value.values()) if isinstance(value, dict) else value
    for name in names:
        if not isinstance(name, str) or re.match(ID_PATTERN, name) is None or len(name) > 100:
            raise ValueError(f"output name {name!r:.60} must be a name of letters, digits and underscores")
    for ref in refs:
        if not isinstance(ref, str) or re.match(REF_PATTERN, ref) is None or len(ref) > 201:
            raise ValueError(f"output ref {ref!r:.60} must be 'layer' or 'layer.port'")
    return value


class SubNetwork(BaseModel):
    """A named block of layers under ``modules:``, used by layers of kind ``module``."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra=_OPEN)

    description: str | None = Field(default=None, max_length=10_000)
    inputs: dict[Identifier, TensorSpec] = Field(min_length=1, max_length=64)
    layers: list[LayerSpec] = Field(min_length=1, max_length=20_000)
    outputs: dict[Identifier, Reference] | list[Reference]

    @field_validator("outputs", mode="before")
    @classmethod
    def _outputs(cls, value: Any) -> Any:
        return _check_outputs(value)

    @model_validator(mode="after")
    def _check_extras(self) -> SubNetwork:
        _only_x_extras(self, "description, inputs, layers, outputs")
        return self

    @property
    def output_map(self) -> dict[str, str]:
        return output_map(self.outputs)


def output_map(outputs: dict[str, str] | list[str]) -> dict[str, str]:
    """``outputs`` as name -> ref; a list names each output after its ref (``lstm.h_n`` -> ``lstm_h_n``)."""
    if isinstance(outputs, dict):
        return dict(outputs)
    return {ref.replace(".", "_"): ref for ref in outputs}


class NetworkSpec(BaseModel, Displayable):
    """A network file: ``tidal-nn``, ``name``, ``inputs``, ``layers``, ``outputs``, ``modules``, ``layout``."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True, json_schema_extra=_OPEN)

    tidal_nn: Literal[1] = Field(alias="tidal-nn", description="file format version")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    inputs: dict[Identifier, TensorSpec] = Field(min_length=1, max_length=64)
    layers: list[LayerSpec] = Field(min_length=1, max_length=20_000)
    outputs: dict[Identifier, Reference] | list[Reference]
    modules: dict[Identifier, SubNetwork] = Field(default_factory=dict, description="named sub-networks for kind: module")
    layout: dict[str, list[float]] = Field(default_factory=dict, description="canvas positions [x, y]; ignored by the engine")

    _source: Path | None = PrivateAttr(default=None)
    _files: dict[str, NetworkSpec] = PrivateAttr(default_factory=dict)

    @field_validator("outputs", mode="before")
    @classmethod
    def _outputs(cls, value: Any) -> Any:
        return _check_outputs(value)

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for key, point in value.items():
            if len(point) != 2:
                raise ValueError(f"layout of {key!r} must be [x, y]")
        return value

    @model_validator(mode="after")
    def _check_extras(self) -> NetworkSpec:
        _only_x_extras(self, "tidal-nn, name, description, inputs, layers, outputs, modules, layout")
        return self

    @property
    def output_map(self) -> dict[str, str]:
        return output_map(self.outputs)

    @property
    def source(self) -> Path | None:
        """The file this spec was read from (sub-network files are resolved next to it)."""
        return self._source

    @property
    def files(self) -> dict[str, NetworkSpec]:
        """Sub-network files referenced by ``kind: module`` layers, by the path written in the spec."""
        return self._files

    def layer(self, layer_id: str) -> LayerSpec:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(layer_id)

    @classmethod
    def from_dict(cls, data: Any, source: str | os.PathLike[str] | None = None) -> NetworkSpec:
        """Validate ``data`` (a parsed file); raises :class:`NetworkError` listing every structural problem."""
        where = f"{source}: " if source else ""
        if not isinstance(data, dict):
            raise TidalError(f"{where}a network file must be a mapping with 'tidal-nn', 'name', 'inputs', 'layers' and 'outputs'")
        if FORMAT_KEY in data and data[FORMAT_KEY] != FORMAT_VERSION:
            raise NetworkError([issue(f"unsupported file format version {data[FORMAT_KEY]!r}; this Tidal reads "
                                      f"'{FORMAT_KEY}: {FORMAT_VERSION}'", code="format")], subject=f"{where}network file".strip())
        try:
            spec = cls.model_validate(data)
        except ValidationError as error:
            found = [item for item in _format_issues(error, data) if "unknown key" not in item.message]
            raise NetworkError([*_unknown_keys(data), *found], subject=f"{where}network file".strip()) from None
        spec._source = Path(source) if source else None
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, in file order, without defaults a reader would add back."""
        data: dict[str, Any] = {FORMAT_KEY: FORMAT_VERSION, "name": self.name}
        if self.description is not None:
            data["description"] = self.description
        data.update(_network_dict(self))
        if self.modules:
            data["modules"] = {name: _network_dict(module, description=True) for name, module in self.modules.items()}
        if self.layout:
            data["layout"] = {key: list(value) for key, value in self.layout.items()}
        data.update(self.model_extra or {})
        return data

    def to_yaml(self) -> str:
        """The spec as YAML in the style of the examples: one line per layer where it fits."""
        return yaml.dump(_flow_layers(self.to_dict()), Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                         width=100, allow_unicode=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        file = Path(path)
        file.write_text(self.to_yaml(), encoding="utf-8")
        return file


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))


def _flow_layers(data: dict[str, Any]) -> dict[str, Any]:
    def graph(network: dict[str, Any]) -> dict[str, Any]:
        out = dict(network)
        out["inputs"] = {name: _Flow(tensor) for name, tensor in network["inputs"].items()}
        out["layers"] = [_Flow(layer) if _fits(layer) else layer for layer in network["layers"]]
        return out

    result = graph(data)
    if "modules" in data:
        result["modules"] = {name: graph(block) for name, block in data["modules"].items()}
    return result


def _fits(layer: dict[str, Any]) -> bool:
    text = yaml.safe_dump(layer, default_flow_style=True, width=10_000).strip()
    return len(text) <= 92 and "\n" not in text


def _network_dict(network: Any, description: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if description and network.description is not None:
        data["description"] = network.description
    data["inputs"] = {name: _tensor_dict(tensor) for name, tensor in network.inputs.items()}
    data["layers"] = [_layer_dict(layer) for layer in network.layers]
    data["outputs"] = dict(network.outputs) if isinstance(network.outputs, dict) else list(network.outputs)
    if description:
        data.update(network.model_extra or {})
    return data


def _tensor_dict(tensor: TensorSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"shape": list(tensor.shape)}
    if tensor.dtype != "float32":
        data["dtype"] = tensor.dtype
    return data


def _layer_dict(layer: LayerSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"id": layer.id, "kind": layer.kind}
    if layer.title is not None:
        data["title"] = layer.title
    if layer.inputs:
        data["inputs"] = list(layer.inputs)
    if layer.params:
        data["params"] = dict(layer.params)
    data.update(layer.model_extra or {})
    return data


def _format_issues(error: ValidationError, data: dict[str, Any]) -> list[LayerIssue]:
    """pydantic's errors as issues naming the layer (``block/conv1`` inside ``modules``)."""
    found: list[LayerIssue] = []
    seen: set[tuple[Any, ...]] = set()
    for item in error.errors():
        path = list(item["loc"])
        layer, rest = _layer_of(path, data)
        key = (layer, tuple(rest[:1]))
        if item["type"] in ("union_tag_invalid",) or (len(rest) > 1 and rest[-1] in ("dict[str,str]", "list[str]")):
            if key in seen:
                continue
        seen.add(key)
        place = ".".join(str(part) for part in rest if not (isinstance(part, str) and "[" in part))
        message = item["msg"].removeprefix("Value error, ")
        found.append(issue(f"{place + ': ' if place else ''}{message}", layer=layer, code="format"))
    return found


_KEYS = {
    "network": ("tidal-nn, name, description, inputs, layers, outputs, modules, layout",
                {"tidal-nn", "name", "description", "inputs", "layers", "outputs", "modules", "layout"}),
    "block": ("description, inputs, layers, outputs", {"description", "inputs", "layers", "outputs"}),
    "layer": ("id, kind, inputs, params, title", {"id", "kind", "inputs", "params", "title"}),
}


def _unknown_keys(data: dict[str, Any]) -> list[LayerIssue]:
    """Keys outside the format, found in the raw data (pydantic stops before its own check when a field fails)."""
    found: list[LayerIssue] = []

    def check(mapping: Any, what: str, layer: str | None, place: str) -> None:
        if not isinstance(mapping, dict):
            return
        allowed, keys = _KEYS[what]
        for key in mapping:
            if key not in keys and not (isinstance(key, str) and key.startswith("x-")):
                found.append(issue(f"{place}unknown key {key!r} (allowed keys: {allowed}; prefix your own keys with 'x-')",
                                   layer=layer, code="format"))

    def check_graph(graph: Any, what: str, prefix: str) -> None:
        check(graph, what, None, f"modules.{prefix.rstrip('/')}: " if prefix else "")
        layers = graph.get("layers") if isinstance(graph, dict) else None
        for index, layer in enumerate(layers if isinstance(layers, list) else []):
            layer_id = layer.get("id") if isinstance(layer, dict) else None
            check(layer, "layer", f"{prefix}{layer_id if isinstance(layer_id, str) else f'#{index + 1}'}", "")

    check_graph(data, "network", "")
    modules = data.get("modules")
    for name, block in (modules.items() if isinstance(modules, dict) else []):
        check_graph(block, "block", f"{name}/")
    return found


def _layer_of(path: list[Any], data: Any) -> tuple[str | None, list[Any]]:
    prefix = ""
    network = data
    if len(path) >= 2 and path[0] == "modules" and isinstance(data.get("modules"), dict):
        prefix = f"{path[1]}/"
        network = data["modules"].get(path[1])
        path = path[2:]
        if not (len(path) >= 2 and path[0] == "layers"):
            return None, ["modules", *([prefix.rstrip("/")] if prefix else []), *path]
    if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
        try:
            layer_id = network["layers"][path[1]].get("id")
        except (AttributeError, IndexError, KeyError, TypeError):
            layer_id = None
        name = layer_id if isinstance(layer_id, str) and layer_id else f"#{path[1] + 1}"
        return f"{prefix}{name}", path[2:]
    return None, path


def parse_network(text: str | bytes, *, source: str | os.PathLike[str] | None = None,
                  base_dir: str | os.PathLike[str] | None = None) -> NetworkSpec:
    """Parse network YAML. ``base_dir`` is the folder ``kind: module`` layers' ``file`` params resolve in."""
    from tidal.nn._files import resolve_files

    data = load_yaml(text, source=source or "network YAML")
    spec = NetworkSpec.from_dict(data, source=source)
    if base_dir is not None:
        resolve_files(spec, Path(base_dir))
    return spec


def load_network(path: str | os.PathLike[str]) -> NetworkSpec:
    """Read a network file, and the sub-network files its ``kind: module`` layers name (inside its folder only)."""
    from tidal.nn._files import resolve_files

    file = Path(path)
    data = load_yaml_file(file)
    spec = NetworkSpec.from_dict(data, source=file)
    resolve_files(spec, file.parent)
    return spec
