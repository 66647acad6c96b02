"""Recommendation: negative sampling, top-N recommendation and ranking evaluation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from tidal.components._charts import bar_chart
from tidal.components._recommenders import InteractionModel, interactions
from tidal.core import Column, DataError, Metrics, Param, component
from tidal.models import ModelPackage


def _require_columns(data: pd.DataFrame, names: list[str | None], port: str) -> None:
    missing = [name for name in names if name is not None and name not in data.columns]
    if missing:
        shown = ", ".join(map(str, list(data.columns)[:20]))
        raise DataError(f"input '{port}' has no column(s) {', '.join(map(repr, missing))} (columns: {shown})")


def _no_missing(data: pd.DataFrame, name: str, port: str) -> None:
    missing = data[name].isna().to_numpy()
    if missing.any():
        raise DataError(f"input '{port}': column '{name}' has {int(missing.sum())} missing value(s), the first at row {int(np.flatnonzero(missing)[0])}")


@component("recommendation.negative_sampling", title="Negative Sampling", tags={"sample": "ratings", "deterministic_under_seed": True})
def negative_sampling(
    data: pd.DataFrame,
    *,
    user_column: Annotated[Column, Param(help="the column holding user ids")],
    item_column: Annotated[Column, Param(help="the column holding item ids")],
    ratio: Annotated[int, Param(ge=1, help="negatives drawn per positive row of a user")] = 1,
    strategy: Annotated[Literal["uniform", "popularity"], Param(help="uniform: every unchosen item equally likely; popularity: in proportion to how often it was chosen")] = "uniform",
    label_column: Annotated[str, Param(help="name of the 0/1 label column added")] = "label",
    seed: Annotated[int, Param(ge=0, help="random seed; the same seed gives the same sample")] = 0,
) -> pd.DataFrame:
    """Add sampled negatives to implicit feedback: the observed pairs get label 1, sampled ones 0.

    For each user, ``ratio`` items per chosen item are drawn without replacement from the items the
    user never chose (fewer when the catalog runs out). The catalog is every item in the table.
    The output has the user, item and label columns, positives first, then the sampled negatives.

    Examples
    --------
    >>> import pandas as pd
    >>> clicks = pd.DataFrame({"user": [1, 1, 2], "item": ["a", "b", "c"]})
    >>> sampled = negative_sampling(clicks, user_column="user", item_column="item", seed=3)
    >>> sampled["label"].tolist(), sampled.loc[sampled["label"] == 0, "user"].tolist()
    ([1, 1, 1, 0, 0], [1, 2])
    """
    users, items, _ = interactions(data, user_column, item_column, None, implicit=True)
    if label_column in (user_column, item_column):
        raise DataError(f"parameter 'label_column': '{label_column}' is already the user or item column; choose another name")
    positives = pd.DataFrame({user_column: users, item_column: items}).drop_duplicates()
    catalog, counts = np.unique(positives[item_column].to_numpy(), return_counts=True)
    rng = np.random.default_rng(seed)
    sampled_users: list[Any] = []
    sampled_items: list[Any] = []
    for user, chosen in positives.groupby(user_column, sort=True)[item_column]:
        pool = ~np.isin(catalog, chosen.to_numpy())
        size = min(ratio * len(chosen), int(pool.sum()))
        if size == 0:
            continue
        weights = counts[pool] / counts[pool].sum() if strategy == "popularity" else None
        picked = rng.choice(catalog[pool], size=size, replace=False, p=weights)
        sampled_users.extend([user] * size)
        sampled_items.extend(picked.tolist())
    negatives = pd.DataFrame({user_column: pd.Series(sampled_users, dtype=positives[user_column].dtype), item_column: pd.Series(sampled_items, dtype=positives[item_column].dtype)})
    result = pd.concat([positives.assign(**{label_column: 1}), negatives.assign(**{label_column: 0})], ignore_index=True)
    result[label_column] = result[label_column].astype("int64")
    return result


@component("recommendation.recommend", title="Top-N Recommendation", tags={"sample": "ratings", "sample_model": "recommendation.als"})
def recommend(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    user_column: Annotated[Column, Param(help="the column holding user ids")],
    top_n: Annotated[int, Param(ge=1, help="recommendations per user")] = 10,
    exclude_seen: Annotated[bool, Param(help="recommender models: leave out items the user chose in training")] = True,
    score_column: Annotated[str, Param(help="name of the score column added")] = "score",
    rank_column: Annotated[str, Param(help="name of the rank column added (1 = best)")] = "rank",
) -> pd.DataFrame:
    """The ``top_n`` best items for each user, from a recommender or any scoring model.

    With a recommender model (``recommendation.als``, ``item_cf``, ``swing`` ...), ``data`` lists the
    users: each distinct user gets the best-scored items of the whole catalog, without the items
    they chose in training unless ``exclude_seen`` is false; users unknown to the model get none.
    With any other model (a click-through classifier, a regression), ``data`` holds candidate rows:
    each row is scored (positive-class probability for classifiers) and the ``top_n`` rows of each
    user are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> from tidal.components.recommendation import item_cf
    >>> bought = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "c", "a"]})
    >>> model = item_cf(bought, user_column="user", item_column="item")
    >>> recommend(model, pd.DataFrame({"user": [3]}), user_column="user", top_n=2)
       user item    score  rank
    0     3    b  0.57735     1
    1     3    c  0.57735     2
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no users to recommend for")
    _no_missing(data, user_column, "data")
    if isinstance(model.model, InteractionModel):
        item_column = model.features[1]
        result = model.model.recommend(data[user_column], top_n, exclude_seen)
        result.columns = [user_column, item_column, score_column, rank_column]
        if len(result):
            result[user_column] = result[user_column].astype(data[user_column].dtype)
        return result
    if model.task in ("binary", "multiclass"):
        scores = model.predict_proba(data)[:, -1]
    else:
        scores = np.asarray(model.predict(data), dtype=float)
    result = data.drop(columns=[name for name in (score_column, rank_column) if name in data.columns]).copy()
    result[score_column] = scores
    result = result.iloc[np.lexsort((np.arange(len(result)), -scores))]
    result[rank_column] = result.groupby(user_column, sort=False).cumcount() + 1
    result = result[result[rank_column] <= top_n]
    return result.sort_values([user_column, rank_column], kind="stable").reset_index(drop=True)


def ranking_metrics(ranked: dict[Any, list[Any]], relevant: dict[Any, set[Any]], k: int) -> dict[str, float]:
    """Mean precision, recall, NDCG, hit rate and MAP at ``k`` over the users in ``relevant``."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    totals = dict.fromkeys(("precision", "recall", "ndcg", "hit_rate", "map"), 0.0)
    for user, wanted in relevant.items():
        hits = np.array([item in wanted for item in ranked.get(user, [])[:k]], dtype=float)
        found = hits.sum()
        ideal = discounts[: min(k, len(wanted))].sum()
        totals["precision"] += found / k
        totals["recall"] += found / len(wanted)
        totals["ndcg"] += float((hits * discounts[: len(hits)]).sum() / ideal)
        totals["hit_rate"] += float(found > 0)
        precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        totals["map"] += float((precision_at * hits).sum() / min(k, len(wanted)))
    return {name: float(value / len(relevant)) for name, value in totals.items()}


@component("recommendation.ranking_evaluation", title="Ranking Evaluation", tags={"sample": "ratings", "evaluation": "ranking"})
def ranking_evaluation(
    recommendations: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    user_column: Annotated[Column, Param(help="user ids, in both tables")],
    item_column: Annotated[Column, Param(help="item ids, in both tables")],
    k: Annotated[int, Param(ge=1, help="cut-off: only the first k recommendations of a user count")] = 10,
    score_column: Annotated[Column | None, Param(help="order each user's recommendations by this score, highest first; empty keeps the table's order")] = None,
    rating_column: Annotated[Column | None, Param(column_of="truth", help="truth rows count as relevant only when this column is >= min_rating")] = None,
    min_rating: Annotated[float, Param(help="smallest rating that counts as relevant")] = 0.0,
) -> Metrics:
    """Precision@k, recall@k, NDCG@k, hit rate@k and MAP@k of top-N recommendations.

    ``truth`` holds the items each user actually chose (for example a held-out test split).
    Every user with at least one relevant item is evaluated; users without recommendations score 0.
    NDCG uses binary relevance and the ideal ranking of min(k, relevant items) hits.
    The table ``by_k`` has every metric for cut-offs 1 to k.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user": [1, 1, 2, 2], "item": ["a", "b", "c", "d"]})
    >>> held_out = pd.DataFrame({"user": [1, 2], "item": ["b", "x"]})
    >>> result = ranking_evaluation(recs, held_out, user_column="user", item_column="item", k=2)
    >>> result["precision_at_k"], result["recall_at_k"], round(result["ndcg_at_k"], 4)
    (0.25, 0.5, 0.3155)
    """
    _require_columns(truth, [user_column, item_column, rating_column], "truth")
    if len(truth) == 0:
        raise DataError("input 'truth' is empty: there are no relevant items to compare with")
    if len(recommendations) == 0:
        raise DataError("input 'recommendations' is empty; check the upstream recommend node")
    for port, table in (("recommendations", recommendations), ("truth", truth)):
        _no_missing(table, user_column, port)
        _no_missing(table, item_column, port)
    relevant_rows = truth
    if rating_column is not None:
        ratings = pd.to_numeric(truth[rating_column], errors="coerce")
        relevant_rows = truth[ratings >= min_rating]
        if len(relevant_rows) == 0:
            raise DataError(f"no truth row has '{rating_column}' >= {min_rating}; lower 'min_rating'")
    ordered = recommendations
    if score_column is not None:
        if not pd.api.types.is_numeric_dtype(recommendations[score_column]):
            raise DataError(f"score column '{score_column}' ({recommendations[score_column].dtype}) must be numeric")
        ordered = recommendations.sort_values(score_column, ascending=False, kind="stable")
    ranked = {user: list(dict.fromkeys(items)) for user, items in ordered.groupby(user_column, sort=False)[item_column]}
    relevant = {user: set(items) for user, items in relevant_rows.groupby(user_column, sort=False)[item_column]}
    values: dict[str, Any] = {f"{name}_at_k": value for name, value in ranking_metrics(ranked, relevant, k).items()}
    values.update({"k": k, "users": len(relevant), "users_with_recommendations": len(set(ranked) & set(relevant))})
    by_k = [{"k": cut, **ranking_metrics(ranked, relevant, cut)} for cut in range(1, k + 1)]
    names = ["precision_at_k", "recall_at_k", "ndcg_at_k", "hit_rate_at_k", "map_at_k"]
    figure = bar_chart(names, [values[name] for name in names], x="metric", y="value", title=f"Ranking metrics at k={k}")
    return Metrics(values, figures={"metrics": figure}, tables={"by_k": by_k})
