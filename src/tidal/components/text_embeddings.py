"""Word embeddings: word2vec (gensim) word vectors and averaged document vectors."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._text import require_text_rows, text_column, token_lists
from tidal.core import Column, DataError, Param, component


class Embeddings(NamedTuple):
    words: pd.DataFrame
    documents: pd.DataFrame


@component("text.word2vec", title="Word2Vec", tags={"sample": "text"})
def word2vec(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="a column of space-separated tokens (see text.segment)")],
    dimensions: Annotated[int, Param(ge=2, le=1000, help="length of each word vector")] = 50,
    window: Annotated[int, Param(ge=1, le=50, help="how many neighbouring words on each side count as context")] = 5,
    min_count: Annotated[int, Param(ge=1, help="ignore words seen fewer times than this")] = 1,
    architecture: Annotated[Literal["skipgram", "cbow"], Param(help="skip-gram predicts the context from a word; CBOW the word from its context")] = "skipgram",
    negative: Annotated[int, Param(ge=1, le=50, help="negative samples per positive one")] = 5,
    epochs: Annotated[int, Param(ge=1, le=1000, help="passes over the documents")] = 10,
    prefix: Annotated[str, Param(help="names of the vector columns: <prefix>0, <prefix>1, ...")] = "w2v_",
    seed: Annotated[int, Param(ge=0)] = 0,
) -> Embeddings:
    """Learn word vectors with word2vec (gensim, one worker thread so runs repeat exactly).

    Outputs: ``words``, one row per vocabulary word with its count and vector; ``documents``,
    the input with each document's mean word vector (zeros when none of its words is known).
    Needs the optional ``gensim`` package.

    Examples
    --------
    >>> import pandas as pd
    >>> docs = pd.DataFrame({"text": ["king queen royal palace", "apple banana fruit salad"] * 20})
    >>> result = word2vec(docs, column="text", dimensions=8)
    >>> result.words.shape, result.documents.shape
    ((8, 10), (40, 9))
    """
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise DataError("text.word2vec needs the gensim package: pip install gensim") from None
    require_text_rows(data)
    sentences = token_lists(text_column(data, column))
    counts = pd.Series([word for sentence in sentences for word in sentence]).value_counts()
    if not (counts >= min_count).any():
        raise DataError(f"no word of column '{column}' occurs {min_count} time(s) or more; lower 'min_count' or segment the text first")
    model = Word2Vec(
        sentences=sentences, vector_size=dimensions, window=window, min_count=min_count, sg=int(architecture == "skipgram"),
        negative=negative, epochs=epochs, seed=seed, workers=1,
    )
    vectors = model.wv
    names = [f"{prefix}{index}" for index in range(dimensions)]
    words = pd.DataFrame(vectors.vectors.astype(float), columns=names)
    words.insert(0, "word", list(vectors.index_to_key))
    words.insert(1, "count", [int(vectors.get_vecattr(word, "count")) for word in vectors.index_to_key])
    means = np.zeros((len(sentences), dimensions))
    for row, sentence in enumerate(sentences):
        known = [word for word in sentence if word in vectors.key_to_index]
        if known:
            means[row] = vectors[known].mean(axis=0)
    documents = data.copy()
    documents[names] = means
    return Embeddings(words, documents)
