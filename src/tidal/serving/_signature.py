"""A served model's signature, and turning requests into validated columns.

A request becomes a :class:`Columns` batch: one 1-D numpy array per input, all of the same length.
Every mismatch with the signature (a missing or unknown column, a wrong type, a wrong shape) is
collected and reported at once as :class:`RequestInvalid`; the model is never called with bad input.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tidal.core._errors import TidalError

#: Open Inference Protocol datatypes and the numpy dtypes they map to
V2_TO_NUMPY: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}
NUMERIC_V2 = {name for name in V2_TO_NUMPY if name not in ("BOOL", "BYTES")}
INTEGER_V2 = {name for name in NUMERIC_V2 if "INT" in name}


class RequestInvalid(TidalError):
    """The request does not match the model's signature; ``violations`` lists every problem."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        count = len(violations)
        super().__init__(f"the request has {count} problem{'s' if count != 1 else ''}: " + "; ".join(violations))


@dataclass(frozen=True)
class TensorSpec:
    name: str
    kind: str  # "float", "int", "bool", "string"
    datatype: str  # the v2 datatype
    shape: tuple[int, ...] = (-1,)
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape), **self.extra}


def kind_of(dtype: str) -> str:
    """Map a pandas dtype name from a package manifest to a value kind."""
    text = dtype.lower()
    if text.startswith(("float", "double")):
        return "float"
    if text.startswith(("int", "uint")) or text.startswith("int"):
        return "int"
    if text.startswith("bool"):
        return "bool"
    if text in ("object", "string", "str", "category") or text.startswith(("string", "category")):
        return "string"
    return "float" if text in ("number", "numeric") else "string" if text.startswith("date") else "float"


KIND_TO_V2 = {"float": "FP64", "int": "INT64", "bool": "BOOL", "string": "BYTES"}
KIND_TO_NUMPY = {"float": np.float64, "int": np.int64, "bool": np.bool_, "string": np.object_}


@dataclass
class Signature:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    #: the inputs as one tensor ``[-1, *shape]`` (an image model's ``[-1, 1, 8, 8]``), read row-major in input order
    tensor: TensorSpec | None = None
    #: how that tensor comes as encoded images (BYTES): ``tidal.models._images.image_decoding``'s settings, or None
    images: dict[str, Any] | None = None

    @functools.cached_property  # read on every request; a signature does not change once loaded
    def input_names(self) -> list[str]:
        return [item.name for item in self.inputs]

    @functools.cached_property
    def all_numeric(self) -> bool:
        return all(item.kind in ("float", "int", "bool") for item in self.inputs)

    @classmethod
    def from_manifest(cls, signature: dict[str, Any], classes: list[Any] | None = None) -> Signature:
        inputs = [TensorSpec(item["name"], kind_of(item.get("dtype", "float64")),
                             KIND_TO_V2[kind_of(item.get("dtype", "float64"))]) for item in signature.get("inputs", [])]
        outputs = []
        for item in signature.get("outputs", []):
            kind = kind_of(item.get("dtype", "float64"))
            if item["name"] == "probabilities":
                labels = list(item.get("classes") or classes or [])
                outputs.append(TensorSpec("probabilities", "float", "FP64", (-1, len(labels)),
                                          {"parameters": {"classes": classes_parameter(labels)}}))
            else:
                outputs.append(TensorSpec(item["name"], kind, KIND_TO_V2[kind]))
        tensor = None
        declared = signature.get("tensor")
        images = None
        if isinstance(declared, dict) and isinstance(declared.get("name"), str) and isinstance(declared.get("shape"), list):
            tensor = TensorSpec(declared["name"], "float", "FP32", (-1, *(int(size) for size in declared["shape"])))
            images = _image_decoding(declared.get("images"), tensor.shape)
        return cls(inputs, outputs, tensor, images)


def _image_decoding(declared: Any, shape: tuple[int, ...]) -> dict[str, Any] | None:
    """A manifest's image decoding, checked again (a manifest may come from anyone): mode, size and fit
    must agree with the tensor's shape; anything else is refused when the model loads."""
    if declared is None:
        return None
    from tidal.models._images import image_decoding

    if not isinstance(declared, dict) or len(shape) != 4:
        raise ValueError(f"the signature's image decoding must describe a [N, C, H, W] tensor, got {declared!r}")
    checked = image_decoding(shape[1], shape[2], shape[3], fit=declared.get("fit", "stretch"),
                             resample=declared.get("resample", "bilinear"), white=declared.get("white", 1.0))
    given = {key: declared.get(key) for key in ("mode", "height", "width")}
    if given != {key: checked[key] for key in given}:
        raise ValueError(f"the signature's image decoding {given} does not match its tensor {list(shape[1:])}")
    return checked


Columns = dict[str, np.ndarray]


class MatrixColumns(dict[str, np.ndarray]):
    """Columns that are views of one ``[rows, columns]`` matrix (a request's single 2-D tensor).

    ``matrix`` keeps that matrix, so a model that takes one matrix (a numeric booster) gets it back
    without stacking the columns again; the mapping itself behaves as plain columns everywhere else.
    """

    __slots__ = ("matrix",)

    def __init__(self, columns: dict[str, np.ndarray], matrix: np.ndarray) -> None:
        super().__init__(columns)
        self.matrix = matrix


def classes_parameter(labels: list[Any]) -> str:
    """Class labels as a v2 parameter value: parameters are strings, numbers or booleans, so the
    labels travel as a JSON array in a string, e.g. ``"[0, 1]"`` or ``"[\"no\", \"yes\"]"``."""
    return json.dumps([label.item() if isinstance(label, np.generic) else label for label in labels], default=str)


def output_parameters(signature: Signature) -> dict[str, dict[str, Any]]:
    """Per output, the v2 parameters its infer responses carry (the class labels of ``probabilities``)."""
    return {spec.name: dict(spec.extra["parameters"]) for spec in signature.outputs if spec.extra.get("parameters")}


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT64_MAX = float(np.finfo(np.float64).max)


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "float":  # an integer beyond float64 would overflow
        return value is None or type(value) is float or (type(value) is int and abs(value) <= FLOAT64_MAX)
    if kind == "int":  # whole numbers that fit in int64 (1e300 is whole, but fits no integer column)
        if type(value) is float:  # JSON parsers turn integers beyond 64 bits into floats: exact only up to 2**53
            return value.is_integer() and abs(value) <= 2**53
        return type(value) is int and INT64_MIN <= value <= INT64_MAX
    if kind == "bool":
        return type(value) is bool
    return type(value) is str


KIND_WORDS = {"float": "a number (or null)", "int": "a whole number from -2**63 to 2**63-1", "bool": "true or false",
              "string": "a string"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def columns_from_records(records: Any, signature: Signature, ignored: list[str] | None = None) -> tuple[Columns, int]:
    """Validate a list of feature objects (the simple JSON route) and return columns.

    Columns the model does not take are refused, or, when ``ignored`` is a list, skipped and
    appended to it (each name once).
    """
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not records:
        raise RequestInvalid(["the body must be a non-empty JSON list of objects, one per row, "
                              "e.g. [{\"age\": 31, \"income\": 5200.0}]"])
    violations: list[str] = []
    expected = signature.input_names
    wanted = set(expected)
    skipped: dict[str, None] = {}  # an ordered set: rows may bring many distinct names
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            violations.append(f"row {index}: expected an object of feature values, got {type(record).__name__}")
            continue
        missing = [name for name in expected if name not in record]
        if missing:
            violations.append(f"row {index}: missing column(s) {', '.join(map(repr, missing))}")
        unknown = [name for name in record if name not in wanted]
        if unknown and ignored is not None:
            skipped.update(dict.fromkeys(unknown))
        elif unknown:
            violations.append(f"row {index}: unknown column(s) {', '.join(map(repr, unknown))} "
                              f"(the model takes: {', '.join(expected)})")
        if len(violations) > 50:
            break
    if violations:
        raise RequestInvalid(violations)
    if ignored is not None:
        ignored.extend(name for name in skipped if name not in ignored)
    columns: Columns = {}
    for spec in signature.inputs:
        values = [record[spec.name] for record in records]
        bad = [index for index, value in enumerate(values) if not _kind_ok(spec.kind, value)]
        if bad:
            shown = ", ".join(f"row {index} has {_short(values[index])}" for index in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            violations.append(f"column '{spec.name}' must be {KIND_WORDS[spec.kind]}: {shown}{more}")
            continue
        if spec.kind == "float":
            columns[spec.name] = np.array([np.nan if value is None else value for value in values], dtype=np.float64)
        else:
            columns[spec.name] = np.array(values, dtype=KIND_TO_NUMPY[spec.kind])
    if violations:
        raise RequestInvalid(violations)
    return columns, len(records)


def check_tensor_kind(spec: TensorSpec, datatype: str) -> str | None:
    """None when a tensor of ``datatype`` can feed input ``spec``, else why not."""
    if spec.kind == "string":
        return None if datatype == "BYTES" else f"input '{spec.name}' takes BYTES (strings), got {datatype}"
    if spec.kind == "bool":
        return None if datatype == "BOOL" else f"input '{spec.name}' takes BOOL, got {datatype}"
    if spec.kind == "int":
        return None if datatype in INTEGER_V2 or datatype == "BOOL" else f"input '{spec.name}' takes an integer datatype (INT64 ...), got {datatype}"
    return None if datatype in NUMERIC_V2 or datatype == "BOOL" else f"input '{spec.name}' takes a numeric datatype (FP64, FP32, INT64 ...), got {datatype}"
