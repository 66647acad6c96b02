"""Image features and similarity: a trained network's layer as an embedding table, and cosine top-k search over one."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd

from tidal.core import Columns, DataError, Param, component
from tidal.core._errors import TidalError
from tidal.models import ModelPackage

IMAGES = {"sample": "images"}


def layer_outputs(model: Any, matrix: np.ndarray, layer: str, batch_size: int = 1024) -> np.ndarray:
    """Layer ``layer``'s output for rows of pixels (scaled as in training), flattened per row, as float64."""
    import torch

    from tidal.nn import NetworkSpec
    from tidal.nn._build import build_module

    document = model.spec.to_dict()
    document["outputs"] = {"embedding": layer}
    truncated = build_module(NetworkSpec.from_dict(document, source=f"network '{model.spec.name}' up to '{layer}'"))
    wanted = truncated.state_dict()
    truncated.load_state_dict({key: value for key, value in model.state.items() if key in wanted})
    truncated.eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(matrix), batch_size):
            produced = truncated(model.tensor(matrix[start: start + batch_size]))
            parts.append(produced.float().reshape(len(produced), -1).numpy().astype(np.float64))
    return np.concatenate(parts)


@component("vision.embed", title="Image Embeddings", tags={**IMAGES, "sample_model": "vision.train_classifier"})
def embed(
    data: pd.DataFrame,
    model: ModelPackage,
    *,
    layer: Annotated[str | None, Param(help="the layer whose output is the embedding; empty: the one before the output "
                                            "layer (the pooled features)")] = None,
    features: Annotated[Columns, Param(help="the pixel columns; empty: the model's own feature columns")] = None,
    prefix: Annotated[str, Param(help="names of the embedding columns: <prefix>0, <prefix>1 ...")] = "emb_",
    keep_columns: Annotated[bool, Param(help="keep the input's non-pixel columns beside the embedding")] = True,
    batch_size: Annotated[int, Param(ge=1, help="images per forward pass (memory grows with it)")] = 1024,
) -> pd.DataFrame:
    """Features of each image from a trained network: a chosen layer's output, flattened, one column per number.

    The pixels are scaled as in training, and the network runs in eval mode up to ``layer``
    (by default the layer feeding the output layer: for ``vision.train_classifier``'s
    architectures, the pooled feature vector). Search the table with ``vision.similarity_search``,
    or cluster and classify it like any other.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from tidal.components.vision_models import train_classifier
    >>> digits = load_digits(as_frame=True).frame
    >>> network = train_classifier(digits, label="target", epochs=3, threads=1).model
    >>> vectors = embed(digits.head(5), network)
    >>> vectors.shape
    (5, 65)
    >>> embed(digits.head(5), network, layer="flatten", keep_columns=False).shape
    (5, 128)
    """
    from tidal.nn._network_model import NetworkModel

    if not isinstance(model, ModelPackage) or not isinstance(model.model, NetworkModel):
        raise TidalError("input 'model' must be a trained network (flavor torch, from vision.train_classifier or nn.train)")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input 'data' must be a table, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no images")
    network = model.model
    layers = [item.id for item in network.spec.layers]
    if layer is None:
        head = str(network.spec.output_map[network.output_name]).split(".")[0]
        sources = network.spec.layer(head).inputs
        layer = str(sources[0]).split(".")[0] if sources else head
    elif layer not in layers:
        raise TidalError(f"layer: network '{network.spec.name}' has no layer '{layer}' (layers: {', '.join(layers)})")
    names = features or list(model.features)
    missing = [name for name in names if name not in data.columns]
    if missing:
        raise DataError(f"input 'data' lacks the pixel column(s) the network reads: {', '.join(missing[:5])}"
                        + (" ..." if len(missing) > 5 else ""))
    matrix = network.matrix(data[names])
    vectors = layer_outputs(network, matrix, layer, batch_size)
    embedded = pd.DataFrame(vectors, columns=[f"{prefix}{index}" for index in range(vectors.shape[1])], index=data.index)
    if not keep_columns:
        return embedded
    kept = data.drop(columns=[name for name in names if name in data.columns])
    kept = kept[[name for name in kept.columns if not isinstance(kept[name].iloc[0], (bytes, bytearray))]]
    clashes = [name for name in embedded.columns if name in kept.columns]
    if clashes:
        raise DataError(f"the input already has column '{clashes[0]}'; choose another 'prefix'")
    return pd.concat([kept, embedded], axis=1)


@component("vision.similarity_search", title="Image Similarity Search",
           tags={**IMAGES, "sample_params": {"prefix": "pixel_", "top_k": 3}})
def similarity_search(
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="the embedding columns (in both tables); empty: every <prefix>... column")] = None,
    prefix: Annotated[str, Param(help="with no 'columns': the embedding columns are those whose names start with it")] = "emb_",
    top_k: Annotated[int, Param(ge=1, le=10_000, help="corpus rows returned per query")] = 5,
    id_column: Annotated[str | None, Param(help="a column of both tables to name the rows by (path, id); empty: "
                                                "positions only")] = None,
) -> pd.DataFrame:
    """For each query row, the ``top_k`` corpus rows with the most similar embeddings (cosine similarity).

    One row per (query, hit), best first: ``query_row`` and ``corpus_row`` (positions), ``rank``
    (1 = best), ``score`` (cosine similarity, -1 to 1; 0 against an all-zero vector), and the
    ``id_column`` of both when given. Ties keep corpus order.

    Examples
    --------
    >>> corpus = pd.DataFrame({"name": ["a", "b", "c"], "emb_0": [1.0, 0.0, 1.0], "emb_1": [0.0, 1.0, 1.0]})
    >>> queries = pd.DataFrame({"name": ["q"], "emb_0": [0.9], "emb_1": [0.1]})
    >>> similarity_search(queries, corpus, top_k=2, id_column="name")[["query_name", "corpus_name", "rank"]].values.tolist()
    [['q', 'a', 1], ['q', 'c', 2]]
    """
    tables = {"queries": queries, "corpus": corpus}
    for what, table in tables.items():
        if not isinstance(table, pd.DataFrame):
            raise DataError(f"input '{what}' must be a table, got {type(table).__name__}")
        if len(table) == 0:
            raise DataError(f"input '{what}' is empty")
    names = list(columns) if columns else [str(name) for name in corpus.columns if str(name).startswith(prefix)
                                           and pd.api.types.is_numeric_dtype(corpus[name])]
    if not names:
        raise DataError(f"input 'corpus' has no embedding columns '{prefix}...'; name them in 'columns'")
    vectors = {}
    for what, table in tables.items():
        missing = [name for name in names if name not in table.columns]
        if missing:
            raise DataError(f"input '{what}' lacks embedding column(s) {', '.join(map(repr, missing[:5]))}")
        if id_column is not None and id_column not in table.columns:
            raise DataError(f"input '{what}' has no column '{id_column}' (id_column)")
        matrix = table[names].to_numpy(dtype=np.float64)
        if np.isnan(matrix).any():
            row = int(np.flatnonzero(np.isnan(matrix).any(axis=1))[0])
            raise DataError(f"input '{what}' row {row} has a missing embedding value")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        vectors[what] = matrix / np.where(norms > 0, norms, 1.0)
    scores = vectors["queries"] @ vectors["corpus"].T
    k = min(top_k, len(corpus))
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    rows = [(query, int(hit), rank + 1, float(scores[query, hit])) for query in range(len(queries))
            for rank, hit in enumerate(best[query])]
    result = pd.DataFrame(rows, columns=["query_row", "corpus_row", "rank", "score"])
    if id_column is not None:
        result.insert(1, f"query_{id_column}", queries[id_column].to_numpy()[result["query_row"].to_numpy()])
        result.insert(3, f"corpus_{id_column}", corpus[id_column].to_numpy()[result["corpus_row"].to_numpy()])
    return result
