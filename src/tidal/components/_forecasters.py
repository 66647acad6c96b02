"""Forecasting helpers: regular time axes, and statsmodels forecasters that store only numbers.

A statsmodels results object cannot be stored safely (it would need pickle), so a
:class:`StatsForecaster` keeps the model specification, the fitted parameters and the training
values. Its statsmodels results are rebuilt on demand by filtering the training values with the
stored parameters (no refit, no randomness), so a reloaded package forecasts exactly as the
original. statsmodels is imported inside the methods.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from tidal.core._errors import DataError

#: seasonal period implied by a pandas frequency (used when ``period`` is not given)
PERIODS = {"D": 7, "B": 5, "h": 24, "min": 60, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4}


class TimeAxis:
    """Evenly spaced times: a start and a pandas frequency (dates) or a numeric step."""

    def __init__(self, kind: str, start: Any, step: Any) -> None:
        self.kind = kind
        self.start = start
        self.step = step

    @classmethod
    def infer(cls, times: pd.Series, column: str) -> TimeAxis:
        if pd.api.types.is_datetime64_any_dtype(times):
            if len(times) < 3:
                raise DataError(f"time column '{column}' needs at least 3 timestamps to infer their spacing")
            with warnings.catch_warnings():  # pandas 3 announces an offset instead of a string
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                found = pd.infer_freq(pd.DatetimeIndex(times))
            freq = getattr(found, "freqstr", found)
            if freq is None:
                gaps = pd.Series(times).diff().value_counts()
                raise DataError(
                    f"time column '{column}' is not evenly spaced (gaps seen: {', '.join(map(str, gaps.index[:3]))}); "
                    "resample or fill the missing periods first"
                )
            return cls("datetime", pd.Timestamp(times.iloc[0]).isoformat(), freq)
        if pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times):
            values = times.to_numpy(dtype=float)
            steps = np.diff(values)
            if len(steps) and not np.allclose(steps, steps[0]):
                raise DataError(f"time column '{column}' is not evenly spaced (steps {np.unique(steps)[:3].tolist()}); fill the gaps first")
            return cls("numeric", float(values[0]), float(steps[0]) if len(steps) else 1.0)
        raise DataError(f"time column '{column}' ({times.dtype}) must hold dates or numbers; convert it first")

    def times(self, count: int, offset: int = 0) -> pd.Series:
        if self.kind == "datetime":
            return pd.Series(pd.date_range(pd.Timestamp(self.start), periods=offset + count, freq=self.step)[offset:])
        numbers = self.start + self.step * np.arange(offset, offset + count)
        whole = float(self.start).is_integer() and float(self.step).is_integer()
        return pd.Series(numbers.astype(np.int64) if whole else numbers)

    def positions(self, times: pd.Series, column: str) -> np.ndarray:
        """Integer position of each time on the axis; off-grid or earlier times are an error."""
        if self.kind == "datetime":
            values = pd.to_datetime(times)
            last = values.max()
            span = len(pd.date_range(pd.Timestamp(self.start), last, freq=self.step)) + 1 if last >= pd.Timestamp(self.start) else 1
            found = pd.DatetimeIndex(self.times(span)).get_indexer(pd.DatetimeIndex(values))
        else:
            steps = (pd.to_numeric(times).to_numpy(dtype=float) - self.start) / self.step
            found = np.where(np.isclose(steps, np.round(steps)) & (steps > -0.5), np.round(steps), -1).astype(np.int64)
        bad = found < 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"time column '{column}': {times.iloc[row]!r} (row {row}) is not on the series' time grid "
                f"(from {self.start}, every {self.step})"
            )
        return np.asarray(found, dtype=np.int64)

    def period(self) -> int | None:
        if self.kind != "datetime":
            return None
        offset = pd.tseries.frequencies.to_offset(self.step)
        if offset.n != 1:
            return None
        return PERIODS.get(offset.rule_code.split("-")[0])


def as_times(times: pd.Series, column: str) -> pd.Series:
    """Dates held as Python dates or ISO text (CSV and Parquet give those) become datetimes."""
    if pd.api.types.is_object_dtype(times) or pd.api.types.is_string_dtype(times):
        try:
            return pd.Series(pd.to_datetime(times), index=times.index)
        except (ValueError, TypeError):
            raise DataError(f"time column '{column}' holds text that is not a date (e.g. {times.iloc[0]!r}); convert it first") from None
    return times


def regular_series(data: pd.DataFrame, time_column: str, value_column: str, minimum: int, where: str = "") -> tuple[np.ndarray, TimeAxis]:
    """The values ordered by time and the time axis, with errors that name the row."""
    if len(data) < minimum:
        raise DataError(f"{where}the series has {len(data)} row(s); at least {minimum} are needed to fit and forecast")
    values = data[value_column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"value column '{value_column}' ({values.dtype}) must be numeric")
    times = data[time_column]
    for name, column in ((time_column, times), (value_column, values)):
        missing = column.isna().to_numpy()
        if missing.any():
            raise DataError(f"{where}column '{name}' has {int(missing.sum())} missing value(s), the first at row {int(np.flatnonzero(missing)[0])}; fill them first")
    if times.duplicated().any():
        row = int(np.flatnonzero(times.duplicated().to_numpy())[0])
        raise DataError(f"{where}time {times.iloc[row]!r} appears more than once (row {row}); aggregate first, or set 'group_column' for several series")
    times = as_times(times, time_column)
    order = np.argsort(times.to_numpy(), kind="stable")
    ordered = times.iloc[order].reset_index(drop=True)
    return values.to_numpy(dtype=float)[order], TimeAxis.infer(ordered, time_column)


def seasonal_period(axis: TimeAxis, period: int | None, what: str) -> int:
    chosen = period or axis.period()
    if chosen is None:
        raise DataError(f"{what} needs a seasonal period and none can be inferred from the time column; set 'period'")
    return chosen


def _one_thread() -> Any:
    """statsmodels' Kalman filter multiplies tiny matrices: BLAS threads only add contention."""
    return threadpool_limits(limits=1, user_api="blas")


class StatsForecaster(BaseEstimator):  # type: ignore[misc]
    """ARIMA (``method="arima"``) or ETS (``method="ets"``) with parameters stored as numbers."""

    def __init__(self, method: str = "arima", spec: dict[str, Any] | None = None) -> None:
        self.method = method
        self.spec = spec

    def _model(self, values: np.ndarray) -> Any:
        spec = self.spec or {}
        if self.method == "arima":
            from statsmodels.tsa.arima.model import ARIMA

            return ARIMA(values, order=tuple(spec["order"]), seasonal_order=tuple(spec["seasonal_order"]), trend=spec["trend"])
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        return ETSModel(
            pd.Series(values),  # statsmodels' ETS prediction intervals need an indexed series
            error=spec["error"],
            trend=spec["trend"],
            damped_trend=spec["damped"],
            seasonal=spec["seasonal"],
            seasonal_periods=spec["seasonal_periods"],
        )

    def fit(self, values: np.ndarray, axis: TimeAxis) -> StatsForecaster:
        self.values_ = np.asarray(values, dtype=float)
        self.axis_kind_, self.axis_start_, self.axis_step_ = axis.kind, axis.start, axis.step
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")
            try:
                results = self._model(self.values_).fit(**({"disp": False} if self.method == "ets" else {}))
            except (ValueError, np.linalg.LinAlgError) as error:
                raise DataError(f"cannot fit the {self.method.upper()} model: {error}") from None
        self.params_ = np.asarray(results.params, dtype=float)
        self.aic_, self.bic_, self.aicc_ = (float(getattr(results, name, np.nan)) for name in ("aic", "bic", "aicc"))
        return self

    @property
    def axis(self) -> TimeAxis:
        return TimeAxis(self.axis_kind_, self.axis_start_, self.axis_step_)

    def results(self) -> Any:
        """The statsmodels results for the stored parameters (filtered, not refitted)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self._model(self.values_)
            return model.filter(self.params_) if self.method == "arima" else model.smooth(self.params_)

    def forecast(self, horizon: int, level: float) -> pd.DataFrame:
        """Future times with the mean forecast and a ``level`` prediction interval."""
        n = len(self.values_)
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")
            if self.method == "arima":
                frame = self.results().get_forecast(horizon).summary_frame(alpha=1 - level)
                mean, lower, upper = frame["mean"], frame["mean_ci_lower"], frame["mean_ci_upper"]
            else:
                results = self.results()
                seeded = _seeded_simulation(results)
                prediction = results.get_prediction(start=n, end=n + horizon - 1, **seeded)
                frame = prediction.summary_frame(alpha=1 - level)
                mean, lower, upper = frame["mean"], frame["pi_lower"], frame["pi_upper"]
        return pd.DataFrame(
            {"time": self.axis.times(horizon, offset=n).to_numpy(), "forecast": np.asarray(mean, dtype=float),
             "lower": np.asarray(lower, dtype=float), "upper": np.asarray(upper, dtype=float)}
        )

    def predict_positions(self, positions: np.ndarray) -> np.ndarray:
        n = len(self.values_)
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")
            results = self.results()
            fitted = np.asarray(results.fittedvalues, dtype=float)
            ahead = int(positions.max()) - n + 1 if len(positions) else 0
            future = np.asarray(results.forecast(ahead), dtype=float) if ahead > 0 else np.zeros(0)
        path = np.concatenate([fitted, future])
        return path[positions]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """In-sample one-step predictions for training times, forecasts for later times."""
        column = str(frame.columns[-1])
        return self.predict_positions(self.axis.positions(frame.iloc[:, -1], column))


def _seeded_simulation(results: Any) -> dict[str, Any]:
    """A fixed seed for ETS intervals that are simulated (multiplicative models); the keyword
    changed name between statsmodels releases."""
    import inspect

    accepted = inspect.signature(results.simulate).parameters
    return {"rng": np.random.default_rng(0)} if "rng" in accepted else {"random_state": 0}


class GroupedForecaster(BaseEstimator):  # type: ignore[misc]
    """One :class:`StatsForecaster` per group; ``predict`` takes (group, time) rows."""

    def __init__(self, groups: list[Any] | None = None, members: list[StatsForecaster] | None = None) -> None:
        self.groups = groups
        self.members = members

    def fit(self, *args: Any) -> GroupedForecaster:  # members arrive fitted
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        index = {group: position for position, group in enumerate(self.groups or [])}
        result = np.full(len(frame), np.nan)
        keys = frame.iloc[:, 0]
        for key, rows in frame.groupby(keys, sort=False).indices.items():
            if key not in index:
                known = ", ".join(map(str, list(index)[:10]))
                raise DataError(f"group {key!r} was not in the training data (groups: {known}); a forecaster exists only for known groups")
            result[rows] = (self.members or [])[index[key]].predict(frame.iloc[rows, 1:])
        return result
