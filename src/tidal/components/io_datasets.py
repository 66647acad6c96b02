"""Datasets without a file: scikit-learn's bundled datasets and synthetic data generators."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.core import DataError, Param, component


def snake_case(name: str) -> str:
    """``'sepal length (cm)'`` -> ``'sepal_length_cm'``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def _frame(features: np.ndarray, target: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(features, columns=[f"x{index + 1}" for index in range(features.shape[1])])
    frame["target"] = target
    return frame


@component("io.dataset", title="Bundled Dataset", tags={"source": True, "sample": "none"})
def dataset(
    *,
    name: Annotated[Literal["iris", "wine", "breast_cancer", "digits", "diabetes"], Param(help="which dataset")] = "iris",
    labels: Annotated[Literal["codes", "names"], Param(help="class labels as integer codes or as names (classification sets)")] = "codes",
) -> pd.DataFrame:
    """Load one of scikit-learn's small bundled datasets (no download), label in column ``target``.

    iris, wine, breast_cancer and digits are classification sets; diabetes is regression.
    Column names are snake_case: ``sepal_length_cm``, ``mean_radius``, ``pixel_0_0``.

    Examples
    --------
    >>> frame = dataset(name="iris", labels="names")
    >>> frame.shape, list(frame.columns[:2]), frame["target"].iloc[0]
    ((150, 5), ['sepal_length_cm', 'sepal_width_cm'], 'setosa')
    """
    from sklearn import datasets

    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }
    bunch = loaders[name](as_frame=True)
    frame = bunch.frame.rename(columns=snake_case)
    if labels == "names" and name != "diabetes":
        frame["target"] = np.asarray(bunch.target_names)[frame["target"].to_numpy()]
    return frame


@component("io.make_classification", title="Generate Classification Data", tags={"source": True, "sample": "none"})
def make_classification(
    *,
    rows: Annotated[int, Param(ge=1, help="number of rows")] = 1000,
    features: Annotated[int, Param(ge=1, help="number of feature columns x1..xN")] = 10,
    informative: Annotated[int, Param(ge=1, help="features that carry the signal")] = 5,
    redundant: Annotated[int, Param(ge=0, help="features that are linear mixes of the informative ones")] = 2,
    classes: Annotated[int, Param(ge=2, help="number of classes")] = 2,
    class_sep: Annotated[float, Param(gt=0, help="larger values make the classes easier to tell apart")] = 1.0,
    flip_y: Annotated[float, Param(ge=0, le=1, help="share of labels flipped at random (noise)")] = 0.01,
    seed: Annotated[int, Param(ge=0, help="random seed")] = 0,
) -> pd.DataFrame:
    """Generate a classification problem (scikit-learn ``make_classification``): x1..xN and ``target``.

    Examples
    --------
    >>> frame = make_classification(rows=100, features=4, informative=2, redundant=0, seed=1)
    >>> frame.shape, sorted(frame["target"].unique().tolist())
    ((100, 5), [0, 1])
    """
    from sklearn.datasets import make_classification as generate

    if informative + redundant > features:
        raise DataError(f"parameters 'informative' + 'redundant' ({informative + redundant}) must not exceed 'features' ({features})")
    if classes * 2 > 2**informative:
        raise DataError(f"parameter 'classes': {classes} classes need 'informative' of at least {int(np.ceil(np.log2(classes * 2)))}")
    x, y = generate(
        n_samples=rows, n_features=features, n_informative=informative, n_redundant=redundant,
        n_classes=classes, class_sep=class_sep, flip_y=flip_y, random_state=seed,
    )
    return _frame(x, y)


@component("io.make_regression", title="Generate Regression Data", tags={"source": True, "sample": "none"})
def make_regression(
    *,
    rows: Annotated[int, Param(ge=1, help="number of rows")] = 1000,
    features: Annotated[int, Param(ge=1, help="number of feature columns x1..xN")] = 10,
    informative: Annotated[int, Param(ge=1, help="features with a non-zero coefficient")] = 5,
    noise: Annotated[float, Param(ge=0, help="standard deviation of the Gaussian noise on the target")] = 1.0,
    bias: Annotated[float, Param(help="intercept of the linear model")] = 0.0,
    seed: Annotated[int, Param(ge=0, help="random seed")] = 0,
) -> pd.DataFrame:
    """Generate a linear regression problem (scikit-learn ``make_regression``): x1..xN and ``target``.

    Examples
    --------
    >>> make_regression(rows=50, features=3, informative=2, seed=1).shape
    (50, 4)
    """
    from sklearn.datasets import make_regression as generate

    if informative > features:
        raise DataError(f"parameter 'informative' ({informative}) must not exceed 'features' ({features})")
    x, y = generate(n_samples=rows, n_features=features, n_informative=informative, noise=noise, bias=bias, random_state=seed)
    return _frame(x, y)


@component("io.make_blobs", title="Generate Clusters", tags={"source": True, "sample": "none"})
def make_blobs(
    *,
    rows: Annotated[int, Param(ge=1, help="number of rows")] = 1000,
    centers: Annotated[int, Param(ge=1, help="number of clusters")] = 3,
    features: Annotated[int, Param(ge=1, help="number of feature columns x1..xN")] = 2,
    cluster_std: Annotated[float, Param(gt=0, help="standard deviation of each cluster")] = 1.0,
    seed: Annotated[int, Param(ge=0, help="random seed")] = 0,
) -> pd.DataFrame:
    """Generate Gaussian clusters (scikit-learn ``make_blobs``): x1..xN and the cluster in ``target``.

    Examples
    --------
    >>> frame = make_blobs(rows=90, centers=3, seed=1)
    >>> frame.shape, frame["target"].nunique()
    ((90, 3), 3)
    """
    from sklearn.datasets import make_blobs as generate

    x, y = generate(n_samples=rows, centers=centers, n_features=features, cluster_std=cluster_std, random_state=seed)
    return _frame(x, y)


@component("io.make_time_series", title="Generate Time Series", tags={"source": True, "sample": "none"})
def make_time_series(
    *,
    rows: Annotated[int, Param(ge=1, help="time steps per series")] = 365,
    series: Annotated[int, Param(ge=1, help="number of series, told apart by column 'series'")] = 1,
    start: Annotated[str, Param(help="first time stamp, e.g. 2024-01-01")] = "2024-01-01",
    freq: Annotated[Literal["min", "h", "D", "W", "MS"], Param(help="step: minute, hour, day, week, month start")] = "D",
    level: Annotated[float, Param(help="value at the first step")] = 10.0,
    trend: Annotated[float, Param(help="change per step")] = 0.05,
    period: Annotated[int, Param(ge=2, help="steps in one seasonal cycle")] = 7,
    amplitude: Annotated[float, Param(ge=0, help="height of the seasonal wave")] = 1.0,
    noise: Annotated[float, Param(ge=0, help="standard deviation of the Gaussian noise")] = 0.5,
    seed: Annotated[int, Param(ge=0, help="random seed")] = 0,
) -> pd.DataFrame:
    """Generate time series: level + trend·t + amplitude·sin(2πt/period) + Gaussian noise.

    Columns ``time`` and ``value``, plus ``series`` (s1, s2 ...) when there is more than one.
    Each series gets its own noise, drawn in order from one generator seeded with ``seed``.

    Examples
    --------
    >>> frame = make_time_series(rows=14, noise=0.0, trend=0.0, amplitude=0.0, level=5.0)
    >>> frame.shape, frame["value"].unique().tolist(), str(frame["time"].iloc[-1].date())
    ((14, 2), [5.0], '2024-01-14')
    """
    try:
        times = pd.date_range(pd.Timestamp(start), periods=rows, freq=freq)
    except (ValueError, TypeError):
        raise DataError(f"parameter 'start': {start!r} is not a date or time (write it like 2024-01-01)") from None
    rng = np.random.default_rng(seed)
    steps = np.arange(rows)
    shape = level + trend * steps + amplitude * np.sin(2 * np.pi * steps / period)
    parts = []
    for index in range(series):
        part = pd.DataFrame({"time": times, "value": shape + noise * rng.standard_normal(rows)})
        if series > 1:
            part.insert(0, "series", f"s{index + 1}")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
