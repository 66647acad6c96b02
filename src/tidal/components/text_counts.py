"""Counting words: n-grams, word frequencies per document, bag of words and TF-IDF vectors."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._text import TextVectorizer, require_text_rows, text_column, token_lists
from tidal.core import Column, DataError, Param, component
from tidal.models import ModelPackage

TEXT = {"sample": "text"}
TOKEN = r"(?u)\S+"


class Vectors(NamedTuple):
    model: ModelPackage
    weights: pd.DataFrame


class Vocabulary(NamedTuple):
    model: ModelPackage
    vocabulary: pd.DataFrame


def document_ids(data: pd.DataFrame, id_column: str | None) -> pd.Series:
    """Each row's id: the id column, or the row number."""
    return data[id_column].reset_index(drop=True) if id_column else pd.Series(np.arange(len(data)), name="row")


def _grams(words: list[str], low: int, high: int, joiner: str) -> list[str]:
    return [joiner.join(words[start : start + n]) for n in range(low, high + 1) for start in range(len(words) - n + 1)]


@component("text.ngrams", title="N-gram Counts", tags=TEXT)
def ngrams(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens (see text.segment)")],
    min_n: Annotated[int, Param(ge=1, le=6, help="shortest n-gram")] = 1,
    max_n: Annotated[int, Param(ge=1, le=6, help="longest n-gram")] = 2,
    unit: Annotated[Literal["word", "character"], Param(help="n-grams of tokens, or of characters (spaces removed; for unsegmented Chinese)")] = "word",
    min_count: Annotated[int, Param(ge=1, help="keep n-grams seen at least this often")] = 1,
    top: Annotated[int, Param(ge=0, help="keep only the most frequent this many (0: all)")] = 0,
) -> pd.DataFrame:
    """Count n-grams over all documents: how often each occurs and in how many documents.

    Word n-grams join tokens with a space; character n-grams join characters directly. Sorted
    by count, then alphabetically.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["new york city", "new york times", "old york"]})
    >>> ngrams(docs, column="text", min_n=2, max_n=2).head(2).values.tolist()
    [['new york', 2, 2, 2], ['old york', 2, 1, 1]]
    """
    if min_n > max_n:
        raise DataError(f"parameter 'min_n' ({min_n}) is above 'max_n' ({max_n})")
    texts = text_column(data, column)
    counts: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    for text in texts:
        units = list("".join(text.split())) if unit == "character" else text.split()
        found = _grams(units, min_n, max_n, "" if unit == "character" else " ")
        counts.update(found)
        documents.update(set(found))
    table = pd.DataFrame(
        {"ngram": list(counts), "n": [len(gram) if unit == "character" else gram.count(" ") + 1 for gram in counts], "count": list(counts.values())},
        columns=["ngram", "n", "count"],
    )
    table["documents"] = [documents[gram] for gram in table["ngram"]]
    table = table[table["count"] >= min_count].sort_values(["count", "ngram"], ascending=[False, True], kind="stable", ignore_index=True)
    return table.head(top) if top else table


@component("text.word_frequency", title="Word Frequency", tags=TEXT)
def word_frequency(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens (see text.segment)")],
    id_column: Annotated[Column | None, Param(help="identifies each document; default: the row number")] = None,
    top: Annotated[int, Param(ge=0, help="keep each document's most frequent this many words (0: all)")] = 0,
) -> pd.DataFrame:
    """Word counts per document: one row per (document, word) with its count and share of the document.

    Sorted by document (in input order), then count, then word.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"id": ["a", "b"], "text": ["to be or not to be", "be quick"]})
    >>> word_frequency(docs, column="text", id_column="id").head(3).values.tolist()
    [['a', 'be', 2, 0.3333333333333333], ['a', 'to', 2, 0.3333333333333333], ['a', 'not', 1, 0.16666666666666666]]
    """
    ids = document_ids(data, id_column)
    rows = []
    for position, words in enumerate(token_lists(text_column(data, column))):
        ranked = sorted(Counter(words).items(), key=lambda item: (-item[1], item[0]))
        for word, count in ranked[:top] if top else ranked:
            rows.append((position, word, count, count / len(words)))
    table = pd.DataFrame(rows, columns=["position", "word", "count", "frequency"])
    table.insert(0, ids.name, ids.iloc[table["position"].to_numpy()].to_numpy() if len(table) else ids.iloc[:0].to_numpy())
    return table.drop(columns="position")


def fit_text_transform(data: pd.DataFrame, column: str, vectorizer: object, prefix: str, params: dict[str, object]) -> ModelPackage:
    """Fit a text vectorizer on one column and package it as a transform (text in, one column per term out)."""
    require_text_rows(data)
    texts = text_column(data, column)
    if not any(text.strip() for text in texts):
        raise DataError(f"column '{column}' holds no words; segment the text first or check the column")
    transformer = TextVectorizer(column, vectorizer)
    try:
        transformer.fit(pd.DataFrame({column: texts}))
    except ValueError as error:
        raise DataError(f"cannot build a vocabulary from column '{column}': {error}; loosen min_df / max_df") from None
    terms = transformer.get_feature_names_out()
    return ModelPackage.from_estimator(
        transformer, data, features=[column], task="transform", params=params,
        metadata={"output_columns": [f"{prefix}{term}" for term in terms], "vocabulary_size": len(terms)},
    )


@component("text.tfidf", title="TF-IDF", tags=TEXT)
def tfidf(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens (see text.segment)")],
    id_column: Annotated[Column | None, Param(help="identifies each document in the weights table; default: the row number")] = None,
    max_features: Annotated[int, Param(ge=1, help="keep the most frequent this many terms")] = 1000,
    min_df: Annotated[int, Param(ge=1, help="ignore terms in fewer documents than this")] = 1,
    max_df: Annotated[float, Param(gt=0, le=1, help="ignore terms in more than this share of documents")] = 1.0,
    norm: Annotated[Literal["l2", "l1", "none"], Param(help="scale each document's vector to unit length")] = "l2",
    sublinear_tf: Annotated[bool, Param(help="use 1 + ln(count) instead of the count")] = False,
    smooth_idf: Annotated[bool, Param(help="idf = ln((1 + n) / (1 + df)) + 1 instead of ln(n / df) + 1")] = True,
) -> Vectors:
    """TF-IDF weights of tokenized documents (scikit-learn's ``TfidfVectorizer`` on space-separated tokens).

    Outputs: ``model``, the fitted vectorizer as a transform, so ``model.predict`` turns any
    table's text column into ``tfidf_<term>`` columns with the vocabulary and idf learned here;
    ``weights``, a long table with one row per document and term present: the count, the idf
    and the tf-idf weight.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["apple banana apple", "banana cherry"]})
    >>> result = tfidf(docs, column="text")
    >>> result.weights.round(3).values.tolist()[:2]
    [[0, 'apple', 2, 1.405, 0.942], [0, 'banana', 1, 1.0, 0.335]]
    >>> list(result.model.transform(docs).columns)
    ['tfidf_apple', 'tfidf_banana', 'tfidf_cherry']
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        token_pattern=TOKEN, lowercase=False, max_features=max_features, min_df=min_df, max_df=max_df,
        norm=None if norm == "none" else norm, sublinear_tf=sublinear_tf, smooth_idf=smooth_idf,
    )
    params = {"max_features": max_features, "min_df": min_df, "max_df": max_df, "norm": norm, "sublinear_tf": sublinear_tf, "smooth_idf": smooth_idf}
    model = fit_text_transform(data, column, vectorizer, "tfidf_", params)
    fitted = model.model.vectorizer
    texts = text_column(data, column)
    weights = fitted.transform(texts).tocoo()
    analyze = fitted.build_analyzer()
    terms = fitted.get_feature_names_out()
    ids = document_ids(data, id_column)
    token_counts = [Counter(analyze(text)) for text in texts]
    table = pd.DataFrame(
        {
            ids.name: ids.to_numpy()[weights.row],
            "term": terms[weights.col],
            "count": [token_counts[row][terms[col]] for row, col in zip(weights.row, weights.col, strict=True)],
            "idf": fitted.idf_[weights.col],
            "tfidf": weights.data,
            "position": weights.row,
        }
    )
    table = table.sort_values(["position", "tfidf", "term"], ascending=[True, False, True], kind="stable", ignore_index=True)
    return Vectors(model, table.drop(columns="position"))


@component("text.bag_of_words", title="Bag of Words", tags=TEXT)
def bag_of_words(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens (see text.segment)")],
    max_features: Annotated[int, Param(ge=1, help="keep the most frequent this many terms")] = 1000,
    min_df: Annotated[int, Param(ge=1, help="ignore terms in fewer documents than this")] = 1,
    max_df: Annotated[float, Param(gt=0, le=1, help="ignore terms in more than this share of documents")] = 1.0,
    binary: Annotated[bool, Param(help="1 when a term is present instead of its count")] = False,
    min_n: Annotated[int, Param(ge=1, le=4, help="shortest n-gram used as a term")] = 1,
    max_n: Annotated[int, Param(ge=1, le=4, help="longest n-gram used as a term")] = 1,
) -> Vocabulary:
    """Term counts per document (scikit-learn's ``CountVectorizer`` on space-separated tokens).

    Outputs: ``model``, a fitted transform turning the text column into ``bow_<term>`` count
    columns (apply it with ``model.predict``); ``vocabulary``, each term with its column index,
    total count and document count.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["red fish blue fish", "one fish"]})
    >>> result = bag_of_words(docs, column="text")
    >>> result.model.transform(docs).values.tolist()
    [[1, 2, 0, 1], [0, 1, 1, 0]]
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if min_n > max_n:
        raise DataError(f"parameter 'min_n' ({min_n}) is above 'max_n' ({max_n})")
    vectorizer = CountVectorizer(token_pattern=TOKEN, lowercase=False, max_features=max_features, min_df=min_df, max_df=max_df, binary=binary, ngram_range=(min_n, max_n))
    params = {"max_features": max_features, "min_df": min_df, "max_df": max_df, "binary": binary, "min_n": min_n, "max_n": max_n}
    model = fit_text_transform(data, column, vectorizer, "bow_", params)
    fitted = model.model.vectorizer
    matrix = fitted.transform(text_column(data, column))
    terms = fitted.get_feature_names_out()
    vocabulary = pd.DataFrame(
        {
            "term": terms,
            "index": np.arange(len(terms)),
            "count": np.asarray(matrix.sum(axis=0)).ravel(),
            "documents": np.asarray((matrix > 0).sum(axis=0)).ravel(),
        }
    )
    return Vocabulary(model, vocabulary)
