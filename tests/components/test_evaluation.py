"""Evaluation: parity with scikit-learn metrics, cross_val_score and networkx-free formulas on
bundled data, clear errors for bad input, and an evaluation inside a pipeline run."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets, metrics
from sklearn.calibration import calibration_curve
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tidal
from tidal.components.classification import logistic_regression
from tidal.components.evaluation import binary_classification, multiclass_classification, regression
from tidal.components.evaluation_clustering import clustering
from tidal.components.evaluation_ranking import ranking
from tidal.components.evaluation_threshold import calibration, threshold_tuning
from tidal.components.evaluation_validation import cross_validate
from tidal.components.model import predict
from tidal.core import Column, DataError, Param, ParameterError, component, registry
from tidal.models import ModelPackage


def frame_of(name: str) -> pd.DataFrame:
    return getattr(datasets, f"load_{name}")(as_frame=True).frame


@pytest.fixture(scope="module")
def scored_binary() -> pd.DataFrame:
    frame = frame_of("breast_cancer")
    model = logistic_regression(frame.iloc[::2], label="target", C=0.05)
    return predict(model, frame.iloc[1::2].reset_index(drop=True))


@pytest.fixture(scope="module")
def scored_multiclass() -> pd.DataFrame:
    frame = frame_of("wine")
    return predict(logistic_regression(frame.iloc[::2], label="target", C=0.01), frame.iloc[1::2].reset_index(drop=True))


def test_binary_matches_sklearn_and_lift_adds_up(scored_binary):
    report = binary_classification(scored_binary, label="target", threshold=0.4)
    truth, score = scored_binary["target"].to_numpy(), scored_binary["prob_1"].to_numpy()
    predicted = score >= 0.4
    assert report["auc"] == pytest.approx(metrics.roc_auc_score(truth, score))
    assert report["f1"] == pytest.approx(metrics.f1_score(truth, predicted))
    assert report["log_loss"] == pytest.approx(metrics.log_loss(truth, score))
    fpr, tpr, _ = metrics.roc_curve(truth, score)
    assert report["ks"] == pytest.approx(np.max(tpr - fpr))
    lift = report.tables["lift"]
    assert [row["rows"] for row in lift] == [len(part) for part in np.array_split(np.arange(len(truth)), 10)]
    assert sum(row["positives"] for row in lift) == truth.sum()
    assert lift[-1]["cumulative_gain"] == pytest.approx(1.0)
    top = np.argsort(-score, kind="stable")[: lift[0]["rows"]]
    assert report["lift_top_decile"] == pytest.approx(truth[top].mean() / truth.mean())
    assert {"roc", "pr", "lift", "gain"} <= set(report.figures)


def test_multiclass_matches_sklearn(scored_multiclass):
    report = multiclass_classification(scored_multiclass, label="target")
    truth, predicted = scored_multiclass["target"], scored_multiclass["prediction"]
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted))
    for average in ("macro", "micro", "weighted"):
        assert report[f"f1_{average}"] == pytest.approx(metrics.f1_score(truth, predicted, average=average))
    assert report["kappa"] == pytest.approx(metrics.cohen_kappa_score(truth, predicted))
    probabilities = scored_multiclass[["prob_0", "prob_1", "prob_2"]].to_numpy()
    assert report["log_loss"] == pytest.approx(metrics.log_loss(truth, probabilities))
    assert report["auc_ovr"] == pytest.approx(metrics.roc_auc_score(truth, probabilities, multi_class="ovr"))
    matrix = metrics.confusion_matrix(truth, predicted)
    assert [row["count"] for row in report.tables["confusion_matrix"]] == matrix.ravel().tolist()
    per_class = metrics.classification_report(truth, predicted, output_dict=True)
    assert [row["recall"] for row in report.tables["per_class"]] == pytest.approx([per_class[str(c)]["recall"] for c in range(3)])
    assert report.figures["confusion_matrix"]["mark"] == "rect"


def test_regression_matches_sklearn():
    frame = frame_of("diabetes")
    names = [name for name in frame.columns if name != "target"]
    fitted = Ridge(alpha=1.0).fit(frame[names], frame["target"])
    scored = pd.DataFrame({"target": frame["target"], "prediction": fitted.predict(frame[names])})
    report = regression(scored, label="target")
    truth, predicted = scored["target"], scored["prediction"]
    assert report["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
    assert report["mse"] == pytest.approx(metrics.mean_squared_error(truth, predicted))
    assert report["rmse"] == pytest.approx(metrics.root_mean_squared_error(truth, predicted))
    assert report["r2"] == pytest.approx(metrics.r2_score(truth, predicted))
    assert report["mape"] == pytest.approx(metrics.mean_absolute_percentage_error(truth, predicted))
    assert report["explained_variance"] == pytest.approx(metrics.explained_variance_score(truth, predicted))
    assert len(report.figures["residuals"]["data"]["values"]) == len(scored)


def test_clustering_matches_sklearn():
    frame = frame_of("iris")
    names = [name for name in frame.columns if name != "target"]
    frame["cluster"] = KMeans(3, n_init=10, random_state=0).fit_predict(frame[names])
    report = clustering(frame, cluster_column="cluster", features=names, label="target", sample_size=0)
    X, assigned = frame[names].to_numpy(), frame["cluster"].to_numpy()
    assert report["silhouette"] == pytest.approx(metrics.silhouette_score(X, assigned))
    assert report["calinski_harabasz"] == pytest.approx(metrics.calinski_harabasz_score(X, assigned))
    assert report["davies_bouldin"] == pytest.approx(metrics.davies_bouldin_score(X, assigned))
    assert report["adjusted_rand_index"] == pytest.approx(metrics.adjusted_rand_score(frame["target"], assigned))
    assert report["normalized_mutual_information"] == pytest.approx(metrics.normalized_mutual_info_score(frame["target"], assigned))
    assert sum(row["rows"] for row in report.tables["clusters"]) == 150


def test_ranking_matches_sklearn_per_user():
    rng = np.random.default_rng(3)
    rows = [(user, item, rng.random(), int(rng.integers(0, 4))) for user in range(30) for item in range(12)]
    table = pd.DataFrame(rows, columns=["user", "item", "score", "relevance"])
    k = 5
    report = ranking(table, user_column="user", item_column="item", score_column="score", relevance_column="relevance", k=k)
    ndcg, precision, recall = [], [], []
    for _, group in table.groupby("user"):
        if group["relevance"].sum() == 0:
            continue
        ndcg.append(metrics.ndcg_score([group["relevance"]], [group["score"]], k=k))
        top = group.nlargest(k, "score")
        precision.append((top["relevance"] > 0).sum() / k)
        recall.append((top["relevance"] > 0).sum() / (group["relevance"] > 0).sum())
    assert report["ndcg_at_k"] == pytest.approx(np.mean(ndcg))
    assert report["precision_at_k"] == pytest.approx(np.mean(precision))
    assert report["recall_at_k"] == pytest.approx(np.mean(recall))
    full = ranking(table, user_column="user", score_column="score", relevance_column="relevance", k=12)
    average_precision = [metrics.average_precision_score(g["relevance"] > 0, g["score"]) for _, g in table.groupby("user") if g["relevance"].sum()]
    assert full["map_at_k"] == pytest.approx(np.mean(average_precision))
    assert [row["k"] for row in full.tables["at_cutoff"]] == list(range(1, 13))


def test_cross_validate_matches_cross_val_score():
    frame = frame_of("breast_cancer")
    report = cross_validate(frame, trainer="classification.logistic_regression", label="target", folds=4, seed=3, params={"C": 0.5})
    estimator = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
    expected = cross_val_score(estimator, frame.drop(columns="target"), frame["target"], cv=StratifiedKFold(4, shuffle=True, random_state=3), scoring="roc_auc")
    assert report["metric"] == "auc"
    assert [row["auc"] for row in report.tables["folds"]] == pytest.approx(expected.tolist())
    assert report["mean"] == pytest.approx(expected.mean())
    assert report["std"] == pytest.approx(expected.std())
    accuracy = cross_val_score(estimator, frame.drop(columns="target"), frame["target"], cv=StratifiedKFold(4, shuffle=True, random_state=3), scoring="accuracy")
    assert report["accuracy_mean"] == pytest.approx(accuracy.mean())


@component("testing_eval.ridge", tags={"task": "regression"}, register=False)
def _ridge(data: pd.DataFrame, *, label: Annotated[Column, Param()], alpha: float = 1.0) -> ModelPackage:
    """A test-only trainer.

    Examples
    --------
    >>> 1
    1
    """
    features = [name for name in data.columns if name != label]
    return ModelPackage.from_estimator(Ridge(alpha=alpha).fit(data[features], data[label]), data, features=features, task="regression", label=label)


def test_cross_validate_any_trainer_regression(monkeypatch):
    monkeypatch.setitem(registry._components, "testing_eval.ridge", _ridge)
    frame = frame_of("diabetes")
    report = cross_validate(frame, trainer="testing_eval.ridge", label="target", folds=5, seed=1, params={"alpha": 0.3}, metric="rmse")
    splitter = KFold(5, shuffle=True, random_state=1)
    r2 = cross_val_score(Ridge(alpha=0.3), frame.drop(columns="target"), frame["target"], cv=splitter, scoring="r2")
    rmse = -cross_val_score(Ridge(alpha=0.3), frame.drop(columns="target"), frame["target"], cv=splitter, scoring="neg_root_mean_squared_error")
    assert report["r2_mean"] == pytest.approx(r2.mean())
    assert report["mean"] == pytest.approx(rmse.mean())
    assert report["fold_1_rmse"] == pytest.approx(rmse[0])


def test_cross_validate_rejects_a_non_trainer():
    frame = frame_of("iris")
    with pytest.raises(ParameterError, match="trainer"):
        cross_validate(frame, trainer="evaluation.regression", label="target")
    with pytest.raises(ParameterError, match="unknown component"):
        cross_validate(frame, trainer="classification.no_such_model", label="target")


def test_threshold_tuning_matches_brute_force(scored_binary):
    truth, score = scored_binary["target"].to_numpy(), scored_binary["prob_1"].to_numpy()
    best = threshold_tuning(scored_binary, label="target", criterion="f1")
    candidates = np.unique(score)
    f1 = [metrics.f1_score(truth, score >= t) for t in candidates]
    assert best["f1"] == pytest.approx(max(f1))
    assert best["threshold"] == pytest.approx(candidates[len(f1) - 1 - int(np.argmax(f1[::-1]))])
    youden = threshold_tuning(scored_binary, label="target", criterion="youden")
    fpr, tpr, thresholds = metrics.roc_curve(truth, score, drop_intermediate=False)
    assert youden["youden"] == pytest.approx(np.max(tpr - fpr))
    cost = threshold_tuning(scored_binary, label="target", criterion="cost", cost_false_positive=1, cost_false_negative=10)
    totals = [((score >= t) & (truth == 0)).sum() + 10 * ((score < t) & (truth == 1)).sum() for t in candidates]
    assert cost["cost"] == min(totals)
    assert cost["recall"] >= best["recall"]


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_matches_sklearn(scored_binary, strategy):
    truth, score = scored_binary["target"].to_numpy(), scored_binary["prob_1"].to_numpy()
    report = calibration(scored_binary, label="target", bins=8, strategy=strategy)
    observed, predicted = calibration_curve(truth, score, n_bins=8, strategy=strategy)
    assert [row["positive_rate"] for row in report.tables["bins"]] == pytest.approx(observed.tolist())
    assert [row["mean_prediction"] for row in report.tables["bins"]] == pytest.approx(predicted.tolist())
    assert report["brier_score"] == pytest.approx(metrics.brier_score_loss(truth, score))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regression(pd.DataFrame({"y": [1.0, 2.0], "prediction": ["a", 2.0]}), label="y"), "not numeric: row 0"),
        (lambda: regression(pd.DataFrame({"y": [1.0, None], "prediction": [1.0, 2.0]}), label="y"), "missing value.*row 1"),
        (lambda: multiclass_classification(pd.DataFrame({"y": [], "prediction": []}), label="y"), "empty"),
        (lambda: binary_classification(pd.DataFrame({"y": [0, 1]}), label="y"), "no score column 'prob_1'"),
        (lambda: threshold_tuning(pd.DataFrame({"y": [1, 1], "prob_1": [0.2, 0.3]}), label="y"), "only one class"),
        (lambda: calibration(pd.DataFrame({"y": [0, 1], "prob_1": [0.2, 3.0]}), label="y"), "between 0 and 1"),
        (lambda: clustering(pd.DataFrame({"x": [1.0, 2.0], "c": [0, 0]}), cluster_column="c"), "1 cluster"),
        (lambda: ranking(pd.DataFrame({"u": [1], "s": [0.5], "r": [0]}), user_column="u", score_column="s", relevance_column="r"), "no user has a relevant row"),
        (lambda: cross_validate(frame_of("iris").head(3), trainer="classification.logistic_regression", label="target", folds=5), "fewer than folds"),
    ],
)
def test_errors_say_what_and_where(call, message):
    with pytest.raises(DataError, match=message):
        call()


def test_missing_column_is_named():
    with pytest.raises(DataError, match="column 'nope' not found"):
        tidal.get_component("evaluation.regression").run_eager(pd.DataFrame({"y": [1.0]}), label="nope")


def test_evaluation_in_a_pipeline(tmp_path):
    frame = frame_of("breast_cancer")
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    with tidal.Pipeline("evaluate") as pipeline:
        table = tidal.get_component("io.read_csv")(path="cancer.csv")
        parts = tidal.get_component("data.split")(table, fraction=0.7, seed=0)
        model = logistic_regression(parts.train, label="target")
        scored = predict(model, parts.test)
        binary_classification(scored, label="target", _id="evaluate")
        threshold_tuning(scored, label="target", _id="tune")
        cross_validate(table, trainer="classification.logistic_regression", label="target", folds=3, _id="cv")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok, result.run.error if hasattr(result.run, "error") else result.status
    assert result.output("evaluate")["auc"] > 0.95
    assert "lift" in result.output("evaluate").figures
    assert 0 < result.output("tune")["threshold"] < 1
    assert result.output("cv")["mean"] > 0.95
