"""Classification trainers. Each outputs a model package that ``model.predict`` scores."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tidal.components._training import fit_supervised
from tidal.core import Column, Columns, Param, component
from tidal.models import ModelPackage


@component(
    "classification.logistic_regression",
    title="Logistic Regression",
    tags={"sample": "classification", "task": "binary|multiclass", "handles_missing": False, "numeric_only": True, "supports_weights": True},
)
def logistic_regression(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the column to predict")],
    features: Annotated[Columns, Param(help="feature columns; empty means every column but the label")] = None,
    C: Annotated[float, Param(gt=0, log=True, tune=True, low=1e-3, high=1e3, help="inverse regularization strength")] = 1.0,
    penalty: Literal["l2", "l1", "elasticnet", "none"] = "l2",
    l1_ratio: Annotated[float, Param(ge=0, le=1, help="elastic-net mixing (penalty=elasticnet)")] = 0.5,
    max_iter: Annotated[int, Param(ge=1, help="iterations of the solver")] = 1000,
    fit_intercept: bool = True,
    class_weight: Literal["none", "balanced"] = "none",
    standardize: Annotated[bool, Param(help="scale features to zero mean and unit variance first")] = True,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> ModelPackage:
    """Logistic regression (scikit-learn), binary or multiclass.

    Features are standardized first unless ``standardize`` is false, which helps the solver
    converge; the scaler is part of the model, so prediction applies it too.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> model = logistic_regression(frame, label="target")
    >>> model.task, len(model.features)
    ('binary', 30)
    """
    solver = "saga" if penalty in ("l1", "elasticnet") else "lbfgs"
    estimator = LogisticRegression(
        C=C,
        l1_ratio=(0.0 if penalty in ("l2", "none") else 1.0 if penalty == "l1" else l1_ratio),
        max_iter=max_iter,
        fit_intercept=fit_intercept,
        class_weight=None if class_weight == "none" else class_weight,
        solver=solver,
        random_state=seed,
    )
    if penalty == "none":
        estimator.set_params(C=float("inf"))
    model = make_pipeline(StandardScaler(), estimator) if standardize else estimator
    params = {"C": C, "penalty": penalty, "max_iter": max_iter, "standardize": standardize}
    return fit_supervised(model, data, label=label, features=features, kind="classification", params=params)
