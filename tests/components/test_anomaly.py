"""Anomaly detection: parity with scikit-learn and with the k-sigma and box-plot formulas in
pandas, models that flag new rows the same way after a reload, and the capability tags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import covariance, datasets, ensemble, neighbors, svm
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tidal.components import anomaly
from tidal.core import DataError, ValidationFailed, registry
from tidal.models import ModelPackage


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return datasets.load_wine(as_frame=True).frame.drop(columns="target").iloc[:, :6]


@pytest.fixture(scope="module")
def new_rows(wine) -> pd.DataFrame:
    rows = wine.sample(20, random_state=0).reset_index(drop=True) * 1.1
    rows.iloc[0] = rows.iloc[0] * 3
    return rows


def detectors(**tags):
    return [spec for spec in registry.all() if spec.category == "anomaly" and all(spec.tags.get(key) == value for key, value in tags.items())]


def ids(specs):
    return [spec.id for spec in specs]


LIBRARY = [
    ("isolation_forest", {"n_estimators": 50, "seed": 3}, lambda: ensemble.IsolationForest(n_estimators=50, random_state=3)),
    ("isolation_forest", {"contamination": 0.05}, lambda: ensemble.IsolationForest(contamination=0.05, random_state=0)),
    ("local_outlier_factor", {"n_neighbors": 15}, lambda: make_pipeline(StandardScaler(), neighbors.LocalOutlierFactor(n_neighbors=15, novelty=True))),
    ("one_class_svm", {"nu": 0.1, "gamma": 0.2}, lambda: make_pipeline(StandardScaler(), svm.OneClassSVM(nu=0.1, gamma=0.2))),
    ("elliptic_envelope", {"contamination": 0.05, "seed": 1}, lambda: covariance.EllipticEnvelope(contamination=0.05, random_state=1)),
]


@pytest.mark.parametrize(("name", "params", "reference"), LIBRARY, ids=[f"{case[0]}-{index}" for index, case in enumerate(LIBRARY)])
def test_matches_scikit_learn(wine, new_rows, tmp_path, name, params, reference):
    result = getattr(anomaly, name)(wine, **params)
    expected = reference().fit(wine)
    final = expected.steps[-1][1] if hasattr(expected, "steps") else expected
    if hasattr(final, "negative_outlier_factor_"):
        scores, flags = -final.negative_outlier_factor_, final.negative_outlier_factor_ < final.offset_
    else:
        scores, flags = -expected.score_samples(wine), expected.predict(wine) == -1
    np.testing.assert_allclose(result.data["anomaly_score"], scores)
    assert result.data["is_anomaly"].tolist() == flags.tolist()
    assert result.data.drop(columns=["is_anomaly", "anomaly_score"]).equals(wine)
    loaded = ModelPackage.load(result.model.save_archive(tmp_path / "model.zip"))
    assert loaded.task == "anomaly"
    assert loaded.predict(new_rows).tolist() == (expected.predict(new_rows) == -1).tolist()


def test_k_sigma_is_the_formula(wine, new_rows, tmp_path):
    result = anomaly.k_sigma(wine, k=2.5)
    distance = ((wine - wine.mean()).abs() / wine.std()).max(axis=1)
    np.testing.assert_allclose(result.data["anomaly_score"], distance)
    assert result.data["is_anomaly"].tolist() == (distance > 2.5).tolist()
    new_distance = ((new_rows - wine.mean()).abs() / wine.std()).max(axis=1)
    loaded = ModelPackage.load(result.model.save_archive(tmp_path / "model.zip"))
    assert loaded.predict(new_rows).tolist() == (new_distance > 2.5).tolist()
    assert loaded.predict(new_rows)[0]


def test_box_plot_is_the_formula(wine, new_rows, tmp_path):
    result = anomaly.box_plot(wine, whisker=1.5)
    low, high = wine.quantile(0.25), wine.quantile(0.75)
    spread = high - low
    outside = pd.concat([(low - wine) / spread, (wine - high) / spread]).groupby(level=0).max().clip(lower=0).max(axis=1)
    np.testing.assert_allclose(result.data["anomaly_score"], outside)
    fences = ((wine < low - 1.5 * spread) | (wine > high + 1.5 * spread)).any(axis=1)
    assert result.data["is_anomaly"].tolist() == fences.tolist()
    new_fences = ((new_rows < low - 1.5 * spread) | (new_rows > high + 1.5 * spread)).any(axis=1)
    loaded = ModelPackage.load(result.model.save_archive(tmp_path / "model.zip"))
    assert loaded.predict(new_rows).tolist() == new_fences.tolist()


def test_rules_judge_a_row_on_the_columns_it_has(wine):
    frame = wine.copy()
    frame.iloc[0, 0] = np.nan
    frame.iloc[1, :] = np.nan
    frame.iloc[2, 1] = 100.0
    result = anomaly.k_sigma(frame)
    assert result.data["anomaly_score"].iloc[1] == 0.0 and not result.data["is_anomaly"].iloc[1]
    assert result.data["is_anomaly"].iloc[2]
    complete = frame.drop(columns=frame.columns[0]).iloc[[0]]
    others = anomaly.k_sigma(frame.drop(columns=frame.columns[0]))
    assert result.data["anomaly_score"].iloc[0] == pytest.approx(others.model.model.anomaly_score(complete)[0])


# -- every detector, by its tags ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", detectors(), ids=ids(detectors()))
def test_every_detector_flags_an_obvious_outlier_and_scores_it_highest(wine, spec):
    frame = wine.copy()
    frame.iloc[5] = frame.iloc[5] * 6
    result = spec(frame, **({"nu": 0.05, "gamma": 0.1} if spec.param("nu") else {}))
    assert result.data["is_anomaly"].iloc[5] and result.data["anomaly_score"].idxmax() == 5
    assert result.data["is_anomaly"].dtype == bool
    assert result.model.predict(frame.iloc[[5]]).tolist() == [True]


@pytest.mark.parametrize("spec", detectors(handles_missing=True), ids=ids(detectors(handles_missing=True)))
def test_detectors_that_claim_to_handle_missing_values_fit_and_score_with_them(wine, spec):
    frame = wine.copy()
    frame.iloc[[3, 9], 2] = np.nan
    result = spec(frame)
    assert np.isfinite(result.data["anomaly_score"]).all()
    assert len(result.model.predict(frame.iloc[[3, 9]])) == 2


@pytest.mark.parametrize("spec", detectors(handles_missing=False), ids=ids(detectors(handles_missing=False)))
def test_detectors_that_do_not_handle_missing_values_name_the_column_and_row(wine, spec):
    frame = wine.copy()
    frame.iloc[8, 1] = np.nan
    with pytest.raises(DataError, match="column 'malic_acid' has 1 missing value\\(s\\), the first at row 8"):
        spec(frame)


@pytest.mark.parametrize("spec", detectors(numeric_only=True), ids=ids(detectors(numeric_only=True)))
def test_numeric_only_detectors_name_a_text_column(wine, spec):
    with pytest.raises(DataError, match="'region'"):
        spec(wine.assign(region="north"))


@pytest.mark.parametrize("spec", detectors(supports_weights=True), ids=ids(detectors(supports_weights=True)))
def test_detectors_that_support_weights_take_a_weight_column(wine, spec):
    result = spec(wine.assign(weight=np.arange(len(wine)) % 3 + 1.0), sample_weight="weight")
    assert "weight" not in result.model.features


def test_parameters_and_errors(wine):
    assert registry.get("anomaly.isolation_forest").param("contamination").meta.le == 0.5
    assert registry.get("anomaly.one_class_svm").param("nu").meta.le == 1
    with pytest.raises(ValidationFailed, match="contamination"):
        anomaly.isolation_forest(wine, contamination=0.7)
    with pytest.raises(ValidationFailed, match="k"):
        anomaly.k_sigma(wine, k=0)
    with pytest.raises(DataError, match="at least 2 needed"):
        anomaly.box_plot(wine.iloc[:0])
    with pytest.raises(DataError, match="column 'colour' not found"):
        anomaly.k_sigma(wine, features=["colour"])
