"""Hypothesis tests (scipy.stats): chi-square, t-tests, ANOVA, Mann-Whitney, Kolmogorov-Smirnov
and normality. Each returns Metrics with ``statistic`` and ``p_value``; missing values are left out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from tidal.components._training import require_rows
from tidal.components.stats import groups_of, label_of, numeric_values, plain
from tidal.core import Column, DataError, Metrics, Param, ParameterError, component

Alternative = Annotated[
    Literal["two-sided", "less", "greater"], Param(help="the alternative hypothesis (less/greater: first minus second)")
]
ALPHA_HELP = "significance level used for the 'significant' flag"


def _result(statistic: float, p_value: float, alpha: float, **extra: Any) -> dict[str, Any]:
    values = {"statistic": plain(float(statistic)), "p_value": plain(float(p_value)), "alpha": alpha}
    values["significant"] = bool(p_value < alpha) if np.isfinite(p_value) else False
    values.update({key: plain(value) for key, value in extra.items()})
    return values


def _two_groups(data: pd.DataFrame, column: str, group: str, what: str, minimum: int = 2) -> tuple[list[str], list[np.ndarray]]:
    groups = groups_of(data, column, group, what=what, minimum=minimum)
    if len(groups) != 2:
        raise DataError(
            f"column '{group}' has {len(groups)} group(s) ({', '.join(list(groups)[:5])}); {what} compares exactly two"
        )
    return list(groups), list(groups.values())


@component("stats.chi_square", title="Chi-Square Test of Independence", tags={"sample": "mixed", "sample_params": {"row": "cat", "column": "label"}})
def chi_square(
    data: pd.DataFrame,
    *,
    row: Annotated[Column, Param(help="the first categorical column")],
    column: Annotated[Column, Param(help="the second categorical column")],
    correction: Annotated[bool, Param(help="Yates' continuity correction for 2x2 tables")] = True,
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Test whether two categorical columns are independent, from their contingency table.

    Also reports Cramér's V (0: independent, 1: one determines the other) and the observed and
    expected counts.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"group": ["a"] * 20 + ["b"] * 20, "outcome": ["yes"] * 15 + ["no"] * 5 + ["yes"] * 5 + ["no"] * 15})
    >>> result = chi_square(frame, row="group", column="outcome")
    >>> round(result["statistic"], 3), round(result["p_value"], 4), result["dof"]
    (8.1, 0.0044, 1)
    """
    from scipy.stats import chi2_contingency

    require_rows(data, "input 'data'")
    if row == column:
        raise ParameterError(f"parameters 'row' and 'column' are both '{row}'; choose two different columns")
    table = pd.crosstab(data[row], data[column])
    if table.shape[0] < 2 or table.shape[1] < 2:
        raise DataError(f"columns '{row}' and '{column}' need at least two values each (found {table.shape[0]} and {table.shape[1]})")
    result = chi2_contingency(table.to_numpy(), correction=correction)
    n = int(table.to_numpy().sum())
    cramers_v = float(np.sqrt(result.statistic / (n * (min(table.shape) - 1))))
    observed = [{row: label_of(a), column: str(b), "observed": int(table.loc[a, b]), "expected": float(result.expected_freq[i, j])}
                for i, a in enumerate(table.index) for j, b in enumerate(table.columns)]
    values = _result(result.statistic, result.pvalue, alpha, dof=int(result.dof), n=n, cramers_v=cramers_v)
    return Metrics(values, tables={"contingency": observed})


@component("stats.t_test_one_sample", title="One-Sample t-Test", tags={"sample": "numeric"})
def t_test_one_sample(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    mean: Annotated[float, Param(help="the population mean under the null hypothesis")] = 0.0,
    alternative: Alternative = "two-sided",
    confidence: Annotated[float, Param(gt=0, lt=1, help="level of the confidence interval for the mean")] = 0.95,
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Test whether a column's mean differs from a given value (Student's t), with a confidence interval.

    Examples
    --------
    >>> import pandas as pd
    >>> result = t_test_one_sample(pd.DataFrame({"x": [5.1, 4.9, 5.6, 5.8, 6.0, 5.7]}), column="x", mean=5.0)
    >>> round(result["statistic"], 3), round(result["p_value"], 4), result["df"]
    (2.969, 0.0312, 5)
    """
    from scipy.stats import ttest_1samp

    values = numeric_values(data, column, minimum=2, what="a t-test")
    result = ttest_1samp(values, popmean=mean, alternative=alternative)
    interval = result.confidence_interval(confidence_level=confidence)
    return Metrics(
        _result(result.statistic, result.pvalue, alpha, df=int(result.df), n=len(values), mean=float(values.mean()),
                std=float(values.std(ddof=1)), ci_low=float(interval.low), ci_high=float(interval.high))
    )


@component("stats.t_test_two_sample", title="Two-Sample t-Test", tags={"sample": "classification", "sample_params": {"group": "label"}})
def t_test_two_sample(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    group: Annotated[Column, Param(help="a column with exactly two values, splitting the rows into two samples")],
    equal_var: Annotated[bool, Param(help="assume equal variances (Student); false gives Welch's test")] = False,
    alternative: Alternative = "two-sided",
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Test whether the mean of ``column`` differs between the two groups of ``group`` (Welch's t by default).

    The groups are taken in sorted order; the statistic is first minus second.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"score": [5.1, 4.9, 5.6, 6.8, 7.0, 6.2], "arm": ["a", "a", "a", "b", "b", "b"]})
    >>> result = t_test_two_sample(frame, column="score", group="arm")
    >>> result["group_a"], result["group_b"], round(result["statistic"], 3), round(result["p_value"], 4)
    ('a', 'b', -4.612, 0.0104)
    """
    from scipy.stats import ttest_ind

    names, (first, second) = _two_groups(data, column, group, "a two-sample t-test")
    result = ttest_ind(first, second, equal_var=equal_var, alternative=alternative)
    return Metrics(
        _result(result.statistic, result.pvalue, alpha, df=float(result.df), group_a=names[0], group_b=names[1],
                n_a=len(first), n_b=len(second), mean_a=float(first.mean()), mean_b=float(second.mean()))
    )


@component("stats.t_test_paired", title="Paired t-Test", tags={"sample": "numeric", "sample_params": {"other": "x2"}})
def t_test_paired(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the first measurement")],
    other: Annotated[Column, Param(help="the second measurement of the same row")],
    alternative: Alternative = "two-sided",
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Test whether two measurements of the same rows differ on average (paired t on ``column - other``).

    Rows missing either value are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"before": [200, 180, 190, 210, 205], "after": [190, 175, 185, 200, 204]})
    >>> result = t_test_paired(frame, column="before", other="after")
    >>> round(result["statistic"], 3), round(result["p_value"], 4), result["mean_difference"]
    (3.616, 0.0224, 6.2)
    """
    from scipy.stats import ttest_rel

    if column == other:
        raise ParameterError(f"parameters 'column' and 'other' are both '{column}'; choose two columns")
    numeric_values(data, column, what="a paired t-test")
    numeric_values(data, other, what="a paired t-test")
    pairs = data[[column, other]].astype(float).dropna()
    if len(pairs) < 2:
        raise DataError(f"columns '{column}' and '{other}' have {len(pairs)} row(s) with both values; a paired t-test needs 2")
    result = ttest_rel(pairs[column], pairs[other], alternative=alternative)
    difference = pairs[column] - pairs[other]
    return Metrics(_result(result.statistic, result.pvalue, alpha, df=int(result.df), n=len(pairs), mean_difference=float(difference.mean())))


@component("stats.anova", title="One-Way ANOVA", tags={"sample": "multiclass", "sample_params": {"group": "label"}})
def anova(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    group: Annotated[Column, Param(help="the column whose values form the groups")],
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """One-way analysis of variance: do the group means of ``column`` differ?

    Reports the F statistic, its p-value, the degrees of freedom and eta squared (the share of
    variance the groups explain), with a table of group sizes, means and deviations.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> result = anova(frame, column="sepal width (cm)", group="target")
    >>> round(result["statistic"], 2), result["df_between"], result["df_within"]
    (49.16, 2, 147)
    """
    from scipy.stats import f_oneway

    groups = groups_of(data, column, group, what="ANOVA", minimum=1)
    if len(groups) < 2:
        raise DataError(f"column '{group}' has {len(groups)} group(s); ANOVA compares two or more")
    parts = list(groups.values())
    n = sum(len(part) for part in parts)
    if n <= len(parts):
        raise DataError(f"ANOVA needs more rows ({n}) than groups ({len(parts)})")
    result = f_oneway(*parts)
    everything = np.concatenate(parts)
    between = sum(len(part) * (part.mean() - everything.mean()) ** 2 for part in parts)
    total = float(((everything - everything.mean()) ** 2).sum())
    rows = [{"group": key, "n": len(part), "mean": float(part.mean()), "std": plain(float(part.std(ddof=1))) if len(part) > 1 else None}
            for key, part in groups.items()]
    values = _result(result.statistic, result.pvalue, alpha, df_between=len(parts) - 1, df_within=n - len(parts),
                     n=n, eta_squared=between / total if total > 0 else np.nan)
    return Metrics(values, tables={"groups": rows})


@component("stats.mann_whitney", title="Mann-Whitney U Test", tags={"sample": "classification", "sample_params": {"group": "label"}})
def mann_whitney(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    group: Annotated[Column, Param(help="a column with exactly two values, splitting the rows into two samples")],
    alternative: Alternative = "two-sided",
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Rank test of whether ``column`` tends to be larger in one of two groups (no normality assumed).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"score": [1, 2, 3, 4, 10, 11, 12, 13], "arm": ["a"] * 4 + ["b"] * 4})
    >>> result = mann_whitney(frame, column="score", group="arm")
    >>> result["statistic"], round(result["p_value"], 4)
    (0.0, 0.0286)
    """
    from scipy.stats import mannwhitneyu

    names, (first, second) = _two_groups(data, column, group, "a Mann-Whitney test", minimum=1)
    result = mannwhitneyu(first, second, alternative=alternative)
    return Metrics(_result(result.statistic, result.pvalue, alpha, group_a=names[0], group_b=names[1], n_a=len(first), n_b=len(second)))


@component("stats.ks_test", title="Kolmogorov-Smirnov Test", tags={"sample": "numeric"})
def ks_test(
    data: pd.DataFrame,
    other: pd.DataFrame | None = None,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    other_column: Annotated[str | None, Param(help="column of 'other' to compare; default the same name")] = None,
    distribution: Annotated[Literal["norm", "uniform", "expon"], Param(help="reference distribution when 'other' is not connected")] = "norm",
    loc: Annotated[float | None, Param(help="location of the reference; default estimated from the data")] = None,
    scale: Annotated[float | None, Param(gt=0, help="scale of the reference; default estimated from the data")] = None,
    alternative: Alternative = "two-sided",
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Kolmogorov-Smirnov test: two samples (``data`` vs ``other``), or one sample vs a distribution.

    With estimated ``loc``/``scale`` the one-sample p-value is conservative (the Lilliefors
    problem); give them to test a fully specified distribution.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> frame = pd.DataFrame({"x": np.linspace(-2, 2, 41)})
    >>> result = ks_test(frame, column="x", loc=0.0, scale=1.0)
    >>> round(result["statistic"], 4), round(result["p_value"], 4)
    (0.1096, 0.6673)
    """
    from scipy import stats

    values = numeric_values(data, column, what="a Kolmogorov-Smirnov test")
    if other is not None:
        second = other_column or column
        if second not in other.columns:
            raise DataError(f"input 'other' has no column '{second}'; set 'other_column'")
        reference = numeric_values(other, second, what="a Kolmogorov-Smirnov test")
        result = stats.ks_2samp(values, reference, alternative=alternative)
        return Metrics(_result(result.statistic, result.pvalue, alpha, n=len(values), n_other=len(reference), mode="two-sample"))
    defaults = {
        "norm": (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0),
        "uniform": (float(values.min()), float(np.ptp(values))),
        "expon": (float(values.min()), float(values.mean() - values.min())),
    }[distribution]
    where = defaults[0] if loc is None else loc
    spread = defaults[1] if scale is None else scale
    if not spread > 0:
        raise DataError(f"column '{column}' has no spread, so the {distribution} scale cannot be estimated; set 'scale'")
    result = stats.kstest(values, distribution, args=(where, spread), alternative=alternative)
    return Metrics(_result(result.statistic, result.pvalue, alpha, n=len(values), loc=where, scale=spread, mode="one-sample"))


@component("stats.shapiro_wilk", title="Shapiro-Wilk Normality Test", tags={"sample": "numeric"})
def shapiro_wilk(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """Shapiro-Wilk test of normality (``significant`` means: probably not normal). Needs 3 or more values.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> result = shapiro_wilk(pd.DataFrame({"x": np.arange(1.0, 21.0) ** 3}), column="x")
    >>> round(result["statistic"], 4), result["significant"]
    (0.8367, True)
    """
    from scipy.stats import shapiro

    values = numeric_values(data, column, minimum=3, what="the Shapiro-Wilk test")
    if np.ptp(values) == 0:
        raise DataError(f"column '{column}' is constant; a normality test needs varying values")
    result = shapiro(values)
    return Metrics(_result(result.statistic, result.pvalue, alpha, n=len(values)))


@component("stats.dagostino", title="D'Agostino-Pearson Normality Test", tags={"sample": "numeric"})
def dagostino(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column")],
    alpha: Annotated[float, Param(gt=0, lt=1, help=ALPHA_HELP)] = 0.05,
) -> Metrics:
    """D'Agostino and Pearson's normality test from skewness and kurtosis. Needs 8 or more values.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> result = dagostino(pd.DataFrame({"x": np.arange(1.0, 31.0) ** 3}), column="x")
    >>> round(result["statistic"], 3), round(result["skewness"], 3)
    (5.943, 1.033)
    """
    from scipy.stats import kurtosis, normaltest, skew

    values = numeric_values(data, column, minimum=8, what="the D'Agostino-Pearson test")
    if np.ptp(values) == 0:
        raise DataError(f"column '{column}' is constant; a normality test needs varying values")
    result = normaltest(values)
    return Metrics(_result(result.statistic, result.pvalue, alpha, n=len(values), skewness=float(skew(values)), kurtosis=float(kurtosis(values))))
