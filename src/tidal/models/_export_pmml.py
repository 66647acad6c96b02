"""Exporting a model package to PMML with sklearn2pmml, and scoring the result with Tidal's evaluator.

sklearn2pmml is a Java converter: the model is pickled into a scratch folder (a plain pickle of
scikit-learn objects, which the converter reads as data; no Python runs on the Java side) and
``com.sklearn2pmml.Main`` writes the document. Java must be on ``PATH``.

The converter refuses a pickle recorded by a scikit-learn release newer than the newest it knows,
even a patch release of the same minor series, whose pickles have the same layout. When it names
the release it supports and that release shares the installed one's major and minor version, the
pickle is written again recording that release; the document is then checked against the model
row by row like any other, so a layout that did differ would be refused there.

The document is scored by Tidal's own PMML evaluator (:mod:`tidal.models._pmml`), the one
``tidal serve FILE.pmml`` uses.
"""

from __future__ import annotations

import importlib.metadata
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.models._export_check import ExportRefused
from tidal.models._export_onnx import EXTRA_HINT, lightgbm_wrapper

#: longest a conversion may take (the JVM start is a few seconds)
CONVERT_TIMEOUT_S = 600
#: a one-shot conversion: the quick-starting compiler and collector halve the JVM's start-up
JAVA_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
_VERSION_REFUSED = re.compile(r"Scikit-Learn version '([^']+)' is not supported.*?version '([^']+)'", re.DOTALL)
#: the scikit-learn release to record in pickles, once the converter has named it (per process)
_recorded_version: str | None = None


def converter_version(package: Any = None) -> str:
    return f"sklearn2pmml {importlib.metadata.version('sklearn2pmml')}"


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ExportRefused("exporting to PMML runs the sklearn2pmml converter, which needs Java (11 or newer) on PATH; "
                            "install a Java runtime (e.g. apt-get install default-jre-headless), or export to ONNX")
    return java


def _classpath() -> list[str]:
    try:
        from sklearn2pmml import _classpath as classpath
    except ImportError:
        raise ExportRefused(f"exporting to PMML needs sklearn2pmml, which is not installed; {EXTRA_HINT}") from None
    return list(classpath([]))


def _estimator(package: Any) -> Any:
    """The scikit-learn object sklearn2pmml converts: the model itself, or a library wrapper around a booster."""
    model = package.model
    module = type(model).__module__
    if module.startswith("lightgbm"):
        return lightgbm_wrapper(package)
    if module.startswith("xgboost"):
        return _xgboost_wrapper(package)
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        raise ExportRefused(f"a model of flavor '{package.flavor}' ({type(model).__name__}) cannot be exported: "
                            "PMML export takes scikit-learn estimators and pipelines, LightGBM and XGBoost models")
    return model


def _xgboost_wrapper(package: Any) -> Any:
    import xgboost

    model = package.model
    if isinstance(model, (xgboost.XGBClassifier, xgboost.XGBRegressor)):
        return model
    classifier = package.task in ("binary", "multiclass")
    classes = list(package.classes or [])
    if classifier and classes != list(range(len(classes))):
        whole = all(isinstance(value, int) and not isinstance(value, bool) for value in classes)
        raise ExportRefused(f"an XGBoost classifier with class labels {classes[:5]!r} cannot be exported to PMML: "
                            "the converter labels classes 0..k-1" + ("; export it to ONNX instead" if whole else ""))
    wrapper = xgboost.XGBClassifier() if classifier else xgboost.XGBRegressor()
    wrapper._Booster = model
    if classifier:
        wrapper.n_classes_ = len(classes)
    wrapper.objective = model.attr("objective") or _xgboost_objective(model)
    return wrapper


def _xgboost_objective(booster: Any) -> str:
    import json

    config = json.loads(booster.save_config())
    return str(config["learner"]["objective"]["name"])


class _RecordingPickler(pickle.Pickler):
    """A pickler that records ``version`` as the scikit-learn release of every estimator it writes."""

    def __init__(self, handle: Any, version: str | None) -> None:
        super().__init__(handle, protocol=4)
        self.version = version

    def reducer_override(self, obj: Any) -> Any:
        if self.version is None or not hasattr(obj, "__getstate__") or not type(obj).__module__.startswith("sklearn."):
            return NotImplemented
        reduced = obj.__reduce_ex__(4)
        state = reduced[2] if len(reduced) > 2 else None
        if not isinstance(state, dict) or "_sklearn_version" not in state:
            return NotImplemented
        return (reduced[0], reduced[1], {**state, "_sklearn_version": self.version}, *reduced[3:])


def _same_series(installed: str, supported: str) -> bool:
    return installed.split(".")[:2] == supported.split(".")[:2]


def convert(package: Any, target: Path, source: str) -> Path:
    """Write ``package`` as a PMML document at ``target`` (a scratch path; the caller checks it before use)."""
    global _recorded_version
    java = _java()
    classpath = _classpath()
    from sklearn2pmml import make_pmml_pipeline

    features = list(package.features)
    pipeline = make_pmml_pipeline(_estimator(package), active_fields=features, target_fields=[package.label or "y"])
    pickled = target.with_suffix(".pkl")
    for attempt in range(2):
        with open(pickled, "wb") as handle:
            _RecordingPickler(handle, _recorded_version).dump(pipeline)
        try:
            done = subprocess.run([java, *JAVA_OPTIONS, "-cp", os.pathsep.join(classpath), "com.sklearn2pmml.Main", "--pkl-input", str(pickled),
                                   "--pmml-output", str(target)], capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ExportRefused(f"sklearn2pmml did not finish within {CONVERT_TIMEOUT_S} s") from None
        if done.returncode == 0 and target.exists():
            return target
        refused = _VERSION_REFUSED.search(done.stderr)
        if attempt == 0 and refused and _same_series(refused.group(1), refused.group(2)):
            _recorded_version = refused.group(2)
            continue
        raise ExportRefused(f"{converter_version()} cannot convert this {type(package.model).__name__}: {_java_reason(done.stderr)}")
    raise AssertionError("unreachable")  # pragma: no cover


def _java_reason(stderr: str) -> str:
    """The converter's own explanation: the exception line, else the last line it printed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if re.match(r"^[\w.$]+(Exception|Error): ", line):
            return line.split(": ", 1)[1] if line.startswith(("org.jpmml", "java.lang")) else line
    return lines[-1] if lines else "no explanation printed"


def score(path: Path, package: Any, rows: pd.DataFrame) -> dict[str, Any]:
    """Tidal's evaluator's answers for ``rows``, probabilities in the package's class order."""
    from tidal.models._pmml import PmmlModel
    from tidal.models._pmml._document import PmmlInvalid, PmmlUnsupported

    try:
        model = PmmlModel.from_path(path)
    except (PmmlInvalid, PmmlUnsupported) as error:
        raise ExportRefused(f"Tidal's PMML evaluator cannot evaluate the document sklearn2pmml wrote: {error}") from None
    prediction = model.predict(rows)
    if package.task == "regression":
        return {"prediction": np.asarray(prediction, dtype=np.float64)}
    if not model.gives_probabilities:
        raise ExportRefused("the PMML document gives no class probabilities, so it cannot be checked against the model's")
    positions = {str(value): index for index, value in enumerate(model.classes)}
    absent = [value for value in package.classes or [] if str(value) not in positions]
    if absent:
        raise ExportRefused(f"the PMML document has classes {model.classes!r}; the model's {absent!r} are missing")
    probabilities = model.predict_proba(rows)
    order = [positions[str(value)] for value in package.classes or []]
    return {"prediction": np.asarray(prediction, dtype=object), "probabilities": probabilities[:, order]}
