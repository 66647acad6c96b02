"""Time-series forecasting: ARIMA, automatic ARIMA, exponential smoothing, one model per series.

Forecasters output a forecast table (time, forecast, lower, upper) and a ``forecast`` model
package. The package stores the model specification, the fitted parameters and the training
values as numbers (statsmodels results objects cannot be stored safely); on load the statsmodels
model is rebuilt by filtering the training values with those parameters, without refitting, so it
predicts exactly as before. ``model.predict`` gives one-step predictions for training times and
forecasts for later ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._forecasters import (
    GroupedForecaster,
    StatsForecaster,
    TimeAxis,
    regular_series,
    seasonal_period,
)
from tidal.core import Column, DataError, Param, component
from tidal.models import ModelPackage

TimeColumn = Annotated[Column, Param(help="evenly spaced dates or numbers")]
ValueColumn = Annotated[Column, Param(help="the numeric series to forecast")]
Horizon = Annotated[int, Param(ge=1, help="how many future periods to forecast")]
Level = Annotated[float, Param(gt=0, lt=1, help="coverage of the prediction interval (lower, upper)")]
Period = Annotated[int | None, Param(ge=2, help="season length in periods; empty infers it from the dates (7 daily, 12 monthly, 4 quarterly, 24 hourly)")]
Order = Annotated[int, Param(ge=0, le=5)]
TS_TAGS = {"sample": "timeseries", "task": "forecast"}


class Forecast(NamedTuple):
    forecast: pd.DataFrame
    model: ModelPackage


class AutoForecast(NamedTuple):
    forecast: pd.DataFrame
    model: ModelPackage
    search: pd.DataFrame


def arima_spec(order: tuple[int, int, int], seasonal: tuple[int, int, int, int], with_constant: bool) -> dict[str, Any]:
    """statsmodels ARIMA settings; the constant becomes a drift (linear trend) after one difference."""
    integration = order[1] + seasonal[1]
    trend = ("c" if integration == 0 else "t" if integration == 1 else "n") if with_constant else "n"
    return {"order": list(order), "seasonal_order": list(seasonal), "trend": trend}


def ets_spec(error: str, trend: str, damped: bool, seasonal: str, period: int | None) -> dict[str, Any]:
    if damped and trend == "none":
        raise DataError("'damped' needs a trend; set trend='add' (or 'mul') or damped=false")
    return {"error": error, "trend": None if trend == "none" else trend, "damped": damped,
            "seasonal": None if seasonal == "none" else seasonal, "seasonal_periods": period if seasonal != "none" else None}


def _package(forecaster: Any, data: pd.DataFrame, features: list[str], value_column: str, params: dict[str, Any]) -> ModelPackage:
    return ModelPackage.from_estimator(
        forecaster, data, features=features, task="forecast", label=value_column, params=params,
        metadata={"refit_on_load": False, "stored": "specification, fitted parameters and training values"},
    )


def _fit_one(values: np.ndarray, axis: TimeAxis, method: str, spec: dict[str, Any]) -> StatsForecaster:
    return StatsForecaster(method, spec).fit(values, axis)


def _seasonal(axis: TimeAxis, orders: tuple[int, int, int], period: int | None) -> tuple[int, int, int, int]:
    if not any(orders):
        return (0, 0, 0, 0)
    return (*orders, seasonal_period(axis, period, "a seasonal ARIMA"))


def _minimum_rows(p: int, d: int, q: int, seasonal: tuple[int, int, int, int]) -> int:
    big_p, big_d, big_q, period = seasonal
    return max(5, d + max(p, q) + period * (big_p + big_d + big_q) + 3)


@component("timeseries.arima", title="ARIMA", tags=TS_TAGS)
def arima(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    p: Annotated[Order, Param(help="autoregressive order")] = 1,
    d: Annotated[int, Param(ge=0, le=2, help="differences")] = 0,
    q: Annotated[Order, Param(help="moving-average order")] = 0,
    seasonal_p: Annotated[int, Param(ge=0, le=2, help="seasonal autoregressive order")] = 0,
    seasonal_d: Annotated[int, Param(ge=0, le=1, help="seasonal differences")] = 0,
    seasonal_q: Annotated[int, Param(ge=0, le=2, help="seasonal moving-average order")] = 0,
    period: Period = None,
    with_constant: Annotated[bool, Param(help="include a mean (no differencing) or a drift (one difference)")] = True,
    horizon: Horizon = 12,
    level: Level = 0.95,
) -> Forecast:
    """ARIMA(p, d, q)(P, D, Q)m by maximum likelihood (statsmodels state-space ARIMA).

    The seasonal part is used when any seasonal order is above 0; its period comes from
    ``period`` or the date frequency. The forecast table has the next ``horizon`` times with the
    mean forecast and a ``level`` prediction interval.

    Examples
    --------
    >>> import pandas as pd
    >>> series = pd.DataFrame({"month": pd.date_range("2020-01-01", periods=36, freq="MS"),
    ...                        "sales": [float(10 + i % 12 + i / 6) for i in range(36)]})
    >>> result = arima(series, time_column="month", value_column="sales", p=1, horizon=3)
    >>> result.forecast.columns.tolist(), result.forecast["month"].dt.strftime("%Y-%m").tolist()
    (['month', 'forecast', 'lower', 'upper'], ['2023-01', '2023-02', '2023-03'])
    """
    values, axis = regular_series(data, time_column, value_column, 1)
    seasonal = _seasonal(axis, (seasonal_p, seasonal_d, seasonal_q), period)
    regular_series(data, time_column, value_column, _minimum_rows(p, d, q, seasonal))
    spec = arima_spec((p, d, q), seasonal, with_constant)
    forecaster = _fit_one(values, axis, "arima", spec)
    forecast = forecaster.forecast(horizon, level).rename(columns={"time": time_column})
    params = {**spec, "horizon": horizon, "level": level, "aic": forecaster.aic_}
    return Forecast(forecast, _package(forecaster, data, [time_column], value_column, params))


def kpss_differences(values: np.ndarray, max_d: int) -> int:
    """Differences needed until the KPSS test (5%) no longer rejects level stationarity."""
    import warnings

    from statsmodels.tsa.stattools import kpss

    series, d = values, 0
    while d < max_d and len(series) > 10 and np.ptp(series) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = kpss(series, regression="c", nlags="auto")[1]
        if p_value >= 0.05:
            break
        series, d = np.diff(series), d + 1
    return d


def search_arima(
    values: np.ndarray, axis: TimeAxis, *, max_p: int, max_q: int, d: int | None, max_d: int,
    seasonal_period_value: int | None, seasonal_d: int, criterion: str, with_constant: bool,
) -> tuple[StatsForecaster, pd.DataFrame]:
    """Fit every order on the grid; keep the lowest information criterion (first one on ties)."""
    chosen_d = kpss_differences(values, max_d) if d is None else d
    seasonal_orders = [(0, 0, 0, 0)]
    if seasonal_period_value:
        seasonal_orders = [(sp, seasonal_d, sq, seasonal_period_value) for sp in (0, 1) for sq in (0, 1)]
    rows, fitted = [], []
    for seasonal in seasonal_orders:
        for p in range(max_p + 1):
            for q in range(max_q + 1):
                spec = arima_spec((p, chosen_d, q), seasonal, with_constant)
                try:
                    forecaster = _fit_one(values, axis, "arima", spec)
                    scores = {"aic": forecaster.aic_, "bic": forecaster.bic_, "aicc": forecaster.aicc_}
                except DataError:
                    forecaster, scores = None, {"aic": np.nan, "bic": np.nan, "aicc": np.nan}
                rows.append({"p": p, "d": chosen_d, "q": q, "seasonal_p": seasonal[0], "seasonal_d": seasonal[1],
                             "seasonal_q": seasonal[2], "period": seasonal[3], **scores})
                fitted.append(forecaster)
    search = pd.DataFrame(rows)
    valuesof = search[criterion].to_numpy(dtype=float)
    if np.isnan(valuesof).all():
        raise DataError("no ARIMA order on the grid could be fitted; check the series (constant? too short?)")
    best = int(np.nanargmin(valuesof))
    search["selected"] = np.arange(len(search)) == best
    return fitted[best], search


@component("timeseries.auto_arima", title="Auto ARIMA", tags=TS_TAGS)
def auto_arima(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    max_p: Annotated[int, Param(ge=0, le=5, help="largest autoregressive order tried")] = 2,
    max_q: Annotated[int, Param(ge=0, le=5, help="largest moving-average order tried")] = 2,
    d: Annotated[int | None, Param(ge=0, le=2, help="differences; empty chooses them with KPSS tests")] = None,
    max_d: Annotated[int, Param(ge=0, le=2, help="most differences the KPSS search may choose")] = 2,
    seasonal: Annotated[bool, Param(help="also try seasonal AR and MA orders 0 and 1")] = False,
    seasonal_d: Annotated[int, Param(ge=0, le=1, help="seasonal differences when seasonal")] = 0,
    period: Period = None,
    criterion: Annotated[Literal["aic", "bic", "aicc"], Param(help="information criterion to minimise")] = "aic",
    with_constant: Annotated[bool, Param(help="include a mean or drift term")] = True,
    horizon: Horizon = 12,
    level: Level = 0.95,
) -> AutoForecast:
    """ARIMA with the order chosen automatically: a grid search minimising AIC (or BIC, AICc).

    The number of differences ``d`` comes from repeated KPSS tests (as in Hyndman and Khandakar's
    auto.arima) unless given; then every (p, q) up to ``max_p``, ``max_q`` (and, when ``seasonal``,
    seasonal orders 0-1) is fitted and the lowest criterion wins. ``search`` lists every candidate.

    Examples
    --------
    >>> import pandas as pd
    >>> series = pd.DataFrame({"t": range(40), "y": [float((i * 7) % 5 + i * 0.3) for i in range(40)]})
    >>> result = auto_arima(series, time_column="t", value_column="y", max_p=1, max_q=1, horizon=2)
    >>> len(result.search), int(result.search["selected"].sum()), result.forecast["t"].tolist()
    (4, 1, [40, 41])
    """
    values, axis = regular_series(data, time_column, value_column, 1)
    period_value = seasonal_period(axis, period, "a seasonal search") if seasonal else None
    minimum = _minimum_rows(max_p, max_d if d is None else d, max_q, (1, seasonal_d, 1, period_value) if seasonal else (0, 0, 0, 0))
    regular_series(data, time_column, value_column, minimum)
    forecaster, search = search_arima(
        values, axis, max_p=max_p, max_q=max_q, d=d, max_d=max_d, seasonal_period_value=period_value,
        seasonal_d=seasonal_d, criterion=criterion, with_constant=with_constant,
    )
    forecast = forecaster.forecast(horizon, level).rename(columns={"time": time_column})
    params = {**(forecaster.spec or {}), "criterion": criterion, "horizon": horizon, "level": level}
    return AutoForecast(forecast, _package(forecaster, data, [time_column], value_column, params), search)


@component("timeseries.exponential_smoothing", title="Exponential Smoothing (Holt-Winters)", tags=TS_TAGS)
def exponential_smoothing(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    trend: Annotated[Literal["none", "add", "mul"], Param(help="trend component (add: Holt's linear trend)")] = "add",
    damped: Annotated[bool, Param(help="damp the trend so long forecasts level off")] = False,
    seasonal: Annotated[Literal["none", "add", "mul"], Param(help="seasonal component (Holt-Winters)")] = "none",
    period: Period = None,
    error: Annotated[Literal["add", "mul"], Param(help="error type of the state-space model")] = "add",
    horizon: Horizon = 12,
    level: Level = 0.95,
) -> Forecast:
    """Exponential smoothing: simple, Holt's trend, Holt-Winters seasonal (statsmodels ETS).

    The model is fitted by maximum likelihood as an ETS state-space model, which gives
    prediction intervals; multiplicative models get them by simulation with a fixed seed.
    Multiplicative components need strictly positive values.

    Examples
    --------
    >>> import pandas as pd
    >>> series = pd.DataFrame({"month": pd.date_range("2020-01-01", periods=36, freq="MS"),
    ...                        "sales": [float(10 + i % 12 + i / 6) for i in range(36)]})
    >>> result = exponential_smoothing(series, time_column="month", value_column="sales", seasonal="add", horizon=2)
    >>> result.forecast["forecast"].round(1).tolist()
    [16.0, 17.2]
    """
    values, axis = regular_series(data, time_column, value_column, 1)
    period_value = seasonal_period(axis, period, "a seasonal model") if seasonal != "none" else None
    regular_series(data, time_column, value_column, max(5, 2 * (period_value or 0) + 1))
    spec = ets_spec(error, trend, damped, seasonal, period_value)
    forecaster = _fit_one(values, axis, "ets", spec)
    forecast = forecaster.forecast(horizon, level).rename(columns={"time": time_column})
    params = {**spec, "horizon": horizon, "level": level, "aic": forecaster.aic_}
    return Forecast(forecast, _package(forecaster, data, [time_column], value_column, params))


@component("timeseries.multi_series_forecast", title="Multi-series Forecast", tags=TS_TAGS)
def multi_series_forecast(
    data: pd.DataFrame,
    *,
    time_column: TimeColumn,
    value_column: ValueColumn,
    group_column: Annotated[Column, Param(help="one series, and one model, per value of this column")],
    method: Annotated[Literal["auto_arima", "arima", "exponential_smoothing"], Param(help="the model fitted to each series")] = "auto_arima",
    p: Annotated[Order, Param(help="arima: autoregressive order; auto_arima: the largest tried")] = 1,
    d: Annotated[int, Param(ge=0, le=2, help="arima: differences; auto_arima: the most the KPSS search may choose")] = 1,
    q: Annotated[Order, Param(help="arima: moving-average order; auto_arima: the largest tried")] = 1,
    trend: Annotated[Literal["none", "add", "mul"], Param(help="exponential_smoothing: trend component")] = "add",
    seasonal: Annotated[Literal["none", "add", "mul"], Param(help="exponential_smoothing: seasonal component")] = "none",
    period: Period = None,
    horizon: Horizon = 12,
    level: Level = 0.95,
) -> Forecast:
    """Forecast many series at once: one model per group (store, product, sensor).

    Each group's rows form one evenly spaced series; the model (``method``) is fitted to each
    separately and the forecast table gets the group column. The model package predicts for
    (group, time) rows.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [{"store": s, "week": w, "sales": float(w + (5 if s == "b" else 0) + w % 3)} for s in "ab" for w in range(20)]
    >>> result = multi_series_forecast(pd.DataFrame(rows), time_column="week", value_column="sales",
    ...                                group_column="store", method="arima", horizon=2)
    >>> result.forecast[["store", "week"]].values.tolist()
    [['a', 20], ['a', 21], ['b', 20], ['b', 21]]
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: there is no series to forecast")
    if group_column in (time_column, value_column):
        raise DataError(f"'group_column' is '{group_column}', which is also the time or value column; choose another column")
    missing = data[group_column].isna().to_numpy()
    if missing.any():
        raise DataError(f"group column '{group_column}' has missing values, the first at row {int(np.flatnonzero(missing)[0])}")
    groups, members, forecasts = [], [], []
    for key, rows in data.groupby(group_column, sort=True):
        where = f"group {key!r}: "
        values, axis = regular_series(rows, time_column, value_column, 1, where)
        try:
            if method == "exponential_smoothing":
                period_value = seasonal_period(axis, period, "a seasonal model") if seasonal != "none" else None
                regular_series(rows, time_column, value_column, max(5, 2 * (period_value or 0) + 1), where)
                member = _fit_one(values, axis, "ets", ets_spec("add", trend, False, seasonal, period_value))
            elif method == "arima":
                regular_series(rows, time_column, value_column, _minimum_rows(p, d, q, (0, 0, 0, 0)), where)
                member = _fit_one(values, axis, "arima", arima_spec((p, d, q), (0, 0, 0, 0), True))
            else:
                regular_series(rows, time_column, value_column, _minimum_rows(p, d, q, (0, 0, 0, 0)), where)
                member, _ = search_arima(values, axis, max_p=p, max_q=q, d=None, max_d=d, seasonal_period_value=None,
                                         seasonal_d=0, criterion="aic", with_constant=True)
        except DataError as error:
            raise DataError(f"{where}{error}") from None
        forecast = member.forecast(horizon, level).rename(columns={"time": time_column})
        forecast.insert(0, group_column, key)
        groups.append(key.item() if hasattr(key, "item") else key)
        members.append(member)
        forecasts.append(forecast)
    forecast = pd.concat(forecasts, ignore_index=True)
    forecast[group_column] = forecast[group_column].astype(data[group_column].dtype)
    params = {"method": method, "p": p, "d": d, "q": q, "trend": trend, "seasonal": seasonal, "horizon": horizon, "level": level}
    model = _package(GroupedForecaster(groups, members), data, [group_column, time_column], value_column, params)
    return Forecast(forecast, model)
