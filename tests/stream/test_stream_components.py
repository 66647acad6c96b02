"""The stream components on tables, and their model packages through save, load and continue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tidal.components.classification import logistic_regression
from tidal.components.stream import drift_detect, ftrl_predict, ftrl_train, online_stats
from tidal.core import DataError
from tidal.models import ModelPackage
from tidal.stream import FTRLLogisticRegression


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    labels = np.where(X @ [2.0, -1.0, 0.5] + 0.3 * rng.normal(size=2000) > 0, 7, 3)  # two numeric classes, not 0/1
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "label": labels})


def test_ftrl_train_progressive_metrics_and_package_round_trip(frame: pd.DataFrame, tmp_path: Path) -> None:
    result = ftrl_train(frame, label="label", alpha=0.5, batch_size=100)
    assert len(result.metrics) == 20 and result.metrics["rows_seen"].iloc[-1] == 2000
    assert result.metrics["log_loss"].iloc[0] == pytest.approx(np.log(2))  # the first batch meets an untrained model
    assert result.metrics["accuracy"].iloc[-5:].mean() > 0.9
    model = result.model
    assert model.classes == [3, 7] and model.features == ["a", "b", "c"]
    loaded = ModelPackage.load(model.save_archive(tmp_path / "model.zip"))
    assert loaded.flavor == "stream"
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert set(np.unique(loaded.predict(frame))) == {3, 7}
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    scored = ftrl_predict(loaded, frame)
    assert (scored["prediction"] == frame["label"]).mean() > 0.9


def test_ftrl_train_continues_from_its_own_package_exactly(frame: pd.DataFrame, tmp_path: Path) -> None:
    whole = ftrl_train(frame, label="label", alpha=0.5, batch_size=100).model
    first = ftrl_train(frame.iloc[:1000], label="label", alpha=0.5, batch_size=100).model
    restored = ModelPackage.load(first.save(tmp_path / "first"))
    resumed = ftrl_train(frame.iloc[1000:], restored, label="label", alpha=0.5, batch_size=100).model
    a, b = whole.model.learner.state(), resumed.model.learner.state()
    assert all(np.array_equal(a[key], b[key]) if isinstance(a[key], np.ndarray) else a[key] == b[key] for key in a)


def test_ftrl_train_warm_start_from_logistic_regression(frame: pd.DataFrame) -> None:
    batch = logistic_regression(frame.iloc[:500], label="label")
    result = ftrl_train(frame.iloc[500:], batch, label="label", batch_size=50)
    first_scores = FTRLLogisticRegression.from_batch_model(batch).predict_proba(frame.iloc[500:550][["a", "b", "c"]].to_numpy())
    expected = batch.predict_proba(frame.iloc[500:550])
    np.testing.assert_allclose(first_scores, expected, rtol=1e-9)
    assert result.metrics["accuracy"].iloc[0] > 0.85  # the first batch is already scored by the batch model


def test_ftrl_train_names_a_bad_label(frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="column 'target' not found"):
        ftrl_train(frame, label="target")
    with pytest.raises(DataError, match="label column 'label' must hold two numeric classes"):
        ftrl_train(frame.assign(label=frame["label"].map({3: "no", 7: "yes"})), label="label")
    with pytest.raises(DataError, match="two classes"):
        ftrl_train(frame.assign(label=np.arange(len(frame)) % 3), label="label")


def test_online_stats_and_drift_detect(frame: pd.DataFrame) -> None:
    stats = online_stats(frame, features=["a", "b"], batch_size=128)
    assert stats["mean"].tolist() == pytest.approx(frame[["a", "b"]].mean().tolist(), rel=1e-12)
    assert stats["variance"].tolist() == pytest.approx(frame[["a", "b"]].var().tolist(), rel=1e-10)
    assert (stats["p50"] - frame[["a", "b"]].median().to_numpy()).abs().max() < 0.05
    values = np.r_[np.zeros(1500), np.ones(1500)] + np.random.default_rng(1).normal(0, 0.2, 3000)
    flagged = drift_detect(pd.DataFrame({"err": values}), column="err", detector="page_hinkley", delta=0.005, threshold=20.0)
    hits = np.flatnonzero(flagged["drift"])
    assert hits.size and 1500 <= hits[0] < 1600
