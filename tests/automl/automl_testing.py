"""Trainers for the AutoML tests: a logistic regression that can be slowed down, fail or hang on purpose."""

from __future__ import annotations

import os
import time
from typing import Annotated

import pandas as pd
from sklearn.linear_model import LogisticRegression

from tidal.components._training import fit_supervised
from tidal.core import Column, Param, component
from tidal.models import ModelPackage


def _log(entry: str) -> None:
    path = os.environ.get("TIDAL_TEST_LOG")
    if path:
        with open(path, "a") as handle:
            handle.write(entry + "\n")


@component("testing_automl.logistic", title="Test logistic regression", tags={"task": "binary|multiclass"})
def logistic(
    data: pd.DataFrame,
    *,
    label: Column,
    C: Annotated[float, Param(gt=0, log=True, tune=True, low=1e-3, high=1e3)] = 1.0,
    seconds: Annotated[float, Param(ge=0)] = 0.0,
    fail_above: float | None = None,
    hang_above: float | None = None,
    crash_above: float | None = None,
    show_threads: bool = False,
) -> ModelPackage:
    """Logistic regression that sleeps ``seconds``, fails, crashes or hangs above a value of C."""
    _log(f"fit:{C:.8f}")
    if crash_above is not None and C > crash_above:
        os._exit(3)
    if fail_above is not None and C > fail_above:
        raise ValueError(f"C={C:.3g} is above {fail_above} (a failure on purpose)")
    if hang_above is not None and C > hang_above:
        time.sleep(3600)
    time.sleep(seconds)
    if show_threads:  # what this trial's worker was started with
        print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    return fit_supervised(LogisticRegression(C=C, max_iter=2000), data, label=label, features=None,
                          kind="classification", params={"C": C})
