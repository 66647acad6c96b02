"""Credit-risk tools: WoE binning with IV, scorecards with points scaling, population stability."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._charts import bar_chart
from tidal.components._finance_binning import WoeBinner, is_numeric
from tidal.core import Column, Columns, DataError, Metrics, Param, component
from tidal.models import ModelPackage

BinMethod = Literal["quantile", "uniform", "tree"]


class Binning(NamedTuple):
    model: ModelPackage
    iv: pd.DataFrame
    bins: pd.DataFrame


class Scorecard(NamedTuple):
    model: ModelPackage
    scorecard: pd.DataFrame


def event_class(data: pd.DataFrame, label: str, positive: str | None) -> Any:
    """The label value that counts as an event ("bad"); the label must have exactly two values."""
    if len(data) == 0:
        raise DataError("input 'data' is empty: binning needs labelled rows")
    values = data[label]
    if values.isna().any():
        raise DataError(f"label column '{label}' has missing values, the first at row {int(np.flatnonzero(values.isna().to_numpy())[0])}")
    classes = sorted(values.unique().tolist())
    if len(classes) != 2:
        raise DataError(f"label column '{label}' must hold exactly two classes (found {len(classes)}: {classes[:10]})")
    if positive is None:
        chosen = classes[-1]
    else:
        matches = [value for value in classes if str(value) == str(positive)]
        if not matches:
            raise DataError(f"parameter 'positive': {positive!r} is not a value of column '{label}' (values: {classes})")
        chosen = matches[0]
    return chosen.item() if hasattr(chosen, "item") else chosen


def binnable_features(data: pd.DataFrame, label: str, features: list[str] | None) -> list[str]:
    if features:
        if label in features:
            raise DataError(f"the label column '{label}' is also listed in 'features'; remove it")
        dated = [name for name in features if pd.api.types.is_datetime64_any_dtype(data[name])]
        if dated:
            raise DataError(f"column(s) {', '.join(map(repr, dated))} hold dates; derive numeric features from them first")
        return list(features)
    chosen = [str(name) for name in data.columns if name != label and not pd.api.types.is_datetime64_any_dtype(data[name])]
    if not chosen:
        raise DataError("there are no feature columns besides the label; set 'features'")
    return chosen


def iv_strength(iv: float) -> str:
    """The usual reading of an information value (Siddiqi)."""
    for limit, word in ((0.02, "useless"), (0.1, "weak"), (0.3, "medium"), (0.5, "strong")):
        if iv < limit:
            return word
    return "suspicious"


def fit_binner(data: pd.DataFrame, label: str, features: list[str], positive: Any, **options: Any) -> WoeBinner:
    binner = WoeBinner(positive=positive, **options)
    return binner.fit(data[features], data[label].to_numpy())


@component("finance.woe_binning", title="WoE Binning", tags={"sample": "classification"})
def woe_binning(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the binary outcome, e.g. default yes/no")],
    features: Annotated[Columns, Param(help="columns to bin; empty: every column but the label (dates are skipped)")] = None,
    positive: Annotated[str | None, Param(help="the event ('bad') class; default: the larger label value")] = None,
    bins: Annotated[int, Param(ge=2, le=100, help="bins per numeric feature before merging")] = 10,
    method: Annotated[BinMethod, Param(help="quantile: equal row counts; uniform: equal widths; tree: splits a decision tree picks")] = "quantile",
    min_share: Annotated[float, Param(ge=0, lt=0.5, help="bins (and categories) with fewer rows than this share are merged")] = 0.05,
    monotonic: Annotated[bool, Param(help="merge neighbouring numeric bins until the event rate only rises or only falls")] = False,
    smoothing: Annotated[float, Param(ge=0, help="added to each bin's event and non-event counts so WoE stays finite")] = 0.5,
) -> Binning:
    """Bin features, compute each bin's weight of evidence (WoE) and each feature's information value (IV).

    Numeric features are cut into right-closed ranges (lower, upper]; other columns bin by
    category, categories rarer than ``min_share`` share an ``other`` bin, and missing values get
    a bin of their own. WoE = ln(share of non-events / share of events) in the bin, so higher
    means lower risk; IV sums (non-event share - event share) × WoE over the bins.

    Outputs: ``model``, a fitted transform that replaces each feature by ``<feature>_woe``
    (apply it with ``model.predict``; unseen categories take the ``other`` bin's WoE, empty
    bins 0); ``iv``, one row per feature sorted by IV; ``bins``, one row per bin.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> result = woe_binning(frame, label="target", features=["worst radius", "mean texture"], bins=5)
    >>> result.iv[["feature", "iv"]].round(2).values.tolist()
    [['worst radius', 6.03], ['mean texture', 1.13]]
    """
    chosen = binnable_features(data, label, features)
    event = event_class(data, label, positive)
    binner = fit_binner(data, label, chosen, event, bins=bins, method=method, min_share=min_share, monotonic=monotonic, smoothing=smoothing)
    if smoothing == 0 and not all(np.isfinite(row["woe"]) for row in binner.report_):
        raise DataError("a bin holds only events or only non-events, so its WoE is infinite; set smoothing above 0 or use fewer bins")
    bin_table = pd.DataFrame(binner.report_)
    iv = bin_table.groupby("feature", sort=False).agg(iv=("iv", "sum"), bins=("bin", "count")).reset_index()
    iv["strength"] = [iv_strength(value) for value in iv["iv"]]
    iv["kind"] = ["numeric" if binner.numeric_[name] else "categorical" for name in iv["feature"]]
    iv = iv.sort_values("iv", ascending=False, kind="stable", ignore_index=True)
    model = ModelPackage.from_estimator(
        binner, data, features=chosen, task="transform", label=label,
        params={"bins": bins, "method": method, "min_share": min_share, "monotonic": monotonic, "smoothing": smoothing, "positive": event},
        metadata={"output_columns": [f"{name}_woe" for name in chosen], "event_class": event},
    )
    return Binning(model, iv, bin_table)


@component("finance.scorecard", title="Scorecard", tags={"sample": "classification", "task": "binary", "handles_missing": True, "numeric_only": False})
def scorecard(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the binary outcome, e.g. default yes/no")],
    features: Annotated[Columns, Param(help="columns to use; empty: every column but the label (dates are skipped)")] = None,
    positive: Annotated[str | None, Param(help="the event ('bad') class; default: the larger label value")] = None,
    bins: Annotated[int, Param(ge=2, le=100, help="bins per numeric feature before merging")] = 10,
    method: Annotated[BinMethod, Param(help="how numeric features are binned (see finance.woe_binning)")] = "quantile",
    min_share: Annotated[float, Param(ge=0, lt=0.5, help="bins with fewer rows than this share are merged")] = 0.05,
    monotonic: Annotated[bool, Param(help="force event rates that only rise or only fall across numeric bins")] = False,
    base_score: Annotated[float, Param(help="the score given at the base odds")] = 600.0,
    base_odds: Annotated[float, Param(gt=0, help="good:bad odds at the base score (50 means 50 goods per bad)")] = 50.0,
    pdo: Annotated[float, Param(gt=0, help="points to double the odds")] = 20.0,
    C: Annotated[float, Param(gt=0, log=True, help="inverse regularization strength of the logistic regression")] = 1.0,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> Scorecard:
    """A credit scorecard: WoE binning, logistic regression on the WoE values, and points per bin.

    The logistic regression predicts the event ("bad") probability p from the WoE features.
    Scores follow the usual scaling: factor = pdo / ln 2, offset = base_score - factor ×
    ln(base_odds), score = offset + factor × ln((1 - p) / p). Each bin's points are
    -factor × (coefficient × WoE + intercept / n) + offset / n for n features, so a row's score
    is the sum of its bins' points.

    Outputs: ``model``, a binary classifier (raw features in, class probabilities out, the
    scaling in its metadata; ``finance.scorecard_predict`` turns it into points), and
    ``scorecard``, one row per feature and bin with its WoE, coefficient and points.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> result = scorecard(frame, label="target", positive="0", features=["worst radius", "worst texture"], bins=4)
    >>> result.scorecard.groupby("feature")["points"].agg(["min", "max"]).round(1).values.tolist()
    [[99.3, 372.8], [214.7, 308.3]]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    chosen = binnable_features(data, label, features)
    event = event_class(data, label, positive)
    binner = WoeBinner(bins=bins, method=method, min_share=min_share, monotonic=monotonic, smoothing=0.5, positive=event)
    pipeline = Pipeline([("woe", binner), ("logistic", LogisticRegression(C=C, max_iter=1000, random_state=seed))])
    pipeline.fit(data[chosen], data[label].to_numpy())
    logistic = pipeline.named_steps["logistic"]
    classes = logistic.classes_.tolist()
    sign = 1.0 if classes[1] == event else -1.0
    coefficients, intercept = sign * logistic.coef_[0], sign * float(logistic.intercept_[0])
    factor = pdo / np.log(2)
    offset = base_score - factor * np.log(base_odds)
    rows = []
    for row in pipeline.named_steps["woe"].report_:
        index = chosen.index(row["feature"])
        points = -factor * (coefficients[index] * row["woe"] + intercept / len(chosen)) + offset / len(chosen)
        rows.append({**{key: row[key] for key in ("feature", "bin", "bin_label", "lower", "upper", "count", "event_rate", "woe")}, "coefficient": float(coefficients[index]), "points": float(points)})
    scaling = {"base_score": base_score, "base_odds": base_odds, "pdo": pdo, "factor": float(factor), "offset": float(offset), "event_class": event, "intercept": intercept}
    model = ModelPackage.from_estimator(
        pipeline, data, features=chosen, task="binary", label=label,
        params={"bins": bins, "method": method, "min_share": min_share, "monotonic": monotonic, "C": C, "base_score": base_score, "base_odds": base_odds, "pdo": pdo},
        metadata={"scorecard": scaling},
    )
    return Scorecard(model, pd.DataFrame(rows))


@component("finance.scorecard_predict", title="Scorecard Predict", tags={"sample": "classification", "batch_scoring": True})
def scorecard_predict(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    score_column: Annotated[str, Param(help="name of the new score column")] = "score",
    positive: Annotated[str | None, Param(help="the event ('bad') class, for models not built by finance.scorecard; default: the larger class")] = None,
    base_score: Annotated[float | None, Param(help="score at the base odds; default: the scorecard's, else 600")] = None,
    base_odds: Annotated[float | None, Param(gt=0, help="good:bad odds at the base score; default: the scorecard's, else 50")] = None,
    pdo: Annotated[float | None, Param(gt=0, help="points to double the odds; default: the scorecard's, else 20")] = None,
    points: Annotated[bool, Param(help="add a points_<feature> column per feature (scorecard models)")] = True,
) -> pd.DataFrame:
    """Score a table in points: score = offset + factor × ln((1 - p) / p) for the event probability p.

    A model from ``finance.scorecard`` carries its scaling; any other binary classifier is put on
    the same scale (default base score 600 at odds 50:1, 20 points to double the odds). For a
    scorecard the per-feature points are added too, and they sum to the score.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> card = scorecard(frame, label="target", positive="0", features=["worst radius", "worst texture"], bins=4).model
    >>> scored = scorecard_predict(card, frame)
    >>> bool(abs(scored["score"] - scored["points_worst radius"] - scored["points_worst texture"]).max() < 1e-9)
    True
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no rows to score")
    if model.task != "binary":
        raise DataError(f"a {model.task} model gives no event probability; scorecard_predict takes binary classifiers")
    stored = dict(model.metadata.get("scorecard") or {})
    classes = list(model.classes or [])
    event = stored.get("event_class", classes[-1]) if positive is None else next((value for value in classes if str(value) == str(positive)), None)
    if event not in classes:
        raise DataError(f"parameter 'positive': {positive!r} is not a class of the model (classes: {classes})")
    chosen_base = base_score if base_score is not None else stored.get("base_score", 600.0)
    chosen_odds = base_odds if base_odds is not None else stored.get("base_odds", 50.0)
    chosen_pdo = pdo if pdo is not None else stored.get("pdo", 20.0)
    factor = chosen_pdo / np.log(2)
    offset = chosen_base - factor * np.log(chosen_odds)
    probability = np.clip(model.predict_proba(data)[:, classes.index(event)], 1e-15, 1 - 1e-15)
    result = data.copy()
    result[f"prob_{event}"] = probability
    result[score_column] = offset + factor * np.log((1 - probability) / probability)
    if points and stored and hasattr(model.model, "named_steps"):
        woe = model.model.named_steps["woe"].transform(model.feature_frame(data))
        logistic = model.model.named_steps["logistic"]
        sign = 1.0 if logistic.classes_.tolist()[1] == event else -1.0
        coefficients, intercept = sign * logistic.coef_[0], sign * logistic.intercept_[0]
        count = len(model.features)
        for index, name in enumerate(model.features):
            result[f"points_{name}"] = -factor * (coefficients[index] * woe[:, index] + intercept / count) + offset / count
    return result


def _shares(expected: pd.Series, actual: pd.Series, bins: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels and the share of each table's rows per bin; bins come from the expected table."""
    if is_numeric(expected) and is_numeric(actual):
        base = expected.dropna().to_numpy(dtype=float, na_value=np.nan)
        edges = np.unique(np.quantile(base, np.linspace(0, 1, bins + 1))[1:-1]) if len(base) else np.array([])
        bounds = [-np.inf, *edges, np.inf]
        labels = [f"({bounds[i]:.6g}, {bounds[i + 1]:.6g}]" for i in range(len(edges) + 1)] + ["missing"]

        def codes(values: pd.Series) -> np.ndarray:
            found = np.searchsorted(edges, np.nan_to_num(values.to_numpy(dtype=float, na_value=np.nan)), side="left")
            return np.where(values.isna().to_numpy(), len(edges) + 1, found)
    else:
        labels = sorted(set(expected.dropna().astype(str)) | set(actual.dropna().astype(str))) + ["missing"]
        lookup = {value: index for index, value in enumerate(labels[:-1])}

        def codes(values: pd.Series) -> np.ndarray:
            return np.array([len(labels) - 1 if pd.isna(value) else lookup[str(value)] for value in values.to_numpy()], dtype=int)

    expected_share = np.bincount(codes(expected), minlength=len(labels)) / len(expected)
    actual_share = np.bincount(codes(actual), minlength=len(labels)) / len(actual)
    return labels, expected_share, actual_share


def psi_level(value: float) -> str:
    return "stable" if value < 0.1 else ("moderate shift" if value < 0.25 else "significant shift")


@component("finance.psi", title="Population Stability Index", tags={"sample": "numeric"})
def psi(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="columns to compare; empty: every column the two tables share")] = None,
    bins: Annotated[int, Param(ge=2, le=100, help="quantile bins of the expected table per numeric column")] = 10,
    epsilon: Annotated[float, Param(gt=0, lt=0.01, help="stands in for an empty bin's share, so the logarithm stays finite")] = 1e-4,
) -> Metrics:
    """Population stability index: how far each column's distribution in ``actual`` moved from ``expected``.

    Numeric columns are cut at the quantiles of the expected table (right-closed bins), other
    columns bin by value; missing values get their own bin. PSI = sum over bins of
    (actual share - expected share) × ln(actual share / expected share). Usual reading: below
    0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a significant shift.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> before = pd.DataFrame({"income": rng.normal(50, 10, 1000)})
    >>> after = pd.DataFrame({"income": rng.normal(55, 10, 1000)})
    >>> report = psi(before, after)
    >>> round(report["psi_income"], 3), report["unstable_features"]
    (0.278, 1)
    """
    for name, table in (("expected", expected), ("actual", actual)):
        if len(table) == 0:
            raise DataError(f"input '{name}' is empty: PSI compares the distributions of two non-empty tables")
    chosen = list(columns) if columns else [name for name in expected.columns if name in actual.columns]
    missing = [name for name in chosen if name not in actual.columns]
    if missing:
        raise DataError(f"column(s) {', '.join(map(repr, missing))} are not in input 'actual' (columns: {', '.join(map(str, actual.columns[:20]))})")
    if not chosen:
        raise DataError("the two tables share no column; set 'columns'")
    summary, detail = [], []
    for name in chosen:
        labels, before, after = _shares(expected[name], actual[name], bins)
        safe_before, safe_after = np.maximum(before, epsilon), np.maximum(after, epsilon)
        parts = (safe_after - safe_before) * np.log(safe_after / safe_before)
        value = float(parts.sum())
        summary.append({"feature": str(name), "psi": value, "level": psi_level(value)})
        detail += [
            {"feature": str(name), "bin_label": label, "expected_share": float(e), "actual_share": float(a), "psi": float(p)}
            for label, e, a, p in zip(labels, before, after, parts, strict=True)
            if e > 0 or a > 0
        ]
    values: dict[str, Any] = {f"psi_{row['feature']}": row["psi"] for row in summary}
    worst = max(summary, key=lambda row: row["psi"])
    values.update({"max_psi": worst["psi"], "max_psi_feature": worst["feature"], "unstable_features": sum(row["psi"] >= 0.25 for row in summary)})
    figure = bar_chart([row["feature"] for row in summary], [row["psi"] for row in summary], x="feature", y="psi", title="Population stability index")
    return Metrics(values, figures={"psi": figure}, tables={"psi": summary, "bins": detail})
