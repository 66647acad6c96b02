"""Hostile stream states and packages: malformed, oversized or pickled payloads are refused, named."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tidal.components.stream import ftrl_train
from tidal.core import DataError, UnsafeModelError
from tidal.models import ModelPackage, PackageRefused
from tidal.stream import FTRLLogisticRegression, RiverEstimator, StateError, restore

MARKER = "stream-hostile-marker"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"]).assign(y=lambda f: (f["a"] > 0).astype(int))
    return ftrl_train(frame, label="y", batch_size=50).model.save(tmp_path / "model")


def _state(folder: Path) -> dict:
    with np.load(folder / "state.npz") as stored:
        arrays = {name: stored[name] for name in stored.files}
    return {**json.loads((folder / "stream.json").read_text())["scalars"], **arrays}


def _write(folder: Path, state: dict) -> None:
    arrays = {key: value for key, value in state.items() if isinstance(value, np.ndarray)}
    np.savez(folder / "state.npz", **arrays)
    (folder / "stream.json").write_text(json.dumps({"format": 1, "scalars": {k: v for k, v in state.items() if k not in arrays}}))


@pytest.mark.parametrize(("change", "named"), [
    (lambda s: s.update(z=np.zeros(7)), "'z' has shape (7,)"),
    (lambda s: s.update(n=np.full(3, np.nan)), "'n' holds NaN"),
    (lambda s: s.update(n=-np.ones(3)), "'n' holds negative"),
    (lambda s: s.pop("stored"), "lacks the entry 'stored'"),
    (lambda s: s.update(alpha=-1.0), "'alpha'"),
    (lambda s: s.update(learner="Nope"), "unknown learner 'Nope'"),
    (lambda s: s.update(mode="exec"), "'mode' is 'exec'"),
])
def test_malformed_state_is_refused_naming_the_entry(package: Path, change, named: str) -> None:
    state = _state(package)
    change(state)
    _write(package, state)
    with pytest.raises(PackageRefused) as refused:
        ModelPackage.load(package)
    assert named in str(refused.value)


def test_huge_state_is_refused_before_it_is_read(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDAL_STREAM_MAX_STATE_ELEMENTS", "100")
    state = _state(package)
    state["z"] = np.zeros(10_000)
    _write(package, state)
    with pytest.raises(PackageRefused, match="more than the limit"):
        ModelPackage.load(package)
    with pytest.raises(StateError, match="more than the limit"):
        FTRLLogisticRegression.from_state({**state, "z": np.zeros(200)})


class _Plant:
    def __reduce__(self):
        return (open, (MARKER, "w"))


def test_pickled_array_in_the_payload_is_never_unpickled(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    state = _state(package)
    arrays = {key: value for key, value in state.items() if isinstance(value, np.ndarray)}
    arrays["z"] = np.array([_Plant()], dtype=object)
    np.savez(package / "state.npz", **arrays)
    with pytest.raises(PackageRefused, match="without pickles"):
        ModelPackage.load(package)
    assert not (tmp_path / MARKER).exists()


def test_river_state_needs_trust(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    state = {"learner": "RiverEstimator", "batch": 0, "features": "a",
             "pickle": np.frombuffer(pickle.dumps(_Plant()), dtype=np.uint8).copy()}
    with pytest.raises(UnsafeModelError, match="trust"):
        restore(state)
    _write(package, state)
    with pytest.raises(UnsafeModelError, match="trust"):
        ModelPackage.load(package)
    assert not (tmp_path / MARKER).exists()
    from river import linear_model

    trusted = RiverEstimator(linear_model.LinearRegression()).learn(np.ones((3, 1)), [1.0, 2.0, 3.0])
    assert isinstance(restore(trusted.state(), trust=True), RiverEstimator)


def test_not_a_zip_and_bad_settings_are_refused(package: Path) -> None:
    (package / "state.npz").write_bytes(b"not a zip at all")
    with pytest.raises(PackageRefused, match="not a numpy state archive"):
        ModelPackage.load(package)
    with zipfile.ZipFile(package / "state.npz", "w") as archive:
        archive.writestr("z.npy", b"\x93NUMPY garbage")
    with pytest.raises(PackageRefused, match="state.npz"):
        ModelPackage.load(package)
    (package / "stream.json").write_text(json.dumps({"scalars": {"alpha": [1, 2]}}))
    with pytest.raises(PackageRefused, match="'scalars'"):
        ModelPackage.load(package)


def test_tables_with_a_missing_or_text_label_name_the_column() -> None:
    frame = pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.4], "y": ["no", "yes", "no", "yes"]})
    with pytest.raises(DataError, match="label column 'y' must hold two numeric classes"):
        ftrl_train(frame, label="y")
    with pytest.raises(DataError, match="column 'label' not found"):
        ftrl_train(frame, label="label")
