"""Recommendation components against direct numpy / scikit-learn computations on generated ratings."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity

import tidal
from tidal.components.recommendation import (
    als,
    factorization_machine,
    item_cf,
    popularity,
    swing,
    user_cf,
)
from tidal.components.recommendation_ranking import negative_sampling, ranking_evaluation, recommend
from tidal.core import DataError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEYS = {"user_column": "user", "item_column": "item"}


def movielens_like(users: int = 40, items: int = 30, rank: int = 3, seed: int = 0) -> pd.DataFrame:
    """Ratings 1-5 from a low-rank taste model; users rate the items they like more often."""
    rng = np.random.default_rng(seed)
    taste, traits = rng.normal(scale=0.8, size=(users, rank)), rng.normal(scale=0.8, size=(items, rank))
    rows = []
    for user in range(users):
        affinity = taste[user] @ traits.T
        weights = np.exp(affinity) / np.exp(affinity).sum()
        for item in rng.choice(items, size=int(rng.integers(6, 16)), replace=False, p=weights):
            rows.append((user, f"m{item:02d}", float(np.clip(np.round(3.0 + affinity[item]), 1, 5))))
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return movielens_like()


def dense(model, frame: pd.DataFrame) -> np.ndarray:
    estimator = model.model
    matrix = np.zeros((len(estimator.user_ids_), len(estimator.item_ids_)))
    rows = [estimator.user_ids_.index(user) for user in frame["user"]]
    cols = [estimator.item_ids_.index(item) for item in frame["item"]]
    matrix[rows, cols] = frame["rating"].to_numpy()
    return matrix


def test_explicit_als_solves_the_normal_equations(ratings):
    model = als(ratings, **KEYS, rating_column="rating", factors=3, regularization=0.5, iterations=15, seed=1)
    estimator = model.model
    matrix = dense(model, ratings)
    users, items = estimator.user_factors_, estimator.item_factors_
    for item in range(matrix.shape[1]):  # the last half-step solved each item vector exactly
        rated = np.flatnonzero(matrix[:, item])
        block = users[rated]
        expected = np.linalg.solve(block.T @ block + 0.5 * np.eye(3), block.T @ (matrix[rated, item] - estimator.mean_))
        np.testing.assert_allclose(items[item], expected, rtol=1e-8, atol=1e-10)
    predicted = model.predict(ratings)
    np.testing.assert_allclose(predicted, estimator.mean_ + np.sum(users[[estimator.user_ids_.index(u) for u in ratings["user"]]] * items[[estimator.item_ids_.index(i) for i in ratings["item"]]], axis=1))
    assert np.sqrt(np.mean((predicted - ratings["rating"]) ** 2)) < 0.6


def test_implicit_als_matches_the_dense_weighted_least_squares(ratings):
    model = als(ratings, **KEYS, rating_column="rating", feedback="implicit", factors=4, regularization=2.0, alpha=3.0, iterations=6)
    estimator = model.model
    matrix = dense(model, ratings)
    users = estimator.user_factors_
    preference = (matrix > 0).astype(float)
    for item in range(0, matrix.shape[1], 5):
        confidence = np.diag(1 + 3.0 * matrix[:, item])
        expected = np.linalg.solve(users.T @ confidence @ users + 2.0 * np.eye(4), users.T @ confidence @ preference[:, item])
        np.testing.assert_allclose(estimator.item_factors_[item], expected, rtol=1e-7, atol=1e-10)
    unknown = pd.DataFrame({"user": [999], "item": ["m00"]})
    assert model.predict(unknown).tolist() == [0.0]


def test_als_is_deterministic_under_seed(ratings):
    first = als(ratings, **KEYS, rating_column="rating", seed=3).predict(ratings)
    again = als(ratings, **KEYS, rating_column="rating", seed=3).predict(ratings)
    other = als(ratings, **KEYS, rating_column="rating", seed=4).predict(ratings)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.parametrize("kind", ["item", "user"])
def test_neighborhood_scores_match_sklearn_cosine(ratings, kind):
    trainer = item_cf if kind == "item" else user_cf
    model = trainer(ratings, **KEYS, rating_column="rating", neighbors=1000)
    matrix = dense(model, ratings)
    similarity = cosine_similarity(matrix.T if kind == "item" else matrix)
    np.fill_diagonal(similarity, 0.0)
    np.testing.assert_allclose(model.model.similarity_, similarity, atol=1e-12)
    expected = matrix @ similarity.T if kind == "item" else similarity @ matrix
    users = [model.model.user_ids_.index(user) for user in ratings["user"]]
    items = [model.model.item_ids_.index(item) for item in ratings["item"]]
    np.testing.assert_allclose(model.predict(ratings), expected[users, items], rtol=1e-10)
    averaged = trainer(ratings, **KEYS, rating_column="rating", neighbors=1000, aggregate="weighted_average")
    assert averaged.predict(ratings).max() <= 5.0 + 1e-9


def test_neighbors_keep_only_the_most_similar(ratings):
    model = item_cf(ratings, **KEYS, neighbors=3)
    assert ((model.model.similarity_ != 0).sum(axis=1) <= 3).all()


def swing_reference(pairs: list[tuple[int, str]], alpha: float) -> dict[tuple[str, str], float]:
    """Swing by its definition, with plain Python sets (user pairs u < v, user weights 1/sqrt(|I_u|))."""
    chosen: dict[int, set[str]] = {}
    for user, item in pairs:
        chosen.setdefault(user, set()).add(item)
    scores: dict[tuple[str, str], float] = {}
    users = sorted(chosen)
    for a, u in enumerate(users):
        for v in users[a + 1 :]:
            common = chosen[u] & chosen[v]
            weight = (len(chosen[u]) ** -0.5) * (len(chosen[v]) ** -0.5) / (alpha + len(common))
            for i in common:
                for j in common:
                    if i != j:
                        scores[(i, j)] = scores.get((i, j), 0.0) + weight
    return scores


def test_swing_matches_its_definition(ratings):
    model = swing(ratings, **KEYS, alpha=0.5, neighbors=1000)
    reference = swing_reference(list(zip(ratings["user"], ratings["item"], strict=True)), 0.5)
    ids = model.model.item_ids_
    expected = np.zeros((len(ids), len(ids)))
    for (i, j), value in reference.items():
        expected[ids.index(i), ids.index(j)] = value
    np.testing.assert_allclose(model.model.similarity_, expected, rtol=1e-10, atol=1e-14)


def test_popularity_counts_users(ratings):
    model = popularity(ratings, **KEYS)
    counts = ratings.groupby("item")["user"].nunique()
    scored = model.predict(pd.DataFrame({"user": -1, "item": counts.index}))
    np.testing.assert_array_equal(scored, counts.to_numpy(dtype=float))
    with pytest.raises(DataError, match="rating_column"):
        popularity(ratings, **KEYS, measure="rating_sum")


def held_out_auc(model, train: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    seen = set(zip(train["user"], train["item"], strict=True)) | set(zip(test["user"], test["item"], strict=True))
    items = sorted(train["item"].unique())
    negatives = []
    for user in test["user"]:
        while (candidate := items[int(rng.integers(len(items)))]) and (user, candidate) in seen:
            continue
        negatives.append((user, candidate))
    frame = pd.concat([test[["user", "item"]], pd.DataFrame(negatives, columns=["user", "item"])], ignore_index=True)
    labels = np.r_[np.ones(len(test)), np.zeros(len(negatives))]
    return roc_auc_score(labels, model.predict(frame))


def test_factorization_machine_follows_its_formula_and_beats_popularity_on_held_out_items():
    ratings = movielens_like(users=200, items=50, seed=1)
    test_rows = ratings.iloc[::5]
    train_rows = ratings.drop(index=test_rows.index)
    model = factorization_machine(train_rows, **KEYS, epochs=40, factors=4, seed=2)
    fm = model.model
    u = [fm.user_ids_.index(user) for user in train_rows["user"]]
    i = [fm.item_ids_.index(item) for item in train_rows["item"]]
    formula = fm.bias_ + fm.user_weights_[u] + fm.item_weights_[i] + np.sum(fm.user_factors_[u] * fm.item_factors_[i], axis=1)
    np.testing.assert_allclose(model.predict(train_rows), formula, rtol=1e-12)
    known = test_rows[test_rows["user"].isin(train_rows["user"]) & test_rows["item"].isin(train_rows["item"])]
    baseline = held_out_auc(popularity(train_rows, **KEYS), train_rows, known)
    assert held_out_auc(model, train_rows, known) > baseline + 0.05
    assert held_out_auc(als(train_rows, **KEYS, feedback="implicit", factors=4, regularization=5.0, alpha=1.0), train_rows, known) > baseline + 0.05


def test_logistic_factorization_machine_with_sampled_negatives(ratings):
    labelled = negative_sampling(ratings, **KEYS, ratio=2, seed=1)
    model = factorization_machine(labelled, **KEYS, label_column="label", loss="logistic", epochs=40, seed=0)
    scores = model.predict(labelled)
    assert ((scores > 0) & (scores < 1)).all()
    assert roc_auc_score(labelled["label"], scores) > 0.8
    with pytest.raises(DataError, match="loss='logistic'"):
        factorization_machine(labelled, **KEYS, label_column="label")
    with pytest.raises(DataError, match="0 or 1"):
        factorization_machine(ratings, **KEYS, label_column="rating", loss="logistic")


@pytest.mark.parametrize("strategy", ["uniform", "popularity"])
def test_negative_sampling_draws_unchosen_items(ratings, strategy):
    sampled = negative_sampling(ratings, **KEYS, ratio=2, strategy=strategy, seed=5)
    positives, negatives = sampled[sampled["label"] == 1], sampled[sampled["label"] == 0]
    assert len(positives) == len(ratings.drop_duplicates(["user", "item"]))
    chosen = set(zip(ratings["user"], ratings["item"], strict=True))
    assert not any(pair in chosen for pair in zip(negatives["user"], negatives["item"], strict=True))
    assert not negatives.duplicated(["user", "item"]).any()
    catalog = ratings["item"].nunique()
    expected = ratings.groupby("user")["item"].nunique().map(lambda n: min(2 * n, catalog - n))
    pd.testing.assert_series_equal(negatives.groupby("user").size(), expected, check_names=False)
    pd.testing.assert_frame_equal(sampled, negative_sampling(ratings, **KEYS, ratio=2, strategy=strategy, seed=5))


def test_recommend_ranks_every_unseen_item_by_the_models_score(ratings):
    model = als(ratings, **KEYS, rating_column="rating", feedback="implicit", factors=4)
    top = recommend(model, ratings, user_column="user", top_n=5)
    items = sorted(ratings["item"].unique())
    for user in [0, 7, 19]:
        unseen = [item for item in items if item not in set(ratings.loc[ratings["user"] == user, "item"])]
        scores = model.predict(pd.DataFrame({"user": user, "item": unseen}))
        best = [unseen[index] for index in np.argsort(-scores, kind="stable")[:5]]
        mine = top[top["user"] == user].sort_values("rank")
        assert mine["item"].tolist() == best
        np.testing.assert_allclose(mine["score"], np.sort(scores)[::-1][:5])
    assert top.groupby("user").size().max() == 5
    assert top["user"].dtype == ratings["user"].dtype
    with_seen = recommend(model, ratings, user_column="user", top_n=5, exclude_seen=False)
    assert with_seen.merge(ratings, on=["user", "item"]).shape[0] > 0
    assert recommend(model, pd.DataFrame({"user": [12345]}), user_column="user").empty


def test_recommend_keeps_the_best_candidate_rows_of_any_model():
    from sklearn.datasets import load_breast_cancer

    from tidal.components.classification import logistic_regression

    frame = load_breast_cancer(as_frame=True).frame.iloc[:200].copy()
    model = logistic_regression(frame, label="target")
    frame["user"] = np.arange(len(frame)) % 4
    top = recommend(model, frame, user_column="user", top_n=3)
    probability = model.predict_proba(frame)[:, 1]
    for user in range(4):
        expected = np.sort(probability[frame["user"].to_numpy() == user])[::-1][:3]
        np.testing.assert_allclose(top.loc[top["user"] == user, "score"], expected)
    assert top["rank"].tolist() == [1, 2, 3] * 4


def direct_metrics(ranked: dict, relevant: dict, k: int) -> dict[str, float]:
    precision, recall, ndcg, hits = [], [], [], []
    for user, wanted in relevant.items():
        top = ranked.get(user, [])[:k]
        gains = [1.0 if item in wanted else 0.0 for item in top]
        dcg = sum(g / np.log2(r + 2) for r, g in enumerate(gains))
        ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(wanted))))
        precision.append(sum(gains) / k)
        recall.append(sum(gains) / len(wanted))
        ndcg.append(dcg / ideal)
        hits.append(float(sum(gains) > 0))
    return {"precision_at_k": np.mean(precision), "recall_at_k": np.mean(recall), "ndcg_at_k": np.mean(ndcg), "hit_rate_at_k": np.mean(hits)}


def test_ranking_evaluation_matches_direct_formulas_and_sklearn(ratings):
    rng = np.random.default_rng(0)
    items = sorted(ratings["item"].unique())
    recs = pd.DataFrame([(user, item, float(rng.random())) for user in range(0, 40, 2) for item in items], columns=["user", "item", "score"])
    truth = ratings[ratings["rating"] >= 4]
    result = ranking_evaluation(recs, ratings, **KEYS, k=5, score_column="score", rating_column="rating", min_rating=4)
    ordered = recs.sort_values("score", ascending=False, kind="stable")
    ranked = {user: list(group) for user, group in ordered.groupby("user")["item"]}
    relevant = {user: set(group) for user, group in truth.groupby("user")["item"]}
    for name, value in direct_metrics(ranked, relevant, 5).items():
        assert result[name] == pytest.approx(value)
    assert result["users"] == len(relevant)
    covered = {user: relevant[user] for user in ranked if user in relevant}  # every relevant item is a candidate
    by_sklearn = np.mean([
        ndcg_score([[float(item in covered[user]) for item in items]], [recs.loc[recs["user"] == user, "score"].to_numpy()], k=5)
        for user in covered
    ])
    only_covered = ranking_evaluation(recs, truth[truth["user"].isin(list(covered))], **KEYS, k=5, score_column="score")
    assert only_covered["ndcg_at_k"] == pytest.approx(by_sklearn)
    assert [row["k"] for row in result.tables["by_k"]] == [1, 2, 3, 4, 5]
    assert result.tables["by_k"][-1]["ndcg"] == pytest.approx(result["ndcg_at_k"])


def test_errors_name_the_problem(ratings):
    spec = tidal.get_component("recommendation.als")
    with pytest.raises(DataError, match="'stars' not found"):
        spec.execute({"data": ratings}, {**KEYS, "rating_column": "stars"})
    with pytest.raises(DataError, match="must be numeric"):
        als(ratings.assign(rating="five"), **KEYS, rating_column="rating")
    with pytest.raises(DataError, match="empty"):
        item_cf(ratings.iloc[0:0], **KEYS)
    broken = ratings.copy()
    broken.loc[3, "user"] = None
    with pytest.raises(DataError, match="column 'user' has 1 missing value.*row 3"):
        swing(broken, **KEYS)
    with pytest.raises(DataError, match="negative value at row 0"):
        als(ratings.assign(rating=-1.0), **KEYS, rating_column="rating", feedback="implicit")
    with pytest.raises(DataError, match="both 'user'"):
        als(ratings, user_column="user", item_column="user")
    with pytest.raises(DataError, match="input 'truth' has no column"):
        ranking_evaluation(ratings, ratings[["user"]], **KEYS)


def test_model_package_round_trip_keeps_string_ids(tmp_path, ratings):
    model = swing(ratings, **KEYS)
    loaded = tidal.load_model(model.save_archive(tmp_path / "swing.zip"))
    np.testing.assert_array_equal(loaded.predict(ratings), model.predict(ratings))
    assert loaded.model.item_ids_[:2] == ["m00", "m01"]


def test_example_pipeline_runs(tmp_path):
    shutil.copytree(EXAMPLES / "data", tmp_path / "examples" / "data")
    shutil.copy(EXAMPLES / "recommendation.yaml", tmp_path / "examples")
    result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "recommendation.yaml"), workspace=tmp_path, workers=0)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    als_quality = result.output("als_eval")["ndcg_at_k"]
    assert als_quality > result.output("popular_eval")["ndcg_at_k"]
    top = result.output("als_top10").to_pandas()
    assert top.groupby("user").size().max() == 10
