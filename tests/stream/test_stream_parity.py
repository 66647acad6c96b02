"""Tidal's stream learners against River and scikit-learn on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from river import drift, linear_model, optim
from sklearn.feature_extraction import FeatureHasher as SklearnHasher
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from tidal.stream import (
    ADWIN,
    FeatureHasher,
    FTRLLogisticRegression,
    OnlineGaussianNB,
    OnlineStandardScaler,
    PageHinkley,
)


def _stream(rows: int = 1200, features: int = 5, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    y = (X @ rng.normal(size=features) + rng.normal(size=rows) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("l1", [0.0, 0.5])
def test_ftrl_river_mode_matches_river_step_for_step(l1: float) -> None:
    X, y = _stream()
    river = linear_model.LogisticRegression(optimizer=optim.FTRLProximal(alpha=0.1, beta=1.0, l1=l1, l2=0.5), intercept_lr=0.01)
    tidal = FTRLLogisticRegression(0.1, 1.0, l1, 0.5, mode="river", intercept_lr=0.01)
    river_scores, tidal_scores = [], []
    for start in range(0, len(X), 40):
        tidal_scores.extend(tidal.predict_proba(X[start:start + 40])[:, 1] if start else [0.5] * 40)
        tidal.learn(X[start:start + 40], y[start:start + 40])
        for row in range(start, start + 40):
            x = dict(enumerate(X[row]))
            river_scores.append(river.predict_proba_one(x)[True])
            river.learn_one(x, bool(y[row]))
    weights = np.array([river.weights.get(index, 0.0) for index in range(X.shape[1])])
    np.testing.assert_allclose(tidal.weights(), weights, rtol=0, atol=1e-9)
    assert abs(tidal.intercept - river.intercept) < 1e-9
    # predictions made before each batch equal River's at the same points (the first batch: untrained)
    np.testing.assert_allclose(np.array(tidal_scores)[40::40], np.array(river_scores)[40::40], atol=1e-9)


def _textbook_ftrl(X: np.ndarray, y: np.ndarray, alpha: float, beta: float, l1: float, l2: float) -> np.ndarray:
    """McMahan et al. (2013), Algorithm 1, row by row in plain Python (intercept as a constant feature)."""
    size = X.shape[1] + 1
    z, n = [0.0] * size, [0.0] * size
    for row, label in zip(X, y, strict=True):
        x = [*row.tolist(), 1.0]
        w = [0.0 if abs(z[i]) <= l1 else -(z[i] - np.sign(z[i]) * l1) / ((beta + n[i] ** 0.5) / alpha + l2) for i in range(size)]
        p = 1.0 / (1.0 + np.exp(-sum(w[i] * x[i] for i in range(size))))
        for i in range(size):
            g = (p - label) * x[i]
            sigma = ((n[i] + g * g) ** 0.5 - n[i] ** 0.5) / alpha
            z[i] += g - sigma * w[i]
            n[i] += g * g
    return np.array(z)


def test_ftrl_sample_mode_is_the_textbook_algorithm_and_batch_of_one_equals_it() -> None:
    X, y = _stream(300)
    reference = _textbook_ftrl(X, y, 0.2, 1.0, 0.3, 0.1)
    sample = FTRLLogisticRegression(0.2, 1.0, 0.3, 0.1, mode="sample").learn(X, y)
    np.testing.assert_allclose(sample.z, reference, atol=1e-9)
    batch = FTRLLogisticRegression(0.2, 1.0, 0.3, 0.1)
    for row in range(len(X)):
        batch.learn(X[row:row + 1], y[row:row + 1])
    np.testing.assert_allclose(batch.z, sample.z, atol=1e-12)


def test_ftrl_larger_batches_learn_nearly_as_well() -> None:
    X, y = _stream(3000, seed=3)

    def progressive_loss(size: int) -> float:
        learner, losses = FTRLLogisticRegression(alpha=0.2), []
        for start in range(0, len(X), size):
            p = np.clip(learner.predict_proba(X[start:start + size])[:, 1], 1e-15, 1 - 1e-15)
            target = y[start:start + size]
            losses.extend(-(target * np.log(p) + (1 - target) * np.log(1 - p)))
            learner.learn(X[start:start + size], target)
        return float(np.mean(losses))

    single, large = progressive_loss(1), progressive_loss(256)
    assert single < 0.45  # it learns: an untrained model scores log(2) = 0.69
    assert large < single * 1.25


def _detections(detector, values: np.ndarray) -> list[int]:
    found = []
    for index, value in enumerate(values):
        detector.update(value)
        if detector.drift_detected:
            found.append(index)
    return found


@pytest.mark.parametrize("params", [{}, {"delta": 0.05, "clock": 8}])
def test_adwin_detects_where_river_does(params: dict) -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 2500), rng.normal(0.8, 1, 2500), rng.binomial(1, 0.3, 2500)])
    expected = _detections(drift.ADWIN(**params), values)
    tidal = ADWIN(**params)
    found = tidal.update_many(values[:3000]) + [3000 + index for index in tidal.update_many(values[3000:])]
    assert len(expected) >= 2
    assert found == expected


@pytest.mark.parametrize("mode", ["both", "up", "down"])
def test_page_hinkley_detects_where_river_does(mode: str) -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 1, 2000), rng.normal(1.5, 1, 2000), rng.normal(-1, 1, 2000)])
    expected = _detections(drift.PageHinkley(mode=mode), values)
    assert expected
    assert PageHinkley(mode=mode).update_many(values) == expected


def test_gaussian_nb_equals_scikit_learn_partial_fit() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(900, 4)) * [1, 10, 0.1, 3]
    y = rng.integers(0, 3, 900)
    reference, tidal = GaussianNB(), OnlineGaussianNB(classes=[0, 1, 2])
    for start in range(0, 900, 128):
        reference.partial_fit(X[start:start + 128], y[start:start + 128], classes=[0, 1, 2])
        tidal.learn(X[start:start + 128], y[start:start + 128])
    np.testing.assert_allclose(tidal.means, reference.theta_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tidal.variances, reference.var_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tidal.predict_proba(X), reference.predict_proba(X), rtol=1e-9, atol=1e-12)
    assert (tidal.predict(X) == reference.predict(X)).all()


def test_standard_scaler_equals_scikit_learn_partial_fit() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(5, 3, size=(1000, 3))
    X[:, 2] = 7.0  # a constant column: scale 1, as scikit-learn
    reference, tidal = StandardScaler(), OnlineStandardScaler()
    for start in range(0, 1000, 97):
        reference.partial_fit(X[start:start + 97])
        tidal.learn(X[start:start + 97])
    np.testing.assert_allclose(tidal.mean_, reference.mean_, rtol=1e-12)
    np.testing.assert_allclose(tidal.var_, reference.var_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tidal.transform(X), reference.transform(X), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("alternate_sign", [True, False])
def test_feature_hasher_equals_scikit_learn(alternate_sign: bool) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"city": rng.choice(["Paris", "Oslo", "Lima", "Pune"], 300), "device": rng.choice(["ios", "web"], 300),
                          "amount": rng.normal(size=300)})
    reference = SklearnHasher(n_features=16, input_type="dict", alternate_sign=alternate_sign).transform(frame.to_dict("records"))
    ours = FeatureHasher(16, alternate_sign=alternate_sign).transform(frame)
    np.testing.assert_allclose(ours.toarray(), reference.toarray(), atol=1e-12)
