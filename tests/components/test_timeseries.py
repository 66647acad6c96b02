"""Time-series components against statsmodels, pandas and numpy on statsmodels' bundled data."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    root_mean_squared_error,
)
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.seasonal import STL, seasonal_decompose
from statsmodels.tsa.stattools import acf, adfuller, kpss, pacf

import tidal
from tidal.components.timeseries import (
    arima,
    auto_arima,
    exponential_smoothing,
    multi_series_forecast,
)
from tidal.components.timeseries_analysis import (
    autocorrelation,
    decompose,
    forecast_evaluation,
    lag_features,
    stationarity_test,
)
from tidal.core import DataError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def co2() -> pd.DataFrame:
    """Monthly Mauna Loa CO2, 1990-2001 (statsmodels' weekly data averaged by month)."""
    series = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()["1990":"2001"]
    return pd.DataFrame({"month": series.index, "co2": series.to_numpy()})


@pytest.fixture(scope="module")
def macro() -> pd.DataFrame:
    data = sm.datasets.macrodata.load_pandas().data
    quarters = pd.PeriodIndex.from_fields(year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q").to_timestamp()
    return pd.DataFrame({"quarter": quarters, "realinv": data["realinv"].to_numpy(), "realgdp": data["realgdp"].to_numpy()})


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def test_arima_matches_statsmodels(macro):
    result = arima(macro, time_column="quarter", value_column="realinv", p=1, d=1, q=1, horizon=6, level=0.9)
    direct = quiet(ARIMA(macro["realinv"].to_numpy(), order=(1, 1, 1), trend="t").fit)
    expected = direct.get_forecast(6).summary_frame(alpha=0.1)
    np.testing.assert_allclose(result.forecast["forecast"], expected["mean"], rtol=1e-6)
    np.testing.assert_allclose(result.forecast["lower"], expected["mean_ci_lower"], rtol=1e-6)
    np.testing.assert_allclose(result.forecast["upper"], expected["mean_ci_upper"], rtol=1e-6)
    assert result.forecast["quarter"].iloc[0] == pd.Timestamp("2009-10-01")
    assert result.model.params["aic"] == pytest.approx(direct.aic)
    future = result.model.predict(result.forecast[["quarter"]])
    np.testing.assert_allclose(future, result.forecast["forecast"], rtol=1e-10)
    np.testing.assert_allclose(result.model.predict(macro), direct.fittedvalues, rtol=1e-6)


def test_seasonal_arima_infers_the_period_from_monthly_dates(co2):
    result = arima(co2, time_column="month", value_column="co2", p=0, d=1, q=1, seasonal_d=1, seasonal_q=1, horizon=12)
    direct = quiet(ARIMA(co2["co2"].to_numpy(), order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit)
    np.testing.assert_allclose(result.forecast["forecast"], direct.forecast(12), rtol=1e-6)
    assert result.model.params["seasonal_order"] == [0, 1, 1, 12]


def test_forecast_model_round_trips_without_refitting(tmp_path, co2):
    result = exponential_smoothing(co2, time_column="month", value_column="co2", seasonal="add", horizon=3)
    loaded = tidal.load_model(result.model.save_archive(tmp_path / "ets.zip"))
    rows = pd.concat([co2[["month"]].iloc[-5:], result.forecast[["month"]]])
    np.testing.assert_array_equal(loaded.predict(rows), result.model.predict(rows))
    assert loaded.task == "forecast" and loaded.features == ["month"]


def test_exponential_smoothing_matches_statsmodels_ets(co2):
    result = exponential_smoothing(co2, time_column="month", value_column="co2", trend="add", damped=True, seasonal="add", horizon=8)
    model = ETSModel(pd.Series(co2["co2"].to_numpy()), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=12)
    fitted = quiet(model.fit, disp=False)
    expected = fitted.get_prediction(start=len(co2), end=len(co2) + 7).summary_frame(alpha=0.05)
    np.testing.assert_allclose(result.forecast["forecast"], expected["mean"], rtol=1e-6)
    np.testing.assert_allclose(result.forecast["upper"], expected["pi_upper"], rtol=1e-6)
    simple = exponential_smoothing(co2, time_column="month", value_column="co2", trend="none", horizon=4)
    assert simple.forecast["forecast"].nunique() == 1  # simple smoothing forecasts a flat line


def test_auto_arima_picks_the_lowest_aic_of_the_grid(macro):
    values = np.log(macro["realgdp"].to_numpy())
    frame = macro.assign(log_gdp=values)
    result = auto_arima(frame, time_column="quarter", value_column="log_gdp", max_p=2, max_q=1, horizon=4)
    assert quiet(kpss, values, regression="c", nlags="auto")[1] < 0.05  # trending: KPSS asks for a difference
    chosen_d = int(result.search["d"].iloc[0])
    aics = {}
    for p in range(3):
        for q in range(2):
            aics[(p, q)] = quiet(ARIMA(values, order=(p, chosen_d, q), trend="t" if chosen_d == 1 else "c" if chosen_d == 0 else "n").fit).aic
    best = min(aics, key=aics.get)
    selected = result.search[result.search["selected"]].iloc[0]
    assert (selected["p"], selected["q"]) == best
    np.testing.assert_allclose(result.search.sort_values(["p", "q"])["aic"], [aics[key] for key in sorted(aics)], rtol=1e-6)
    assert chosen_d >= 1 and len(result.forecast) == 4


def test_multi_series_fits_one_model_per_group(macro):
    long = pd.concat([
        macro[["quarter", "realinv"]].rename(columns={"realinv": "value"}).assign(series="realinv"),
        macro[["quarter", "realgdp"]].rename(columns={"realgdp": "value"}).assign(series="realgdp"),
    ])
    result = multi_series_forecast(long, time_column="quarter", value_column="value", group_column="series", method="arima", p=1, d=1, q=0, horizon=3)
    for name in ("realgdp", "realinv"):
        single = arima(long[long["series"] == name], time_column="quarter", value_column="value", p=1, d=1, q=0, horizon=3)
        mine = result.forecast[result.forecast["series"] == name]
        np.testing.assert_allclose(mine["forecast"], single.forecast["forecast"], rtol=1e-10)
    rows = result.forecast[["series", "quarter"]]
    np.testing.assert_allclose(result.model.predict(rows), result.forecast["forecast"], rtol=1e-10)
    with pytest.raises(DataError, match="group 'other' was not in the training data"):
        result.model.predict(pd.DataFrame({"series": ["other"], "quarter": [pd.Timestamp("2010-01-01")]}))


@pytest.mark.parametrize("method", ["moving_average", "stl"])
def test_decompose_matches_statsmodels(co2, method):
    parts = decompose(co2, time_column="month", value_column="co2", method=method)
    values = co2["co2"].to_numpy()
    expected = STL(values, period=12).fit() if method == "stl" else seasonal_decompose(values, period=12)
    np.testing.assert_allclose(parts["trend"], expected.trend, equal_nan=True)
    np.testing.assert_allclose(parts["seasonal"], expected.seasonal)
    np.testing.assert_allclose(parts["observed"] - parts["trend"] - parts["seasonal"], parts["residual"], equal_nan=True, atol=1e-9)


def test_lag_features_match_pandas_per_group_without_leakage():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"t": np.tile(np.arange(10), 2), "g": np.repeat(["a", "b"], 10), "y": rng.normal(size=20)})
    shuffled = frame.sample(frac=1, random_state=1)
    result = lag_features(shuffled, column="y", lags=[1, 3], windows=[2, 4], statistics=["mean", "max"], time_column="t", group_column="g")
    assert result.index.equals(shuffled.index)
    ordered = frame.sort_values(["g", "t"])
    groups = ordered.groupby("g")["y"]
    expected = {
        "y_lag_1": groups.shift(1),
        "y_lag_3": groups.shift(3),
        "y_rolling_mean_2": groups.transform(lambda s: s.shift(1).rolling(2).mean()),
        "y_rolling_max_4": groups.transform(lambda s: s.shift(1).rolling(4).max()),
    }
    for name, series in expected.items():
        pd.testing.assert_series_equal(result[name].sort_index(), series.sort_index(), check_names=False)


def test_forecast_evaluation_matches_the_formulas(co2):
    train, test = co2.iloc[:-12], co2.iloc[-12:]
    forecast = arima(train, time_column="month", value_column="co2", p=0, d=1, q=1, seasonal_d=1, seasonal_q=1, horizon=12).forecast
    scores = forecast_evaluation(forecast, test, train, time_column="month", value_column="co2", season=12)
    actual, predicted = test["co2"].to_numpy(), forecast["forecast"].to_numpy()
    assert scores["mae"] == pytest.approx(mean_absolute_error(actual, predicted))
    assert scores["rmse"] == pytest.approx(root_mean_squared_error(actual, predicted))
    assert scores["mape"] == pytest.approx(100 * mean_absolute_percentage_error(actual, predicted))
    assert scores["smape"] == pytest.approx(100 * np.mean(2 * np.abs(predicted - actual) / (np.abs(actual) + np.abs(predicted))))
    history = train["co2"].to_numpy()
    naive = np.mean(np.abs(history[12:] - history[:-12]))
    assert scores["mase"] == pytest.approx(scores["mae"] / naive)
    assert scores["rows"] == 12


def test_forecast_evaluation_per_group_and_dates_as_text():
    forecast = pd.DataFrame({"g": ["a", "a", "b"], "t": pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-03"]), "forecast": [2.0, 3.0, 10.0]})
    actual = pd.DataFrame({"g": ["a", "a", "b"], "t": ["2024-01-03", "2024-01-04", "2024-01-03"], "y": [1.0, 3.0, 12.0]})
    scores = forecast_evaluation(forecast, actual, time_column="t", value_column="y", group_column="g")
    assert scores["mae"] == pytest.approx(1.0) and scores["rows"] == 3
    assert [row["group"] for row in scores.tables["by_group"]] == ["a", "b"]


def test_stationarity_and_autocorrelation_match_statsmodels(macro):
    result = stationarity_test(macro, time_column="quarter", value_column="realgdp")
    values = macro["realgdp"].to_numpy()
    assert result["adf_p_value"] == pytest.approx(quiet(adfuller, values, regression="c", autolag="AIC")[1])
    assert result["kpss_statistic"] == pytest.approx(quiet(kpss, values, regression="c", nlags="auto")[0])
    assert result["stationary"] is False
    table = autocorrelation(macro, time_column="quarter", value_column="realinv", lags=8)
    np.testing.assert_allclose(table["acf"], quiet(acf, macro["realinv"], nlags=8, fft=True))
    np.testing.assert_allclose(table["pacf"], pacf(macro["realinv"], nlags=8, method="yw"))


def test_errors_name_the_problem(co2):
    with pytest.raises(DataError, match="not evenly spaced"):
        arima(co2.drop(index=[5, 6]), time_column="month", value_column="co2")
    with pytest.raises(DataError, match="appears more than once"):
        arima(pd.concat([co2, co2.iloc[:1]]), time_column="month", value_column="co2")
    with pytest.raises(DataError, match="must be numeric"):
        exponential_smoothing(co2.assign(co2="high"), time_column="month", value_column="co2")
    with pytest.raises(DataError, match="0 row"):
        auto_arima(co2.iloc[0:0], time_column="month", value_column="co2")
    broken = co2.copy()
    broken.loc[4, "co2"] = np.nan
    with pytest.raises(DataError, match="column 'co2' has 1 missing value.*row 4"):
        arima(broken, time_column="month", value_column="co2")
    with pytest.raises(DataError, match="set 'period'"):
        decompose(pd.DataFrame({"t": range(30), "y": np.arange(30.0)}), time_column="t", value_column="y")
    model = arima(co2, time_column="month", value_column="co2", horizon=2).model
    with pytest.raises(DataError, match="not on the series' time grid"):
        model.predict(pd.DataFrame({"month": [pd.Timestamp("2002-01-15")]}))
    with pytest.raises(DataError, match="'week' not found"):
        tidal.get_component("timeseries.arima").execute({"data": co2}, {"time_column": "week", "value_column": "co2"})
    with pytest.raises(DataError, match="share no"):
        forecast_evaluation(pd.DataFrame({"t": [1], "forecast": [1.0]}), pd.DataFrame({"t": [2], "y": [1.0]}), time_column="t", value_column="y")


def test_example_pipeline_runs(tmp_path):
    shutil.copytree(EXAMPLES / "data", tmp_path / "examples" / "data")
    shutil.copy(EXAMPLES / "timeseries.yaml", tmp_path / "examples")
    result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "timeseries.yaml"), workspace=tmp_path, workers=0)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    assert result.output("arima_accuracy")["rows"] == 24
    assert result.output("holt_winters_accuracy")["mape"] < 1.0
    macro = result.output("macro_forecast", "forecast").to_pandas()
    assert sorted(macro["series"].unique()) == ["realcons", "realgdp", "realinv"] and len(macro) == 24
