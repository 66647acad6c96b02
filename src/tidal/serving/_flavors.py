"""Model-package flavors that serving adds: Tidal pipelines, ONNX and PMML.

They register with :func:`tidal.models.register_flavor`, so ``ModelPackage.load`` and every
user of the universal ``predict`` (batch scoring, AutoML) handle them too.

* ``pipeline``: fitted transforms (``task="transform"`` packages from ``features.*``) followed by a
  model; the preprocessing learned in training runs at serving time. Build with
  :func:`pipeline_package`.
* ``onnx``: an ONNX graph run by onnxruntime (:func:`onnx_package`).
* ``pmml``: a PMML document evaluated in pure Python, no JVM (:mod:`tidal.serving._pmml`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError
from tidal.models._flavors import register_flavor


class ChainedModel:
    """Transforms applied in order, then a model: the in-memory payload of a pipeline package."""

    def __init__(self, transforms: list[Any], model: Any) -> None:
        self.transforms = transforms
        self.model = model

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        for step in self.transforms:
            frame = step.transform(frame)
        return frame

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(self._prepare(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._prepare(frame)))


class PipelineFlavor:
    name = "pipeline"
    libraries = ("numpy", "pandas")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, ChainedModel)

    def save(self, model: Any, folder: Path) -> str:
        steps = folder / "steps"
        steps.mkdir()
        for index, step in enumerate([*model.transforms, model.model]):
            step.save_archive(steps / f"{index:02d}.zip")
        return "steps"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        from tidal.models import ModelPackage

        packages = [ModelPackage.load(path, trust=trust) for path in sorted((folder / payload).glob("*.zip"))]
        if not packages:
            raise TidalError(f"pipeline package at {folder} has no steps")
        return ChainedModel(packages[:-1], packages[-1])


def pipeline_package(steps: list[Any]) -> Any:
    """One package from fitted transforms followed by a model (all :class:`ModelPackage`).

    Its inputs are the raw columns: those the steps read that no earlier step produced.
    """
    from tidal.models import ModelPackage

    if not steps:
        raise TidalError("a pipeline package needs at least a model")
    *transforms, final = steps
    bad = [index for index, step in enumerate(transforms) if step.task != "transform"]
    if bad or final.task == "transform":
        raise TidalError("a pipeline package is fitted transforms (task 'transform') followed by one model; "
                         f"got tasks {[step.task for step in steps]}")
    produced: set[str] = set()
    features: list[str] = []
    types: dict[str, str] = {}
    for step in steps:
        for name in step.features:
            if name not in produced and name not in features:
                features.append(name)
                types[name] = step.feature_types.get(name, "unknown")
        outputs = step.metadata.get("output_columns") or []
        produced |= set(outputs)
    return ModelPackage(
        model=ChainedModel(list(transforms), final),
        task=final.task,
        features=features,
        flavor="pipeline",
        label=final.label,
        classes=final.classes,
        feature_types=types,
        metadata={"steps": [step.metadata.get("step", step.flavor) for step in steps]},
        lineage=dict(final.lineage),
    )


class OnnxModel:
    """An onnxruntime session with the scikit-learn-like predict / predict_proba."""

    def __init__(self, path: Path, features: list[str], label_output: str | None, proba_output: str | None) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.features = features
        names = [item.name for item in self.session.get_outputs()]
        self.label_output = label_output or names[0]
        self.proba_output = proba_output or (names[1] if len(names) > 1 else None)

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        dtype = np.float64 if "double" in self.input.type else np.float32
        return np.asarray(frame[self.features], dtype=dtype)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        result = self.session.run([self.label_output], {self.input.name: self._matrix(frame)})[0]
        return np.asarray(result).ravel() if np.asarray(result).ndim > 1 and np.asarray(result).shape[1] == 1 else np.asarray(result)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.proba_output is None:
            raise TidalError("this ONNX model has no probability output")
        result = self.session.run([self.proba_output], {self.input.name: self._matrix(frame)})[0]
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
        model = OnnxModel(folder / payload, settings["features"], settings.get("label_output"), settings.get("proba_output"))
        model.path = folder / payload  # type: ignore[attr-defined]
        model.settings = settings  # type: ignore[attr-defined]
        return model


def onnx_package(onnx_file: str | Path, *, features: list[str], task: str, classes: list[Any] | None = None,
                 feature_types: dict[str, str] | None = None, label_output: str | None = None,
                 proba_output: str | None = None) -> Any:
    """Wrap an ONNX file (one 2-D float input, one column per feature) as a model package."""
    from tidal.models import ModelPackage

    path = Path(onnx_file)
    model = OnnxModel(path, features, label_output, proba_output)
    model.path = path  # type: ignore[attr-defined]
    model.settings = {"features": features, "label_output": model.label_output,  # type: ignore[attr-defined]
                      "proba_output": model.proba_output}
    return ModelPackage(model=model, task=task, features=features, flavor="onnx", classes=classes,
                        feature_types=feature_types or {name: "float64" for name in features})


register_flavor(PipelineFlavor())
register_flavor(OnnxFlavor())

from tidal.serving import _custom, _pmml  # noqa: E402, F401 - register the custom and pmml flavors
