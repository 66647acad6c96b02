"""Feature scaling: standard, min-max, robust and max-abs scalers, row normalization, and
power and quantile transforms. Each returns the scaled table and the fitted scaler."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from sklearn import preprocessing

from tidal.components._transforms import (
    FittedTransform,
    complete_numeric,
    fit_or_explain,
    numeric_columns,
    package,
)
from tidal.core import Columns, DataError, Param, component

COLUMNS_HELP = "columns to scale; empty means every numeric column (others pass through)"


def _scale(
    estimator: Any, data: pd.DataFrame, columns: list[str] | None, *, step: str, params: dict[str, Any], allow_missing: bool = True
) -> FittedTransform:
    chosen = numeric_columns(data, columns, purpose="scale")
    frame = data[chosen] if allow_missing else complete_numeric(data, chosen)
    fit_or_explain(estimator, frame, what=step)
    return package(estimator, data, chosen, step=step, params=params)


@component("features.standard_scaler", title="Standard Scaler", tags={"sample": "numeric", "transform": "scaler"})
def standard_scaler(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    with_mean: Annotated[bool, Param(help="subtract the mean")] = True,
    with_std: Annotated[bool, Param(help="divide by the standard deviation")] = True,
) -> FittedTransform:
    """Scale columns to zero mean and unit variance (scikit-learn ``StandardScaler``).

    Missing values are ignored when fitting and stay missing.

    Examples
    --------
    >>> import pandas as pd
    >>> fitted = standard_scaler(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    >>> fitted.data["x"].round(4).tolist()
    [-1.2247, 0.0, 1.2247]
    """
    estimator = preprocessing.StandardScaler(with_mean=with_mean, with_std=with_std)
    params = {"with_mean": with_mean, "with_std": with_std}
    return _scale(estimator, data, columns, step="features.standard_scaler", params=params)


@component("features.min_max_scaler", title="Min-Max Scaler", tags={"sample": "numeric", "transform": "scaler"})
def min_max_scaler(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    low: Annotated[float, Param(help="the value the column minimum maps to")] = 0.0,
    high: Annotated[float, Param(help="the value the column maximum maps to")] = 1.0,
    clip: Annotated[bool, Param(help="clip new values outside the training range to [low, high]")] = False,
) -> FittedTransform:
    """Scale columns linearly so the training minimum and maximum become ``low`` and ``high``.

    Examples
    --------
    >>> import pandas as pd
    >>> min_max_scaler(pd.DataFrame({"x": [2, 4, 6]})).data["x"].tolist()
    [0.0, 0.5, 1.0]
    """
    if low >= high:
        raise DataError(f"parameter 'low' ({low}) must be smaller than 'high' ({high})")
    estimator = preprocessing.MinMaxScaler(feature_range=(low, high), clip=clip)
    params = {"low": low, "high": high, "clip": clip}
    return _scale(estimator, data, columns, step="features.min_max_scaler", params=params)


@component("features.robust_scaler", title="Robust Scaler", tags={"sample": "numeric", "transform": "scaler"})
def robust_scaler(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    quantile_low: Annotated[float, Param(gt=0, lt=100, help="lower percentile of the scaling range")] = 25.0,
    quantile_high: Annotated[float, Param(gt=0, lt=100, help="upper percentile of the scaling range")] = 75.0,
    with_centering: Annotated[bool, Param(help="subtract the median")] = True,
    with_scaling: Annotated[bool, Param(help="divide by the inter-percentile range")] = True,
    unit_variance: Annotated[bool, Param(help="rescale so normally distributed data gets variance 1")] = False,
) -> FittedTransform:
    """Scale columns by median and inter-quartile range, so outliers barely move the scale.

    Examples
    --------
    >>> import pandas as pd
    >>> robust_scaler(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0]})).data["x"].tolist()
    [-1.0, -0.5, 0.0, 0.5, 48.5]
    """
    if quantile_low >= quantile_high:
        raise DataError(f"parameter 'quantile_low' ({quantile_low}) must be smaller than 'quantile_high' ({quantile_high})")
    estimator = preprocessing.RobustScaler(
        with_centering=with_centering,
        with_scaling=with_scaling,
        quantile_range=(quantile_low, quantile_high),
        unit_variance=unit_variance,
    )
    params = {"quantile_low": quantile_low, "quantile_high": quantile_high, "with_centering": with_centering, "with_scaling": with_scaling, "unit_variance": unit_variance}
    return _scale(estimator, data, columns, step="features.robust_scaler", params=params)


@component("features.max_abs_scaler", title="Max-Abs Scaler", tags={"sample": "numeric", "transform": "scaler"})
def max_abs_scaler(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
) -> FittedTransform:
    """Divide each column by its largest absolute value, keeping zeros and signs (sparse-friendly).

    Examples
    --------
    >>> import pandas as pd
    >>> max_abs_scaler(pd.DataFrame({"x": [-4.0, 2.0, 1.0]})).data["x"].tolist()
    [-1.0, 0.5, 0.25]
    """
    return _scale(preprocessing.MaxAbsScaler(), data, columns, step="features.max_abs_scaler", params={})


@component("features.normalizer", title="Row Normalizer", tags={"sample": "numeric", "transform": "scaler"})
def normalizer(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="columns forming each row's vector; empty means every numeric column")] = None,
    norm: Annotated[Literal["l2", "l1", "max"], Param(help="the norm every row is scaled to 1 in")] = "l2",
) -> FittedTransform:
    """Scale each row's vector (over the chosen columns) to unit norm.

    Examples
    --------
    >>> import pandas as pd
    >>> normalizer(pd.DataFrame({"a": [3.0], "b": [4.0]})).data.round(2).to_dict("records")
    [{'a': 0.6, 'b': 0.8}]
    """
    estimator = preprocessing.Normalizer(norm=norm)
    return _scale(estimator, data, columns, step="features.normalizer", params={"norm": norm}, allow_missing=False)


@component("features.power_transform", title="Power Transform", tags={"sample": "numeric", "transform": "scaler"})
def power_transform(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    method: Annotated[Literal["yeo-johnson", "box-cox"], Param(help="box-cox needs strictly positive values")] = "yeo-johnson",
    standardize: Annotated[bool, Param(help="scale the result to zero mean and unit variance")] = True,
) -> FittedTransform:
    """Make columns more Gaussian-like with a fitted Yeo-Johnson or Box-Cox power transform.

    Examples
    --------
    >>> import pandas as pd
    >>> fitted = power_transform(pd.DataFrame({"x": [1.0, 2.0, 4.0, 8.0, 16.0]}))
    >>> abs(round(float(fitted.data["x"].mean()), 6)), round(float(fitted.data["x"].std(ddof=0)), 6)
    (0.0, 1.0)
    """
    chosen = numeric_columns(data, columns, purpose="transform")
    if method == "box-cox":
        bad = [name for name in chosen if (data[name] <= 0).any()]
        if bad:
            raise DataError(
                f"method 'box-cox' needs strictly positive values, but column '{bad[0]}' has values <= 0 "
                f"(first at row {int((data[bad[0]] <= 0).to_numpy().argmax())}); use method 'yeo-johnson'"
            )
    estimator = preprocessing.PowerTransformer(method=method, standardize=standardize)
    params = {"method": method, "standardize": standardize}
    return _scale(estimator, data, chosen, step="features.power_transform", params=params)


@component("features.quantile_transform", title="Quantile Transform", tags={"sample": "numeric", "transform": "scaler"})
def quantile_transform(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    n_quantiles: Annotated[int, Param(ge=2, help="quantiles estimated (capped at the number of rows)")] = 1000,
    output_distribution: Annotated[Literal["uniform", "normal"], Param(help="the distribution values are mapped to")] = "uniform",
    seed: Annotated[int, Param(ge=0, help="seed for subsampling large tables")] = 0,
) -> FittedTransform:
    """Map each column through its empirical quantiles onto a uniform or normal distribution.

    Examples
    --------
    >>> import pandas as pd
    >>> quantile_transform(pd.DataFrame({"x": [10.0, 1.0, 1000.0, 100.0]})).data["x"].round(3).tolist()
    [0.333, 0.0, 1.0, 0.667]
    """
    estimator = preprocessing.QuantileTransformer(
        n_quantiles=min(n_quantiles, len(data)) or 1, output_distribution=output_distribution, random_state=seed
    )
    params = {"n_quantiles": n_quantiles, "output_distribution": output_distribution, "seed": seed}
    return _scale(estimator, data, columns, step="features.quantile_transform", params=params)
