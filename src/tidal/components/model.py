"""Using models: batch prediction with any model package."""

from __future__ import annotations

from typing import Annotated

import pandas as pd

from tidal.core import Columns, DataError, Param, component
from tidal.models import ModelPackage


def probability_column(value: object) -> str:
    return f"prob_{value}"


@component("model.predict", title="Predict", tags={"sample": "classification", "batch_scoring": True})
def predict(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    keep_columns: Annotated[Columns, Param(help="input columns to carry over; empty keeps all")] = None,
    prediction_column: Annotated[str, Param(help="name of the new prediction column")] = "prediction",
    probabilities: Annotated[bool, Param(help="add one prob_<class> column per class (classifiers)")] = True,
) -> pd.DataFrame:
    """Score a table with any model: adds a prediction column and, for classifiers, class probabilities.

    A fitted transform (a scaler, an encoder) is applied instead, returning the transformed table.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_iris(as_frame=True).frame
    >>> scored = predict(logistic_regression(frame, label="target"), frame)
    >>> [name for name in scored.columns if name.startswith("prob_")]
    ['prob_0', 'prob_1', 'prob_2']
    """
    if model.task == "transform":
        return model.transform(data)
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no rows to score")
    result = data[keep_columns].copy() if keep_columns else data.copy()
    if prediction_column in result.columns:
        result = result.drop(columns=[prediction_column])
    result[prediction_column] = model.predict(data)
    if probabilities and model.task in ("binary", "multiclass"):
        scores = model.predict_proba(data)
        for index, value in enumerate(model.classes or []):
            result[probability_column(value)] = scores[:, index]
    return result
