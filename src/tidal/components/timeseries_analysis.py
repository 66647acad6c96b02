"""Time-series analysis: decomposition, lag and rolling features, forecast accuracy, tests, ACF."""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import PositiveInt

from tidal.components._charts import bar_chart
from tidal.components._forecasters import as_times, regular_series, seasonal_period
from tidal.core import Column, DataError, Metrics, Param, component

TimeColumn = Annotated[Column, Param(help="evenly spaced dates or numbers")]
ValueColumn = Annotated[Column, Param(help="the numeric series")]


@component("timeseries.decompose", title="Seasonal Decomposition", tags={"sample": "timeseries"})
def decompose(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    method: Annotated[Literal["moving_average", "stl"], Param(help="moving_average: classical decomposition; stl: LOESS-based, robust to outliers")] = "stl",
    model: Annotated[Literal["additive", "multiplicative"], Param(help="moving_average: observed = trend + seasonal + residual, or their product")] = "additive",
    period: Annotated[int | None, Param(ge=2, help="season length; empty infers it from the dates")] = None,
) -> pd.DataFrame:
    """Split a series into trend, seasonal and residual parts (statsmodels).

    ``moving_average`` is the classical decomposition (a centred moving average for the trend;
    its first and last half-period have no trend, left empty); ``stl`` is Cleveland et al.'s
    Seasonal-Trend decomposition using LOESS. Rows come out ordered by time.

    Examples
    --------
    >>> import pandas as pd
    >>> series = pd.DataFrame({"day": range(28), "visits": [float(i + (5 if i % 7 == 0 else 0)) for i in range(28)]})
    >>> parts = decompose(series, time_column="day", value_column="visits", method="moving_average", period=7)
    >>> parts.columns.tolist()
    ['day', 'observed', 'trend', 'seasonal', 'residual']
    >>> round(float(parts.loc[7, "seasonal"]), 3)
    4.286
    """
    values, axis = regular_series(data, time_column, value_column, 4)
    chosen = seasonal_period(axis, period, "a decomposition")
    if len(values) < 2 * chosen:
        raise DataError(f"the series has {len(values)} rows; decomposing with period {chosen} needs at least {2 * chosen}")
    if method == "stl":
        from statsmodels.tsa.seasonal import STL

        result = STL(values, period=chosen).fit()
    else:
        from statsmodels.tsa.seasonal import seasonal_decompose

        if model == "multiplicative" and (values <= 0).any():
            raise DataError(f"a multiplicative decomposition needs positive values; '{value_column}' has zeros or negatives")
        result = seasonal_decompose(values, model=model, period=chosen)
    times = data[time_column].sort_values(kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {time_column: times, "observed": values, "trend": result.trend, "seasonal": result.seasonal, "residual": result.resid}
    )


@component("timeseries.lag_features", title="Lag and Rolling Features", tags={"sample": "timeseries"})
def lag_features(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column to lag")],
    lags: Annotated[list[PositiveInt], Param(help="add column_lag_<n>: the value n rows earlier")] = [1, 2, 3],  # noqa: B006
    windows: Annotated[list[PositiveInt], Param(help="add rolling statistics over the previous n rows")] = [3],  # noqa: B006
    statistics: Annotated[list[Literal["mean", "std", "min", "max", "sum"]], Param(help="rolling statistics to add")] = ["mean"],  # noqa: B006
    time_column: Annotated[Column | None, Param(help="order rows by this column first; empty keeps the table order")] = None,
    group_column: Annotated[Column | None, Param(help="compute within each group (one series per group)")] = None,
) -> pd.DataFrame:
    """Lagged values and rolling statistics of a column, the usual features for forecasting with a regressor.

    Rolling windows cover the ``n`` rows before the current one, never the current value, so the
    features never leak the target. The first rows of each series, without enough history, get
    empty values. Rows keep their input order.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"week": [1, 2, 3, 4], "units": [10.0, 12.0, 11.0, 15.0]})
    >>> lag_features(sales, column="units", lags=[1], windows=[2], time_column="week")
       week  units  units_lag_1  units_rolling_mean_2
    0     1   10.0          NaN                   NaN
    1     2   12.0         10.0                   NaN
    2     3   11.0         12.0                  11.0
    3     4   15.0         11.0                  11.5
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: there is no series to build features from")
    values = data[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"column '{column}' ({values.dtype}) must be numeric to lag it")
    order = data.sort_values(time_column, kind="stable").index if time_column else data.index
    ordered = data.loc[order]
    keys = ordered[group_column] if group_column else pd.Series(0, index=ordered.index)
    shifted = ordered[column].groupby(keys, sort=False)
    features: dict[str, pd.Series] = {}
    for lag in lags:
        features[f"{column}_lag_{lag}"] = shifted.shift(lag)
    previous = shifted.shift(1)
    for window in windows:
        rolling = previous.groupby(keys, sort=False).rolling(window, min_periods=window)
        for statistic in statistics:
            computed = getattr(rolling, statistic)()
            features[f"{column}_rolling_{statistic}_{window}"] = computed.reset_index(level=0, drop=True)
    result = data.copy()
    for name, series in features.items():
        result[name] = series.reindex(data.index)
    return result


def _join(forecast: pd.DataFrame, actual: pd.DataFrame, keys: list[str], value_column: str, forecast_column: str) -> pd.DataFrame:
    for port, table in (("forecast", forecast), ("actual", actual)):
        missing = [name for name in keys if name not in table.columns]
        if missing:
            raise DataError(f"input '{port}' has no column(s) {', '.join(map(repr, missing))} to join on")
        if table.duplicated(keys).any():
            row = int(np.flatnonzero(table.duplicated(keys).to_numpy())[0])
            raise DataError(f"input '{port}' repeats the key {table.iloc[row][keys].tolist()} (row {row}); set 'group_column' if it holds several series")
    forecast, actual = forecast.copy(), actual.copy()
    time_key = keys[-1]
    if any(pd.api.types.is_datetime64_any_dtype(table[time_key]) for table in (forecast, actual)):
        for table in (forecast, actual):
            table[time_key] = as_times(table[time_key], time_key)
    left = forecast[[*keys, forecast_column]].rename(columns={forecast_column: "__forecast"})
    right = actual[[*keys, value_column]].rename(columns={value_column: "__actual"})
    joined = left.merge(right, on=keys, how="inner")
    if len(joined) == 0:
        raise DataError(f"the forecast and the actual values share no {' / '.join(keys)}; forecast the test period")
    for name, label in (("__forecast", forecast_column), ("__actual", value_column)):
        if not pd.api.types.is_numeric_dtype(joined[name]) or joined[name].isna().any():
            raise DataError(f"column '{label}' must be numeric without missing values in the compared rows")
    return joined


def accuracy(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, MAPE (%, rows with actual 0 left out), sMAPE (%) and MASE (MAE / ``scale``)."""
    error = forecast - actual
    nonzero = actual != 0
    denominator = np.abs(actual) + np.abs(forecast)
    smape_terms = np.divide(2 * np.abs(error), denominator, out=np.zeros_like(error), where=denominator > 0)
    mae = float(np.mean(np.abs(error)))
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error[nonzero] / actual[nonzero])) * 100) if nonzero.any() else float("nan"),
        "smape": float(np.mean(smape_terms) * 100),
        "mase": mae / scale if scale > 0 else float("nan"),
    }


def naive_scale(values: np.ndarray, season: int) -> float:
    """Mean absolute error of the seasonal naive forecast (y[t - season]) in sample: the MASE scale."""
    if len(values) <= season:
        return float("nan")
    return float(np.mean(np.abs(values[season:] - values[:-season])))


@component("timeseries.forecast_evaluation", title="Forecast Evaluation", tags={"sample": "timeseries", "evaluation": "forecast", "sample_params": {"forecast_column": "value"}})
def forecast_evaluation(
    forecast: pd.DataFrame,
    actual: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    time_column: Annotated[Column, Param(help="the time column, in both tables")],
    value_column: Annotated[Column, Param(column_of="actual", help="the true values in 'actual' (and 'train')")],
    forecast_column: Annotated[Column, Param(column_of="forecast", help="the forecast in 'forecast'")] = "forecast",
    group_column: Annotated[Column | None, Param(help="several series: join and scale per group")] = None,
    season: Annotated[int, Param(ge=1, help="MASE: compare with the naive forecast from this many periods back")] = 1,
) -> Metrics:
    """MAE, RMSE, MAPE, sMAPE and MASE of a forecast against the actual values.

    Rows are matched on time (and group). MASE divides the MAE by the in-sample MAE of the
    seasonal naive forecast on ``train`` (Hyndman and Koehler), or on the actual values when no
    training series is connected; with groups, MASE is the mean over the groups. MAPE leaves out
    rows whose actual value is 0. The table ``by_group`` has each group's metrics.

    Examples
    --------
    >>> import pandas as pd
    >>> predicted = pd.DataFrame({"t": [4, 5], "forecast": [10.0, 12.0]})
    >>> observed = pd.DataFrame({"t": [4, 5], "y": [11.0, 12.0]})
    >>> history = pd.DataFrame({"t": [1, 2, 3], "y": [8.0, 9.0, 11.0]})
    >>> scores = forecast_evaluation(predicted, observed, history, time_column="t", value_column="y")
    >>> scores["mae"], scores["rmse"], round(scores["mase"], 3)
    (0.5, 0.7071067811865476, 0.333)
    """
    if len(forecast) == 0 or len(actual) == 0:
        raise DataError("the forecast or the actual table is empty: there is nothing to compare")
    keys = [group_column, time_column] if group_column else [time_column]
    joined = _join(forecast, actual, keys, value_column, forecast_column)
    history = train if train is not None and len(train) else actual
    if value_column not in history.columns or (group_column and group_column not in history.columns):
        raise DataError(f"input 'train' needs the columns '{value_column}'{f' and {group_column!r}' if group_column else ''}")
    rows: list[dict[str, Any]] = []
    parts = joined.groupby(group_column, sort=True) if group_column else [(None, joined)]
    for key, part in parts:
        series = history[history[group_column] == key] if group_column else history
        ordered = series.sort_values(time_column, kind="stable") if time_column in series.columns else series
        scale = naive_scale(pd.to_numeric(ordered[value_column], errors="coerce").dropna().to_numpy(dtype=float), season)
        metrics = accuracy(part["__actual"].to_numpy(dtype=float), part["__forecast"].to_numpy(dtype=float), scale)
        rows.append({"group": None if key is None else str(key), "rows": len(part), **metrics})
    values: dict[str, Any] = accuracy(joined["__actual"].to_numpy(dtype=float), joined["__forecast"].to_numpy(dtype=float), 1.0)
    values["mase"] = float(np.nanmean([row["mase"] for row in rows])) if not all(np.isnan(row["mase"]) for row in rows) else float("nan")
    values["rows"] = len(joined)
    names = ["mae", "rmse", "mase"]
    figure = bar_chart(names, [0.0 if np.isnan(values[name]) else values[name] for name in names], x="metric", y="value", title="Forecast error")
    return Metrics(values, figures={"errors": figure}, tables={"by_group": rows})


@component("timeseries.stationarity_test", title="Stationarity Tests (ADF, KPSS)", tags={"sample": "timeseries"})
def stationarity_test(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    regression: Annotated[Literal["constant", "trend"], Param(help="stationary around a constant, or around a linear trend")] = "constant",
    significance: Annotated[float, Param(gt=0, lt=0.5, help="test level")] = 0.05,
) -> Metrics:
    """Augmented Dickey-Fuller and KPSS tests of whether a series is stationary (statsmodels).

    ADF's null hypothesis is a unit root (non-stationary); KPSS's is stationarity. The series is
    reported ``stationary`` when ADF rejects and KPSS does not. KPSS p-values are interpolated in
    a table and clipped to [0.01, 0.1].

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> noise = pd.DataFrame({"t": range(200), "y": np.random.default_rng(0).normal(size=200)})
    >>> stationarity_test(noise, time_column="t", value_column="y")["stationary"]
    True
    """
    from statsmodels.tsa.stattools import adfuller, kpss

    values, _ = regular_series(data, time_column, value_column, 10)
    if np.ptp(values) == 0:
        raise DataError(f"column '{value_column}' is constant; the tests need a varying series")
    code = "c" if regression == "constant" else "ct"
    with warnings.catch_warnings():  # KPSS p-values outside its table, rank-deficient lag regressions
        warnings.simplefilter("ignore")
        adf = adfuller(values, regression=code, autolag="AIC")
        kpss_result = kpss(values, regression=code, nlags="auto")
    result = {
        "adf_statistic": float(adf[0]),
        "adf_p_value": float(adf[1]),
        "adf_lags": int(adf[2]),
        "kpss_statistic": float(kpss_result[0]),
        "kpss_p_value": float(kpss_result[1]),
        "kpss_lags": int(kpss_result[2]),
    }
    result["stationary"] = bool(result["adf_p_value"] < significance and result["kpss_p_value"] > significance)
    return Metrics(result)


@component("timeseries.autocorrelation", title="Autocorrelation (ACF, PACF)", tags={"sample": "timeseries"})
def autocorrelation(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    lags: Annotated[int, Param(ge=1, help="largest lag")] = 20,
    level: Annotated[float, Param(gt=0, lt=1, help="coverage of the confidence bands")] = 0.95,
) -> pd.DataFrame:
    """Autocorrelation and partial autocorrelation by lag, with confidence bands (statsmodels).

    The ACF band uses Bartlett's formula; the PACF (Yule-Walker) band is +-z/sqrt(n). Lags
    whose value leaves the band suggest AR (PACF) or MA (ACF) orders for an ARIMA model.

    Examples
    --------
    >>> import pandas as pd
    >>> series = pd.DataFrame({"t": range(30), "y": [float(i % 2) for i in range(30)]})
    >>> autocorrelation(series, time_column="t", value_column="y", lags=2)["acf"].round(3).tolist()
    [1.0, -0.967, 0.933]
    """
    from statsmodels.tsa.stattools import acf, pacf

    values, _ = regular_series(data, time_column, value_column, 4)
    if np.ptp(values) == 0:
        raise DataError(f"column '{value_column}' is constant; its autocorrelation is undefined")
    lags = min(lags, len(values) // 2 - 1)
    alpha = 1 - level
    with warnings.catch_warnings():  # a future result object (its first two fields stay these); singular PACF systems
        warnings.simplefilter("ignore")
        found = acf(values, nlags=lags, alpha=alpha, fft=True)
        pacf_values, pacf_band = pacf(values, nlags=lags, alpha=alpha, method="yw")
    acf_values, acf_band = found[0], found[1]
    return pd.DataFrame(
        {
            "lag": np.arange(lags + 1),
            "acf": acf_values,
            "acf_lower": acf_band[:, 0],
            "acf_upper": acf_band[:, 1],
            "pacf": pacf_values,
            "pacf_lower": pacf_band[:, 0],
            "pacf_upper": pacf_band[:, 1],
        }
    )
