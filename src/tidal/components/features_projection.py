"""New numeric features from old ones: PCA and truncated SVD projections, polynomial and
interaction terms. Each returns the new table and the fitted transform."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from sklearn import decomposition
from sklearn.preprocessing import PolynomialFeatures

from tidal.components._transforms import (
    FittedTransform,
    complete_numeric,
    fit_or_explain,
    numeric_columns,
    package,
)
from tidal.core import Columns, DataError, Param, component

COLUMNS_HELP = "numeric input columns; empty means every numeric column (others pass through)"


def _component_count(requested: int, limit: int, what: str) -> None:
    if requested > limit:
        raise DataError(f"parameter 'components' is {requested}, but {what} allow at most {limit}; lower it")


@component("features.pca", title="PCA", tags={"sample": "numeric", "transform": "projection"})
def pca(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    components: Annotated[int, Param(ge=1, help="number of principal components to keep")] = 2,
    whiten: Annotated[bool, Param(help="scale components to unit variance")] = False,
    prefix: Annotated[str, Param(help="names of the new columns: prefix1, prefix2 ...")] = "pc",
) -> FittedTransform:
    """Principal component analysis: replace the columns by their top ``components`` directions of variance.

    Columns are centred but not scaled; put ``features.standard_scaler`` first when their units
    differ. The explained variance ratios are in the package metadata.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> fitted = pca(frame, columns=["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"])
    >>> fitted.data.columns.tolist()
    ['target', 'pc1', 'pc2']
    >>> [round(share, 3) for share in fitted.transform.metadata["explained_variance_ratio"]]
    [0.925, 0.053]
    """
    chosen = numeric_columns(data, columns, purpose="project")
    X = complete_numeric(data, chosen)
    _component_count(components, min(len(X), len(chosen)), f"{len(X)} row(s) and {len(chosen)} column(s)")
    estimator = decomposition.PCA(n_components=components, whiten=whiten, svd_solver="full")
    fit_or_explain(estimator, X, what="PCA")
    names = [f"{prefix}{index + 1}" for index in range(components)]
    metadata = {"explained_variance_ratio": [float(value) for value in estimator.explained_variance_ratio_]}
    params = {"components": components, "whiten": whiten}
    return package(estimator, data, chosen, step="features.pca", params=params, output_columns=names, metadata=metadata)


@component("features.truncated_svd", title="Truncated SVD", tags={"sample": "numeric", "transform": "projection"})
def truncated_svd(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    components: Annotated[int, Param(ge=1, help="number of components to keep (fewer than the columns)")] = 2,
    iterations: Annotated[int, Param(ge=1, help="power iterations of the randomized solver")] = 5,
    prefix: Annotated[str, Param(help="names of the new columns: prefix1, prefix2 ...")] = "svd",
    seed: Annotated[int, Param(ge=0)] = 0,
) -> FittedTransform:
    """Truncated SVD (latent semantic analysis): like PCA without centring, so suited to counts and sparse data.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> frame = load_digits(as_frame=True).frame.drop(columns="target")
    >>> truncated_svd(frame, components=3).data.shape
    (1797, 3)
    """
    chosen = numeric_columns(data, columns, purpose="project")
    X = complete_numeric(data, chosen)
    _component_count(components, len(chosen) - 1, f"{len(chosen)} column(s)")
    estimator = decomposition.TruncatedSVD(n_components=components, n_iter=iterations, random_state=seed)
    fit_or_explain(estimator, X, what="truncated SVD")
    names = [f"{prefix}{index + 1}" for index in range(components)]
    metadata = {"explained_variance_ratio": [float(value) for value in estimator.explained_variance_ratio_]}
    params = {"components": components, "iterations": iterations, "seed": seed}
    return package(estimator, data, chosen, step="features.truncated_svd", params=params, output_columns=names, metadata=metadata)


def _polynomial(data: pd.DataFrame, columns: list[str] | None, *, degree: int, interaction_only: bool, step: str, params: dict[str, Any]) -> FittedTransform:
    chosen = numeric_columns(data, columns, purpose="combine")
    X = complete_numeric(data, chosen)
    estimator = PolynomialFeatures(degree=degree, interaction_only=interaction_only, include_bias=False)
    fit_or_explain(estimator, X, what=step)
    names = [str(name).replace(" ", "*") for name in estimator.get_feature_names_out()]
    if len(names) > 10_000:
        raise DataError(f"{len(chosen)} column(s) at degree {degree} would make {len(names)} columns; choose fewer columns or a lower degree")
    return package(estimator, data, chosen, step=step, params=params, output_columns=names)


@component("features.polynomial", title="Polynomial Features", tags={"sample": "numeric", "transform": "expansion"})
def polynomial(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    degree: Annotated[int, Param(ge=1, le=6, help="highest total power of a term")] = 2,
) -> FittedTransform:
    """Add every product of the columns up to ``degree`` (``a^2``, ``a*b``, ...), keeping the columns themselves.

    Examples
    --------
    >>> import pandas as pd
    >>> polynomial(pd.DataFrame({"a": [2.0], "b": [3.0]})).data.to_dict("records")
    [{'a': 2.0, 'b': 3.0, 'a^2': 4.0, 'a*b': 6.0, 'b^2': 9.0}]
    """
    return _polynomial(data, columns, degree=degree, interaction_only=False, step="features.polynomial", params={"degree": degree})


@component("features.interaction", title="Interaction Features", tags={"sample": "numeric", "transform": "expansion"})
def interaction(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    degree: Annotated[int, Param(ge=2, le=6, help="most columns multiplied in one term")] = 2,
) -> FittedTransform:
    """Add the products of distinct columns (``a*b``, and ``a*b*c`` at degree 3), keeping the columns themselves.

    Unlike ``features.polynomial`` no column is multiplied by itself.

    Examples
    --------
    >>> import pandas as pd
    >>> interaction(pd.DataFrame({"a": [2.0], "b": [3.0], "c": [0.5]})).data.columns.tolist()
    ['a', 'b', 'c', 'a*b', 'a*c', 'b*c']
    """
    return _polynomial(data, columns, degree=degree, interaction_only=True, step="features.interaction", params={"degree": degree})


