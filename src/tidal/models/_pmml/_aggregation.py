"""Combining segment answers per row where JPMML needs more than a running sum.

``weighted_median`` gives the median (Commons Math's legacy estimate, as JPMML uses it) or the
weighted median of the segments that answered each row; ``extreme`` gives a classification
ensemble's ``max`` or ``median`` answer: the class whose highest (or median) probability wins,
then the average distribution of the segments that reach that value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidal.models._pmml._results import MathContext, Prediction


@dataclass
class Evaluated:
    """One segment's answers, for the rows its predicate selected."""

    rows: np.ndarray
    prediction: Prediction
    weight: float


def weighted_median(evaluated: list[Evaluated], counted: list[np.ndarray], size: int, weighted: bool) -> np.ndarray:
    """Per row, the (weighted) median of the segments' values (NaN where none answered)."""
    values = np.full((size, len(evaluated)), np.nan)
    weights = np.zeros((size, len(evaluated)))
    for column, (result, keep) in enumerate(zip(evaluated, counted, strict=True)):
        assert result.prediction.value is not None
        values[result.rows[keep], column] = result.prediction.value.values[keep]
        weights[result.rows[keep], column] = result.weight
    result_values = np.full(size, np.nan)
    for row in range(size):
        present = ~np.isnan(values[row])
        if not present.any():
            continue
        if weighted:
            order = np.argsort(values[row][present], kind="stable")
            ordered, ordered_weights = values[row][present][order], weights[row][present][order]
            threshold = 0.5 * ordered_weights.sum()
            position = int(np.argmax(np.cumsum(ordered_weights) >= threshold))
            result_values[row] = ordered[position]
        else:
            result_values[row] = legacy_median(values[row][present])
    return result_values


def extreme(method: str, stacks: np.ndarray, present: np.ndarray, categories: list[int], math: MathContext) -> np.ndarray:
    """``max`` and ``median``: the winning class's extreme, then the average of the segments that reach it."""
    size, count = stacks.shape[1], stacks.shape[2]
    result = np.full((size, count), np.nan, dtype=math.dtype)
    for row in range(size):
        chosen = np.flatnonzero(present[:, row])
        if not len(chosen):
            continue
        table = stacks[chosen, row, :].astype(np.float64)
        if method == "max":
            summary = table.max(axis=0)
        else:
            summary = np.array([legacy_median(np.sort(table[:, column])) for column in range(count)])
        winner = None
        for column in categories:
            if winner is None or summary[column] > summary[winner]:
                winner = column
        assert winner is not None
        if method == "max":
            contributors = np.flatnonzero(table[:, winner] == summary[winner])
        else:
            difference = np.abs(summary[winner] - table[:, winner])
            contributors = np.flatnonzero(difference == difference.min())
        rows = stacks[chosen[contributors], row, :]
        if len(contributors) == 1:
            result[row] = rows[0]
        else:
            total = np.zeros(count, dtype=math.dtype)
            for values in rows:
                total = total + values
            result[row] = np.asarray(total) / math.scalar(len(contributors))
    return result


def legacy_median(ordered: np.ndarray) -> float:
    """Commons Math's default (legacy) median of sorted values, as JPMML computes it."""
    values = np.sort(ordered)
    count = len(values)
    if count == 1:
        return float(values[0])
    position = 0.5 * (count + 1)
    whole = int(np.floor(position))
    if position < 1:
        return float(values[0])
    if position >= count:
        return float(values[-1])
    lower, upper = values[whole - 1], values[whole]
    return float(lower + (position - whole) * (upper - lower))
