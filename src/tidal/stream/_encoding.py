"""Online feature encoding: standard scaling learned from the stream, and hashing of text columns.

:class:`OnlineStandardScaler` keeps each column's count, mean and variance, merged batch by batch
with Chan's parallel formula (scikit-learn's ``StandardScaler.partial_fit`` gives the same numbers
to rounding). :class:`FeatureHasher` needs no state: it maps ``column=value`` for text cells and
``column`` (with its value) for numeric cells to one of ``n_features`` slots by the signed 32-bit
MurmurHash3 of the name, as scikit-learn's ``FeatureHasher(input_type="dict")`` does, so the two
give the same matrix. Each distinct value is hashed once per batch (the rows are factorized first).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError, ParameterError
from tidal.stream._state import StateReader, as_matrix


def chan_merge(count: np.ndarray, mean: np.ndarray, squares: np.ndarray, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column count, mean and sum of squared deviations after adding ``batch`` (Chan et al., 1979)."""
    rows = batch.shape[0]
    if rows == 0:
        return count, mean, squares
    batch_mean = batch.mean(axis=0)
    deviation = batch - batch_mean
    batch_squares = (deviation * deviation).sum(axis=0)
    total = count + rows
    delta = batch_mean - mean
    merged_mean = mean + delta * (rows / total)
    merged_squares = squares + batch_squares + delta * delta * (count * rows / total)
    return total, merged_mean, merged_squares


class OnlineStandardScaler:
    """Zero mean, unit variance, with statistics that keep learning.

    >>> import numpy as np
    >>> scaler = OnlineStandardScaler().learn(np.array([[1.0], [3.0]])).learn(np.array([[5.0]]))
    >>> scaler.mean_.tolist(), scaler.transform(np.array([[3.0]])).tolist()
    ([3.0], [[0.0]])
    """

    learner = "OnlineStandardScaler"

    def __init__(self) -> None:
        self.count = np.zeros(0)
        self.mean_ = np.zeros(0)
        self.squares = np.zeros(0)

    def learn(self, X: Any, y: Any = None) -> OnlineStandardScaler:
        inputs = as_matrix(X, n_features=self.mean_.size or None)
        if not self.mean_.size:
            self.count, self.mean_, self.squares = (np.zeros(inputs.shape[1]) for _ in range(3))
        self.count, self.mean_, self.squares = chan_merge(self.count, self.mean_, self.squares, inputs)
        return self

    @property
    def var_(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.squares / np.maximum(self.count, 1), 0.0)  # type: ignore[no-any-return]

    @property
    def scale_(self) -> np.ndarray:
        scale = np.sqrt(self.var_)
        return np.where(scale < 10 * np.finfo(np.float64).eps, 1.0, scale)  # type: ignore[no-any-return]

    def transform(self, X: Any) -> np.ndarray:
        if not self.mean_.size:
            raise ParameterError("OnlineStandardScaler has learned nothing yet; call learn first")
        return (as_matrix(X, n_features=self.mean_.size) - self.mean_) / self.scale_  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        return {"learner": self.learner, "count": self.count.copy(), "mean": self.mean_.copy(), "squares": self.squares.copy()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineStandardScaler:
        read = StateReader(state, cls.learner)
        scaler = cls()
        scaler.count = read.array("count", (None,), nonnegative=True)
        scaler.mean_ = read.array("mean", scaler.count.shape)
        scaler.squares = read.array("squares", scaler.count.shape, nonnegative=True)
        return scaler


class FeatureHasher:
    """The hashing trick over a table's columns (text and numbers) into ``n_features`` columns.

    >>> import pandas as pd
    >>> FeatureHasher(n_features=8).transform(pd.DataFrame({"city": ["Paris", "Oslo"]})).shape
    (2, 8)
    """

    learner = "FeatureHasher"

    def __init__(self, n_features: int = 2**20, *, alternate_sign: bool = True) -> None:
        if not 1 <= int(n_features) <= 2**31 - 1:
            raise ParameterError(f"FeatureHasher 'n_features' must lie in [1, 2**31 - 1], got {n_features}")
        self.n_features = int(n_features)
        self.alternate_sign = bool(alternate_sign)

    def _slots(self, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.utils import murmurhash3_32

        hashes = np.array([murmurhash3_32(str(name), seed=0, positive=False) for name in names], dtype=np.int64)
        slots = np.where(hashes == -(2**31), (2**31 - 1 - (self.n_features - 1)) % self.n_features, np.abs(hashes) % self.n_features)
        signs = np.where(hashes >= 0, 1.0, -1.0) if self.alternate_sign else np.ones(hashes.size)
        return slots, signs

    def transform(self, table: Any) -> Any:
        """A scipy CSR matrix, one row per table row."""
        import scipy.sparse

        if not isinstance(table, pd.DataFrame):
            raise DataError(f"FeatureHasher.transform expects a pandas DataFrame, got {type(table).__name__}")
        rows = len(table)
        row_ids, col_ids, values = [], [], []
        for column in table.columns:
            series = table[column]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                numbers = series.to_numpy(dtype=np.float64)
                keep = (numbers != 0) & ~np.isnan(numbers)
                slots, signs = self._slots(np.array([str(column)]))
                row_ids.append(np.flatnonzero(keep))
                col_ids.append(np.full(int(keep.sum()), slots[0]))
                values.append(numbers[keep] * signs[0])
                continue
            codes, uniques = pd.factorize(series.astype("string"), use_na_sentinel=True)
            keep = codes >= 0
            slots, signs = self._slots(np.array([f"{column}={value}" for value in uniques], dtype=object))
            row_ids.append(np.flatnonzero(keep))
            col_ids.append(slots[codes[keep]] if slots.size else np.zeros(0, dtype=np.int64))
            values.append(signs[codes[keep]] if signs.size else np.zeros(0))
        matrix = scipy.sparse.csr_matrix(
            (np.concatenate(values) if values else np.zeros(0), (np.concatenate(row_ids) if row_ids else np.zeros(0, dtype=np.int64),
             np.concatenate(col_ids) if col_ids else np.zeros(0, dtype=np.int64))), shape=(rows, self.n_features))
        matrix.sum_duplicates()
        return matrix

    def transform_dense(self, table: Any) -> np.ndarray:
        return as_matrix(self.transform(table).toarray())

    def state(self) -> dict[str, Any]:
        return {"learner": self.learner, "n_features": self.n_features, "alternate_sign": int(self.alternate_sign)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FeatureHasher:
        read = StateReader(state, cls.learner)
        return cls(read.number("n_features", low=1, high=2**31 - 1, integer=True),
                   alternate_sign=bool(read.number("alternate_sign", low=0, high=1, integer=True)))
