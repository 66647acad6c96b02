"""Data preparation: splitting and sampling."""

from __future__ import annotations

from typing import Annotated, NamedTuple

import pandas as pd
from sklearn.model_selection import train_test_split

from tidal.core import Column, DataError, Param, component


class TrainTest(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame


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
