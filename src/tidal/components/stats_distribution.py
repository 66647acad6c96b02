"""How values are distributed and related: correlation and covariance matrices, histograms,
and empirical density and distribution functions, each with a chart where one helps."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._charts import heatmap, histogram_chart, xy_chart
from tidal.components.stats import numeric_table, numeric_values
from tidal.core import Column, Columns, DataError, Figure, Param, ParameterError, Port, component


class TableAndChart(NamedTuple):
    table: Annotated[pd.DataFrame, Port(help="the numbers")]
    figure: Annotated[Figure, Port(help="the same numbers as a Vega-Lite chart")]


def _matrix_table(matrix: pd.DataFrame) -> pd.DataFrame:
    return matrix.rename_axis("column").reset_index()


@component("stats.correlation", title="Correlation Matrix", tags={"sample": "numeric"})
def correlation(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="numeric columns; empty means every numeric column")] = None,
    method: Annotated[Literal["pearson", "spearman", "kendall"], Param(help="linear, rank, or concordance-based")] = "pearson",
    min_periods: Annotated[int, Param(ge=1, help="fewest complete pairs a coefficient needs (else it is empty)")] = 1,
) -> TableAndChart:
    """Pairwise correlation of numeric columns as a matrix table and a heatmap.

    Each pair uses the rows where both values are present.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 5, 9], "c": [4, 3, 2, 1]})
    >>> correlation(frame, method="spearman").table.to_dict("records")
    [{'column': 'a', 'a': 1.0, 'b': 1.0, 'c': -1.0}, {'column': 'b', 'a': 1.0, 'b': 1.0, 'c': -1.0}, {'column': 'c', 'a': -1.0, 'b': -1.0, 'c': 1.0}]
    """
    frame = numeric_table(data, columns, minimum_columns=2, what="a correlation matrix")
    matrix = frame.corr(method=method, min_periods=min_periods)
    cells = [
        {"x": str(a), "y": str(b), "correlation": None if pd.isna(matrix.loc[a, b]) else round(float(matrix.loc[a, b]), 4)}
        for a in matrix.columns
        for b in matrix.index
    ]
    figure = heatmap(cells, x="x", y="y", value="correlation", title=f"{method.title()} correlation")
    figure["encoding"]["color"]["scale"] = {"domain": [-1, 1], "scheme": "redblue", "reverse": True}
    return TableAndChart(_matrix_table(matrix), Figure(figure))


@component("stats.covariance", title="Covariance Matrix", tags={"sample": "numeric"})
def covariance(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="numeric columns; empty means every numeric column")] = None,
    ddof: Annotated[int, Param(ge=0, help="delta degrees of freedom: 1 for the sample covariance, 0 for the population")] = 1,
) -> pd.DataFrame:
    """Pairwise covariance of numeric columns as a matrix table (complete pairs per cell).

    Examples
    --------
    >>> import pandas as pd
    >>> covariance(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 4.0, 6.0]})).to_dict("records")
    [{'column': 'a', 'a': 1.0, 'b': 2.0}, {'column': 'b', 'a': 2.0, 'b': 4.0}]
    """
    frame = numeric_table(data, columns, what="a covariance matrix")
    return _matrix_table(frame.cov(ddof=ddof))


@component("stats.histogram", title="Histogram", tags={"sample": "numeric"})
def histogram(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    bins: Annotated[int, Param(ge=1, help="number of equal-width bins")] = 10,
    low: Annotated[float | None, Param(help="left edge; default the smallest value")] = None,
    high: Annotated[float | None, Param(help="right edge; default the largest value")] = None,
) -> TableAndChart:
    """Counts of a numeric column in equal-width bins: ``bin_start``, ``bin_end``, ``count``, ``share``, ``density``.

    Missing values are left out; values outside [low, high] are not counted. Each bin holds its
    left edge; the last bin holds both edges (as numpy does).

    Examples
    --------
    >>> import pandas as pd
    >>> histogram(pd.DataFrame({"x": [1, 2, 2, 3, 4]}), column="x", bins=3).table[["bin_start", "count"]].to_dict("list")
    {'bin_start': [1.0, 2.0, 3.0], 'count': [1, 2, 2]}
    """
    values = numeric_values(data, column, what="a histogram")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        raise DataError(f"column '{column}' has no finite values to count")
    start = float(values.min()) if low is None else low
    end = float(values.max()) if high is None else high
    if start > end:
        raise ParameterError(f"parameter 'low' ({start}) is above 'high' ({end})")
    counts, edges = np.histogram(values, bins=bins, range=(start, end))
    widths = np.diff(edges)
    total = max(int(counts.sum()), 1)
    table = pd.DataFrame(
        {
            "bin_start": edges[:-1],
            "bin_end": edges[1:],
            "count": counts.astype("int64"),
            "share": counts / total,
            "density": np.where(widths > 0, counts / total / np.where(widths > 0, widths, 1), np.nan),
        }
    )
    rows = [{"bin_start": float(a), "bin_end": float(b), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    return TableAndChart(table, Figure(histogram_chart(rows, start="bin_start", end="bin_end", y="count", title=column)))


@component("stats.empirical_pdf", title="Empirical Density (KDE)", tags={"sample": "numeric"})
def empirical_pdf(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    points: Annotated[int, Param(ge=2, help="grid points the density is evaluated at")] = 200,
    bandwidth: Annotated[Literal["scott", "silverman"], Param(help="rule for the kernel width")] = "scott",
) -> TableAndChart:
    """Estimate a column's probability density with a Gaussian kernel (``scipy.stats.gaussian_kde``).

    The grid runs from three kernel widths below the smallest value to three above the largest.

    Examples
    --------
    >>> import pandas as pd
    >>> density = empirical_pdf(pd.DataFrame({"x": [1.0, 2.0, 2.5, 3.0, 7.0]}), column="x", points=50).table
    >>> len(density), round(float(density["density"].sum() * (density["x"][1] - density["x"][0])), 2)
    (50, 1.0)
    """
    from scipy.stats import gaussian_kde

    values = numeric_values(data, column, minimum=2, what="a density estimate")
    if np.ptp(values) == 0:
        raise DataError(f"column '{column}' has a single distinct value ({values[0]}); a density needs spread")
    kde = gaussian_kde(values, bw_method=bandwidth)
    width = float(np.sqrt(kde.covariance[0, 0]))
    grid = np.linspace(values.min() - 3 * width, values.max() + 3 * width, points)
    density = kde(grid)
    table = pd.DataFrame({"x": grid, "density": density})
    return TableAndChart(table, Figure(xy_chart(grid, density, x=column, y="density", title=f"Density of {column}")))


@component("stats.empirical_cdf", title="Empirical CDF", tags={"sample": "numeric"})
def empirical_cdf(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
) -> TableAndChart:
    """The empirical cumulative distribution: each distinct value with the share of values at or below it.

    Missing values are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> empirical_cdf(pd.DataFrame({"x": [3, 1, 2, 2]}), column="x").table.to_dict("list")
    {'value': [1.0, 2.0, 3.0], 'count': [1, 2, 1], 'cdf': [0.25, 0.75, 1.0]}
    """
    values = numeric_values(data, column, what="an empirical CDF")
    distinct, counts = np.unique(values, return_counts=True)
    cdf = np.cumsum(counts) / len(values)
    table = pd.DataFrame({"value": distinct, "count": counts.astype("int64"), "cdf": cdf})
    figure = xy_chart(distinct, cdf, x=column, y="cdf", title=f"Empirical CDF of {column}")
    for layer in figure["layer"][:1]:
        layer["mark"]["interpolate"] = "step-after"
    return TableAndChart(table, Figure(figure))
