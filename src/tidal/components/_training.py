"""Shared machinery for components that learn from a table.

Two layers:

* checks and packaging used by every trainer: :func:`numeric_features` (names the bad column
  and row), :func:`require_rows`, :func:`fit_supervised` (fit, then describe the model as a
  :class:`~tidal.models.ModelPackage`);
* a factory, :func:`supervised`, that turns a short declaration of a library estimator into a
  component, so families of similar estimators are declared rather than copied. Each
  hyper-parameter is declared with ``hyper`` or ``tuned`` (see ``_hyperparameters.py``): its
  type, bounds, choices and default come from the library's own declarations (scikit-learn's
  ``_parameter_constraints`` and ``__init__`` defaults) unless the declaration says otherwise.
  Capability tags (``handles_missing``, ``supports_weights``) come from the estimator's tags and
  ``fit`` signature in the same way. :mod:`tidal.components.clustering` and
  :mod:`tidal.components.anomaly` build their own factories from ``library_params`` and
  :func:`build_component`.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import pandas as pd

from tidal.components._hyperparameters import Hyper, library_params
from tidal.core import Column, Columns, Param, component
from tidal.core._component import ComponentSpec
from tidal.core._errors import DataError
from tidal.models import ModelPackage
from tidal.models._training_data import (
    classification_task,
    feature_columns,
    label_values,
    numeric_features,
    weight_values,
)

# -- checks on training data -------------------------------------------------------------------


def require_rows(data: pd.DataFrame, what: str = "input table", minimum: int = 1) -> None:
    if len(data) < minimum:
        raise DataError(
            f"the {what} has {len(data)} row(s); at least {minimum} needed — check the upstream filter or split"
        )












def fit_estimator(estimator: Any, X: Any, y: Any = None, weights: np.ndarray | None = None) -> Any:
    """``estimator.fit`` with the library's complaints about the data turned into a DataError."""
    fit_kwargs: dict[str, Any] = {}
    if weights is not None:
        steps = getattr(estimator, "steps", None)
        fit_kwargs[f"{steps[-1][0]}__sample_weight" if steps else "sample_weight"] = weights
    try:
        return estimator.fit(X, y, **fit_kwargs)
    except ValueError as error:
        raise DataError(f"{_estimator_name(estimator)} cannot be fitted on this data: {error}") from None


def final_step(estimator: Any) -> Any:
    """The estimator itself, or the last step of a pipeline (scaler + estimator)."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _estimator_name(estimator: Any) -> str:
    return type(final_step(estimator)).__name__


def fit_supervised(
    estimator: Any,
    data: pd.DataFrame,
    *,
    label: str,
    features: list[str] | None,
    kind: str,
    params: dict[str, Any],
    allow_missing: bool = False,
    sample_weight: str | None = None,
    encode_labels: bool = False,
    native: Callable[[Any], Any] | None = None,
) -> ModelPackage:
    """Fit ``estimator`` on ``data`` and describe it; ``kind`` is 'classification' or 'regression'.

    ``sample_weight`` names a column of row weights (never a feature). ``encode_labels`` fits on
    class codes 0..k-1 (libraries that need them) and keeps the original labels as the classes;
    ``native`` picks the object the package stores (a LightGBM or XGBoost booster).
    """
    require_rows(data, "training table", 2)
    columns = feature_columns(data, label, features, exclude=(sample_weight,) if sample_weight else ())
    if label in columns:
        raise DataError(f"the label column '{label}' is also listed in 'features'; remove it from 'features'")
    if sample_weight and (sample_weight in columns or sample_weight == label):
        raise DataError(f"the weight column '{sample_weight}' is also the label or a feature; weights must be a column of their own")
    if not columns:
        raise DataError("there are no feature columns: the table holds only the label; add features or set 'features'")
    X = numeric_features(data, columns, allow_missing=allow_missing)
    y = label_values(data, label)
    classes = None
    if kind == "classification":
        task = classification_task(y)
        if encode_labels:
            codes, uniques = pd.factorize(y, sort=True)
            y, classes = codes, list(uniques)
    else:
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise DataError(f"label column '{label}' ({y.dtype}) must be numeric for regression")
        task = "regression"
    weights = weight_values(data, sample_weight) if sample_weight else None
    fit_estimator(estimator, X, y, weights)
    model = native(estimator) if native else estimator
    if classes is None and kind == "classification":
        classes = list(estimator.classes_)
    return ModelPackage.from_estimator(model, data, features=columns, task=task, label=label, classes=classes, params=params)


# -- building a component from a declaration ----------------------------------------------------

REQUIRED: Any = inspect.Parameter.empty  # a component parameter without a default

LABEL = ("label", Annotated[Column, Param(help="the column to predict")], REQUIRED)
FEATURES = ("features", Annotated[Columns, Param(help="feature columns; empty means every column but the label (and the weight column)")], None)
COLUMNS = ("features", Annotated[Columns, Param(help="the columns to use; empty means every column (but the weight column)")], None)
FEATURE = ("feature", Annotated[Column, Param(help="the one feature column the model is a function of")], REQUIRED)
WEIGHT = ("sample_weight", Annotated[Column | None, Param(help="a column of non-negative row weights; it is never a feature")], None)
SEED = ("seed", Annotated[int, Param(ge=0, help="random seed; the same seed and data give the same model")], 0)


def standardize_param(default: bool) -> tuple[str, Any, Any]:
    return ("standardize", Annotated[bool, Param(help="scale features to zero mean and unit variance first (part of the model)")], default)


def build_component(
    component_id: str,
    *,
    title: str,
    doc: str,
    inputs: dict[str, Any],
    parameters: list[tuple[str, Any, Any]],
    returns: Any,
    run: Callable[..., Any],
    tags: dict[str, Any],
    module: str,
) -> ComponentSpec:
    """Register a component whose signature is given as data rather than written as a ``def``."""

    def function(*args: Any, **kwargs: Any) -> Any:
        return run(*args, **kwargs)

    positional = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind) for name, kind in inputs.items()]
    keyword = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default) for name, kind, default in parameters]
    name = component_id.split(".", 1)[1]
    function.__signature__ = inspect.Signature(positional + keyword, return_annotation=returns)  # type: ignore[attr-defined]
    function.__annotations__ = {**{p.name: p.annotation for p in positional + keyword}, "return": returns}
    function.__doc__ = doc
    function.__name__ = function.__qualname__ = name
    function.__module__ = module
    return component(component_id, title=title, tags=tags)(function)


def compose_doc(summary: str, details: str, example: str, **names: str) -> str:
    """A docstring: summary, explanation, and an Examples block (``{name}`` etc. filled in)."""
    parts = [summary.strip(), textwrap.dedent(details).strip(), "Examples\n--------\n" + textwrap.dedent(example).strip().format(**names)]
    return "\n\n".join(part for part in parts if part)


def capability(make: Callable[..., Any], claim: bool | None, probe: Callable[[Any], bool]) -> bool:
    """A capability tag: the declared ``claim``, else what the library says about its estimator."""
    if claim is not None:
        return claim
    return bool(probe(make()))


def allows_missing(estimator: Any) -> bool:
    return bool(estimator.__sklearn_tags__().input_tags.allow_nan)


def accepts_weights(estimator: Any) -> bool:
    return "sample_weight" in inspect.signature(estimator.fit).parameters


def wrap_scaled(estimator: Any, standardize: bool) -> Any:
    if not standardize:
        return estimator
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), estimator)


EXAMPLES = {
    "classification": """
        >>> from sklearn.datasets import load_iris
        >>> from {module} import {name}
        >>> frame = load_iris(as_frame=True).frame
        >>> model = {name}(frame, label="target"{extra})
        >>> model.task, model.classes, model.predict_proba(frame.head(2)).shape
        ('multiclass', [0, 1, 2], (2, 3))
    """,
    "regression": """
        >>> from sklearn.datasets import load_diabetes
        >>> from {module} import {name}
        >>> frame = load_diabetes(as_frame=True).frame
        >>> model = {name}(frame, label="target"{extra})
        >>> model.task, len(model.features), model.predict(frame.head(3)).shape
        ('regression', 10, (3,))
    """,
}

CALIBRATION_NOTE = (
    "Where the model gives only decision scores, class probabilities come from sigmoid (Platt) "
    "calibration on 5-fold cross-validated scores (scikit-learn ``CalibratedClassifierCV``, "
    "``ensemble=False``); the model itself is fitted on all rows."
)


def supervised(
    component_id: str,
    make: Callable[..., Any],
    *,
    kind: str,
    module: str,
    title: str,
    summary: str,
    details: str = "",
    hypers: dict[str, Hyper] | None = None,
    fixed: dict[str, Any] | None = None,
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    standardize: bool | None = None,
    seed: bool | None = None,
    handles_missing: bool | None = None,
    supports_weights: bool | None = None,
    encode_labels: bool = False,
    native: Callable[[Any], Any] | None = None,
    single_feature: bool = False,
    sample: str | None = None,
    sample_params: dict[str, Any] | None = None,
    example: str | None = None,
    example_params: str = "",
) -> ComponentSpec:
    """Declare a classifier or regressor (``kind``) over a library estimator ``make``.

    ``fixed`` are library arguments the component always passes; ``adapt`` may rewrite the
    library arguments (combine two parameters into one, reject a bad combination) before
    ``make`` is called. ``standardize`` adds a scaling parameter with that default. ``seed``
    adds a seed passed as ``random_state`` (default: when the library takes one).
    """
    declared = library_params(make, hypers or {})
    fixed = dict(fixed or {})
    handles_missing = capability(make, handles_missing, allows_missing)
    supports_weights = capability(make, supports_weights, accepts_weights)
    if seed is None:
        seed = "random_state" in inspect.signature(make).parameters
    calibrate = kind == "classification" and isinstance(make, type) and not hasattr(make(**fixed), "predict_proba")
    parameters = [LABEL, FEATURE if single_feature else FEATURES, *declared.parameters]
    if standardize is not None:
        parameters.append(standardize_param(standardize))
    if supports_weights:
        parameters.append(WEIGHT)
    if seed:
        parameters.append(SEED)

    def run(data: pd.DataFrame, **values: Any) -> ModelPackage:
        arguments = {**fixed, **declared.to_library(values)}
        if seed:
            arguments["random_state"] = values["seed"]
        estimator = make(**(adapt(arguments) if adapt else arguments))
        if kind == "classification" and not hasattr(estimator, "predict_proba"):
            from sklearn.calibration import CalibratedClassifierCV

            estimator = CalibratedClassifierCV(estimator, ensemble=False)
        estimator = wrap_scaled(estimator, bool(values.get("standardize")))
        return fit_supervised(
            estimator,
            data,
            label=values["label"],
            features=[values["feature"]] if single_feature else values["features"],
            kind=kind,
            params={key: value for key, value in values.items() if key not in ("label", "features", "feature")},
            allow_missing=handles_missing,
            sample_weight=values.get("sample_weight"),
            encode_labels=encode_labels,
            native=native,
        )

    name = component_id.split(".", 1)[1]
    notes = CALIBRATION_NOTE if calibrate else ""
    doc = compose_doc(summary, textwrap.dedent(details).strip() + ("\n\n" + notes if notes else ""), example or EXAMPLES[kind], name=name, module=module, extra=example_params)
    tags: dict[str, Any] = {
        "sample": sample or kind,
        "task": "binary|multiclass" if kind == "classification" else "regression",
        "handles_missing": handles_missing,
        "numeric_only": True,
        "supports_weights": supports_weights,
    }
    if sample_params:
        tags["sample_params"] = sample_params
    return build_component(
        component_id,
        title=title,
        doc=doc,
        inputs={"data": pd.DataFrame},
        parameters=parameters,
        returns=ModelPackage,
        run=run,
        tags=tags,
        module=module,
    )
