"""Data preparation: splitting, k-fold assignment, sampling and shuffling.

Random choices follow pandas and scikit-learn exactly: ``data.sample`` with a seed picks the same
rows, in the same order, as ``DataFrame.sample(random_state=seed)``; the splits are scikit-learn's.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from tidal.components._sql import (
    ROW,
    column_types,
    connect,
    fetch,
    literal,
    quote,
    register,
    to_lazy,
)
from tidal.core import Column, DataError, LazyTable, Param, ParameterError, component


def _plain(value: object) -> object:
    """numpy scalars print as np.int64(9); people expect 9."""
    return value.item() if isinstance(value, np.generic) else value


class TrainTest(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame


class LazyTrainTest(NamedTuple):
    train: LazyTable
    test: LazyTable


@component("data.split", title="Split", tags={"deterministic_under_seed": True})
def split(
    data: pd.DataFrame,
    *,
    fraction: Annotated[float, Param(gt=0, lt=1, help="share of rows that go to 'train'")] = 0.8,
    seed: Annotated[int, Param(ge=0, help="random seed; the same seed gives the same split")] = 42,
    stratify: Annotated[Column | None, Param(help="keep this column's class shares equal in both parts")] = None,
    shuffle: bool = True,
) -> TrainTest:
    """Split rows at random into a train and a test table.

    Examples
    --------
    >>> import pandas as pd
    >>> parts = split(pd.DataFrame({"x": range(10)}), fraction=0.7, seed=1)
    >>> len(parts.train), len(parts.test)
    (7, 3)
    """
    if len(data) < 2:
        raise DataError(f"input 'data' has {len(data)} row(s); splitting needs at least 2")
    if stratify is not None and not shuffle:
        raise DataError("parameter 'stratify' needs shuffle=true")
    from sklearn.model_selection import train_test_split

    try:
        train, test = train_test_split(
            data,
            train_size=fraction,
            random_state=seed,
            shuffle=shuffle,
            stratify=data[stratify] if stratify else None,
        )
    except ValueError as error:
        raise DataError(f"cannot split: {error}") from None
    return TrainTest(train.reset_index(drop=True), test.reset_index(drop=True))


@component("data.split_stratified", title="Stratified Split", tags={"sample": "multiclass", "deterministic_under_seed": True})
def split_stratified(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the class column whose shares both parts keep")],
    fraction: Annotated[float, Param(gt=0, lt=1, help="share of rows that go to 'train'")] = 0.8,
    seed: Annotated[int, Param(ge=0, help="random seed; the same seed gives the same split")] = 42,
) -> TrainTest:
    """Split rows at random so that each class keeps its share in both train and test.

    This is scikit-learn's ``train_test_split(..., stratify=label)``; every class needs at least
    two rows.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": range(20), "y": [0] * 10 + [1] * 10})
    >>> parts = split_stratified(frame, label="y", fraction=0.6, seed=0)
    >>> parts.train["y"].value_counts().sort_index().tolist()
    [6, 6]
    """
    truth = data[label]
    if truth.isna().any():
        raise DataError(f"label column '{label}' has missing values at row {int(np.flatnonzero(truth.isna())[0])}; drop or fill them first")
    counts = truth.value_counts()
    if len(counts) and counts.min() < 2:
        raise DataError(f"class {_plain(counts.idxmin())!r} of column '{label}' has only {counts.min()} row; stratifying needs at least 2 per class")
    if len(data) < 2:
        raise DataError(f"input 'data' has {len(data)} row(s); splitting needs at least 2")
    from sklearn.model_selection import train_test_split

    try:
        train, test = train_test_split(data, train_size=fraction, random_state=seed, stratify=truth)
    except ValueError as error:
        raise DataError(f"cannot split: {error}") from None
    return TrainTest(train.reset_index(drop=True), test.reset_index(drop=True))


@component("data.split_by_time", title="Split by Time", tags={"sample": "timeseries", "sample_params": {"column": "time"}})
def split_by_time(
    data: LazyTable,
    *,
    column: Annotated[Column, Param(help="the time (or any ordered) column")],
    cutoff: Annotated[str | None, Param(help="rows before this value go to 'train', the rest to 'test'; e.g. 2024-06-01")] = None,
    fraction: Annotated[float, Param(gt=0, lt=1, help="without a cutoff: the earliest share of rows goes to 'train'")] = 0.8,
) -> LazyTrainTest:
    """Split rows by time: the past trains, the future tests (no shuffling, no leakage).

    With ``cutoff``, rows before it form ``train`` and the rest ``test``; without, the earliest
    ``fraction`` of rows trains. Both parts come out ordered by time; rows whose time is missing
    are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=10), "v": range(10)})
    >>> parts = split_by_time(frame, column="day", cutoff="2024-01-08")
    >>> parts.train.num_rows, parts.test.num_rows
    (7, 3)
    """
    con = connect(data)
    register(con, "data", data, row_numbers=True)
    kind = column_types(data)[column]
    key = quote(column)
    order = f"ORDER BY {key}, {ROW}"
    if cutoff is not None:
        bound = f"CAST({literal(cutoff)} AS {kind})"
        fetch(con, f"SELECT {bound}", what=f"parameter 'cutoff': {cutoff!r} does not fit column '{column}' of type {kind}")
        train = f"SELECT * EXCLUDE ({ROW}) FROM data WHERE {key} < {bound} {order}"
        test = f"SELECT * EXCLUDE ({ROW}) FROM data WHERE {key} >= {bound} {order}"
    else:
        present = fetch(con, f"SELECT count({key}) FROM data", what="split_by_time")[0][0]
        size = round(fraction * present)
        train = f"SELECT * EXCLUDE ({ROW}) FROM data WHERE {key} IS NOT NULL {order} LIMIT {size}"
        test = f"SELECT * EXCLUDE ({ROW}) FROM data WHERE {key} IS NOT NULL {order} OFFSET {size}"
    return LazyTrainTest(to_lazy(con, train, what="split_by_time"), to_lazy(con, test, what="split_by_time"))


@component("data.split_by_value", title="Split by Value", tags={"sample_params": {"column": "cat", "test_values": ["red"]}})
def split_by_value(
    data: LazyTable,
    *,
    column: Annotated[Column, Param(help="the column to look at")],
    test_values: Annotated[list[str], Param(help="rows whose value (as text) is one of these go to 'test'; the rest to 'train'")],
) -> LazyTrainTest:
    """Split rows by a column's value, e.g. hold out one region, one year or one customer group.

    Values compare as text (``2024``, ``1.5``, ``true``); missing values go to ``train``. Row
    order is kept.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"city": ["Oslo", "Lima", "Oslo", "Pune"], "v": [1, 2, 3, 4]})
    >>> parts = split_by_value(frame, column="city", test_values=["Lima", "Pune"])
    >>> parts.train.to_pandas()["v"].tolist(), parts.test.to_pandas()["v"].tolist()
    ([1, 3], [2, 4])
    """
    if not test_values:
        raise ParameterError("parameter 'test_values' is empty: name at least one value that goes to 'test'")
    con = connect(data)
    register(con, "data", data)
    wanted = ", ".join(literal(value) for value in test_values)
    matches = f"coalesce(CAST({quote(column)} AS VARCHAR) IN ({wanted}), false)"
    return LazyTrainTest(
        to_lazy(con, f"SELECT * FROM data WHERE NOT {matches}", what="split_by_value"),
        to_lazy(con, f"SELECT * FROM data WHERE {matches}", what="split_by_value"),
    )


@component("data.kfold", title="K-Fold Assignment", tags={"sample": "classification", "deterministic_under_seed": True})
def kfold(
    data: pd.DataFrame,
    *,
    folds: Annotated[int, Param(ge=2, help="number of folds")] = 5,
    stratify: Annotated[Column | None, Param(help="keep this column's class shares equal in every fold")] = None,
    shuffle: Annotated[bool, Param(help="shuffle rows before cutting folds")] = True,
    seed: Annotated[int, Param(ge=0, help="random seed (with shuffle)")] = 42,
    fold_column: Annotated[str, Param(help="name of the new column holding the fold, 0 to folds-1")] = "fold",
) -> pd.DataFrame:
    """Give every row a fold number for k-fold cross-validation (scikit-learn KFold / StratifiedKFold).

    Rows in fold *i* are the test rows of the *i*-th split; filter on the fold column to build
    each split.

    Examples
    --------
    >>> import pandas as pd
    >>> kfold(pd.DataFrame({"x": range(6)}), folds=3, shuffle=False)["fold"].tolist()
    [0, 0, 1, 1, 2, 2]
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if fold_column in data.columns:
        raise DataError(f"parameter 'fold_column': the input already has a column '{fold_column}'; choose another name")
    if len(data) < folds:
        raise DataError(f"input 'data' has {len(data)} row(s); {folds} folds need at least {folds}")
    random_state = seed if shuffle else None
    fold = np.zeros(len(data), dtype="int64")
    if stratify is not None:
        truth = data[stratify]
        if truth.isna().any():
            raise DataError(f"column '{stratify}' has missing values at row {int(np.flatnonzero(truth.isna())[0])}; stratifying needs a class on every row")
        splitter = StratifiedKFold(n_splits=folds, shuffle=shuffle, random_state=random_state)
        try:
            parts = list(splitter.split(np.zeros(len(data)), truth))
        except ValueError as error:
            raise DataError(f"cannot stratify on '{stratify}': {error}") from None
    else:
        parts = list(KFold(n_splits=folds, shuffle=shuffle, random_state=random_state).split(np.zeros(len(data))))
    for index, (_, test_rows) in enumerate(parts):
        fold[test_rows] = index
    result = data.reset_index(drop=True).copy()
    result[fold_column] = fold
    return result


def _sample_size(total: int, rows: int | None, fraction: float, replace: bool) -> int:
    size = rows if rows is not None else round(fraction * total)
    if size > total and not replace:
        wanted = f"rows={rows}" if rows is not None else f"fraction={fraction}"
        raise DataError(f"{wanted} asks for {size} rows but the input has {total}; lower it or set replace=true")
    if size > 0 and total == 0:
        raise DataError("input 'data' is empty: there are no rows to sample")
    return size


def _take(data: LazyTable, positions: np.ndarray, what: str) -> LazyTable:
    """The rows at ``positions`` (0-based, repeats allowed), in that order, streamed through DuckDB."""
    con = connect(data)
    register(con, "data", data, row_numbers=True)
    con.register("picks", pa.table({"pick": np.arange(len(positions), dtype="int64"), "position": positions.astype("int64")}))
    return to_lazy(con, f"SELECT data.* EXCLUDE ({ROW}) FROM picks JOIN data ON data.{ROW} = picks.position ORDER BY picks.pick", what=what)


@component("data.sample", title="Random Sample", tags={"deterministic_under_seed": True})
def sample(
    data: LazyTable,
    *,
    rows: Annotated[int | None, Param(ge=0, help="number of rows to draw; when set, 'fraction' is ignored")] = None,
    fraction: Annotated[float, Param(gt=0, help="share of rows to draw (above 1 needs replace)")] = 0.1,
    replace: Annotated[bool, Param(help="draw with replacement (a row may come more than once)")] = False,
    seed: Annotated[int, Param(ge=0, help="random seed; the same seed gives the same rows")] = 42,
) -> LazyTable:
    """Draw rows at random, exactly as pandas ``DataFrame.sample(random_state=seed)`` would.

    Only the chosen row numbers are held in memory; the rows themselves stream through DuckDB.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": range(100)})
    >>> sample(frame, rows=3, seed=3).to_pandas()["x"].tolist()
    [93, 67, 6]
    >>> frame.sample(3, random_state=3)["x"].tolist()
    [93, 67, 6]
    """
    total = data.num_rows
    size = _sample_size(total, rows, fraction, replace)
    positions = np.random.RandomState(seed).choice(total, size=size, replace=replace) if size else np.zeros(0, dtype="int64")
    return _take(data, positions, "sample")


@component("data.shuffle", title="Shuffle Rows", tags={"deterministic_under_seed": True})
def shuffle(
    data: LazyTable,
    *,
    seed: Annotated[int, Param(ge=0, help="random seed; the same seed gives the same order")] = 42,
) -> LazyTable:
    """Put the rows in random order, as pandas ``DataFrame.sample(frac=1, random_state=seed)`` does.

    Examples
    --------
    >>> import pandas as pd
    >>> shuffle(pd.DataFrame({"x": range(5)}), seed=0).to_pandas()["x"].tolist()
    [2, 0, 1, 3, 4]
    """
    total = data.num_rows
    return _take(data, np.random.RandomState(seed).permutation(total), "shuffle")


@component("data.sample_weighted", title="Weighted Sample", tags={"deterministic_under_seed": True, "sample_params": {"weight": "x2"}})
def sample_weighted(
    data: pd.DataFrame,
    *,
    weight: Annotated[Column, Param(help="non-negative weights; a row's chance is its share of the total (missing counts as 0)")],
    rows: Annotated[int | None, Param(ge=0, help="number of rows to draw; when set, 'fraction' is ignored")] = None,
    fraction: Annotated[float, Param(gt=0, help="share of rows to draw")] = 0.1,
    replace: Annotated[bool, Param(help="draw with replacement")] = False,
    seed: Annotated[int, Param(ge=0, help="random seed")] = 42,
) -> pd.DataFrame:
    """Draw rows at random with chances proportional to a weight column (pandas ``sample(weights=...)``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"item": ["a", "b", "c"], "w": [0.0, 0.0, 1.0]})
    >>> sample_weighted(frame, weight="w", rows=1)["item"].tolist()
    ['c']
    """
    weights = pd.to_numeric(data[weight], errors="coerce")
    bad = data[weight].notna() & weights.isna()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"weight column '{weight}' has a non-numeric value {data[weight].iloc[row]!r} at row {row}")
    if (weights < 0).any():
        row = int(np.flatnonzero(weights < 0)[0])
        raise DataError(f"weight column '{weight}' has a negative weight {weights.iloc[row]} at row {row}; weights must be 0 or more")
    size = _sample_size(len(data), rows, fraction, replace)
    if size == 0:
        return data.iloc[0:0].reset_index(drop=True)
    weights = weights.fillna(0.0)
    if weights.sum() == 0:
        raise DataError(f"weight column '{weight}' sums to 0; at least one row needs a positive weight")
    try:
        return data.sample(n=size, weights=weights, replace=replace, random_state=seed).reset_index(drop=True)
    except ValueError as error:
        raise DataError(f"cannot draw {size} rows with these weights: {error}") from None


@component("data.sample_stratified", title="Stratified Sample", tags={"sample": "multiclass", "deterministic_under_seed": True})
def sample_stratified(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the class column; each class is sampled on its own")],
    fraction: Annotated[float, Param(gt=0, le=1, help="share of each class to draw")] = 0.1,
    rows_per_class: Annotated[int | None, Param(ge=1, help="draw this many rows of every class instead of a share")] = None,
    seed: Annotated[int, Param(ge=0, help="random seed")] = 42,
) -> pd.DataFrame:
    """Draw the same share (or number) of rows from every class (pandas ``groupby(label).sample``).

    Rows with a missing class are left out. ``rows_per_class`` balances the classes.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y": ["a"] * 90 + ["b"] * 10, "x": range(100)})
    >>> sample_stratified(frame, label="y", fraction=0.5)["y"].value_counts().to_dict()
    {'a': 45, 'b': 5}
    """
    groups = data.groupby(label, sort=False)
    if rows_per_class is not None:
        sizes = groups.size()
        if len(sizes) and sizes.min() < rows_per_class:
            raise DataError(
                f"class {_plain(sizes.idxmin())!r} of column '{label}' has {sizes.min()} rows, fewer than rows_per_class={rows_per_class}"
            )
        picked = groups.sample(n=rows_per_class, random_state=seed)
    else:
        picked = groups.sample(frac=fraction, random_state=seed)
    return picked.reset_index(drop=True)
