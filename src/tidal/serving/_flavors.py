"""Model-package flavors that serving adds: Tidal pipelines, ONNX and PMML.

They register with :func:`tidal.models.register_flavor`, so ``ModelPackage.load`` and every
user of the universal ``predict`` (batch scoring, AutoML) handle them too.

* ``pipeline``: fitted transforms (``task="transform"`` packages from ``features.*``) followed by a
  model; the preprocessing learned in training runs at serving time. Build with
  :func:`pipeline_package`.
* ``onnx``: an ONNX graph run by onnxruntime (:mod:`tidal.serving._onnx`).
* ``pmml``: a PMML document evaluated in pure Python, no JVM (:mod:`tidal.serving._pmml`).
"""

from __future__ import annotations

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


register_flavor(PipelineFlavor())

from tidal.serving import _custom, _pmml  # noqa: E402, F401 - register the custom and pmml flavors
from tidal.serving._onnx import OnnxFlavor, OnnxModel, onnx_package  # noqa: E402, F401 - registers the onnx flavor
