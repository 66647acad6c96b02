"""Text similarity: between two columns of a row, and the most similar documents of a corpus."""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.components._text import require_text_rows, text_column
from tidal.components.text_counts import TOKEN, document_ids
from tidal.core import Column, DataError, Param, component

SimilarityMethod = Literal["levenshtein", "levenshtein_similarity", "jaccard", "cosine"]


def levenshtein(left: str, right: str) -> int:
    """Edit distance: the fewest single-character insertions, deletions and substitutions."""
    if len(left) < len(right):
        left, right = right, left
    previous = list(range(len(right) + 1))
    for row, char in enumerate(left, start=1):
        current = [row]
        for column, other in enumerate(right, start=1):
            current.append(min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (char != other)))
        previous = current
    return previous[-1]


def _units(text: str, unit: str) -> list[str]:
    return [char for char in text if not char.isspace()] if unit == "character" else text.split()


def similarity(left: str, right: str, method: str, unit: str) -> float:
    if method == "levenshtein":
        return float(levenshtein(left, right))
    if method == "levenshtein_similarity":
        longest = max(len(left), len(right))
        return 1.0 - levenshtein(left, right) / longest if longest else 1.0
    a, b = _units(left, unit), _units(right, unit)
    if method == "jaccard":
        union = set(a) | set(b)
        return len(set(a) & set(b)) / len(union) if union else 1.0
    counts_a, counts_b = Counter(a), Counter(b)
    norm = math.sqrt(sum(v * v for v in counts_a.values())) * math.sqrt(sum(v * v for v in counts_b.values()))
    return sum(counts_a[key] * counts_b[key] for key in counts_a) / norm if norm else 0.0


@component("text.string_similarity", title="String Similarity", tags={"sample": "text", "sample_params": {"column": "text", "other_column": "text"}})
def string_similarity(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the first text column")],
    other_column: Annotated[Column, Param(help="the text column compared with it, row by row")],
    method: Annotated[SimilarityMethod, Param(help="levenshtein: edit distance; levenshtein_similarity: 1 - distance / longer length; jaccard: shared / all distinct units; cosine: of unit counts")] = "levenshtein_similarity",
    unit: Annotated[Literal["word", "character"], Param(help="jaccard and cosine compare space-separated words or characters (for Chinese)")] = "word",
    output_column: Annotated[str, Param(help="name of the new column")] = "similarity",
) -> pd.DataFrame:
    """Compare two text columns row by row: Levenshtein distance or similarity, Jaccard or cosine similarity.

    Levenshtein works on characters; Jaccard and cosine on words (space separated) or on
    characters. Two empty texts count as identical (similarity 1), cosine with an empty text 0.

    Examples
    --------
    >>> import pandas as pd
    >>> pairs = pd.DataFrame({"a": ["kitten", "red apple pie"], "b": ["sitting", "apple pie"]})
    >>> string_similarity(pairs, column="a", other_column="b", method="levenshtein")["similarity"].tolist()
    [3.0, 4.0]
    >>> round(float(string_similarity(pairs, column="a", other_column="b", method="jaccard")["similarity"].iloc[1]), 3)
    0.667
    """
    left, right = text_column(data, column), text_column(data, other_column)
    result = data.copy()
    result[output_column] = np.array([similarity(a, b, method, unit) for a, b in zip(left, right, strict=True)], dtype=float)
    return result


@component("text.similar_documents", title="Top-N Similar Documents", tags={"sample": "text"})
def similar_documents(
    data: pd.DataFrame,
    corpus: pd.DataFrame | None = None,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens, in 'data' and in 'corpus'")],
    id_column: Annotated[Column | None, Param(help="identifies documents (in both tables); default: the row number")] = None,
    top_n: Annotated[int, Param(ge=1, le=1000, help="similar documents per query document")] = 5,
    method: Annotated[Literal["tfidf_cosine", "jaccard"], Param(help="cosine of TF-IDF vectors (idf from the corpus), or Jaccard of word sets")] = "tfidf_cosine",
    min_similarity: Annotated[float, Param(ge=0, le=1, help="leave out pairs less similar than this (pairs sharing no word are always left out)")] = 0.0,
) -> pd.DataFrame:
    """For every document of ``data``, the ``top_n`` most similar documents of ``corpus``.

    Without a ``corpus`` input, documents are matched against the other rows of ``data``
    (never themselves). Output: ``id``, ``similar_id``, ``rank`` (from 1) and ``similarity``,
    ties broken by corpus order; documents sharing no word are never listed, so a document may
    get fewer than ``top_n`` rows.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["cheap flights to paris", "paris flights deals", "chocolate cake recipe"]})
    >>> similar_documents(docs, column="text", top_n=1)[["id", "similar_id"]].values.tolist()
    [[0, 1], [1, 0]]
    """
    require_text_rows(data)
    reference = data if corpus is None else corpus
    if len(reference) == 0:
        raise DataError("input 'corpus' is empty: there is nothing to compare with")
    if column not in reference.columns or (id_column is not None and id_column not in reference.columns):
        raise DataError(f"input 'corpus' needs the columns {column!r}{f' and {id_column!r}' if id_column else ''} too (it has: {', '.join(map(str, reference.columns[:20]))})")
    queries, documents = text_column(data, column), text_column(reference, column)
    if method == "tfidf_cosine":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(token_pattern=TOKEN, lowercase=False)
        try:
            right = vectorizer.fit_transform(documents)
        except ValueError:
            raise DataError(f"column '{column}' of the corpus holds no words; segment the text first") from None
        left = vectorizer.transform(queries)
    else:
        from sklearn.feature_extraction.text import CountVectorizer

        vectorizer = CountVectorizer(token_pattern=TOKEN, lowercase=False, binary=True)
        vectorizer.fit(pd.concat([queries, documents], ignore_index=True))
        left, right = vectorizer.transform(queries), vectorizer.transform(documents)
    query_ids, document_ids_ = document_ids(data, id_column), document_ids(reference, id_column)
    rows = []
    for start in range(0, left.shape[0], 512):
        block = left[start : start + 512]
        scores = np.asarray((block @ right.T).todense(), dtype=float)
        if method == "jaccard":
            sizes_left = np.asarray(block.sum(axis=1)).ravel()[:, None]
            sizes_right = np.asarray(right.sum(axis=1)).ravel()[None, :]
            union = sizes_left + sizes_right - scores
            scores = np.divide(scores, union, out=np.zeros_like(scores), where=union > 0)
        if corpus is None:
            scores[np.arange(scores.shape[0]), np.arange(start, start + scores.shape[0])] = -np.inf
        for offset, row in enumerate(scores):
            order = np.argsort(-row, kind="stable")[:top_n]
            rank = 0
            for position in order:
                if row[position] <= 0 or row[position] < min_similarity:
                    continue
                rank += 1
                rows.append((query_ids.iloc[start + offset], document_ids_.iloc[position], rank, float(row[position])))
    return pd.DataFrame(rows, columns=["id", "similar_id", "rank", "similarity"])
