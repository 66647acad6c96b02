"""The learner step's warm start: from a registered batch model or a package inside the workspace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from stream_job_helpers import make_events

from tidal.components.classification import logistic_regression
from tidal.core._errors import DataError
from tidal.models import ModelRegistry
from tidal.store import Workspace
from tidal.stream._job_spec import parse
from tidal.stream._runner import run_table


def _job(warm_start: str, features: list[str] | None = None) -> dict:
    learn = {"id": "learn", "component": "stream.learn_ftrl",
             "params": {"label": "y", "features": features or ["x3", "x1", "x2"], "warm_start": warm_start}}
    return {"tidal-stream": 1, "name": "warm", "source": {"kind": "file", "path": "events.jsonl"},
            "batch": {"max_rows": 500}, "steps": [learn], "sinks": [{"kind": "files", "path": "out"}]}


@pytest.fixture
def batch_model(tmp_path):
    history = make_events(800, seed=3)[["x1", "x2", "x3", "y"]]
    model = logistic_regression(history, label="y")
    workspace = Workspace.open(tmp_path)
    ModelRegistry(workspace).register(model, "clicks")
    model.save(tmp_path / "packages" / "batch")
    workspace.close()
    return model


@pytest.mark.parametrize("reference", ["models:/clicks/1", "packages/batch"])
def test_the_first_scores_are_the_batch_models_and_the_features_take_its_order(tmp_path, batch_model, reference):
    events = make_events(500, seed=4)
    job = run_table(parse(_job(reference), tmp_path), events)
    job.step()
    job.close()
    scored = pd.read_json(tmp_path / "out" / "part-0000000000.jsonl", lines=True)
    expected = batch_model.predict_proba(events[["x1", "x2", "x3"]])[:, 1]
    assert np.allclose(scored["probability"], expected, rtol=0, atol=1e-9)   # one batch: scored before learning
    learn = job.steps[0][1]
    assert learn.features == ["x1", "x2", "x3"] and learn.learner.n_seen == 500


def test_a_warm_start_that_does_not_fit_is_refused_with_its_reason(tmp_path, batch_model):
    with pytest.raises(DataError, match=r"features \['x1', 'x2', 'x3'\], the step \['x1', 'x2'\]"):
        run_table(parse(_job("models:/clicks/1", ["x1", "x2"]), tmp_path), make_events(10))
    with pytest.raises(DataError, match="no version 7"):
        run_table(parse(_job("models:/clicks/7"), tmp_path), make_events(10))
    with pytest.raises(DataError, match="no model package at 'packages/none'"):
        run_table(parse(_job("packages/none"), tmp_path), make_events(10))
