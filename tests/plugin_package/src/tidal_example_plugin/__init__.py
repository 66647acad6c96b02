"""A third-party component: registered when Tidal loads the ``tidal.components`` entry points."""

from typing import Annotated

import pandas as pd

from tidal import Column, Param, component


@component("acme.add_constant", title="Add a constant", tags={"sample": "mixed", "sample_params": {"column": "x1"}})
def add_constant(data: pd.DataFrame, *, column: Column, value: Annotated[float, Param(help="what to add")] = 1.0) -> pd.DataFrame:
    """Add ``value`` to a numeric column.

    Examples
    --------
    >>> add_constant(pd.DataFrame({"a": [1.0]}), column="a", value=2)["a"].tolist()
    [3.0]
    """
    out = data.copy()
    out[column] = out[column] + value
    return out
