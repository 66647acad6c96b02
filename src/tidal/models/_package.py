"""Model packages: a folder with a manifest and a payload in a safe format.

::

    model/
      MANIFEST.json   flavor, task, signature, classes, library versions, lineage
      model.skops     (or model.lgb.txt, model.xgb.json, model.pkl, ...)

One class, :class:`ModelPackage`, holds a model in memory and gives every flavor the same
``predict(table)``, ``predict_proba(table)`` and, for fitted transforms, ``transform(table)``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tidal.core._display import Displayable
from tidal.core._errors import DataError, NotFound, TidalError
from tidal.core._ports import LazyTable, register_model_class, to_jsonable
from tidal.models._archive import (
    MANIFEST,
    ArchiveLimits,
    PackageRefused,
    check_folder_links,
    contained,
    extract_archive,
    read_manifest,
)
from tidal.models._flavors import (
    FLAVORS,
    flavor_for,
    library_versions,
    load_builtin_flavors,
    raw_predict,
    raw_predict_proba,
)

FORMAT_VERSION = 1
TASKS = ("binary", "multiclass", "regression", "clustering", "anomaly", "transform", "ranking", "forecast", "other")


@dataclass
class ModelPackage(Displayable):
    """A trained model with the description serving, batch prediction and AutoML rely on."""

    model: Any
    task: str
    features: list[str]
    flavor: str = ""
    label: str | None = None
    classes: list[Any] | None = None
    feature_types: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    created_at: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if not self.flavor:
            self.flavor = flavor_for(self.model).name
        if self.flavor not in FLAVORS:
            load_builtin_flavors()
        if self.flavor not in FLAVORS:
            raise ValueError(f"model flavor '{self.flavor}' is not installed; known: {', '.join(FLAVORS)}")
        if not self.libraries:
            self.libraries = library_versions(FLAVORS[self.flavor].libraries)
        if not self.created_at:
            self.created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        if self.classes is not None:
            self.classes = [to_jsonable(value) for value in self.classes]

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_estimator(
        cls,
        model: Any,
        data: pd.DataFrame,
        *,
        features: list[str],
        task: str,
        label: str | None = None,
        classes: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ModelPackage:
        """Describe a fitted model from the data it was trained on."""
        if classes is None and getattr(model, "classes_", None) is not None:
            classes = list(model.classes_)
        types = {name: str(data[name].dtype) for name in features}
        return cls(
            model=model,
            task=task,
            features=list(features),
            label=label,
            classes=classes,
            feature_types=types,
            params=to_jsonable(params or {}),
            metadata=metadata or {},
        )

    # -- the universal interface ------------------------------------------------------------------
    def feature_frame(self, table: Any) -> pd.DataFrame:
        """The model's input columns, in order, from any table; names every missing column."""
        frame = _as_pandas(table)
        if frame.columns.tolist() == self.features:  # already the model's columns in order: no reindexing
            return frame.copy(deep=False)  # copy-on-write: a flavor that sets a column never touches the caller's
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise DataError(
                f"the model needs column(s) {', '.join(map(repr, missing))}, which the input table lacks "
                f"(it was trained on: {', '.join(self.features[:20])}{' ...' if len(self.features) > 20 else ''})"
            )
        return frame[self.features]

    def predict(self, table: Any) -> np.ndarray:
        features = self.feature_frame(table)
        if self.flavor in ("lightgbm", "xgboost") and self.task in ("binary", "multiclass"):
            probabilities = self.predict_proba(features)
            return np.asarray(self.classes)[probabilities.argmax(axis=1)]
        return raw_predict(self.flavor, self.model, features, self.task)

    def predict_proba(self, table: Any) -> np.ndarray:
        if self.task not in ("binary", "multiclass"):
            raise TidalError(f"a {self.task} model gives no class probabilities")
        features = self.feature_frame(table)
        return raw_predict_proba(self.flavor, self.model, features, len(self.classes or []))

    def transform(self, table: Any) -> pd.DataFrame:
        """Apply a fitted transform: consumed columns are replaced by the transform's outputs."""
        if not hasattr(self.model, "transform"):
            raise TidalError(f"a {self.task} model of flavor {self.flavor} has no transform")
        frame = _as_pandas(table)
        features = self.feature_frame(frame)
        produced = self.model.transform(features)
        names = self.metadata.get("output_columns")
        if names is None and hasattr(self.model, "get_feature_names_out"):
            names = [str(name) for name in self.model.get_feature_names_out()]
        produced_frame = pd.DataFrame(
            produced.toarray() if hasattr(produced, "toarray") else produced, columns=names, index=frame.index
        )
        if not self.metadata.get("replace", True):
            return pd.concat([frame, produced_frame], axis=1)
        # a consumed column whose output keeps its name stays where it was; new columns go last
        consumed = set(self.features)
        ordered = [name for name in frame.columns if name not in consumed or name in produced_frame.columns]
        appended = [name for name in produced_frame.columns if name not in ordered]
        kept = frame.drop(columns=[name for name in frame.columns if name in consumed or name in produced_frame.columns])
        merged = pd.concat([kept, produced_frame], axis=1)  # one concat: wide outputs stay fast
        return merged[ordered + appended]

    def signature(self) -> dict[str, Any]:
        inputs = [{"name": name, "dtype": self.feature_types.get(name, "unknown")} for name in self.features]
        outputs: list[dict[str, Any]] = [{"name": "prediction", "dtype": _prediction_dtype(self)}]
        if self.task in ("binary", "multiclass"):
            outputs.append({"name": "probabilities", "dtype": "float64", "classes": self.classes})
        signature: dict[str, Any] = {"inputs": inputs, "outputs": outputs}
        tensor = self.metadata.get("input_tensor")
        if tensor:  # the inputs may also come as one tensor per row of this shape, read row-major in input order
            signature["tensor"] = {"name": str(tensor["name"]), "shape": [int(size) for size in tensor["shape"]]}
            encoded = (self.metadata.get("image") or {}).get("encoded")
            if encoded:  # ... and that tensor as encoded images (PNG, JPEG ...), decoded this way (models/_images.py)
                signature["tensor"]["images"] = dict(encoded)
        return signature

    def manifest(self, payload: str) -> dict[str, Any]:
        return {
            "tidal_model": FORMAT_VERSION,
            "flavor": self.flavor,
            "payload": payload,
            "task": self.task,
            "label": self.label,
            "classes": self.classes,
            "signature": self.signature(),
            "params": self.params,
            "metadata": to_jsonable(self.metadata),
            "lineage": self.lineage,
            "libraries": self.libraries,
            "created_at": self.created_at,
        }

    def summary(self) -> dict[str, Any]:
        return {key: value for key, value in self.manifest("").items() if key != "payload"}

    # -- storage -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the package folder (replacing an existing one)."""
        folder = Path(path)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        payload = FLAVORS[self.flavor].save(self.model, folder)
        (folder / MANIFEST).write_text(json.dumps(self.manifest(payload), indent=2, sort_keys=True))
        return folder

    def save_archive(self, path: str | Path) -> Path:
        """Write the package as a single zip file (how the artifact store keeps it)."""
        target = Path(path)
        with tempfile.TemporaryDirectory(prefix="tidal-model-") as scratch:
            folder = self.save(Path(scratch) / "model")
            with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                for item in sorted(folder.rglob("*")):
                    if item.is_file():
                        info = zipfile.ZipInfo(str(item.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
                        info.compress_type = zipfile.ZIP_DEFLATED
                        archive.writestr(info, item.read_bytes())
        return target

    @classmethod
    def load(cls, path: str | Path, *, trust: bool = False, limits: ArchiveLimits | None = None) -> ModelPackage:
        """Load a package folder or archive.

        ``trust=True`` allows payloads that can run code (pickle, types outside the allow-list of
        :mod:`tidal.models._trust`); only the operator sets it. Archives are checked against
        ``limits`` (default: :meth:`ArchiveLimits.from_environment`) before anything is extracted.
        """
        source = Path(path)
        if not source.exists():
            raise NotFound(f"no model package at {source}")
        if source.is_file():
            with tempfile.TemporaryDirectory(prefix="tidal-model-") as scratch:
                extract_archive(source, Path(scratch), limits)
                return cls._load_folder(Path(scratch), trust, shown=source)
        return cls._load_folder(source, trust, shown=source)

    @classmethod
    def _load_folder(cls, folder: Path, trust: bool, *, shown: Path) -> ModelPackage:
        check_folder_links(folder, shown)
        manifest = read_manifest(folder, shown)
        flavor_name = manifest["flavor"]
        if flavor_name not in FLAVORS:
            load_builtin_flavors()
        if flavor_name not in FLAVORS:
            raise TidalError(f"{shown}: model flavor '{flavor_name}' is not installed; known: {', '.join(FLAVORS)}")
        if manifest["task"] not in TASKS:
            raise PackageRefused(f"{shown}: {MANIFEST} field 'task' is {manifest['task']!r}; one of {', '.join(TASKS)} expected")
        payload = manifest["payload"]
        if not contained(folder, payload, field="payload", shown=shown).exists():
            raise PackageRefused(f"{shown}: the payload '{payload}' named by {MANIFEST} is missing from the package")
        model = FLAVORS[flavor_name].load(folder, payload, trust)
        inputs = (manifest.get("signature") or {}).get("inputs", [])
        return cls(
            model=model,
            task=manifest["task"],
            features=[item["name"] for item in inputs],
            flavor=flavor_name,
            label=manifest.get("label"),
            classes=manifest.get("classes"),
            feature_types={item["name"]: str(item.get("dtype", "unknown")) for item in inputs},
            params=manifest.get("params") or {},
            metadata=manifest.get("metadata") or {},
            lineage=manifest.get("lineage") or {},
            libraries=manifest.get("libraries") or {},
            created_at=str(manifest.get("created_at") or ""),
        )

    def __repr__(self) -> str:
        return f"<ModelPackage {self.flavor} {self.task} features={len(self.features)}>"


register_model_class(ModelPackage)


def load_model(path: str | Path, *, trust: bool = False, limits: ArchiveLimits | None = None) -> ModelPackage:
    """Load any model package (folder or archive) with the universal interface."""
    return ModelPackage.load(path, trust=trust, limits=limits)


def _as_pandas(table: Any) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, pa.Table):
        return table.to_pandas()
    if isinstance(table, LazyTable):
        return table.to_pandas()
    if isinstance(table, list):
        return pd.DataFrame(table)
    if isinstance(table, dict):
        return pd.DataFrame(table)
    raise DataError(f"expected a table, got {type(table).__name__}")


def _prediction_dtype(package: ModelPackage) -> str:
    if package.task in ("binary", "multiclass") and package.classes:
        sample = package.classes[0]
        return "int64" if isinstance(sample, int) else ("float64" if isinstance(sample, float) else "string")
    if package.task == "clustering":
        return "int64"
    if package.task == "anomaly":
        return "bool"
    return "float64"
