"""Model flavors: how each kind of model is saved in a safe format and loaded back.

A flavor knows how to recognise its models, write a payload into a package folder, read it back,
and give the universal ``predict`` / ``predict_proba``. Pickle is one flavor among others and is
only loaded when the caller explicitly trusts the source.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tidal.models._skops import skops_io
from tidal.models._trust import load_skops, require_trust


class Flavor(Protocol):
    """How one kind of model is saved and loaded. Optional, beyond these: ``encoder_parts(model)`` for
    sentence encoders, returning a ``tidal.optimize.EncoderParts`` so that ``tidal optimize`` can build,
    score and package variants of the model without importing the flavor's layer."""

    @property
    def name(self) -> str: ...

    @property
    def libraries(self) -> tuple[str, ...]: ...

    def accepts(self, model: Any) -> bool: ...

    def save(self, model: Any, folder: Path) -> str: ...

    def load(self, folder: Path, payload: str, trust: bool) -> Any: ...


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


class SklearnFlavor:
    """scikit-learn estimators and pipelines, stored with skops (no pickle)."""

    name = "sklearn"
    libraries = ("scikit-learn", "numpy", "skops")

    def accepts(self, model: Any) -> bool:
        module = type(model).__module__
        return module.startswith("sklearn.") or (hasattr(model, "fit") and hasattr(model, "get_params"))

    def save(self, model: Any, folder: Path) -> str:
        skops_io().dump(model, folder / "model.skops")
        return "model.skops"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        return load_skops(folder / payload, trust=trust, where=folder)


class LightGBMFlavor:
    """LightGBM boosters (or its scikit-learn wrappers), stored in LightGBM's own text format."""

    name = "lightgbm"
    libraries = ("lightgbm", "numpy")

    def accepts(self, model: Any) -> bool:
        return type(model).__module__.startswith("lightgbm")

    def save(self, model: Any, folder: Path) -> str:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(folder / "model.lgb.txt"))
        return "model.lgb.txt"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(folder / payload))


class XGBoostFlavor:
    """XGBoost boosters (or its scikit-learn wrappers), stored in XGBoost's JSON format."""

    name = "xgboost"
    libraries = ("xgboost", "numpy")

    def accepts(self, model: Any) -> bool:
        return type(model).__module__.startswith("xgboost")

    def save(self, model: Any, folder: Path) -> str:
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        booster.save_model(str(folder / "model.xgb.json"))
        return "model.xgb.json"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(folder / payload))
        return booster


class PickleFlavor:
    """Anything else, as a pickle. Loading runs arbitrary code, so it needs ``trust=True``."""

    name = "pickle"
    libraries = ("cloudpickle",)

    def accepts(self, model: Any) -> bool:
        return True

    def save(self, model: Any, folder: Path) -> str:
        import pickle

        with open(folder / "model.pkl", "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return "model.pkl"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        require_trust(trust, "a pickle", folder)
        import pickle

        with open(folder / payload, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - explicit trust given


FLAVORS: dict[str, Flavor] = {}


def register_flavor(flavor: Flavor) -> None:
    FLAVORS[flavor.name] = flavor


for _flavor in (LightGBMFlavor(), XGBoostFlavor(), SklearnFlavor(), PickleFlavor()):
    register_flavor(_flavor)


#: modules of Tidal's that define more flavors (pipeline, ONNX, PMML, custom; torch networks; online learners; RL
#: policies); they sit in higher layers, so they are found by name, like plug-ins, and register themselves when imported
FLAVOR_MODULES = ("tidal.serving._flavors", "tidal.nn._flavor", "tidal.stream._flavor", "tidal.components._rl_policy",
                  "tidal.components._text_encoder_model", "tidal.components._text_encoder_onnx")
#: third-party flavors: an entry point in this group names a module that calls register_flavor
FLAVOR_ENTRY_POINTS = "tidal.flavors"
_discovered = False


def load_builtin_flavors() -> None:
    """Register the flavors defined outside this module: Tidal's own, then installed plug-ins."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    import importlib
    import logging

    for module in FLAVOR_MODULES:
        importlib.import_module(module)
    for entry in importlib.metadata.entry_points(group=FLAVOR_ENTRY_POINTS):
        try:
            entry.load()
        except Exception as error:  # a broken plug-in must not stop the built-in flavors
            logging.getLogger(__name__).warning("model flavor plug-in %s failed to load: %s", entry.name, error)


def flavor_for(model: Any, preferred: str | None = None) -> Flavor:
    if preferred is not None:
        if preferred not in FLAVORS:
            load_builtin_flavors()
        return FLAVORS[preferred]
    for flavor in FLAVORS.values():
        if flavor.name != "pickle" and flavor.accepts(model):
            return flavor
    return FLAVORS["pickle"]


# -- universal prediction ------------------------------------------------------------------------
# In memory a package may hold a library's scikit-learn wrapper (LGBMClassifier, XGBRegressor ...);
# loaded from disk it holds the native booster. Both give the same numbers here.


def _is_booster(model: Any) -> bool:
    return type(model).__name__ == "Booster"


def _native(flavor: str, model: Any) -> Any:
    """The library's own booster behind a scikit-learn wrapper, so a package predicts the same
    numbers in memory as after save and load."""
    if flavor == "lightgbm":
        return getattr(model, "booster_", model)
    if flavor == "xgboost" and hasattr(model, "get_booster"):
        return model.get_booster()
    return model


def raw_predict(flavor: str, model: Any, features: Any, task: str) -> np.ndarray:
    model = _native(flavor, model)
    if flavor == "xgboost" and _is_booster(model):
        import xgboost

        return np.asarray(model.predict(xgboost.DMatrix(features)))
    return np.asarray(model.predict(features))


def raw_predict_proba(flavor: str, model: Any, features: Any, n_classes: int) -> np.ndarray:
    model = _native(flavor, model)
    if not _is_booster(model):
        if not hasattr(model, "predict_proba"):
            raise TypeError("this model gives no class probabilities")
        return np.asarray(model.predict_proba(features))
    if flavor == "xgboost":
        import xgboost

        output = np.asarray(model.predict(xgboost.DMatrix(features)))
    else:
        output = np.asarray(model.predict(features))
    if output.ndim == 1:
        output = np.column_stack([1.0 - output, output])
    return output
