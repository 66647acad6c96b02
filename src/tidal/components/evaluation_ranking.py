"""Evaluation of ranked recommendations: precision@k, recall@k, NDCG, MAP and friends."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd

from tidal.components._charts import series_chart
from tidal.components.evaluation import numeric_column, require_scored_rows
from tidal.core import Column, DataError, Metrics, Param, component


def _cutoff_scores(frame: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """Per-user metrics at one cutoff; ``frame`` is sorted by user then rank."""
    top = frame["rank"] <= cutoff
    ideal_top = frame["ideal_rank"] <= cutoff
    parts = pd.DataFrame(
        {
            "user": frame["user"],
            "hit": frame["relevant"] & top,
            "dcg": np.where(top, frame["gain"] / np.log2(frame["rank"] + 1), 0.0),
            "idcg": np.where(ideal_top, frame["ideal_gain"] / np.log2(frame["ideal_rank"] + 1), 0.0),
            "precision_sum": np.where(frame["relevant"] & top, frame["hits_so_far"] / frame["rank"], 0.0),
            "reciprocal": np.where(frame["relevant"] & top & (frame["hits_so_far"] == 1), 1.0 / frame["rank"], 0.0),
            "n_relevant": frame["n_relevant"],
        }
    )
    users = parts.groupby("user", sort=True).agg(
        hits=("hit", "sum"), dcg=("dcg", "sum"), idcg=("idcg", "sum"), precision_sum=("precision_sum", "sum"),
        reciprocal=("reciprocal", "sum"), n_relevant=("n_relevant", "first"),
    )
    users = users[users["n_relevant"] > 0]
    return pd.DataFrame(
        {
            "precision": users["hits"] / cutoff,
            "recall": users["hits"] / users["n_relevant"],
            "ndcg": np.where(users["idcg"] > 0, users["dcg"] / users["idcg"].where(users["idcg"] > 0, 1.0), 0.0),
            "map": users["precision_sum"] / np.minimum(cutoff, users["n_relevant"]),
            "mrr": users["reciprocal"],
            "hit_rate": (users["hits"] > 0).astype(float),
        }
    )


@component(
    "evaluation.ranking",
    title="Ranking Evaluation",
    tags={"sample": "ratings", "evaluation": "ranking", "sample_params": {"score_column": "rating", "relevance_column": "rating"}},
)
def ranking(
    data: pd.DataFrame,
    *,
    user_column: Annotated[Column, Param(help="who the items were ranked for (a user, a query)")],
    score_column: Annotated[Column, Param(help="the model's score; higher ranks first")],
    relevance_column: Annotated[Column, Param(help="the true relevance (a rating, a click 0/1); the gain in NDCG")],
    item_column: Annotated[Column | None, Param(help="the ranked item; breaks ties between equal scores")] = None,
    k: Annotated[int, Param(ge=1, le=1000, help="the cutoff: only each user's top k items count")] = 10,
    relevance_threshold: Annotated[float, Param(help="a row is relevant when its relevance is above this")] = 0.0,
) -> Metrics:
    """Precision@k, recall@k, NDCG@k, MAP@k, MRR and hit rate over a table of (user, item, score, relevance).

    Each user's rows are ranked by score (ties by item, then by row order). A row is relevant
    when its relevance is above ``relevance_threshold``; NDCG uses the relevance itself as the
    gain (linear gain, as scikit-learn's ``ndcg_score``). Precision divides by ``k`` even when a
    user has fewer rows; MAP divides by min(k, relevant items). Users without any relevant row
    are left out of the averages (``users_without_relevant`` counts them). The ``at_cutoff``
    table and chart give the metrics for every cutoff from 1 to k.

    Examples
    --------
    >>> import pandas as pd
    >>> ranked = pd.DataFrame({"user": [1, 1, 1, 2, 2], "score": [0.9, 0.5, 0.1, 0.8, 0.3], "clicked": [1, 0, 1, 0, 1]})
    >>> report = ranking(ranked, user_column="user", score_column="score", relevance_column="clicked", k=2)
    >>> report["precision_at_k"], report["recall_at_k"], report["mrr"]
    (0.5, 0.75, 0.75)
    """
    require_scored_rows(data)
    frame = pd.DataFrame(
        {
            "user": data[user_column].astype(str).to_numpy(),
            "score": numeric_column(data, score_column, "score"),
            "gain": numeric_column(data, relevance_column, "relevance"),
            "item": data[item_column].astype(str).to_numpy() if item_column else np.zeros(len(data), dtype=int),
            "row": np.arange(len(data)),
        }
    )
    if (frame["gain"] < 0).any():
        row = int(np.flatnonzero(frame["gain"] < 0)[0])
        raise DataError(f"relevance column '{relevance_column}' has a negative value at row {row}; NDCG needs relevance >= 0")
    frame = frame.sort_values(["user", "score", "item", "row"], ascending=[True, False, True, True], kind="stable", ignore_index=True)
    frame["rank"] = frame.groupby("user", sort=False).cumcount() + 1
    frame["relevant"] = frame["gain"] > relevance_threshold
    frame["hits_so_far"] = frame.groupby("user", sort=False)["relevant"].cumsum()
    frame["n_relevant"] = frame.groupby("user", sort=False)["relevant"].transform("sum")
    ideal = frame.sort_values(["user", "gain"], ascending=[True, False], kind="stable")["gain"].to_numpy()
    frame["ideal_gain"] = ideal
    frame["ideal_rank"] = frame["rank"]
    users_total = frame["user"].nunique()
    curve = []
    for cutoff in range(1, k + 1):
        scores = _cutoff_scores(frame, cutoff)
        if scores.empty:
            raise DataError(
                f"no user has a relevant row (relevance above {relevance_threshold}); "
                "lower 'relevance_threshold' or check the relevance column"
            )
        curve.append({"k": cutoff, **{name: float(value) for name, value in scores.mean().items()}})
    final = curve[-1]
    values: dict[str, Any] = {
        "k": k,
        "users": int(users_total),
        "users_evaluated": int(len(scores)),
        "users_without_relevant": int(users_total - len(scores)),
        **{f"{name}_at_k" if name not in ("mrr",) else name: final[name] for name in ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")},
    }
    long = [{"k": row["k"], "metric": name, "value": row[name]} for row in curve for name in ("precision", "recall", "ndcg", "map")]
    figures = {"at_cutoff": series_chart(long, x="k", y="value", series="metric", title="Ranking metrics by cutoff")}
    return Metrics(values, figures=figures, tables={"at_cutoff": curve})
