"""Topic models: LDA over word counts and NMF over TF-IDF weights."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._text import TextVectorizer, require_text_rows, text_column
from tidal.components.text_counts import TOKEN
from tidal.core import Column, DataError, Param, component
from tidal.models import ModelPackage


class Topics(NamedTuple):
    model: ModelPackage
    topics: pd.DataFrame
    documents: pd.DataFrame


def fit_topics(data: pd.DataFrame, column: str, vectorizer: Any, decomposition: Any, words: int, params: dict[str, Any]) -> Topics:
    """Fit vectorizer + decomposition on one text column; package it and describe topics and documents."""
    from sklearn.pipeline import Pipeline

    require_text_rows(data)
    texts = text_column(data, column)
    pipeline = Pipeline([("vectorizer", TextVectorizer(column, vectorizer)), ("topics", decomposition)])
    frame = pd.DataFrame({column: texts})
    try:
        pipeline.named_steps["vectorizer"].fit(frame)
    except ValueError as error:
        raise DataError(f"cannot build a vocabulary from column '{column}': {error}; segment the text first or loosen min_df / max_df") from None
    counts = pipeline.named_steps["vectorizer"].transform(frame)
    topics = decomposition.n_components
    if getattr(decomposition, "init", None) == "nndsvda" and topics > min(counts.shape):
        raise DataError(f"parameter 'topics': {topics} is more than the {counts.shape[0]} documents or {counts.shape[1]} distinct words allow; lower it")
    weights = decomposition.fit_transform(counts)
    names = [f"topic_{index}" for index in range(topics)]
    model = ModelPackage.from_estimator(pipeline, data, features=[column], task="transform", params=params, metadata={"output_columns": names})
    terms = pipeline.named_steps["vectorizer"].get_feature_names_out()
    loadings = decomposition.components_
    rows = []
    for topic, loading in enumerate(loadings):
        share = loading / loading.sum() if loading.sum() > 0 else loading
        for rank, position in enumerate(np.argsort(-loading, kind="stable")[:words], start=1):
            rows.append({"topic": topic, "rank": rank, "word": str(terms[position]), "weight": float(share[position])})
    documents = data.copy()
    for index, name in enumerate(names):
        documents[name] = weights[:, index]
    documents["topic"] = weights.argmax(axis=1)
    documents["topic_weight"] = weights.max(axis=1)
    return Topics(model, pd.DataFrame(rows, columns=["topic", "rank", "word", "weight"]), documents)


@component("text.lda", title="LDA Topics", tags={"sample": "text"})
def lda(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens, stop words removed")],
    topics: Annotated[int, Param(ge=1, le=500, tune=True, low=2, high=50, help="number of topics")] = 5,
    words: Annotated[int, Param(ge=1, le=100, help="top words listed per topic")] = 10,
    max_iter: Annotated[int, Param(ge=1, help="passes over the documents")] = 20,
    doc_topic_prior: Annotated[float | None, Param(gt=0, help="alpha; default 1 / topics")] = None,
    topic_word_prior: Annotated[float | None, Param(gt=0, help="eta; default 1 / topics")] = None,
    max_features: Annotated[int, Param(ge=1, help="vocabulary size at most")] = 5000,
    min_df: Annotated[int, Param(ge=1, help="ignore words in fewer documents than this")] = 1,
    max_df: Annotated[float, Param(gt=0, le=1, help="ignore words in more than this share of documents")] = 1.0,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> Topics:
    """Latent Dirichlet allocation over word counts (scikit-learn, batch variational Bayes).

    Outputs: ``model``, a transform from the text column to ``topic_0`` ... topic shares (apply
    it to new documents with ``model.predict``); ``topics``, each topic's top words with their
    share of the topic; ``documents``, the input with each document's topic shares, its main
    ``topic`` and that topic's share.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["cat dog pet", "dog pet vet", "stock market trade", "market trade price"] * 5})
    >>> result = lda(docs, column="text", topics=2)
    >>> sorted(result.topics[result.topics["rank"] <= 2].groupby("topic")["word"].apply(sorted).tolist())
    [['dog', 'pet'], ['market', 'trade']]
    """
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(token_pattern=TOKEN, lowercase=False, max_features=max_features, min_df=min_df, max_df=max_df)
    model = LatentDirichletAllocation(
        n_components=topics, max_iter=max_iter, learning_method="batch", random_state=seed,
        doc_topic_prior=doc_topic_prior, topic_word_prior=topic_word_prior,
    )
    params = {"topics": topics, "max_iter": max_iter, "max_features": max_features, "min_df": min_df, "max_df": max_df, "seed": seed}
    return fit_topics(data, column, vectorizer, model, words, params)


@component("text.nmf", title="NMF Topics", tags={"sample": "text"})
def nmf(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens, stop words removed")],
    topics: Annotated[int, Param(ge=1, le=500, tune=True, low=2, high=50, help="number of topics")] = 5,
    words: Annotated[int, Param(ge=1, le=100, help="top words listed per topic")] = 10,
    max_iter: Annotated[int, Param(ge=1, help="iterations of the solver at most")] = 500,
    alpha: Annotated[float, Param(ge=0, help="regularization strength (0: none)")] = 0.0,
    max_features: Annotated[int, Param(ge=1, help="vocabulary size at most")] = 5000,
    min_df: Annotated[int, Param(ge=1, help="ignore words in fewer documents than this")] = 1,
    max_df: Annotated[float, Param(gt=0, le=1, help="ignore words in more than this share of documents")] = 1.0,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> Topics:
    """Non-negative matrix factorization of TF-IDF weights into topics (scikit-learn, NNDSVDa start).

    Same outputs as ``text.lda``; a document's topic columns are its (unnormalized) loadings.
    NMF often gives crisper topics than LDA on short texts.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["cat dog pet", "dog pet vet", "stock market trade", "market trade price"] * 5})
    >>> result = nmf(docs, column="text", topics=2)
    >>> first, second, third, fourth = result.documents["topic"].tolist()[:4]
    >>> first == second != third == fourth  # pets in one topic, markets in the other
    True
    """
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(token_pattern=TOKEN, lowercase=False, max_features=max_features, min_df=min_df, max_df=max_df)
    model = NMF(n_components=topics, init="nndsvda", max_iter=max_iter, random_state=seed, alpha_W=alpha, alpha_H="same")
    params = {"topics": topics, "max_iter": max_iter, "alpha": alpha, "max_features": max_features, "min_df": min_df, "max_df": max_df, "seed": seed}
    return fit_topics(data, column, vectorizer, model, words, params)
