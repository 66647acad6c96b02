"""The ``onnx`` model flavor: an ONNX graph run by onnxruntime.

Every graph input is fed: either one input per signature column (the usual skl2onnx shape, each
``[N, 1]`` or ``[N]`` with its own element type), or one input that takes all features as an
``[N, k]`` matrix. Inputs and outputs are checked when the model is made or loaded; a graph the
signature cannot feed is refused then, naming the input, never at the first request.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError
from tidal.models._flavors import register_flavor

#: ONNX tensor element types onnxruntime reports, and the numpy dtypes fed to them
ONNX_TO_NUMPY: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64, "tensor(uint32)": np.uint32, "tensor(uint16)": np.uint16, "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}
#: the signature dtype a graph input of each element type asks for
ONNX_TO_FEATURE = {
    "tensor(float)": "float64", "tensor(double)": "float64", "tensor(float16)": "float64",
    "tensor(bool)": "bool", "tensor(string)": "string",
}


def _feature_type(onnx_type: str) -> str:
    return ONNX_TO_FEATURE.get(onnx_type, "int64" if "int" in onnx_type else "float64")


@dataclass(frozen=True)
class Feed:
    """How one graph input is filled: from these columns, as this dtype, in this rank."""

    input: str
    columns: tuple[str, ...]
    dtype: Any
    rank: int  # 1: [N]; 2: [N, len(columns)]


def _width(shape: list[Any]) -> int | None:
    return shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None


def plan_feeds(inputs: list[Any], features: list[str], where: str) -> list[Feed]:
    """The feeds for a graph's inputs from a signature's columns; a TidalError naming the input when impossible."""
    for item in inputs:
        if item.type not in ONNX_TO_NUMPY:
            raise TidalError(f"{where}: graph input '{item.name}' has type {item.type}, which Tidal cannot feed "
                             f"(it feeds {', '.join(sorted(ONNX_TO_NUMPY))})")
        if len(item.shape) not in (1, 2):
            raise TidalError(f"{where}: graph input '{item.name}' has shape {item.shape}; Tidal feeds [N], [N, 1] "
                             "(one input per column) or [N, k] (one input for all features)")
    names = [item.name for item in inputs]
    if len(inputs) == 1 and names[0] not in features:  # one matrix of every feature
        item = inputs[0]
        width = _width(item.shape)
        if item.type == "tensor(string)" and len(features) > 1:
            raise TidalError(f"{where}: graph input '{item.name}' takes strings; a single input can take all "
                             "features only when they are numeric; give one graph input per column")
        if len(item.shape) != 2 or (width is not None and width != len(features)):
            raise TidalError(f"{where}: graph input '{item.name}' has shape {item.shape}, but the signature has "
                             f"{len(features)} feature(s) ({', '.join(features)}); it must be [N, {len(features)}]")
        return [Feed(item.name, tuple(features), ONNX_TO_NUMPY[item.type], 2)]
    unfed = [name for name in names if name not in features]
    if unfed:
        raise TidalError(f"{where}: graph input(s) {', '.join(map(repr, unfed))} match no signature column "
                         f"({', '.join(features)}); name the features after the graph inputs")
    unused = [name for name in features if name not in names]
    if unused:
        raise TidalError(f"{where}: signature column(s) {', '.join(map(repr, unused))} feed no graph input "
                         f"(the graph takes {', '.join(names)}); the model would ignore them")
    feeds = []
    for item in inputs:
        width = _width(item.shape)
        if width not in (None, 1):
            raise TidalError(f"{where}: graph input '{item.name}' has shape {item.shape}; an input fed from one "
                             "column must be [N] or [N, 1]")
        feeds.append(Feed(item.name, (item.name,), ONNX_TO_NUMPY[item.type], len(item.shape)))
    return feeds


def _column(values: Any, dtype: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if dtype is np.object_:
        return np.array([str(value) for value in array], dtype=object)
    target = np.dtype(dtype).kind
    if target in "iub" and array.dtype.kind == "f":  # never truncate 1.5 to 1, or read 0.5 as true
        if np.isnan(array).any():
            raise ValueError(f"column '{name}' has missing values (null), but the ONNX graph takes whole numbers there")
        if not np.array_equal(array, np.trunc(array)):
            raise ValueError(f"column '{name}' has fractions, but the ONNX graph takes whole numbers there")
    if target == "b" and array.dtype.kind in "iuf" and not np.isin(array, (0, 1)).all():
        raise ValueError(f"column '{name}' must be 0 or 1 (false or true) for the ONNX graph's boolean input")
    try:
        return array.astype(dtype, copy=False)
    except (TypeError, ValueError) as error:  # text where the graph takes numbers
        raise ValueError(f"column '{name}' cannot be read as {np.dtype(dtype).name} for the ONNX graph: {error}") from None


def _matrix(frame: pd.DataFrame, feed: Feed) -> np.ndarray:
    """The ``[N, k]`` input ``feed`` from its columns: one conversion when they are all numbers, else column by
    column, where :func:`_column` names the one it cannot read."""
    wanted = list(feed.columns)
    block = frame if frame.columns.tolist() == wanted else frame[wanted]  # as the package's feature frame is
    if np.dtype(feed.dtype).kind == "f":
        values = block.to_numpy()  # object when a column is text, nullable or of mixed kinds
        if values.dtype.kind in "fiub":
            return values.astype(feed.dtype, copy=False)
    return np.column_stack([_column(block[name], feed.dtype, name) for name in wanted])


def _session_options(session: dict[str, Any] | None, where: str) -> Any:
    """onnxruntime options from a package's ``onnx.json`` ``session`` entry (written by ``tidal optimize``):
    ``graph_level`` (disabled, basic, extended, all), ``threads`` (intra-op, 1-1024), ``arena`` (bool)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    session = session or {}
    levels = {"disabled": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
              "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL}
    level, threads, arena = session.get("graph_level", "all"), session.get("threads"), session.get("arena", True)
    if level not in levels or (threads is not None and (type(threads) is not int or not 1 <= threads <= 1024)) \
            or type(arena) is not bool:
        raise TidalError(f"{where}: onnx.json 'session' {session!r} is not valid; graph_level is one of "
                         f"{', '.join(levels)}, threads a whole number 1-1024, arena true or false")
    options.graph_optimization_level = levels[level]
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_cpu_mem_arena = arena
    return options


class OnnxModel:
    """An onnxruntime session with the scikit-learn-like predict / predict_proba."""

    def __init__(self, path: Path, features: list[str], label_output: str | None, proba_output: str | None,
                 session: dict[str, Any] | None = None) -> None:
        import onnxruntime

        where = f"ONNX model {Path(path).name}"
        options = _session_options(session, where)
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime's own exceptions: the file is not a graph it can run
            raise TidalError(f"{where} cannot be loaded by onnxruntime: {error}") from None
        self.features = list(features)
        self.feeds = plan_feeds(self.session.get_inputs(), self.features, where)
        names = [item.name for item in self.session.get_outputs()]
        for given in (label_output, proba_output):
            if given is not None and given not in names:
                raise TidalError(f"{where} has no output '{given}'; its outputs are {', '.join(names)}")
        self.label_output = label_output or names[0]
        self.proba_output = proba_output or (names[1] if len(names) > 1 else None)

    def _inputs(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if len(self.feeds) == 1 and self.feeds[0].rank == 2:
            # one matrix of the features (tidal optimize's graphs): no per-column pandas lookups, which cost a small
            # graph ten times its own run
            return {self.feeds[0].input: _matrix(frame, self.feeds[0])}
        fed: dict[str, np.ndarray] = {}
        # one graph input per numeric column (how skl2onnx and the torch exporter write tabular graphs): convert
        # those columns in one step per dtype, not one pandas lookup and cast per column (20x the graph's own time)
        kinds = {name: dtype.kind for name, dtype in zip(frame.columns.tolist(), frame.dtypes.tolist(), strict=True)}
        groups: dict[Any, list[Feed]] = {}
        for feed in self.feeds:
            if len(feed.columns) == 1 and np.dtype(feed.dtype).kind == "f" and kinds.get(feed.columns[0], "O") in "fiub":
                groups.setdefault(feed.dtype, []).append(feed)
        for dtype, feeds in groups.items():
            if len(feeds) < 2:
                continue
            names = [feed.columns[0] for feed in feeds]
            block = frame if frame.columns.tolist() == names else frame[names]  # the package's feature frame already is
            matrix = block.to_numpy(dtype=dtype)
            for index, feed in enumerate(feeds):
                column = np.ascontiguousarray(matrix[:, index])
                fed[feed.input] = column if feed.rank == 1 else column.reshape(-1, 1)
        for feed in self.feeds:
            if feed.input in fed:
                continue
            if feed.rank == 1:
                fed[feed.input] = _column(frame[feed.columns[0]], feed.dtype, feed.columns[0])
            else:
                fed[feed.input] = _matrix(frame, feed)
        return fed

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        result = np.asarray(self.session.run([self.label_output], self._inputs(frame))[0])
        return result.ravel() if result.ndim > 1 and result.shape[1] == 1 else result

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.proba_output is None:
            raise TidalError("this ONNX model has no probability output")
        result = self.session.run([self.proba_output], self._inputs(frame))[0]
        if isinstance(result, list):  # skl2onnx's ZipMap: a list of {class: probability}
            keys = list(result[0])
            return np.array([[row[key] for key in keys] for row in result], dtype=np.float64)
        return np.asarray(result, dtype=np.float64)


class OnnxFlavor:
    name = "onnx"
    libraries = ("onnxruntime", "numpy")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, OnnxModel)

    def save(self, model: Any, folder: Path) -> str:
        shutil.copyfile(model.path, folder / "model.onnx")
        (folder / "onnx.json").write_text(json.dumps(model.settings))
        return "model.onnx"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        settings = json.loads((folder / "onnx.json").read_text())
        model = OnnxModel(folder / payload, settings["features"], settings.get("label_output"), settings.get("proba_output"),
                          settings.get("session"))
        model.path = folder / payload  # type: ignore[attr-defined]
        model.settings = settings  # type: ignore[attr-defined]
        return model


def onnx_package(onnx_file: str | Path, *, features: list[str], task: str, classes: list[Any] | None = None,
                 feature_types: dict[str, str] | None = None, label_output: str | None = None,
                 proba_output: str | None = None) -> Any:
    """Wrap an ONNX file as a model package.

    The graph takes either one input per feature (named as the feature, ``[N]`` or ``[N, 1]``) or
    one ``[N, len(features)]`` input. Feature types default to the graph inputs' element types.
    """
    from tidal.models import ModelPackage

    path = Path(onnx_file)
    model = OnnxModel(path, features, label_output, proba_output)
    model.path = path  # type: ignore[attr-defined]
    model.settings = {"features": features, "label_output": model.label_output,  # type: ignore[attr-defined]
                      "proba_output": model.proba_output}
    if feature_types is None:
        feature_types = {}
        for feed in model.feeds:
            onnx_type = next(item.type for item in model.session.get_inputs() if item.name == feed.input)
            feature_types.update({name: _feature_type(onnx_type) for name in feed.columns})
    return ModelPackage(model=model, task=task, features=features, flavor="onnx", classes=classes,
                        feature_types=feature_types)



def _graph_classes(path: Path) -> list[Any] | None:
    """Class labels an ONNX classifier stores in its graph (``classlabels_*`` of ZipMap, LinearClassifier ...,
    or the ``tidal.classes`` metadata of a network Tidal exported).

    ``classlabels_ints`` is the name LinearClassifier and SVMClassifier use; ``classlabels_int64s``
    the tree ensembles' and ZipMap's.
    """
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx comes with skl2onnx; without it: no labels known
        return None
    document = onnx.load(str(path), load_external_data=False)
    graph = document.graph
    written = {entry.key: entry.value for entry in document.metadata_props}.get("tidal.classes")
    if written:  # Tidal's network exports look the labels up with a Gather: they name them in the metadata
        try:
            labels = json.loads(written)
        except ValueError:
            labels = None
        if isinstance(labels, list) and labels and all(isinstance(value, (int, str)) for value in labels):
            return labels
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                return [int(value) for value in attribute.ints]
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [value.decode("utf-8") for value in attribute.strings]
    return None


def onnx_file_package(onnx_file: str | Path) -> Any:
    """A model package from a bare ONNX file, its signature derived from the graph.

    Features are the graph inputs (one per column), or ``NAME_0 ... NAME_{k-1}`` for a single
    ``[N, k]`` input NAME. A graph with a probability output and class labels in its nodes is a
    classifier; one with a single numeric output a regression; anything else serves its outputs
    as task ``other``.
    """
    import onnxruntime

    path = Path(onnx_file)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exceptions: not a graph it can run
        raise TidalError(f"{path} is not an ONNX model onnxruntime can load: {error}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) == 1 and len(inputs[0].shape) == 2 and _width(inputs[0].shape) != 1:
        width = _width(inputs[0].shape)
        if width is None:
            raise TidalError(f"{path}: graph input '{inputs[0].name}' has shape {inputs[0].shape} with no fixed width, so "
                             "the feature names cannot be derived; wrap it with tidal.serving.onnx_package(path, features=[...])")
        features = [f"{inputs[0].name}_{index}" for index in range(width)]
    else:
        features = [item.name for item in inputs]
    classes = _graph_classes(path) if len(outputs) > 1 else None
    if classes:
        task = "binary" if len(classes) == 2 else "multiclass"
    elif len(outputs) == 1 and outputs[0].type in ("tensor(float)", "tensor(double)"):
        task = "regression"
    else:
        task, classes = "other", None
    return onnx_package(path, features=features, task=task, classes=classes)


register_flavor(OnnxFlavor())
