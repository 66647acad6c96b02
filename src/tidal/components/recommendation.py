"""Recommendation trainers: matrix factorization, neighbourhood models, Swing, popularity, FM.

Each takes an interaction table (user, item, optional rating) and outputs a ``ranking`` model
package whose features are ``[user_column, item_column]``: ``model.predict`` scores any
(user, item) rows, and ``recommendation.recommend`` ranks the catalog for each user.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd

from tidal.components._recommenders import (
    AlternatingLeastSquares,
    FactorizationMachine,
    InteractionModel,
    NeighborhoodModel,
    PopularityModel,
    interactions,
)
from tidal.core import Column, DataError, Param, component
from tidal.models import ModelPackage

UserColumn = Annotated[Column, Param(help="the column holding user ids")]
ItemColumn = Annotated[Column, Param(help="the column holding item ids")]
RatingColumn = Annotated[Column | None, Param(help="rating or interaction strength; empty counts every row as 1")]
Neighbors = Annotated[int, Param(ge=1, tune=True, low=5, high=200, help="similar items (or users) kept per item (or user)")]
Aggregate = Annotated[
    Literal["sum", "weighted_average"],
    Param(help="sum: a ranking score; weighted_average: a predicted rating (divides by the neighbours' summed similarity)"),
]


def _fit(
    estimator: InteractionModel,
    data: pd.DataFrame,
    user_column: str,
    item_column: str,
    rating_column: str | None,
    params: dict[str, Any],
    *,
    implicit: bool = False,
) -> ModelPackage:
    if user_column == item_column:
        raise DataError(f"'user_column' and 'item_column' are both '{user_column}'; choose two different columns")
    users, items, ratings = interactions(data, user_column, item_column, rating_column, implicit=implicit)
    estimator.fit(users, items, ratings if rating_column is not None else None)
    metadata = {"users": len(estimator.user_ids_), "items": len(estimator.item_ids_), "recommender": type(estimator).__name__}
    return ModelPackage.from_estimator(
        estimator, data, features=[user_column, item_column], task="ranking", label=rating_column, params=params, metadata=metadata
    )


@component(
    "recommendation.als",
    title="ALS Matrix Factorization",
    tags={"sample": "ratings", "task": "ranking", "sample_params": {"rating_column": "rating"}, "deterministic_under_seed": True},
)
def als(
    data: pd.DataFrame,
    *,
    user_column: UserColumn,
    item_column: ItemColumn,
    rating_column: RatingColumn = None,
    feedback: Annotated[Literal["explicit", "implicit"], Param(help="explicit: fit the ratings; implicit: ratings are confidence weights (clicks, plays)")] = "explicit",
    factors: Annotated[int, Param(ge=1, tune=True, low=2, high=64, help="length of each user and item vector")] = 10,
    regularization: Annotated[float, Param(ge=0, log=True, tune=True, low=1e-3, high=10, help="L2 penalty on every factor vector")] = 0.1,
    iterations: Annotated[int, Param(ge=1, help="alternations (users, then items)")] = 10,
    alpha: Annotated[float, Param(gt=0, log=True, help="implicit feedback: confidence = 1 + alpha * rating")] = 10.0,
    seed: Annotated[int, Param(ge=0, help="seed of the random starting factors")] = 0,
) -> ModelPackage:
    """Matrix factorization by alternating least squares (ALS), for explicit or implicit feedback.

    Each half-step solves the regularized least-squares problem for all user vectors with the
    item vectors fixed, then the other way round. Explicit feedback fits rating - mean on rated
    pairs; implicit feedback (Hu, Koren and Volinsky) treats every unrated pair as preference 0
    and every rated one as preference 1 with confidence ``1 + alpha * rating``. Repeated
    (user, item) rows are averaged (explicit) or added up (implicit). The model scores pairs with
    ``mean + p_u . q_i`` (explicit) or ``p_u . q_i`` (implicit); unknown users or items get the mean (0).

    Examples
    --------
    >>> import pandas as pd
    >>> ratings = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "c", "b"], "rating": [5, 3, 4, 2, 5]})
    >>> model = als(ratings, user_column="user", item_column="item", rating_column="rating", factors=2)
    >>> model.task, model.features
    ('ranking', ['user', 'item'])
    >>> model.predict(ratings).round(1).tolist()
    [4.9, 3.0, 4.0, 2.1, 4.9]
    """
    estimator = AlternatingLeastSquares(factors, regularization, iterations, feedback, alpha, seed)
    params = {"feedback": feedback, "factors": factors, "regularization": regularization, "iterations": iterations, "alpha": alpha, "seed": seed}
    return _fit(estimator, data, user_column, item_column, rating_column, params, implicit=feedback == "implicit")


@component("recommendation.item_cf", title="Item-based Collaborative Filtering", tags={"sample": "ratings", "task": "ranking"})
def item_cf(
    data: pd.DataFrame,
    *,
    user_column: UserColumn,
    item_column: ItemColumn,
    rating_column: RatingColumn = None,
    neighbors: Neighbors = 20,
    aggregate: Aggregate = "sum",
) -> ModelPackage:
    """Item-based collaborative filtering with cosine similarity between the items' rating columns.

    score(u, i) = sum over the ``neighbors`` items j most similar to i of similarity(i, j) * rating(u, j).
    Users who rated or bought items similar to i get i recommended. The similarity matrix is dense
    (items x items), which suits catalogs up to about ten thousand items.

    Examples
    --------
    >>> import pandas as pd
    >>> bought = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
    >>> model = item_cf(bought, user_column="user", item_column="item")
    >>> model.predict(pd.DataFrame({"user": [3], "item": ["b"]})).round(3).tolist()
    [0.816]
    """
    estimator = NeighborhoodModel("item", "cosine", neighbors, aggregate)
    return _fit(estimator, data, user_column, item_column, rating_column, {"neighbors": neighbors, "aggregate": aggregate})


@component("recommendation.user_cf", title="User-based Collaborative Filtering", tags={"sample": "ratings", "task": "ranking"})
def user_cf(
    data: pd.DataFrame,
    *,
    user_column: UserColumn,
    item_column: ItemColumn,
    rating_column: RatingColumn = None,
    neighbors: Neighbors = 20,
    aggregate: Aggregate = "sum",
) -> ModelPackage:
    """User-based collaborative filtering with cosine similarity between the users' rating rows.

    score(u, i) = sum over the ``neighbors`` users v most similar to u of similarity(u, v) * rating(v, i):
    items liked by people with similar taste. The similarity matrix is dense (users x users).

    Examples
    --------
    >>> import pandas as pd
    >>> bought = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "c", "a"]})
    >>> model = user_cf(bought, user_column="user", item_column="item")
    >>> model.predict(pd.DataFrame({"user": [3, 3], "item": ["b", "c"]})).round(3).tolist()
    [0.707, 0.707]
    """
    estimator = NeighborhoodModel("user", "cosine", neighbors, aggregate)
    return _fit(estimator, data, user_column, item_column, rating_column, {"neighbors": neighbors, "aggregate": aggregate})


@component("recommendation.swing", title="Swing Item Similarity", tags={"sample": "ratings", "task": "ranking"})
def swing(
    data: pd.DataFrame,
    *,
    user_column: UserColumn,
    item_column: ItemColumn,
    alpha: Annotated[float, Param(gt=0, help="smoothing: user pairs that share many items count less")] = 1.0,
    user_weighting: Annotated[bool, Param(help="weight each user by 1/sqrt(items chosen), damping very active users")] = True,
    neighbors: Neighbors = 20,
) -> ModelPackage:
    """Swing item similarity (Alibaba; Yang et al. 2020), used like item-based CF.

    Two items are similar when pairs of users who both chose them share few other items:
    s(i, j) = sum over user pairs u < v who chose both i and j of w_u * w_v / (alpha + |I_u & I_v|).
    Unlike cosine, a pair of users with broad overlapping tastes adds little; the score of an item
    for a user is the summed similarity to the items the user chose. Ratings are ignored: any row
    counts as a choice.

    Examples
    --------
    >>> import pandas as pd
    >>> bought = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3], "item": ["a", "b", "a", "b", "a", "c"]})
    >>> model = swing(bought, user_column="user", item_column="item", user_weighting=False)
    >>> model.predict(pd.DataFrame({"user": [3, 3], "item": ["b", "c"]})).tolist()
    [0.3333333333333333, 0.0]
    """
    estimator = NeighborhoodModel("item", "swing", neighbors, "sum", alpha, user_weighting)
    params = {"alpha": alpha, "user_weighting": user_weighting, "neighbors": neighbors}
    return _fit(estimator, data, user_column, item_column, None, params)


@component("recommendation.popularity", title="Popularity Baseline", tags={"sample": "ratings", "task": "ranking"})
def popularity(
    data: pd.DataFrame,
    *,
    user_column: UserColumn,
    item_column: ItemColumn,
    rating_column: RatingColumn = None,
    measure: Annotated[Literal["users", "rating_sum"], Param(help="users: how many users chose the item; rating_sum: their summed ratings")] = "users",
) -> ModelPackage:
    """Recommend the most popular items to everyone: the baseline every recommender should beat.

    Examples
    --------
    >>> import pandas as pd
    >>> bought = pd.DataFrame({"user": [1, 2, 2, 3], "item": ["a", "a", "b", "a"]})
    >>> model = popularity(bought, user_column="user", item_column="item")
    >>> model.predict(pd.DataFrame({"user": [9, 9], "item": ["a", "b"]})).tolist()
    [3.0, 1.0]
    """
    if measure == "rating_sum" and rating_column is None:
        raise DataError("measure='rating_sum' needs 'rating_column'; set it or use measure='users'")
    return _fit(PopularityModel(measure), data, user_column, item_column, rating_column, {"measure": measure})


@component(
    "recommendation.factorization_machine",
    title="Factorization Machine Ranking",
    tags={"sample": "ratings", "task": "ranking", "deterministic_under_seed": True},
)
def factorization_machine(
    data: pd.DataFrame,
    *,
    user_column: UserColumn,
    item_column: ItemColumn,
    label_column: Annotated[Column | None, Param(help="logistic loss: a 0/1 label per row (e.g. from recommendation.negative_sampling); empty: rows are positives")] = None,
    loss: Annotated[Literal["bpr", "logistic"], Param(help="bpr: pairwise ranking; logistic: click probability")] = "bpr",
    factors: Annotated[int, Param(ge=1, tune=True, low=2, high=64, help="length of the latent vectors")] = 8,
    epochs: Annotated[int, Param(ge=1, help="passes over the data")] = 30,
    learning_rate: Annotated[float, Param(gt=0, log=True, tune=True, low=1e-3, high=0.5, help="SGD step size")] = 0.05,
    regularization: Annotated[float, Param(ge=0, log=True, tune=True, low=1e-5, high=1.0, help="L2 penalty")] = 0.01,
    negatives: Annotated[int, Param(ge=1, help="sampled negatives per positive (logistic loss without labels)")] = 1,
    seed: Annotated[int, Param(ge=0, help="seed of the initial factors and the sampling")] = 0,
) -> ModelPackage:
    """A factorization machine on one-hot user and item fields, trained by mini-batch SGD.

    score(u, i) = w0 + w_u + w_i + <v_u, v_i>. With ``loss="bpr"`` each observed pair is pushed
    above an item the user has not chosen, sampled anew each epoch (Bayesian personalized ranking).
    With ``loss="logistic"`` the model fits the 0/1 ``label_column``, or, without one, treats rows as
    positives and samples ``negatives`` unchosen items per positive; it predicts a probability.

    Examples
    --------
    >>> import pandas as pd
    >>> bought = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
    >>> model = factorization_machine(bought, user_column="user", item_column="item", epochs=5)
    >>> model.predict(pd.DataFrame({"user": [3], "item": ["b"]})).shape
    (1,)
    """
    labels = None
    if label_column is not None:
        if loss != "logistic":
            raise DataError("'label_column' is used by the logistic loss; set loss='logistic' or clear 'label_column'")
        _, _, labels = interactions(data, user_column, item_column, label_column, implicit=False)
        bad = ~pd.Series(labels).isin([0.0, 1.0]).to_numpy()
        if bad.any():
            raise DataError(f"label column '{label_column}' must hold 0 or 1; row {int(bad.argmax())} has {labels[bad.argmax()]!r}")
    estimator = FactorizationMachine(factors, loss, epochs, learning_rate, regularization, negatives, seed=seed)
    params = {"loss": loss, "factors": factors, "epochs": epochs, "learning_rate": learning_rate, "regularization": regularization, "negatives": negatives, "seed": seed}
    return _fit(estimator, data, user_column, item_column, label_column, params)
