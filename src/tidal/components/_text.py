"""Shared pieces of the text components: reading a text column, tokens, segmentation."""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"\w+(?:['’]\w+)*")
PUNCTUATION_ONLY = re.compile(r"[\W_]+")


def text_column(data: pd.DataFrame, column: str) -> pd.Series:
    """The column as strings; missing values read as empty text. Numbers and dates are refused."""
    values = data[column]
    if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
        raise DataError(f"column '{column}' ({values.dtype}) is not text; pick a text column")
    return pd.Series([as_text(value) for value in values], index=values.index, dtype=object, name=column)


def as_text(value: Any) -> str:
    """A cell as text: None, NaN and pd.NA read as the empty string."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def require_text_rows(data: pd.DataFrame, what: str = "data") -> None:
    if len(data) == 0:
        raise DataError(f"input '{what}' is empty: there is no text to work on")


def tokens(text: str) -> list[str]:
    """The tokens of already segmented text (space separated, as text.segment writes it)."""
    return text.split()


def token_lists(values: pd.Series) -> list[list[str]]:
    return [tokens(text) for text in values]


def is_punctuation(token: str) -> bool:
    return PUNCTUATION_ONLY.fullmatch(token) is not None


@functools.lru_cache(maxsize=4)
def jieba_tokenizer(user_words: tuple[str, ...] = ()) -> Any:
    """A jieba tokenizer of its own (jieba's global one is shared state), with extra dictionary words."""
    try:
        import jieba
    except ImportError:
        raise DataError("Chinese word segmentation needs the jieba package: pip install jieba") from None
    import logging

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for word in user_words:
        tokenizer.add_word(word)
    return tokenizer


def segment(text: str, method: str, *, user_words: tuple[str, ...] = (), keep_punctuation: bool = False, lowercase: bool = True) -> list[str]:
    """Split one text into tokens: jieba for Chinese, word characters for the rest."""
    if method == "auto":
        method = "jieba" if CJK.search(text) else "words"
    if method == "jieba":
        found = [token.strip() for token in jieba_tokenizer(user_words).lcut(text, HMM=True)]
        found = [token for token in found if token]
    elif method == "words":
        found = WORD.findall(text) if not keep_punctuation else re.findall(r"\w+(?:['’]\w+)*|[^\w\s]", text)
    elif method == "characters":
        found = [char for char in text if not char.isspace()]
    else:
        found = text.split()
    if not keep_punctuation:
        found = [token for token in found if not is_punctuation(token)]
    return [token.lower() for token in found] if lowercase else found


def output_name(column: str, output_column: str | None) -> str:
    return output_column or column


class TextVectorizer:
    """Applies a scikit-learn text vectorizer to one column of a table; missing text reads as "".

    Plain attributes (a column name and a fitted vectorizer), so skops can store it safely.
    """

    def __init__(self, column: str = "text", vectorizer: Any = None) -> None:
        self.column = column
        self.vectorizer = vectorizer

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"column": self.column, "vectorizer": self.vectorizer}

    def _texts(self, X: pd.DataFrame) -> list[str]:
        values = X[self.column] if isinstance(X, pd.DataFrame) else pd.Series(X)
        return [as_text(value) for value in values]

    def fit(self, X: pd.DataFrame, y: Any = None) -> TextVectorizer:
        self.vectorizer.fit(self._texts(X))
        return self

    def transform(self, X: pd.DataFrame) -> Any:
        return self.vectorizer.transform(self._texts(X))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.vectorizer.get_feature_names_out(), dtype=object)
