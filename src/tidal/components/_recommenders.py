"""Recommendation models that score (user, item) pairs, written in numpy.

Each model is a small scikit-learn style estimator whose fitted state is plain numpy arrays and
lists, so a model package stores it with skops (the ``tidal.`` module prefix is trusted).
``predict(frame)`` scores the rows of a two-column frame (user, item); ``recommend(users, top_n)``
ranks the whole catalog for each user. Users or items unseen in training get ``default_score_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from tidal.core._errors import DataError


def interactions(
    data: pd.DataFrame, user_column: str, item_column: str, rating_column: str | None, *, implicit: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users, items and ratings (1.0 when there is no rating column), with errors that name the row."""
    if len(data) == 0:
        raise DataError("the interaction table is empty: a recommender needs (user, item) rows to learn from")
    for name in (user_column, item_column):
        missing = data[name].isna().to_numpy()
        if missing.any():
            raise DataError(f"column '{name}' has {int(missing.sum())} missing value(s), the first at row {int(np.flatnonzero(missing)[0])}; drop those rows first")
    if rating_column is None:
        ratings = np.ones(len(data))
    else:
        column = data[rating_column]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise DataError(f"rating column '{rating_column}' ({column.dtype}) must be numeric")
        ratings = column.to_numpy(dtype=float)
        if np.isnan(ratings).any():
            row = int(np.flatnonzero(np.isnan(ratings))[0])
            raise DataError(f"rating column '{rating_column}' has missing values, the first at row {row}; fill or drop them first")
        if implicit and (ratings < 0).any():
            row = int(np.flatnonzero(ratings < 0)[0])
            raise DataError(f"rating column '{rating_column}' has a negative value at row {row}; implicit feedback counts must be >= 0")
    return data[user_column].to_numpy(), data[item_column].to_numpy(), ratings


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # ids of mixed types cannot be sorted
        codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), list(pd.Index(uniques).tolist())


def _lookup(ids: list[Any], values: Any) -> np.ndarray:
    positions = {value: index for index, value in enumerate(ids)}
    return np.array([positions.get(value, -1) for value in pd.Series(values).tolist()], dtype=np.int64)


def top_rows(scores: np.ndarray, top_n: int) -> np.ndarray:
    """Column indices of the ``top_n`` largest scores per row, best first; ties keep item order."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :top_n]


class InteractionModel(BaseEstimator):  # type: ignore[misc]
    """Shared id handling, pair scoring and top-N recommendation."""

    def _encode(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, aggregate: str) -> pd.DataFrame:
        user_codes, self.user_ids_ = _factorize(users)
        item_codes, self.item_ids_ = _factorize(items)
        frame = pd.DataFrame({"user": user_codes, "item": item_codes, "rating": ratings})
        frame = frame.groupby(["user", "item"], sort=True, as_index=False)["rating"].agg(aggregate)
        self.seen_users_ = frame["user"].to_numpy(dtype=np.int64)
        self.seen_items_ = frame["item"].to_numpy(dtype=np.int64)
        return frame

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        matrix = np.zeros((len(self.user_ids_), len(self.item_ids_)))
        matrix[frame["user"].to_numpy(), frame["item"].to_numpy()] = frame["rating"].to_numpy()
        return matrix

    def fit(self, users: Any, items: Any, ratings: Any = None) -> InteractionModel:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.score_matrix(users)[np.arange(len(users)), items]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """A score per row of a (user, item) frame."""
        users = _lookup(self.user_ids_, frame.iloc[:, 0])
        items = _lookup(self.item_ids_, frame.iloc[:, 1])
        scores = np.full(len(frame), float(self.default_score_))
        known = (users >= 0) & (items >= 0)
        if known.any():
            scores[known] = self.score_pairs(users[known], items[known])
        return scores

    def recommend(self, users: Any, top_n: int, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``top_n`` best items per known user: columns user, item, score, rank."""
        wanted = pd.unique(pd.Series(users))
        index = _lookup(self.user_ids_, wanted)
        known = wanted[index >= 0]
        index = index[index >= 0]
        scores = self.score_matrix(index) if len(index) else np.zeros((0, len(self.item_ids_)))
        if exclude_seen and len(index):
            row_of = np.full(len(self.user_ids_), -1)
            row_of[index] = np.arange(len(index))
            rows = row_of[self.seen_users_]
            keep = rows >= 0
            scores[rows[keep], self.seen_items_[keep]] = -np.inf
        best = top_rows(scores, top_n)
        chosen = np.take_along_axis(scores, best, axis=1)
        valid = np.isfinite(chosen)
        user_rows, ranks = np.nonzero(valid)
        item_ids = pd.Series(self.item_ids_).to_numpy()
        return pd.DataFrame(
            {
                "user": pd.Series(known).to_numpy()[user_rows],
                "item": item_ids[best[valid]],
                "score": chosen[valid],
                "rank": ranks + 1,
            }
        )


class AlternatingLeastSquares(InteractionModel):
    """Matrix factorization by alternating least squares, for explicit ratings or implicit feedback.

    Explicit: minimise sum over rated pairs of (r - mean - p_u.q_i)^2 + regularization * (|p_u|^2 + |q_i|^2).
    Implicit (Hu, Koren and Volinsky 2008): every pair has preference 1 if r > 0 else 0 and confidence
    1 + alpha * r; each half-step solves the weighted normal equations exactly.
    """

    def __init__(self, factors: int = 10, regularization: float = 0.1, iterations: int = 10,
                 feedback: str = "explicit", alpha: float = 10.0, seed: int = 0) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.feedback = feedback
        self.alpha = alpha
        self.seed = seed

    def fit(self, users: Any, items: Any, ratings: Any = None) -> AlternatingLeastSquares:
        ratings = np.ones(len(users)) if ratings is None else np.asarray(ratings, dtype=float)
        implicit = self.feedback == "implicit"
        frame = self._encode(np.asarray(users), np.asarray(items), ratings, "sum" if implicit else "mean")
        if implicit:
            frame = frame[frame["rating"] > 0]
        values = frame["rating"].to_numpy()
        self.mean_ = 0.0 if implicit else float(values.mean())
        self.default_score_ = self.mean_
        rng = np.random.default_rng(self.seed)
        shape_u, shape_i = (len(self.user_ids_), self.factors), (len(self.item_ids_), self.factors)
        self.user_factors_ = rng.normal(scale=0.1, size=shape_u)
        self.item_factors_ = rng.normal(scale=0.1, size=shape_i)
        by_user = _groups(frame["user"].to_numpy(), frame["item"].to_numpy(), values, shape_u[0])
        by_item = _groups(frame["item"].to_numpy(), frame["user"].to_numpy(), values, shape_i[0])
        for _ in range(self.iterations):
            self.user_factors_ = self._solve(self.item_factors_, by_user, implicit)
            self.item_factors_ = self._solve(self.user_factors_, by_item, implicit)
        return self

    def _solve(self, fixed: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]], implicit: bool) -> np.ndarray:
        identity = self.regularization * np.eye(self.factors)
        gram = fixed.T @ fixed
        solved = np.zeros((len(groups), self.factors))
        for row, (others, values) in enumerate(groups):
            if len(others) == 0:
                continue
            block = fixed[others]
            if implicit:
                confidence = 1.0 + self.alpha * values
                lhs = gram + block.T @ (block * (confidence - 1.0)[:, None]) + identity
                rhs = block.T @ confidence
            else:
                lhs = block.T @ block + identity
                rhs = block.T @ (values - self.mean_)
            solved[row] = np.linalg.solve(lhs, rhs)
        return solved

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T + self.mean_

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("nk,nk->n", self.user_factors_[users], self.item_factors_[items]) + self.mean_


def _groups(keys: np.ndarray, others: np.ndarray, values: np.ndarray, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(count + 1))
    return [(others[order[a:b]], values[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows; zero rows have similarity 0; the diagonal is 0."""
    norms = np.linalg.norm(vectors, axis=1)
    scaled = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    similarity = scaled @ scaled.T
    np.fill_diagonal(similarity, 0.0)
    return similarity


def swing_similarity(binary: np.ndarray, alpha: float, user_weighting: bool) -> np.ndarray:
    """Swing (Yang et al. 2020): items i, j score sum over user pairs u < v who both chose i and j of
    w_u * w_v / (alpha + |I_u & I_v|), with w_u = |I_u| ** -0.5 when ``user_weighting``."""
    n_users, n_items = binary.shape
    counts = binary.sum(axis=1)
    weights = np.where(counts > 0, counts, 1.0) ** -0.5 if user_weighting else np.ones(n_users)
    overlap = binary @ binary.T
    similarity = np.zeros((n_items, n_items))
    for user in range(n_users - 1):
        others = np.arange(user + 1, n_users)
        others = others[overlap[user, others] >= 2]
        if len(others) == 0:
            continue
        chosen = np.flatnonzero(binary[user])
        shared = binary[np.ix_(others, chosen)]
        pair_weight = weights[user] * weights[others] / (alpha + overlap[user, others])
        similarity[np.ix_(chosen, chosen)] += (shared * pair_weight[:, None]).T @ shared
    np.fill_diagonal(similarity, 0.0)
    return similarity


def keep_neighbors(similarity: np.ndarray, neighbors: int) -> np.ndarray:
    """Zero all but the ``neighbors`` largest similarities in each row (ties keep the lower index)."""
    if neighbors >= similarity.shape[1]:
        return similarity
    order = np.argsort(-similarity, axis=1, kind="stable")[:, neighbors:]
    pruned = similarity.copy()
    np.put_along_axis(pruned, order, 0.0, axis=1)
    return pruned


class NeighborhoodModel(InteractionModel):
    """Item-based or user-based collaborative filtering over a similarity matrix.

    Item-based: score(u, i) = sum_j s(i, j) r(u, j); user-based: score(u, i) = sum_v s(u, v) r(v, i).
    ``aggregate="weighted_average"`` divides by the summed absolute similarity of the neighbours
    that rated, which predicts a rating rather than a ranking score.
    """

    def __init__(self, kind: str = "item", similarity: str = "cosine", neighbors: int = 20,
                 aggregate: str = "sum", alpha: float = 1.0, user_weighting: bool = True) -> None:
        self.kind = kind
        self.similarity = similarity
        self.neighbors = neighbors
        self.aggregate = aggregate
        self.alpha = alpha
        self.user_weighting = user_weighting

    def fit(self, users: Any, items: Any, ratings: Any = None) -> NeighborhoodModel:
        ratings = np.ones(len(users)) if ratings is None else np.asarray(ratings, dtype=float)
        frame = self._encode(np.asarray(users), np.asarray(items), ratings, "mean")
        self.matrix_ = self._matrix(frame)
        if self.similarity == "swing":
            similarity = swing_similarity((self.matrix_ != 0).astype(float), self.alpha, self.user_weighting)
        else:
            similarity = cosine_similarity(self.matrix_.T if self.kind == "item" else self.matrix_)
        self.similarity_ = keep_neighbors(similarity, self.neighbors)
        self.default_score_ = 0.0
        return self

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        rated = (self.matrix_ != 0).astype(float)
        if self.kind == "item":
            scores = self.matrix_[users] @ self.similarity_.T
            weight = rated[users] @ np.abs(self.similarity_).T
        else:
            scores = self.similarity_[users] @ self.matrix_
            weight = np.abs(self.similarity_[users]) @ rated
        if self.aggregate == "weighted_average":
            scores = np.divide(scores, weight, out=np.zeros_like(scores), where=weight > 0)
        return scores


class PopularityModel(InteractionModel):
    """Every user gets the same ranking: items by how many users chose them (or their summed rating)."""

    def __init__(self, measure: str = "users") -> None:
        self.measure = measure

    def fit(self, users: Any, items: Any, ratings: Any = None) -> PopularityModel:
        ratings = np.ones(len(users)) if ratings is None else np.asarray(ratings, dtype=float)
        frame = self._encode(np.asarray(users), np.asarray(items), ratings, "sum")
        values = np.ones(len(frame)) if self.measure == "users" else frame["rating"].to_numpy()
        self.popularity_ = np.bincount(frame["item"].to_numpy(), weights=values, minlength=len(self.item_ids_))
        self.default_score_ = 0.0
        return self

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity_, (len(users), 1))

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.popularity_[items]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Item popularity per row; new users get the same scores as everyone else."""
        items = _lookup(self.item_ids_, frame.iloc[:, 1])
        return np.where(items >= 0, self.popularity_[np.maximum(items, 0)], self.default_score_)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * values))


class FactorizationMachine(InteractionModel):
    """A factorization machine over one-hot user and item fields, trained by mini-batch SGD.

    score(u, i) = w0 + w_u + w_i + <v_u, v_i>. ``loss="bpr"`` ranks each observed item above a
    sampled unobserved one (Rendle et al. 2009); ``loss="logistic"`` fits labels (given, or 1 for
    observed pairs and 0 for ``negatives`` sampled pairs per positive each epoch) and predicts a probability.
    """

    def __init__(self, factors: int = 8, loss: str = "bpr", epochs: int = 30, learning_rate: float = 0.05,
                 regularization: float = 0.01, negatives: int = 1, batch_size: int = 128, seed: int = 0) -> None:
        self.factors = factors
        self.loss = loss
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.negatives = negatives
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, users: Any, items: Any, labels: Any = None) -> FactorizationMachine:
        given = labels is not None
        values = np.asarray(labels, dtype=float) if given else np.ones(len(users))
        frame = self._encode(np.asarray(users), np.asarray(items), values, "max")
        rng = np.random.default_rng(self.seed)
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        self.bias_ = 0.0
        self.user_weights_ = np.zeros(n_users)
        self.item_weights_ = np.zeros(n_items)
        self.user_factors_ = rng.normal(scale=0.1, size=(n_users, self.factors))
        self.item_factors_ = rng.normal(scale=0.1, size=(n_items, self.factors))
        positive = frame[frame["rating"] > 0]
        seen = set(zip(positive["user"].tolist(), positive["item"].tolist(), strict=True))
        self.seen_users_ = positive["user"].to_numpy(dtype=np.int64)
        self.seen_items_ = positive["item"].to_numpy(dtype=np.int64)
        for _ in range(self.epochs):
            if self.loss == "bpr":
                order = rng.permutation(len(positive))
                u, i = self.seen_users_[order], self.seen_items_[order]
                j = _sample_unseen(rng, u, n_items, seen)
                for start in range(0, len(u), self.batch_size):
                    part = slice(start, start + self.batch_size)
                    self._bpr_step(u[part], i[part], j[part])
            else:
                if given:
                    u, i, y = frame["user"].to_numpy(), frame["item"].to_numpy(), frame["rating"].to_numpy()
                else:
                    extra_u = np.repeat(self.seen_users_, self.negatives)
                    extra_i = _sample_unseen(rng, extra_u, n_items, seen)
                    u = np.concatenate([self.seen_users_, extra_u])
                    i = np.concatenate([self.seen_items_, extra_i])
                    y = np.concatenate([np.ones(len(self.seen_users_)), np.zeros(len(extra_u))])
                order = rng.permutation(len(u))
                u, i, y = u[order], i[order], y[order]
                for start in range(0, len(u), self.batch_size):
                    part = slice(start, start + self.batch_size)
                    self._logistic_step(u[part], i[part], y[part])
        self.default_score_ = float(_sigmoid(np.array(self.bias_))) if self.loss == "logistic" else 0.0
        return self

    def _bpr_step(self, u: np.ndarray, i: np.ndarray, j: np.ndarray) -> None:
        rate, reg = self.learning_rate, self.regularization
        vu, vi, vj = self.user_factors_[u], self.item_factors_[i], self.item_factors_[j]
        margin = self.item_weights_[i] - self.item_weights_[j] + np.einsum("nk,nk->n", vu, vi - vj)
        gain = _sigmoid(-margin)
        np.add.at(self.item_weights_, i, rate * (gain - reg * self.item_weights_[i]))
        np.add.at(self.item_weights_, j, rate * (-gain - reg * self.item_weights_[j]))
        np.add.at(self.user_factors_, u, rate * (gain[:, None] * (vi - vj) - reg * vu))
        np.add.at(self.item_factors_, i, rate * (gain[:, None] * vu - reg * vi))
        np.add.at(self.item_factors_, j, rate * (-gain[:, None] * vu - reg * vj))

    def _logistic_step(self, u: np.ndarray, i: np.ndarray, y: np.ndarray) -> None:
        rate, reg = self.learning_rate, self.regularization
        vu, vi = self.user_factors_[u], self.item_factors_[i]
        error = _sigmoid(self._raw(u, i)) - y
        self.bias_ -= rate * float(error.mean())
        np.add.at(self.user_weights_, u, -rate * (error + reg * self.user_weights_[u]))
        np.add.at(self.item_weights_, i, -rate * (error + reg * self.item_weights_[i]))
        np.add.at(self.user_factors_, u, -rate * (error[:, None] * vi + reg * vu))
        np.add.at(self.item_factors_, i, -rate * (error[:, None] * vu + reg * vi))

    def _raw(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        interaction = np.einsum("nk,nk->n", self.user_factors_[users], self.item_factors_[items])
        return self.bias_ + self.user_weights_[users] + self.item_weights_[items] + interaction

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raw = self._raw(users, items)
        return _sigmoid(raw) if self.loss == "logistic" else raw

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        raw = (self.bias_ + self.user_weights_[users][:, None] + self.item_weights_[None, :]
               + self.user_factors_[users] @ self.item_factors_.T)
        return _sigmoid(raw) if self.loss == "logistic" else raw


def _sample_unseen(rng: np.random.Generator, users: np.ndarray, n_items: int, seen: set[tuple[int, int]]) -> np.ndarray:
    """One random item per user, redrawn (up to 10 times) while the user has already chosen it."""
    items = rng.integers(0, n_items, size=len(users))
    for _ in range(10):
        clash = np.array([(u, i) in seen for u, i in zip(users.tolist(), items.tolist(), strict=True)], dtype=bool)
        if not clash.any():
            break
        items[clash] = rng.integers(0, n_items, size=int(clash.sum()))
    return items
