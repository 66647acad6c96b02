"""Scoring PMML with JPMML-Evaluator (the reference) and comparing Tidal's answers with it.

One JVM serves the whole test session, in a helper process of its own: ``jpmml_evaluator``'s
jpype backend starts it there on first use and keeps it. The JVM never runs inside the test
process, because it takes over signal handling and stack guards that native code run later in the
same process (OpenBLAS in scikit-learn's randomized SVD) then crashes on. Comparisons are exact on
nulls (a row JPMML gives no prediction for must have none in Tidal too) and within 1e-9 on numbers.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

TOLERANCE = 1e-9


def require_jpmml() -> Any:
    """The jpmml_evaluator module; the reference tests fail (never skip) where it or Java is missing."""
    if shutil.which("java") is None:
        pytest.fail("Java is not installed: run `make test` (scripts/system-deps.sh installs default-jre-headless)")
    import jpmml_evaluator

    return jpmml_evaluator


_JVM_PROCESS: ProcessPoolExecutor | None = None


def _evaluate_in_jvm_process(path: str, rows: pd.DataFrame) -> pd.DataFrame:
    import jpmml_evaluator

    return jpmml_evaluator.make_evaluator(path, backend="jpype").verify().evaluateAll(rows)


def jpmml_results(path: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """JPMML-Evaluator's result table for ``rows`` (NaN inputs are sent as missing values)."""
    global _JVM_PROCESS
    require_jpmml()
    if _JVM_PROCESS is None:  # one spawned process (not forked: this one may hold threads) for the session
        _JVM_PROCESS = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    return _JVM_PROCESS.submit(_evaluate_in_jvm_process, str(path), rows).result(timeout=240)


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def differences(ours: dict[str, np.ndarray], theirs: pd.DataFrame, target: str) -> list[str]:
    """Every column and row where Tidal's result differs from JPMML's (empty when they agree).

    Where JPMML raises an error for a row (a support vector machine or a function given a missing
    value), Tidal gives no prediction: the row's target must be null, and its other columns are not
    compared.
    """
    problems = []
    theirs = theirs.rename(columns={name: "prediction" for name in theirs.columns if not isinstance(name, str)})
    if "errors" in theirs.columns:  # jpmml_evaluator reports a row it could not score here
        failed = theirs["errors"].notna().to_numpy()
        for row in np.flatnonzero(failed):
            if not _is_null(ours[target][row]):
                problems.append(f"JPMML could not score row {row} ({theirs['errors'].iloc[row]}), "
                                f"but Tidal predicts {ours[target][row]!r}")
        theirs = theirs.drop(columns="errors")[~failed]
        ours = {name: np.asarray(values, dtype=object)[~failed] for name, values in ours.items()}
    for name in theirs.columns:
        if name not in ours:
            problems.append(f"{name}: JPMML reports it, Tidal does not")
            continue
        mine, reference = list(ours[name]), list(theirs[name].to_numpy())
        if len(mine) != len(reference):
            problems.append(f"{name}: {len(mine)} rows, JPMML has {len(reference)}")
            continue
        for row, (a, b) in enumerate(zip(mine, reference, strict=True)):
            if _is_null(a) or _is_null(b):
                if _is_null(a) != _is_null(b):
                    problems.append(f"{name} row {row}: Tidal {a!r}, JPMML {b!r}")
            elif isinstance(b, list) or isinstance(a, list):
                if list(a) != list(b):
                    problems.append(f"{name} row {row}: Tidal {a!r}, JPMML {b!r}")
            elif isinstance(b, str) or isinstance(a, str):
                if str(a) != str(b):
                    problems.append(f"{name} row {row}: Tidal {a!r}, JPMML {b!r}")
            elif abs(float(a) - float(b)) > TOLERANCE:
                problems.append(f"{name} row {row}: Tidal {float(a)!r}, JPMML {float(b)!r}")
    extra = [name for name in ours if name not in theirs.columns]
    if extra:
        problems.append(f"Tidal reports columns JPMML does not: {extra}")
    return problems


def assert_matches_jpmml(path: Path, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Score ``rows`` with both evaluators and fail with every difference."""
    from tidal.models._pmml import PmmlModel

    model = PmmlModel.from_path(path)
    ours = model.evaluate(rows)
    theirs = jpmml_results(path, rows)
    problems = differences(ours, theirs, model.target or "prediction")
    assert not problems, f"{path.name}: {len(problems)} difference(s) from JPMML:\n  " + "\n  ".join(problems[:20])
    return ours
