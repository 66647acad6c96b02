"""Text preparation: normalization, word segmentation (Chinese with jieba), stop words, sentences.

Text components pass tokens along as space-separated text in the same column (as
``text.segment`` writes them), so a table stays a plain table that every format can store.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.components._text import output_name, segment, text_column, tokens
from tidal.components._text_stopwords import CHINESE, ENGLISH
from tidal.core import Column, DataError, Param, component

TEXT = {"sample": "text"}


@component("text.segment", title="Word Segmentation", tags=TEXT)
def segment_words(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    method: Annotated[
        Literal["auto", "jieba", "words", "characters", "whitespace"],
        Param(help="auto: jieba for text with Chinese characters, words otherwise; words: runs of letters and digits"),
    ] = "auto",
    output_column: Annotated[str | None, Param(help="where the tokens go; default: replace the text column")] = None,
    lowercase: Annotated[bool, Param(help="lower-case every token")] = True,
    keep_punctuation: Annotated[bool, Param(help="keep punctuation marks as tokens")] = False,
    user_words: Annotated[list[str] | None, Param(help="extra dictionary words jieba must keep whole (e.g. product names)")] = None,
) -> pd.DataFrame:
    """Split text into words, written back as space-separated tokens.

    Chinese has no spaces between words, so it is segmented with jieba (precise mode, with its
    HMM for unknown words); other text is split into runs of letters and digits, keeping
    contractions such as "don't" whole. Missing text becomes an empty string.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["我来到北京清华大学", "Hello, World! It's fine."]})
    >>> segment_words(docs, column="text")["text"].tolist()
    ['我 来到 北京 清华大学', "hello world it's fine"]
    """
    texts = text_column(data, column)
    words = tuple(user_words or ())
    result = data.copy()
    result[output_name(column, output_column)] = [
        " ".join(segment(text, method, user_words=words, keep_punctuation=keep_punctuation, lowercase=lowercase)) for text in texts
    ]
    return result


@component("text.normalize", title="Normalize Text", tags=TEXT)
def normalize(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    form: Annotated[Literal["NFKC", "NFC", "none"], Param(help="Unicode normalization; NFKC also turns full-width letters and digits into plain ones")] = "NFKC",
    lowercase: bool = True,
    strip_punctuation: Annotated[bool, Param(help="replace punctuation and symbols by spaces")] = False,
    strip_digits: Annotated[bool, Param(help="replace digits by spaces")] = False,
    output_column: Annotated[str | None, Param(help="where the result goes; default: replace the text column")] = None,
) -> pd.DataFrame:
    """Clean text: Unicode normalization (full-width to half-width), lower case, optional punctuation and digit removal.

    Runs of whitespace collapse to one space and the ends are trimmed.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["ＡＢＣ１２３  Hello,   World!"]})
    >>> normalize(docs, column="text", strip_punctuation=True)["text"].tolist()
    ['abc123 hello world']
    """
    def clean(text: str) -> str:
        if form != "none":
            text = unicodedata.normalize(form, text)
        if lowercase:
            text = text.lower()
        if strip_punctuation:
            text = "".join(" " if unicodedata.category(char)[0] in "PS" else char for char in text)
        if strip_digits:
            text = "".join(" " if char.isdigit() else char for char in text)
        return " ".join(text.split())

    result = data.copy()
    result[output_name(column, output_column)] = [clean(text) for text in text_column(data, column)]
    return result


def stop_word_set(languages: str, extra: list[str] | None, table: pd.DataFrame | None) -> set[str]:
    words: set[str] = set()
    if languages in ("english", "both"):
        words |= ENGLISH
    if languages in ("chinese", "both"):
        words |= CHINESE
    words |= {word.casefold() for word in extra or []}
    if table is not None and len(table.columns):
        source = "word" if "word" in table.columns else table.columns[0]
        words |= {str(word).strip().casefold() for word in table[source].dropna()}
    return words


@component("text.stop_words", title="Remove Stop Words", tags=TEXT)
def stop_words(
    data: pd.DataFrame,
    words: pd.DataFrame | None = None,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens (see text.segment)")],
    languages: Annotated[Literal["both", "english", "chinese", "none"], Param(help="built-in lists to use")] = "both",
    extra_words: Annotated[list[str] | None, Param(help="more words to remove")] = None,
    min_length: Annotated[int, Param(ge=1, help="also drop tokens shorter than this many characters")] = 1,
    output_column: Annotated[str | None, Param(help="where the kept tokens go; default: replace the column")] = None,
) -> pd.DataFrame:
    """Remove stop words (and very short tokens) from tokenized text.

    The built-in English and Chinese lists hold common function words (articles, pronouns,
    particles such as 的 了 和). Add words with ``extra_words`` or connect a table of words to
    ``words`` (its ``word`` column, else its first column). Matching ignores case.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["the cat sat on the mat", "我 的 猫 在 睡觉"]})
    >>> stop_words(docs, column="text")["text"].tolist()
    ['cat sat mat', '猫 睡觉']
    """
    removed = stop_word_set(languages, extra_words, words)
    result = data.copy()
    result[output_name(column, output_column)] = [
        " ".join(token for token in tokens(text) if token.casefold() not in removed and len(token) >= min_length)
        for text in text_column(data, column)
    ]
    return result


ENDINGS = set("。！？…")
ASCII_ENDINGS = set(".!?")
CLOSERS = set("\"'”’」』】）)]》")
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig", "inc", "ltd", "co"}


def split_sentences(text: str, *, semicolons: bool = False, lines: bool = True) -> list[str]:
    """Sentences of one text: after 。！？… always, after . ! ? when a space, the end or Chinese follows."""
    endings = ENDINGS | ({"；", ";"} if semicolons else set())
    sentences: list[str] = []
    start = index = 0
    while index < len(text):
        char = text[index]
        if lines and char == "\n":
            sentences.append(text[start:index])
            start = index = index + 1
            continue
        if char not in endings and char not in ASCII_ENDINGS:
            index += 1
            continue
        end = index + 1
        while end < len(text) and (text[end] in endings or text[end] in ASCII_ENDINGS):
            end += 1
        while end < len(text) and text[end] in CLOSERS:
            end += 1
        if char in ASCII_ENDINGS and char not in endings:
            follows = text[end] if end < len(text) else " "
            before = re.search(r"([\w.]+)$", text[start:index])
            if not (follows.isspace() or re.match(r"[\u4e00-\u9fff]", follows)) or (
                char == "." and before and before.group(1).lower().rstrip(".") in ABBREVIATIONS
            ):
                index = end
                continue
        sentences.append(text[start:end])
        start = index = end
    sentences.append(text[start:])
    return [sentence.strip() for sentence in sentences if sentence.strip()]


@component("text.sentence_split", title="Split Sentences", tags=TEXT)
def sentence_split(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    semicolons: Annotated[bool, Param(help="also end a sentence at ; and ；")] = False,
    lines: Annotated[bool, Param(help="a line break always ends a sentence")] = True,
    index_column: Annotated[str, Param(help="name of the new column numbering each row's sentences from 0")] = "sentence_index",
) -> pd.DataFrame:
    """One row per sentence: English and Chinese end punctuation, quotes and common abbreviations handled.

    A sentence ends after 。！？ or …, and after . ! ? when whitespace, the end of the text or a
    Chinese character follows (so 3.14 and e.g. stay whole; Mr., Dr., etc. are not ends).
    Closing quotes and brackets stay with their sentence. Other columns are repeated on every
    sentence of their row; rows without text disappear.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"id": [1, 2], "text": ["Mr. Smith paid 3.50 dollars. Was it cheap? Yes!", "今天天气很好。我们去公园吧！"]})
    >>> sentence_split(docs, column="text")[["id", "text"]].values.tolist()
    [[1, 'Mr. Smith paid 3.50 dollars.'], [1, 'Was it cheap?'], [1, 'Yes!'], [2, '今天天气很好。'], [2, '我们去公园吧！']]
    """
    if index_column in data.columns and index_column != column:
        raise DataError(f"parameter 'index_column': the input already has a column '{index_column}'; choose another name")
    pieces = [split_sentences(text, semicolons=semicolons, lines=lines) for text in text_column(data, column)]
    counts = [len(piece) for piece in pieces]
    result = data.iloc[np.repeat(np.arange(len(data)), counts)].reset_index(drop=True)
    result[column] = pd.Series([sentence for piece in pieces for sentence in piece], dtype=object)
    result[index_column] = np.concatenate([np.arange(count) for count in counts]) if counts else np.array([], dtype=int)
    return result
