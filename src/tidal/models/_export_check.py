"""The rows an export is checked on, and the comparison that decides whether it may be written.

An exported file is only written once it gives the model's own answers on a set of rows:

* the caller's rows (``--data FILE``, a pipeline's ``data`` input): held-out rows are the best
  check, since they are what the exported model will see;
* otherwise rows generated from the package's signature and what the model itself records about
  its inputs: the value range of each feature (LightGBM's feature ranges, a leading scaler's
  statistics, the spread of the trees' split points) and the split points themselves, each taken
  as stored, rounded to float32, halfway between the two, and one float32 step either side, since
  that is where a conversion to another arithmetic goes wrong. Features the model says nothing about get
  standard-normal values. LightGBM and XGBoost, which route missing values, also get rows with
  missing cells.

:func:`compare` then requires probabilities (or regression predictions) to agree within the
tolerance, and class labels to be equal on every row, except a row where the model's two most
likely classes are themselves within the tolerance of each other (a tie that float32 arithmetic
may break either way); such rows are counted in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError, TidalError

#: rows of random values generated when the caller gives none
RANDOM_ROWS = 256
#: split points probed (each gives up to five rows); more are sampled evenly
SPLIT_POINTS = 64
#: caller's rows beyond this are sampled evenly (the check scores every row three times)
MAX_ROWS = 100_000


class ExportRefused(TidalError):
    """An export was refused (unsupported model, missing library, or a check that failed); nothing was written."""


@dataclass
class Agreement:
    """How closely the exported file reproduced the model on the rows checked."""

    rows: int
    max_difference: float
    label_ties: int = 0


# -- rows --------------------------------------------------------------------------------------------


def caller_rows(package: Any, data: Any) -> pd.DataFrame:
    """The model's feature columns of the caller's table, as numbers (evenly sampled past :data:`MAX_ROWS`)."""
    frame = package.feature_frame(data)
    if len(frame) == 0:
        raise DataError("the table to check the export on has no rows; give held-out rows, or none to use generated rows")
    if len(frame) > MAX_ROWS:
        frame = frame.iloc[np.linspace(0, len(frame) - 1, MAX_ROWS).astype(int)]
    bad = [name for name in frame.columns
           if not (pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name]))]
    if bad:
        raise DataError(f"column(s) {', '.join(map(repr, bad))} of the check rows are not numeric; "
                        "the exported model takes numbers")
    nullable = [name for name in frame.columns if isinstance(frame[name].dtype, pd.api.extensions.ExtensionDtype)]
    if nullable:  # pandas' nullable Int64, boolean ...: as floats, a missing value as NaN
        frame = frame.astype({name: "float64" for name in nullable})
    return frame.reset_index(drop=True)


def generated_rows(package: Any, *, split_points: bool = True, seed: int = 0) -> pd.DataFrame:
    """Rows from the signature and the model's own record of its inputs (see the module's notes)."""
    features = list(package.features)
    ranges, points = model_ranges(package)
    generator = np.random.default_rng(seed)
    columns = {}
    for index, name in enumerate(features):
        low, high = ranges.get(index, (None, None))
        if low is None or high is None or not np.isfinite([low, high]).all():
            columns[name] = generator.normal(size=RANDOM_ROWS)
        else:
            pad = 0.05 * (high - low) if high > low else max(abs(low), 1.0) * 0.05
            columns[name] = generator.uniform(low - pad, high + pad, size=RANDOM_ROWS)
        kind = package.feature_types.get(name, "").lower()
        if kind.startswith("bool"):
            columns[name] = (generator.random(RANDOM_ROWS) > 0.5).astype(np.float64)
        elif kind.startswith(("int", "uint")):
            columns[name] = np.round(columns[name])
    frame = pd.DataFrame(columns, columns=features)
    if split_points and points:
        base = frame.median().to_numpy()
        chosen = sorted(points)
        if len(chosen) > SPLIT_POINTS:
            chosen = [chosen[int(i)] for i in np.linspace(0, len(chosen) - 1, SPLIT_POINTS)]
        probes = []
        for index, value in chosen:
            single = np.float32(value)
            between = float(value) + (float(single) - float(value)) / 2  # rounds to the split point in float32
            for candidate in sorted({float(value), float(single), between, float(np.nextafter(single, np.float32(-np.inf))),
                                     float(np.nextafter(single, np.float32(np.inf)))}):
                row = base.copy()
                row[index] = candidate
                probes.append(row)
        frame = pd.concat([frame, pd.DataFrame(probes, columns=features)], ignore_index=True)
    if package.flavor in ("lightgbm", "xgboost"):
        holes = generator.random(frame.shape) < 0.1
        holes[: len(frame) // 2] = False  # half the rows stay complete
        frame = frame.mask(holes)
    return frame


def model_ranges(package: Any) -> tuple[dict[int, tuple[float, float]], set[tuple[int, float]]]:
    """Per feature position: the value range the model records, and its split points ``(position, value)``."""
    model = package.model
    width = len(package.features)
    points: set[tuple[int, float]] = set()
    ranges: dict[int, tuple[float, float]] = {}
    if package.flavor == "lightgbm":
        booster = getattr(model, "booster_", model)
        names = booster.feature_name()
        infos = booster.dump_model().get("feature_infos", {})
        for index, name in enumerate(names):
            info = infos.get(name) or {}
            if "min_value" in info and "max_value" in info:
                ranges[index] = (float(info["min_value"]), float(info["max_value"]))
        trees = booster.trees_to_dataframe()
        numeric = trees[trees["decision_type"] == "<="].dropna(subset=["split_feature"])
        position = {name: index for index, name in enumerate(names)}
        points = {(position[name], float(value)) for name, value in zip(numeric["split_feature"], numeric["threshold"], strict=True)}
    elif package.flavor == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        names = list(booster.feature_names or [f"f{index}" for index in range(width)])
        position = {name: index for index, name in enumerate(names)}
        trees = booster.trees_to_dataframe()
        splits = trees[trees["Feature"] != "Leaf"]
        points = {(position[name], float(value)) for name, value in zip(splits["Feature"], splits["Split"], strict=True)
                  if name in position and np.isfinite(value)}
    else:
        scaled = _leading_scaler_ranges(model)
        if scaled is not None:
            ranges = scaled
        else:
            points = set(_sklearn_split_points(model))
    if points and not ranges:
        for index in {index for index, _ in points}:
            values = [value for where, value in points if where == index]
            ranges[index] = (min(values), max(values))
    return ranges, {(index, value) for index, value in points if index < width}


def _leading_scaler_ranges(model: Any) -> dict[int, tuple[float, float]] | None:
    """Ranges from a pipeline's first step when it is a scaler (its statistics are the training data's)."""
    steps = getattr(model, "steps", None)
    first = steps[0][1] if steps else None
    if first is None:
        return None
    if hasattr(first, "data_min_") and hasattr(first, "data_max_"):
        return {index: (float(low), float(high)) for index, (low, high) in enumerate(zip(first.data_min_, first.data_max_, strict=True))}
    mean, scale = getattr(first, "mean_", None), getattr(first, "scale_", None)
    if mean is not None and scale is not None:
        return {index: (float(m - 3 * s), float(m + 3 * s)) for index, (m, s) in enumerate(zip(mean, scale, strict=True))}
    return None


def _sklearn_split_points(model: Any, depth: int = 0) -> list[tuple[int, float]]:
    """Split points of the trees in a scikit-learn model that reads the raw features (no step before it)."""
    if depth > 4:
        return []
    found: list[tuple[int, float]] = []
    tree = getattr(model, "tree_", None)
    if tree is not None:
        found += [(int(feature), float(value)) for feature, value in zip(tree.feature, tree.threshold, strict=True) if feature >= 0]
    for member in np.asarray(getattr(model, "estimators_", []), dtype=object).ravel():
        found += _sklearn_split_points(member, depth + 1)
    for calibrated in getattr(model, "calibrated_classifiers_", []):
        found += _sklearn_split_points(getattr(calibrated, "estimator", None), depth + 1)
    for predictors in getattr(model, "_predictors", []):  # histogram gradient boosting
        for predictor in predictors:
            nodes = predictor.nodes
            split = ~nodes["is_leaf"].astype(bool)
            found += [(int(feature), float(value)) for feature, value in
                      zip(nodes["feature_idx"][split], nodes["num_threshold"][split], strict=True)]
    return found


# -- comparison --------------------------------------------------------------------------------------


def _same_label(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)) and np.isnan(a) and np.isnan(b):
        return True
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        return _text(a) == _text(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _plain(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
    return repr(_text(value))


def _describe(rows: pd.DataFrame, row: int) -> str:
    values = ", ".join(f"{name}={_plain(rows.iloc[row][name])}" for name in list(rows.columns)[:6])
    absent = [str(name) for name, gone in rows.iloc[row].isna().items() if gone]
    missing = (f" — its missing value(s) in {', '.join(map(repr, absent[:5]))} are treated differently by the export; "
               "if your data never has missing values, check on held-out rows instead (--data FILE)") if absent else ""
    return f"row {row} ({values}{', ...' if rows.shape[1] > 6 else ''}){missing}"


def compare(package: Any, rows: pd.DataFrame, exported: dict[str, Any], *, tolerance: float, what: str) -> Agreement:
    """Check the exported file's answers (``prediction``, and ``probabilities`` for classifiers) against the model's."""
    theirs = np.asarray(exported["prediction"])
    if package.task == "regression":
        ours = np.asarray(package.predict(rows), dtype=np.float64).ravel()
        theirs = np.asarray(theirs, dtype=np.float64).ravel()
        _check_shape(ours, theirs, what)
        both_missing = np.isnan(ours) & np.isnan(theirs)
        gap = np.where(both_missing, 0.0, np.abs(ours - theirs))
        allowed = tolerance * np.maximum(1.0, np.abs(ours))
        bad = np.flatnonzero(~(gap <= allowed))
        if len(bad):
            first = int(bad[0])
            raise ExportRefused(f"{what} disagrees with the model on {len(bad)} of {len(rows)} rows checked; first "
                                f"{_describe(rows, first)}: model predicts {_plain(ours[first])}, {what} {_plain(theirs[first])} "
                                f"(tolerance {tolerance:g}, relative above 1)")
        return Agreement(len(rows), float((gap / np.maximum(1.0, np.abs(ours))).max(initial=0.0)))
    ours_proba = np.asarray(package.predict_proba(rows), dtype=np.float64)
    theirs_proba = np.asarray(exported["probabilities"], dtype=np.float64)
    if theirs_proba.shape != ours_proba.shape:
        raise ExportRefused(f"{what} gives probabilities of shape {theirs_proba.shape}, the model {ours_proba.shape}")
    gap = np.where(np.isnan(ours_proba) & np.isnan(theirs_proba), 0.0, np.abs(ours_proba - theirs_proba))
    bad_cells = ~(gap <= tolerance)
    if bad_cells.any():
        first, column = (int(item) for item in np.argwhere(bad_cells)[0])
        label = (package.classes or [])[column] if column < len(package.classes or []) else column
        raise ExportRefused(f"{what} disagrees with the model on {int(bad_cells.any(axis=1).sum())} of {len(rows)} rows "
                            f"checked; first {_describe(rows, first)}: probability of class {_plain(label)} is "
                            f"{_plain(ours_proba[first, column])} by the model, {_plain(theirs_proba[first, column])} by {what} "
                            f"(tolerance {tolerance:g})")
    ours_labels = np.asarray(package.predict(rows), dtype=object).ravel()
    theirs_labels = np.asarray(theirs, dtype=object).ravel()
    _check_shape(ours_labels, theirs_labels, what)
    ordered = np.sort(np.nan_to_num(ours_proba, nan=-1.0), axis=1)
    margin = ordered[:, -1] - ordered[:, -2] if ours_proba.shape[1] > 1 else np.ones(len(rows))
    ties = 0
    for row, (a, b) in enumerate(zip(ours_labels, theirs_labels, strict=True)):
        if _same_label(a, b):
            continue
        if margin[row] <= tolerance:
            ties += 1
            continue
        raise ExportRefused(f"{what} predicts class {_text(b)!r} where the model predicts {_text(a)!r} on "
                            f"{_describe(rows, row)}; class labels must agree exactly")
    return Agreement(len(rows), float(gap.max(initial=0.0)), ties)


def _check_shape(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    if ours.shape != theirs.shape:
        raise ExportRefused(f"{what} gives {theirs.shape[0]} predictions for {ours.shape[0]} rows")
