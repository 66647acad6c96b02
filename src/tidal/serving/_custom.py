"""Custom processors: a user's Python class packaged with a model, for business logic around it.

The class needs ``load(self, context)`` and ``predict(self, frame) -> dict | array | DataFrame``;
``preprocess(frame) -> frame`` and ``postprocess(outputs) -> outputs`` are optional::

    class Discount:
        def load(self, context):             # context.model: the packaged ModelPackage (or None)
            self.model = context.model       # context.folder: the unpacked package folder
        def preprocess(self, frame):
            return frame.assign(income=frame["income"].clip(0, None))
        def predict(self, frame):
            churn = self.model.predict_proba(frame)[:, 1]
            return {"prediction": churn > 0.5, "discount": np.where(churn > 0.8, 0.2, 0.0)}

    package = custom_package("discount.py", "Discount", model=churn_model,
                             outputs={"prediction": "bool", "discount": "float64"})

Loading runs the user's code, so it needs ``trust=True`` (CLI: ``--trust``), exactly like pickle.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError, UnsafeModelError
from tidal.models._flavors import register_flavor
from tidal.serving._processors import frame_from_columns
from tidal.serving._signature import Columns, Signature


@dataclass
class ProcessorContext:
    folder: Path
    model: Any | None
    manifest: dict[str, Any]


class CustomModel:
    """The user's processor instance, with the universal ``predict`` over its main output."""

    def __init__(self, instance: Any, source: Path, class_name: str, model: Any | None) -> None:
        self.instance = instance
        self.source = source
        self.class_name = class_name
        self.model = model

    def outputs(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if hasattr(self.instance, "preprocess"):
            frame = self.instance.preprocess(frame)
        result = self.instance.predict(frame)
        if isinstance(result, pd.DataFrame):
            outputs = {str(name): result[name].to_numpy() for name in result.columns}
        elif isinstance(result, dict):
            outputs = {str(name): np.asarray(value) for name, value in result.items()}
        else:
            outputs = {"prediction": np.asarray(result)}
        if hasattr(self.instance, "postprocess"):
            outputs = {str(name): np.asarray(value) for name, value in self.instance.postprocess(outputs).items()}
        return outputs

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        outputs = self.outputs(frame)
        return outputs["prediction"] if "prediction" in outputs else next(iter(outputs.values()))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        outputs = self.outputs(frame)
        if "probabilities" not in outputs:
            raise TidalError(f"custom processor {self.class_name} gives no 'probabilities' output")
        return outputs["probabilities"]


def _import_class(source: Path, class_name: str) -> type:
    module_name = f"tidal_custom_{uuid.uuid4().hex[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise TidalError(f"cannot import the custom processor {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise TidalError(f"the custom processor {source.name} failed to import: {type(error).__name__}: {error}") from None
    cls = getattr(module, class_name, None)
    if cls is None or not callable(getattr(cls, "predict", None)) or not callable(getattr(cls, "load", None)):
        raise TidalError(f"{source.name} has no class {class_name} with load() and predict() methods")
    return cls  # type: ignore[no-any-return]


class CustomFlavor:
    name = "custom"
    libraries = ("numpy", "pandas")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, CustomModel)

    def save(self, model: Any, folder: Path) -> str:
        shutil.copyfile(model.source, folder / "processor.py")
        (folder / "processor.json").write_text(json.dumps({"class": model.class_name}))
        if model.model is not None:
            model.model.save(folder / "model")
        return "processor.py"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        if not trust:
            raise UnsafeModelError(
                f"model at {folder} is a custom processor, and loading it runs its Python code; "
                "load it with trust=True (CLI: --trust) only if you trust its source")
        from tidal.models import ModelPackage

        # the package folder may be a temporary extraction: keep the files the processor may read
        keep = Path(tempfile.mkdtemp(prefix="tidal-custom-"))
        shutil.copytree(folder, keep, dirs_exist_ok=True)
        settings = json.loads((keep / "processor.json").read_text())
        inner = ModelPackage.load(keep / "model", trust=trust) if (keep / "model").exists() else None
        cls = _import_class(keep / payload, settings["class"])
        instance = cls()
        manifest = json.loads((keep / "MANIFEST.json").read_text())
        instance.load(ProcessorContext(keep, inner, manifest))
        return CustomModel(instance, keep / payload, settings["class"], inner)


def custom_package(processor_file: str | Path, class_name: str, *, model: Any | None = None,
                   inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None,
                   task: str | None = None, classes: list[Any] | None = None,
                   metadata: dict[str, Any] | None = None) -> Any:
    """A package holding a custom processor (and optionally the model it wraps).

    ``inputs`` maps column → dtype (default: the wrapped model's inputs); ``outputs`` maps output
    name → dtype (default: a ``prediction`` like the model's).
    """
    from tidal.models import ModelPackage

    source = Path(processor_file)
    if not source.exists():
        raise TidalError(f"no processor file {source}")
    if inputs is None:
        if model is None:
            raise TidalError("give the processor's inputs (column -> dtype), or the model it wraps")
        inputs = {name: model.feature_types.get(name, "float64") for name in model.features}
    package = ModelPackage(
        model=CustomModel(None, source, class_name, model),
        task=task or (model.task if model is not None else "other"),
        features=list(inputs),
        flavor="custom",
        classes=classes if classes is not None else (model.classes if model is not None else None),
        feature_types=dict(inputs),
        metadata={**(metadata or {}), "outputs": [[name, dtype] for name, dtype in (outputs or {}).items()]},
        lineage=dict(model.lineage) if model is not None else {},
    )
    return package


class CustomProcessor:
    """Serving side: every output the user's class returns becomes an output tensor."""

    def __init__(self, package: Any) -> None:
        self.package = package
        declared = package.metadata.get("outputs") or []  # [name, dtype] pairs, in the user's order
        signature = package.signature()
        if declared:
            signature = {**signature, "outputs": [{"name": name, "dtype": dtype} for name, dtype in declared]}
        self.signature = Signature.from_manifest(signature, package.classes)
        self.platform = "tidal-custom"
        self.classes = np.asarray(package.classes) if package.classes is not None else None

    @classmethod
    def load(cls, path: Path, *, trust: bool) -> CustomProcessor:
        from tidal.models import ModelPackage

        return cls(ModelPackage.load(path, trust=trust))

    def predict(self, columns: Columns, rows: int) -> dict[str, np.ndarray]:
        frame = frame_from_columns(columns, self.signature, self.package.feature_types)
        return self.package.model.outputs(frame)  # type: ignore[no-any-return]


register_flavor(CustomFlavor())
