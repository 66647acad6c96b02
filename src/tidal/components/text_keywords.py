"""Keyword extraction: TF-IDF weights or TextRank (PageRank over a word co-occurrence graph)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.components._text import require_text_rows, text_column, tokens
from tidal.components.text_counts import TOKEN, document_ids
from tidal.core import Column, Param, component


def cooccurrence(words: list[str], window: int) -> tuple[list[str], np.ndarray]:
    """Vocabulary (in order of first appearance) and symmetric co-occurrence counts within ``window`` tokens."""
    vocabulary = list(dict.fromkeys(words))
    index = {word: position for position, word in enumerate(vocabulary)}
    weights = np.zeros((len(vocabulary), len(vocabulary)))
    for start, word in enumerate(words):
        for other in words[start + 1 : start + window]:
            if other != word:
                weights[index[word], index[other]] += 1
                weights[index[other], index[word]] += 1
    return vocabulary, weights


def pagerank(weights: np.ndarray, damping: float = 0.85, iterations: int = 100, tolerance: float = 1e-6) -> np.ndarray:
    """Weighted PageRank by power iteration; a node without edges spreads its rank evenly (as networkx does)."""
    size = len(weights)
    out = weights.sum(axis=1)
    transition = np.divide(weights, out[:, None], out=np.zeros_like(weights), where=out[:, None] > 0)
    dangling = out == 0
    rank = np.full(size, 1.0 / size)
    for _ in range(iterations):
        updated = damping * (rank @ transition + rank[dangling].sum() / size) + (1 - damping) / size
        done = np.abs(updated - rank).sum() < size * tolerance
        rank = updated
        if done:
            break
    return rank


def textrank(words: list[str], window: int, damping: float) -> list[tuple[str, float]]:
    """Words of one document ranked by TextRank score (ties by first appearance)."""
    if not words:
        return []
    vocabulary, weights = cooccurrence(words, window)
    scores = pagerank(weights, damping)
    order = sorted(range(len(vocabulary)), key=lambda position: (-round(scores[position], 12), position))
    return [(vocabulary[position], float(scores[position])) for position in order]


@component("text.keywords", title="Keyword Extraction", tags={"sample": "text"})
def keywords(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens, stop words removed (text.segment, text.stop_words)")],
    method: Annotated[Literal["tfidf", "textrank"], Param(help="tfidf: words frequent here and rare elsewhere; textrank: central words of the document's co-occurrence graph")] = "textrank",
    top_k: Annotated[int, Param(ge=1, le=200, help="keywords per document")] = 5,
    id_column: Annotated[Column | None, Param(help="identifies each document; default: the row number")] = None,
    window: Annotated[int, Param(ge=2, le=20, help="textrank: words closer than this many positions are linked")] = 5,
    damping: Annotated[float, Param(gt=0, lt=1, help="textrank: PageRank damping factor")] = 0.85,
) -> pd.DataFrame:
    """The top keywords of each document, by TF-IDF weight or by TextRank.

    TF-IDF scores a word by its count in the document times its inverse document frequency over
    the whole table (scikit-learn's ``TfidfVectorizer``, l2-normalized). TextRank links words
    that occur within ``window`` tokens of each other (edge weight = how often) and ranks them
    with PageRank; it needs no other documents. Output: one row per document and keyword, with
    its rank (from 1) and score; ties go to the alphabetically first (tfidf) or earlier (textrank)
    word.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["graph ranks words graph links words graph"]})
    >>> keywords(docs, column="text", top_k=2)[["keyword", "rank"]].values.tolist()
    [['graph', 1], ['words', 2]]
    """
    require_text_rows(data)
    texts = text_column(data, column)
    ids = document_ids(data, id_column)
    rows: list[tuple[int, str, int, float]] = []
    if method == "textrank":
        for position, text in enumerate(texts):
            for rank, (word, score) in enumerate(textrank(tokens(text), window, damping)[:top_k], start=1):
                rows.append((position, word, rank, score))
    elif any(text.strip() for text in texts):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(token_pattern=TOKEN, lowercase=False)
        matrix = vectorizer.fit_transform(texts).tocsr()
        terms = vectorizer.get_feature_names_out()
        for position in range(matrix.shape[0]):
            start, end = matrix.indptr[position], matrix.indptr[position + 1]
            entries = sorted(zip(matrix.data[start:end], terms[matrix.indices[start:end]], strict=True), key=lambda item: (-round(item[0], 12), item[1]))
            for rank, (score, word) in enumerate(entries[:top_k], start=1):
                rows.append((position, str(word), rank, float(score)))
    table = pd.DataFrame(rows, columns=["position", "keyword", "rank", "score"])
    table.insert(0, ids.name, ids.to_numpy()[table["position"].to_numpy(dtype=int)])
    return table.drop(columns="position")
