"""The ``stream`` model flavor: an online learner's state as numpy arrays and JSON, never a pickle.

::

    model/
      MANIFEST.json   flavor stream, task, signature (the feature columns, in order), classes
      state.npz       the payload: the learner's arrays, read with allow_pickle=False
      stream.json     the learner's name and its scalar settings and counters

Loading checks the archive's members and sizes before reading it, reads every array without
pickle, and rebuilds the learner through its ``from_state``, which checks each entry's shape,
type and finiteness and names the one that is wrong. A River estimator's state is a pickle: such a
package loads only when the operator trusts it (``trust=True``, CLI ``--trust``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tidal.core._errors import DataError, ParameterError
from tidal.models._archive import PackageRefused, contained
from tidal.models._flavors import register_flavor
from tidal.stream._state import max_elements

SETTINGS = "stream.json"
PAYLOAD = "state.npz"
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_ARRAYS = 10_000


class StreamModel:
    """A learner as a model package holds it: ``predict``/``predict_proba`` over a feature table,
    with predictions given as the package's class labels when it has them."""

    def __init__(self, learner: Any, classes: list[Any] | None = None) -> None:
        self.learner = learner
        self.classes = classes

    def predict(self, features: Any) -> np.ndarray:
        if self.classes and hasattr(self.learner, "predict_proba") and type(self.learner).__name__ != "OnlineGaussianNB":
            return np.asarray(self.classes, dtype=object)[self.learner.predict_proba(features).argmax(axis=1)]
        return np.asarray(self.learner.predict(features))

    def predict_proba(self, features: Any) -> np.ndarray:
        if not hasattr(self.learner, "predict_proba"):
            raise TypeError(f"a {type(self.learner).__name__} gives no class probabilities")
        return np.asarray(self.learner.predict_proba(features))


def write_state(state: dict[str, Any], folder: Path) -> None:
    arrays = {key: value for key, value in state.items() if isinstance(value, np.ndarray)}
    scalars = {key: (value.item() if isinstance(value, np.generic) else value) for key, value in state.items() if key not in arrays}
    with open(folder / PAYLOAD, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    (folder / SETTINGS).write_text(json.dumps({"format": 1, "scalars": scalars}, indent=1, sort_keys=True))


def read_state(folder: Path, payload: str) -> dict[str, Any]:
    """The state dict a package holds, refused (naming the problem) when malformed or oversized."""
    settings_path = contained(folder, SETTINGS, field=SETTINGS)
    if not settings_path.is_file():
        raise PackageRefused(f"{folder}: a stream model package needs {SETTINGS}; it is missing")
    if settings_path.stat().st_size > MAX_SETTINGS_BYTES:
        raise PackageRefused(f"{folder}: {SETTINGS} is larger than {MAX_SETTINGS_BYTES} bytes; it holds a few settings")
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is not valid JSON ({error})") from None
    scalars = settings.get("scalars") if isinstance(settings, dict) else None
    if not isinstance(scalars, dict) or not all(isinstance(value, str | int | float) and not isinstance(value, bool) for value in scalars.values()):
        raise PackageRefused(f"{folder}: {SETTINGS} field 'scalars' must map names to numbers or text")
    path = contained(folder, payload, field="payload")
    limit = 8 * max_elements()
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARRAYS:
                raise PackageRefused(f"{folder}: {payload} holds {len(members)} arrays, more than {MAX_ARRAYS}")
            size = sum(member.file_size for member in members)
            if size > limit:
                raise PackageRefused(f"{folder}: {payload} unpacks to {size} bytes, more than the limit {limit} "
                                     "(TIDAL_STREAM_MAX_STATE_ELEMENTS numbers of 8 bytes)")
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except PackageRefused:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise PackageRefused(f"{folder}: {payload} is not a numpy state archive without pickles ({error})") from None
    clash = set(arrays) & set(scalars)
    if clash:
        raise PackageRefused(f"{folder}: entries {sorted(clash)} appear both in {payload} and in {SETTINGS}")
    return {**scalars, **arrays}


class StreamFlavor:
    """Online learners of :mod:`tidal.stream` (wrapped in :class:`StreamModel`)."""

    name = "stream"
    libraries = ("numpy", "scipy")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, StreamModel)

    def save(self, model: Any, folder: Path) -> str:
        state = model.learner.state()
        if model.classes is not None:
            state["package_classes"] = json.dumps(model.classes)
        write_state(state, folder)
        return PAYLOAD

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        from tidal.stream._learners import restore

        state = read_state(folder, payload)
        classes = state.pop("package_classes", None)
        try:
            learner = restore(state, trust=trust, where=str(folder))
            parsed = None if classes is None else json.loads(str(classes))
        except (DataError, ParameterError) as error:
            raise PackageRefused(f"{folder}: {error}") from None
        except ValueError as error:
            raise PackageRefused(f"{folder}: the learner state is malformed ({error})") from None
        if parsed is not None and not isinstance(parsed, list):
            raise PackageRefused(f"{folder}: the state's 'package_classes' must be a list")
        return StreamModel(learner, parsed)


register_flavor(StreamFlavor())
