"""Data checks: population stability between two tables, and a data-quality report of one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from tidal.components._charts import bar_chart
from tidal.components._training import require_rows
from tidal.components.stats import label_of, plain
from tidal.core import Columns, DataError, Metrics, Param, component

MISSING = "<missing>"


def psi_value(expected_share: np.ndarray, actual_share: np.ndarray, epsilon: float) -> np.ndarray:
    """Each bin's contribution ``(a - e) * ln(a / e)``, with empty bins floored at ``epsilon``."""
    e = np.maximum(expected_share, epsilon)
    a = np.maximum(actual_share, epsilon)
    return (a - e) * np.log(a / e)


def _numeric_bins(expected: pd.Series, actual: pd.Series, bins: int, strategy: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    reference = expected.dropna().to_numpy(dtype=float)
    if len(reference) == 0:
        raise DataError(f"column '{expected.name}' of input 'expected' has no values to bin")
    if strategy == "quantile":
        inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    else:
        inner = np.linspace(reference.min(), reference.max(), bins + 1)[1:-1]
    edges = np.concatenate([[-np.inf], np.unique(inner), [np.inf]])
    labels = [f"({edges[i]:.4g}, {edges[i + 1]:.4g}]" for i in range(len(edges) - 1)]

    def counts(series: pd.Series) -> np.ndarray:
        values = series.to_numpy(dtype=float, na_value=np.nan)
        present = values[~np.isnan(values)]
        found = np.bincount(np.searchsorted(edges[1:-1], present, side="left"), minlength=len(labels)).astype(float)
        return np.append(found, np.isnan(values).sum())

    return [*labels, MISSING], counts(expected), counts(actual)


def _category_bins(expected: pd.Series, actual: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    first = expected.map(label_of)
    second = actual.map(label_of)
    labels = sorted(set(first) | set(second))
    return labels, first.value_counts().reindex(labels, fill_value=0).to_numpy(float), second.value_counts().reindex(labels, fill_value=0).to_numpy(float)


def _status(value: float) -> str:
    return "stable" if value < 0.1 else ("moderate shift" if value < 0.25 else "significant shift")


@component("stats.psi", title="Population Stability Index", tags={"sample": "numeric"})
def psi(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="columns to compare; empty means every column both tables share")] = None,
    bins: Annotated[int, Param(ge=2, help="bins for numeric columns (text columns use their categories)")] = 10,
    strategy: Annotated[Literal["quantile", "uniform"], Param(help="bin numeric columns at the expected table's quantiles, or at equal widths")] = "quantile",
    epsilon: Annotated[float, Param(gt=0, lt=1, help="share used in place of an empty bin's 0")] = 1e-4,
) -> Metrics:
    """Population stability index of each column between a reference table and a new one.

    PSI = Σ (actual share − expected share) · ln(actual share / expected share) over bins cut at
    the expected table's quantiles (missing values are a bin of their own; text columns bin by
    category). Below 0.1 is stable, 0.1–0.25 a moderate shift, above 0.25 a significant one.

    Examples
    --------
    >>> import pandas as pd
    >>> before = pd.DataFrame({"age": [20, 25, 30, 35, 40, 45, 50, 55]})
    >>> after = pd.DataFrame({"age": [40, 45, 50, 55, 60, 65, 70, 75]})
    >>> result = psi(before, after, bins=4)
    >>> round(result["psi_age"], 3), result["columns_shifted"]
    (4.46, 1)
    """
    require_rows(expected, "input 'expected'")
    require_rows(actual, "input 'actual'")
    chosen = list(columns or [str(name) for name in expected.columns if name in actual.columns])
    lacking = [name for name in chosen if name not in actual.columns]
    if lacking:
        raise DataError(f"input 'actual' has no column(s) {', '.join(map(repr, lacking))}, which 'expected' has")
    if not chosen:
        raise DataError("inputs 'expected' and 'actual' share no column; name the columns to compare in 'columns'")
    values: dict[str, Any] = {}
    column_rows, bin_rows = [], []
    for name in chosen:
        numeric = pd.api.types.is_numeric_dtype(expected[name]) and not pd.api.types.is_bool_dtype(expected[name])
        if numeric and not pd.api.types.is_numeric_dtype(actual[name]):
            raise DataError(f"column '{name}' is numeric in 'expected' but {actual[name].dtype} in 'actual'")
        labels, first, second = _numeric_bins(expected[name], actual[name], bins, strategy) if numeric else _category_bins(expected[name], actual[name])
        first_share, second_share = first / first.sum(), second / second.sum()
        parts = psi_value(first_share, second_share, epsilon)
        used = (first > 0) | (second > 0)
        total = float(parts[used].sum())
        values[f"psi_{name}"] = total
        column_rows.append({"column": name, "psi": total, "status": _status(total)})
        bin_rows.extend(
            {"column": name, "bin": label, "expected_share": float(e), "actual_share": float(a), "psi": float(p)}
            for label, e, a, p, keep in zip(labels, first_share, second_share, parts, used, strict=True)
            if keep
        )
    scores = [row["psi"] for row in column_rows]
    values.update(
        max_psi=max(scores),
        columns_checked=len(scores),
        columns_shifted=sum(score >= 0.25 for score in scores),
        columns_moderate=sum(0.1 <= score < 0.25 for score in scores),
    )
    figure = bar_chart([row["column"] for row in column_rows], scores, x="column", y="psi", title="Population stability index")
    return Metrics(values, figures={"psi": figure}, tables={"columns": column_rows, "bins": bin_rows})


def _type_problem(series: pd.Series) -> str:
    """A short description of a column whose values do not fit its type, or ''."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        infinite = int(np.isinf(series.to_numpy(dtype=float, na_value=np.nan)).sum())
        return f"{infinite} infinite value(s)" if infinite else ""
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return ""
    present = series.dropna()
    if present.empty:
        return ""
    kinds = sorted({type(value).__name__ for value in present})
    if len(kinds) > 1:
        return f"mixed types: {', '.join(kinds)}"
    if kinds != ["str"]:
        return ""
    text = present.astype(str).str.strip()
    as_number = pd.to_numeric(text, errors="coerce")
    if as_number.notna().mean() >= 0.75:
        bad = int(as_number.isna().sum())
        return "numbers stored as text" + (f" ({bad} value(s) not numbers)" if bad else "")
    looks_like_date = text.str.match(r"^\d{4}-\d{1,2}-\d{1,2}")
    if looks_like_date.mean() >= 0.75:
        return "dates stored as text"
    return ""


def _outliers(series: pd.Series, factor: float) -> int:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return 0
    values = series.to_numpy(dtype=float, na_value=np.nan)
    values = values[np.isfinite(values)]
    if len(values) < 4:
        return 0
    low, high = np.percentile(values, [25, 75])
    spread = high - low
    return int(((values < low - factor * spread) | (values > high + factor * spread)).sum())


@component("stats.data_quality", title="Data Quality Report", tags={"sample": "mixed"})
def data_quality(
    data: pd.DataFrame,
    *,
    outlier_factor: Annotated[float, Param(gt=0, help="a value beyond this many inter-quartile ranges outside the quartiles is an outlier")] = 1.5,
) -> Metrics:
    """Report what needs cleaning: missing values, constant columns, duplicate rows, outliers and type problems.

    The ``columns`` table has one row per column; ``issues`` lists each problem found in words.
    Outliers use the inter-quartile-range rule; a text column is flagged when at least three
    quarters of its values read as numbers (or as ISO dates), or when it mixes Python types.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": [1, 2, 2, 3], "price": ["10", "12", "12", "x"], "kind": ["a", "a", "a", "a"]})
    >>> report = data_quality(frame)
    >>> report["duplicate_rows"], report["constant_columns"], report["type_problem_columns"]
    (1, 1, 1)
    >>> [issue["issue"] for issue in report.tables["issues"]]
    ['1 duplicate row(s)', 'numbers stored as text (1 value(s) not numbers)', 'constant: every value is a']
    """
    require_rows(data, "input 'data'")
    rows, issues = [], []
    try:
        duplicates = int(data.duplicated().sum())
    except TypeError:  # unhashable cells (lists, dicts)
        duplicates = int(data.astype(str).duplicated().sum())
    if duplicates:
        issues.append({"column": None, "issue": f"{duplicates} duplicate row(s)"})
    for name in data.columns:
        series = data[name]
        missing = int(series.isna().sum())
        distinct = int(series.astype(str).where(series.notna()).nunique(dropna=True))
        constant = distinct <= 1 and len(series) > 1
        outliers = _outliers(series, outlier_factor)
        problem = _type_problem(series)
        rows.append(
            {"column": str(name), "dtype": str(series.dtype), "missing": missing, "missing_share": missing / len(series), "distinct": distinct,
             "constant": constant, "outliers": outliers, "type_problem": problem}
        )
        if missing:
            issues.append({"column": str(name), "issue": f"{missing} missing value(s) ({missing / len(series):.0%})"})
        if constant:
            value = series.dropna().iloc[0] if missing < len(series) else None
            issues.append({"column": str(name), "issue": "every value is missing" if value is None else f"constant: every value is {label_of(plain(value))}"})
        if outliers:
            issues.append({"column": str(name), "issue": f"{outliers} outlier(s) beyond {outlier_factor:g} IQR"})
        if problem:
            issues.append({"column": str(name), "issue": problem})
    cells = data.size
    values = {
        "rows": len(data),
        "columns": len(data.columns),
        "duplicate_rows": duplicates,
        "missing_cells": int(sum(row["missing"] for row in rows)),
        "missing_share": float(sum(row["missing"] for row in rows) / cells) if cells else 0.0,
        "columns_with_missing": sum(row["missing"] > 0 for row in rows),
        "constant_columns": sum(row["constant"] for row in rows),
        "columns_with_outliers": sum(row["outliers"] > 0 for row in rows),
        "type_problem_columns": sum(bool(row["type_problem"]) for row in rows),
        "issues": len(issues),
    }
    figure = bar_chart([row["column"] for row in rows], [row["missing_share"] for row in rows], x="column", y="missing_share", title="Missing values by column")
    return Metrics(values, figures={"missing": figure}, tables={"columns": rows, "issues": issues})
