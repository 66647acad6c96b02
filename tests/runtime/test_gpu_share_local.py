"""The local executor keeps each node asking a fraction of a GPU inside its share: a watchdog stops the
worker of the node that holds more than its fraction of the device and names why, and its neighbour on
the same device runs on untouched. A fake GPU sampler stands in for NVML on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

import tidal
from tidal.pipeline import Pipeline
from tidal.runtime import _executor

DEVICE_MIB = 1000


@pytest.fixture
def fake_gpu(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "gpu-memory"
    folder.mkdir()

    def sampler(pid: int) -> int | None:  # what NVML would report for the process: what the node wrote
        held = folder / str(pid)
        return int(held.read_text()) if held.exists() else None

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # one (fake) device visible, so the requests fit here
    monkeypatch.setattr(_executor, "GPU_PROBE", lambda: (sampler, DEVICE_MIB << 20))
    return folder


def test_only_the_node_over_its_share_is_stopped_and_the_reason_is_named(workspace, fake_gpu):
    pipeline = Pipeline("shares")
    pipeline.add("testing.gpu_hog", "greedy", params={"folder": str(fake_gpu), "mib": 400, "seconds": 30},
                 resources={"gpus": 0.25})
    pipeline.add("testing.gpu_hog", "modest", params={"folder": str(fake_gpu), "mib": 200, "seconds": 2},
                 resources={"gpus": 0.25})
    result = tidal.run(pipeline, workspace=workspace, workers=2)
    greedy, modest = result.nodes["greedy"], result.nodes["modest"]
    assert modest.status == "succeeded"
    assert greedy.status == "failed" and greedy.attempts == 1   # not retried: it would meet the same limit
    assert "node 'greedy' (gpus: 0.25)" in greedy.error and "held 400 MiB" in greedy.error
    assert "over its share of 250 MiB" in greedy.error and "request a larger share (resources: gpus)" in greedy.error


def test_a_node_asking_a_whole_gpu_or_none_is_not_watched(workspace, fake_gpu):
    pipeline = Pipeline("whole")
    pipeline.add("testing.gpu_hog", "whole", params={"folder": str(fake_gpu), "mib": 900}, resources={"gpus": 1})
    pipeline.add("testing.gpu_hog", "cpu", params={"folder": str(fake_gpu), "mib": 900})
    result = tidal.run(pipeline, workspace=workspace, workers=2)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
