"""Encoding categories as numbers: one-hot, ordinal, frequency, target and hashing encoders,
and binning numbers into intervals. Each returns the encoded table and the fitted encoder."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from sklearn import preprocessing

from tidal.components._training import label_values
from tidal.components._transforms import (
    FittedTransform,
    FrequencyEncoder,
    HashingEncoder,
    categorical_columns,
    complete_numeric,
    fit_or_explain,
    numeric_columns,
    package,
    supervised_task,
    without_label,
)
from tidal.core import Column, Columns, DataError, Param, component

COLUMNS_HELP = "columns to encode; empty means every string or categorical column (others pass through)"


@component("features.one_hot", title="One-Hot Encoder", tags={"sample": "mixed", "transform": "encoder"})
def one_hot(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    drop: Annotated[Literal["none", "first", "if_binary"], Param(help="drop a redundant indicator per column")] = "none",
    min_frequency: Annotated[int | None, Param(ge=1, help="categories seen fewer times are grouped as 'infrequent'")] = None,
    max_categories: Annotated[int | None, Param(ge=2, help="at most this many indicators per column, rarest grouped")] = None,
    unknown: Annotated[Literal["ignore", "error"], Param(help="a category unseen in training: all-zero indicators, or an error")] = "ignore",
) -> FittedTransform:
    """Replace each categorical column by one 0/1 indicator column per category (``column_value``).

    Missing values count as a category of their own (``column_nan``).

    Examples
    --------
    >>> import pandas as pd
    >>> encoded = one_hot(pd.DataFrame({"color": ["red", "blue", "red"], "n": [1, 2, 3]})).data
    >>> encoded.columns.tolist()
    ['n', 'color_blue', 'color_red']
    >>> encoded["color_red"].tolist()
    [1.0, 0.0, 1.0]
    """
    chosen = categorical_columns(data, columns)
    estimator = preprocessing.OneHotEncoder(
        drop=None if drop == "none" else drop,
        min_frequency=min_frequency,
        max_categories=max_categories,
        handle_unknown="infrequent_if_exist" if unknown == "ignore" else "error",
        sparse_output=False,
    )
    fit_or_explain(estimator, data[chosen], what="the one-hot encoder")
    params = {"drop": drop, "min_frequency": min_frequency, "max_categories": max_categories, "unknown": unknown}
    return package(estimator, data, chosen, step="features.one_hot", params=params)


@component("features.ordinal_encoder", title="Ordinal Encoder", tags={"sample": "mixed", "transform": "encoder"})
def ordinal_encoder(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    unknown_value: Annotated[int, Param(help="the code given to a category unseen in training")] = -1,
) -> FittedTransform:
    """Replace each category by its position in the sorted list of training categories (0, 1, 2 ...).

    Missing values stay missing; categories unseen in training get ``unknown_value``.

    Examples
    --------
    >>> import pandas as pd
    >>> ordinal_encoder(pd.DataFrame({"size": ["S", "M", "L", "M"]})).data["size"].tolist()
    [2.0, 1.0, 0.0, 1.0]
    """
    chosen = categorical_columns(data, columns)
    estimator = preprocessing.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=unknown_value)
    fit_or_explain(estimator, data[chosen], what="the ordinal encoder")
    return package(estimator, data, chosen, step="features.ordinal_encoder", params={"unknown_value": unknown_value})


@component("features.frequency_encoder", title="Frequency Encoder", tags={"sample": "mixed", "transform": "encoder"})
def frequency_encoder(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    normalize: Annotated[bool, Param(help="use the share of training rows instead of the count")] = True,
) -> FittedTransform:
    """Replace each category by how often it occurs in the training table.

    Missing values are a category of their own; a category unseen in training becomes 0.

    Examples
    --------
    >>> import pandas as pd
    >>> frequency_encoder(pd.DataFrame({"city": ["Oslo", "Lima", "Oslo", "Oslo"]})).data["city"].tolist()
    [0.75, 0.25, 0.75, 0.75]
    """
    chosen = categorical_columns(data, columns)
    estimator = FrequencyEncoder(normalize=normalize).fit(data[chosen])
    return package(estimator, data, chosen, step="features.frequency_encoder", params={"normalize": normalize})


@component("features.target_encoder", title="Target Encoder", tags={"sample": "mixed", "transform": "encoder", "supervised": True})
def target_encoder(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the target whose mean per category becomes the code")],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    target_type: Annotated[
        Literal["auto", "binary", "multiclass", "continuous"],
        Param(help="kind of target; multiclass gives one column per class; auto: a numeric label with fractions or over 20 values is continuous"),
    ] = "auto",
    smooth: Annotated[float | None, Param(ge=0, help="shrinkage toward the overall mean; empty picks it from the data")] = None,
    folds: Annotated[int, Param(ge=2, help="folds for cross-fitting the training rows")] = 5,
    seed: Annotated[int, Param(ge=0, help="seed for shuffling the folds")] = 0,
) -> FittedTransform:
    """Replace each category by a smoothed mean of the target over that category.

    The training rows are encoded by cross-fitting (each fold with statistics from the other
    folds), so their codes do not leak their own target; ``features.apply`` uses the
    statistics of the whole training table.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"city": ["a", "b"] * 10, "y": [1, 0, 1, 1] * 5})
    >>> fitted = target_encoder(frame, label="y", folds=2)
    >>> fitted.transform.transform(pd.DataFrame({"city": ["a", "b"]}))["city"].round(2).tolist()
    [1.0, 0.53]
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    chosen = without_label(categorical_columns(data, columns, exclude=(label,)), label)
    target = label_values(data, label)
    kind = target_type
    if kind == "auto":
        if supervised_task(target, "auto") == "regression":
            kind = "continuous"
        else:
            kind = "binary" if target.nunique() == 2 else "multiclass"
    splitter = KFold if kind == "continuous" else StratifiedKFold
    estimator = preprocessing.TargetEncoder(
        target_type=kind, smooth="auto" if smooth is None else smooth, cv=splitter(folds, shuffle=True, random_state=seed)
    )
    try:
        crossed = estimator.fit_transform(data[chosen], target)
    except (ValueError, TypeError) as error:
        raise DataError(f"cannot fit the target encoder on label '{label}': {error}") from None
    params = {"target_type": kind, "smooth": smooth, "folds": folds, "seed": seed}
    return package(estimator, data, chosen, step="features.target_encoder", params=params, label=label, transformed=crossed)


@component("features.hashing", title="Feature Hashing", tags={"sample": "mixed", "transform": "encoder"})
def hashing(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    n_features: Annotated[int, Param(ge=1, help="number of hash columns (hash_0, hash_1 ...)")] = 32,
    alternate_sign: Annotated[bool, Param(help="give half the tokens sign -1, so collisions cancel on average")] = False,
) -> FittedTransform:
    """Hash the ``column=value`` pairs of each row into a fixed number of count columns.

    Useful for columns with very many categories: the width stays fixed and unseen categories
    need no refit. Missing values add no token.

    Examples
    --------
    >>> import pandas as pd
    >>> hashed = hashing(pd.DataFrame({"user": ["u1", "u2", "u1"]}), n_features=4).data
    >>> hashed.columns.tolist(), hashed.sum(axis=1).tolist()
    (['hash_0', 'hash_1', 'hash_2', 'hash_3'], [1.0, 1.0, 1.0])
    """
    chosen = categorical_columns(data, columns)
    estimator = HashingEncoder(n_features=n_features, alternate_sign=alternate_sign).fit(data[chosen])
    params = {"n_features": n_features, "alternate_sign": alternate_sign}
    return package(estimator, data, chosen, step="features.hashing", params=params)


@component("features.binning", title="Binning", tags={"sample": "numeric", "transform": "discretizer"})
def binning(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="numeric columns to bin; empty means every numeric column")] = None,
    bins: Annotated[int, Param(ge=2, help="number of bins per column")] = 5,
    strategy: Annotated[
        Literal["quantile", "uniform", "kmeans"], Param(help="equal counts, equal widths, or 1-D k-means clusters")
    ] = "quantile",
    seed: Annotated[int, Param(ge=0, help="seed for subsampling very large tables")] = 0,
) -> FittedTransform:
    """Replace each numeric value by the index of its bin (0 .. bins-1), learnt from the training data.

    Bins too narrow to hold data are merged away, so a column may get fewer bins than asked.

    Examples
    --------
    >>> import pandas as pd
    >>> binning(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 10.0]}), bins=2, strategy="uniform").data["x"].tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0]
    """
    chosen = numeric_columns(data, columns, purpose="bin")
    estimator = preprocessing.KBinsDiscretizer(
        n_bins=bins, encode="ordinal", strategy=strategy, quantile_method="averaged_inverted_cdf", random_state=seed
    )
    fit_or_explain(estimator, complete_numeric(data, chosen), what="the binning")
    edges = {name: [float(edge) for edge in estimator.bin_edges_[index]] for index, name in enumerate(chosen)}
    params = {"bins": bins, "strategy": strategy, "seed": seed}
    return package(estimator, data, chosen, step="features.binning", params=params, metadata={"bin_edges": edges})
