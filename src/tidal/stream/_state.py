"""Learner state: plain numpy arrays and scalars, checked before anything is rebuilt from them.

Every learner's ``state()`` returns a flat dict of numpy arrays, floats, ints and strings; its
``from_state(state)`` rebuilds the learner bit-identically. That dict is the checkpoint contract
(stream jobs store it beside their source offsets) and the payload of the ``stream`` model flavor.
A state can come from an untrusted file, so :class:`StateReader` checks every entry's presence,
type, shape, finiteness and size and names the entry that is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tidal.core._errors import DataError

#: the most numbers one state array may hold (override with TIDAL_STREAM_MAX_STATE_ELEMENTS)
DEFAULT_MAX_ELEMENTS = 50_000_000


def max_elements() -> int:
    return int(os.environ.get("TIDAL_STREAM_MAX_STATE_ELEMENTS", DEFAULT_MAX_ELEMENTS))


class StateError(DataError):
    """A learner state (a checkpoint or a model package's payload) is malformed."""


class StateReader:
    """Typed, checked access to a state dict; every error names the learner and the entry."""

    def __init__(self, state: Any, learner: str) -> None:
        if not isinstance(state, dict):
            raise StateError(f"{learner} state must be a dict of arrays and numbers, got {type(state).__name__}")
        self.state = state
        self.learner = learner
        kind = state.get("learner")
        if kind is not None and str(kind) != learner:
            raise StateError(f"this state belongs to a {kind} learner, not {learner}")

    def _get(self, key: str) -> Any:
        if key not in self.state:
            raise StateError(f"{self.learner} state lacks the entry '{key}'")
        return self.state[key]

    def array(self, key: str, shape: Sequence[int | None], *, dtype: str = "float64", finite: bool = True,
              nonnegative: bool = False) -> np.ndarray:
        """The entry ``key`` as an array of ``shape`` (None: any length) and ``dtype``."""
        value = self._get(key)
        if not isinstance(value, np.ndarray):
            raise StateError(f"{self.learner} state entry '{key}' must be a numpy array, got {type(value).__name__}")
        if value.dtype.kind not in "fiub":
            raise StateError(f"{self.learner} state entry '{key}' has dtype {value.dtype}; numbers ({dtype}) expected")
        if value.size > max_elements():
            raise StateError(f"{self.learner} state entry '{key}' holds {value.size} numbers, more than the limit "
                             f"{max_elements()} (TIDAL_STREAM_MAX_STATE_ELEMENTS)")
        if value.ndim != len(shape) or any(want is not None and got != want for got, want in zip(value.shape, shape, strict=True)):
            wanted = "(" + ", ".join("any" if want is None else str(want) for want in shape) + ")"
            raise StateError(f"{self.learner} state entry '{key}' has shape {value.shape}; {wanted} expected")
        array = value.astype(dtype, copy=True)
        if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
            raise StateError(f"{self.learner} state entry '{key}' holds NaN or infinite values")
        if nonnegative and (array < 0).any():
            raise StateError(f"{self.learner} state entry '{key}' holds negative values; it counts or sums squares")
        return array

    def number(self, key: str, *, low: float | None = None, high: float | None = None, integer: bool = False) -> Any:
        value = self._get(key)
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise StateError(f"{self.learner} state entry '{key}' must be a number, got {type(value).__name__}")
        if integer:
            if float(value) != int(value):
                raise StateError(f"{self.learner} state entry '{key}' must be a whole number, got {value}")
            value = int(value)
        else:
            value = float(value)
        if not np.isfinite(value):
            raise StateError(f"{self.learner} state entry '{key}' is {value}; a finite number expected")
        if (low is not None and value < low) or (high is not None and value > high):
            raise StateError(f"{self.learner} state entry '{key}' is {value}; expected within [{low}, {high}]")
        return value

    def text(self, key: str, choices: Sequence[str] | None = None) -> str:
        value = self._get(key)
        if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "U":
            value = str(value)
        if not isinstance(value, str):
            raise StateError(f"{self.learner} state entry '{key}' must be text, got {type(value).__name__}")
        if choices is not None and value not in choices:
            raise StateError(f"{self.learner} state entry '{key}' is {value!r}; one of {', '.join(choices)} expected")
        return value

    def optional_array(self, key: str, shape: Sequence[int | None]) -> np.ndarray | None:
        value = self.state.get(key)
        if value is None or (isinstance(value, np.ndarray) and value.size == 0 and len(shape) == 1 and shape[0] is not None):
            return None
        return self.array(key, shape)


def as_matrix(X: Any, *, n_features: int | None = None, where: str = "X") -> np.ndarray:
    """A 2-D float64 array of finite numbers; names what is wrong."""
    try:
        array = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{where} must hold numbers only ({error}); encode text columns first (e.g. with FeatureHasher)") from None
    if array.ndim == 1:
        array = array.reshape(1, -1) if n_features is not None and array.shape[0] == n_features else array.reshape(-1, 1)
    if array.ndim != 2:
        raise DataError(f"{where} must be a 2-D array of rows by features, got {array.ndim} dimensions")
    if n_features is not None and array.shape[1] != n_features:
        raise DataError(f"{where} has {array.shape[1]} feature columns; this learner was built for {n_features}")
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise DataError(f"{where} holds NaN or infinite values (first at row {row}); impute or drop them first")
    return array


def as_vector(y: Any, rows: int, *, where: str = "y") -> np.ndarray:
    try:
        vector = np.asarray(y, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise DataError(f"{where} must hold numbers ({error})") from None
    if vector.shape[0] != rows:
        raise DataError(f"{where} has {vector.shape[0]} values for {rows} rows")
    if not np.isfinite(vector).all():
        raise DataError(f"{where} holds NaN or infinite values (first at row {int(np.argwhere(~np.isfinite(vector))[0][0])})")
    return vector


def binary_labels(y: Any, rows: int, *, where: str = "y") -> np.ndarray:
    vector = as_vector(y, rows, where=where)
    if not np.isin(vector, (0.0, 1.0)).all():
        bad = vector[~np.isin(vector, (0.0, 1.0))][0]
        raise DataError(f"{where} must hold 0/1 labels; found {bad}")
    return vector
