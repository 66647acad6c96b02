"""Feature engineering: applying a fitted transform to new data.

Fitting steps live in ``features_scaling``, ``features_encoding``, ``features_projection``,
``features_selection`` and ``features_extract``; each returns the transformed table and a fitted
transform. ``features.apply`` reuses that transform on the test split or at serving time, so
nothing learnt from test rows leaks into training.
"""

from __future__ import annotations

import pandas as pd

from tidal.components._training import require_rows
from tidal.core import DataError, component
from tidal.models import ModelPackage


@component("features.apply", title="Apply Transform", tags={"sample": "classification"})
def apply(transform: ModelPackage, data: pd.DataFrame) -> pd.DataFrame:
    """Apply a fitted transform (scaler, encoder, selector, PCA ...) to another table.

    The columns the transform was fitted on are replaced by its outputs; every other column
    passes through unchanged. Given a predictive model instead, the table is scored as
    ``model.predict`` would (a prediction column, plus class probabilities for classifiers).

    Examples
    --------
    >>> import pandas as pd
    >>> from tidal.components.features_scaling import standard_scaler
    >>> train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "name": ["a", "b", "c"]})
    >>> fitted = standard_scaler(train)
    >>> apply(fitted.transform, pd.DataFrame({"x": [2.0, 4.0], "name": ["d", "e"]}))
               x name
    0  0.00000    d
    1  2.44949    e
    """
    require_rows(data, "input 'data'")
    if transform.task != "transform":
        from tidal.components.model import predict

        return predict.func(transform, data)
    try:
        return transform.transform(data)
    except (ValueError, TypeError) as error:
        raise DataError(
            f"cannot apply the {transform.metadata.get('step', 'fitted')} transform to input 'data': {error}"
        ) from None
