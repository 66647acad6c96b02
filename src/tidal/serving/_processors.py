"""Processors: what turns a batch of validated columns into output tensors.

The seam is small::

    class Processor(Protocol):
        signature: Signature
        platform: str
        def predict(self, columns: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]: ...

Built in: every model-package flavor (scikit-learn via skops, LightGBM, XGBoost, ONNX, PMML,
and Tidal pipelines of fitted transforms followed by a model) through :class:`PackageProcessor`,
with a numpy fast path for gradient-boosted trees; and custom processors (a user's class with
``load()`` and ``predict()``, see :mod:`tidal.serving._custom`), which need explicit trust.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError
from tidal.serving._signature import Columns, Signature


class Processor(Protocol):
    signature: Signature
    platform: str

    def predict(self, columns: Columns, rows: int) -> dict[str, np.ndarray]: ...


def usable_cpus() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def frame_from_columns(columns: Columns, signature: Signature, feature_types: dict[str, str] | None = None) -> pd.DataFrame:
    matrix = getattr(columns, "matrix", None)  # one 2-D tensor: one block, not a column per feature
    frame = (pd.DataFrame(matrix, columns=list(columns), copy=False) if matrix is not None and matrix.shape[1] == len(columns)
             else pd.DataFrame(columns, copy=False))
    for name, dtype in (feature_types or {}).items():
        if dtype == "category" and name in frame:
            frame[name] = frame[name].astype("category")
    return frame


class PackageProcessor:
    """Any :class:`~tidal.models.ModelPackage`: the universal predict and predict_proba."""

    def __init__(self, package: Any) -> None:
        self.package = package
        self.signature = Signature.from_manifest(package.signature(), package.classes)
        self.platform = f"tidal-{package.flavor}"
        self.classifier = package.task in ("binary", "multiclass")
        self.classes = np.asarray(package.classes) if package.classes is not None else None
        self._booster = package.flavor in ("lightgbm", "xgboost") and type(package.model).__name__ == "Booster"
        self._matrix = self._booster and self.signature.all_numeric
        self._names = self.signature.input_names
        # as many threads as this process may use (taskset, cgroups), not as many as the machine has
        self._predict_options = {"num_threads": usable_cpus()} if package.flavor == "lightgbm" and self._booster else {}

    def _features(self, columns: Columns, rows: int) -> Any:
        if self._matrix:  # numeric trees: one float matrix, no DataFrame on the hot path
            matrix = getattr(columns, "matrix", None)  # the request's own 2-D tensor, already in signature order
            if matrix is None or matrix.dtype != np.float64:
                matrix = np.column_stack([columns[name] for name in self._names]).astype(np.float64, copy=False)
            if self.package.flavor == "xgboost":
                import xgboost

                return xgboost.DMatrix(matrix, feature_names=list(self.package.features))
            return matrix
        return frame_from_columns(columns, self.signature, self.package.feature_types)

    def predict(self, columns: Columns, rows: int) -> dict[str, np.ndarray]:
        package = self.package
        if package.task == "transform":
            raise TidalError("a fitted transform is not a model to serve; serve a pipeline package that ends in a model")
        features = self._features(columns, rows)
        if self._booster:
            raw = np.asarray(package.model.predict(features, **self._predict_options))
            if not self.classifier:
                return {"prediction": raw}
            if raw.ndim == 1:  # a binary booster answers P(positive): the two columns, without stacking copies
                probabilities = np.empty((len(raw), 2))
                np.subtract(1.0, raw, out=probabilities[:, 0])
                probabilities[:, 1] = raw
            else:
                probabilities = raw
            assert self.classes is not None
            return {"prediction": self.classes[probabilities.argmax(axis=1)], "probabilities": probabilities}
        outputs = {"prediction": np.asarray(package.predict(features))}
        if self.classifier:
            outputs["probabilities"] = np.asarray(package.predict_proba(features), dtype=np.float64)
        return outputs


def read_manifest(path: Path) -> dict[str, Any]:
    """A package's checked manifest (size, shape, archive limits), without loading its payload."""
    from tidal.models import read_package_manifest

    return read_package_manifest(path)


#: bare model files served the way PAI-EAS and similar platforms deploy them: wrapped into a package on the fly
BARE_SUFFIXES = (".pmml", ".onnx")


def bare_model_file(source: Path) -> Any:
    """The package for a bare ``.pmml`` or ``.onnx`` file (its signature from the document or the graph), else None."""
    suffix = source.suffix.lower()
    if suffix not in BARE_SUFFIXES or not source.is_file():
        return None
    if suffix == ".pmml":
        from tidal.serving._pmml import pmml_package

        return pmml_package(source)
    from tidal.serving._onnx import onnx_file_package

    return onnx_file_package(source)


def load_processor(path: str | Path, *, trust: bool = False) -> Processor:
    """The processor for a model package folder or archive, or a bare ``.pmml`` / ``.onnx`` file."""
    from tidal.models import ModelPackage

    source = Path(path)
    bare = bare_model_file(source)
    if bare is not None:
        return PackageProcessor(bare)
    try:
        manifest = read_manifest(source)
    except OSError as error:
        raise TidalError(f"{source} is not a model package: {error}") from None
    if manifest.get("flavor") == "custom":
        from tidal.serving._custom import CustomProcessor

        return CustomProcessor.load(source, trust=trust)
    return PackageProcessor(ModelPackage.load(source, trust=trust))
