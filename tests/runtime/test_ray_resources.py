"""The Ray executor schedules by resource requests: fractional (fake) GPUs pack four to a GPU, and a
request no Ray node can satisfy is refused before anything runs, with the numbers.

The cluster (``ray_address``, started once per session) declares one GPU that does not exist, as
Ray allows: Ray grants quarters of it and sets CUDA_VISIBLE_DEVICES, and nothing touches a GPU.
"""

from __future__ import annotations

import pytest

from tidal.core import TidalError
from tidal.core._resources import Resources
from tidal.pipeline import Pipeline
from tidal.runtime import run_pipeline
from tidal.runtime._ray_executor import check_on_cluster, ray_options
from tidal.runtime._worker import NodeTask
from tidal.store import Workspace

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.usefixtures("leave_ray_disconnected")


@pytest.fixture
def own_connection(ray_address):
    """This process connected to the cluster by itself (as a notebook would), not through Tidal."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address=ray_address, log_to_driver=False, logging_level="ERROR")
    return ray_address


def test_five_quarter_gpu_nodes_run_four_at_a_time(ray_address, s3_artifacts, tmp_path):
    folder = tmp_path / "starts"
    folder.mkdir()
    pipeline = Pipeline("quarters")
    for index in range(5):
        # each run waits until four have started, then holds 1 s: a fifth started alongside would overlap them all
        pipeline.add("testing.hold", f"q{index}", params={"folder": str(folder), "quorum": 4, "seconds": 1.0,
                                                         "tag": f"q{index}"}, resources={"gpus": 0.25})
    uri, options = s3_artifacts
    workspace = Workspace.open(tmp_path, artifacts=uri, storage_options=options)
    result = run_pipeline(pipeline, workspace=workspace, executor="ray", address=ray_address, workers=8)
    assert result.status == "succeeded", result.run.error
    runs = sorted((result.output(f"q{index}").to_pandas().iloc[0] for index in range(5)), key=lambda row: row["started"])
    first, fifth = runs[:4], runs[4]
    assert max(row["started"] for row in first) < min(row["finished"] for row in first), "the first four overlapped"
    assert fifth["started"] >= min(row["finished"] for row in first), "the fifth waited for a quarter to free"
    assert {row["cuda_visible_devices"] for row in runs} == {"0"}  # as Ray set it for the GPU it granted
    assert result.run.options["executor"] == "ray"


def test_on_ray_only_the_node_over_its_gpu_share_is_stopped_and_named(ray_address, s3_artifacts, tmp_path, fake_gpu_folder):
    """Each quarter-GPU node runs in a local worker of its Ray worker, watched as on one machine (a fake
    GPU of 1000 MiB: the nodes write what they pretend to hold, the Ray workers' probe reads it)."""
    pipeline = Pipeline("ray-shares")
    pipeline.add("testing.gpu_hog", "greedy", params={"folder": str(fake_gpu_folder), "mib": 400, "seconds": 30},
                 resources={"gpus": 0.25})
    pipeline.add("testing.gpu_hog", "modest", params={"folder": str(fake_gpu_folder), "mib": 200, "seconds": 2},
                 resources={"gpus": 0.25})
    uri, options = s3_artifacts
    workspace = Workspace.open(tmp_path, artifacts=uri, storage_options=options)
    result = run_pipeline(pipeline, workspace=workspace, executor="ray", address=ray_address, workers=4)
    greedy, modest = result.nodes["greedy"], result.nodes["modest"]
    assert modest.status == "succeeded", modest.error
    assert greedy.status == "failed" and greedy.attempts == 1
    assert "node 'greedy' (gpus: 0.25)" in greedy.error and "held 400 MiB" in greedy.error
    assert "over its share of 250 MiB" in greedy.error


@pytest.mark.parametrize(("resources", "words"), [
    ({"gpus": 4}, "node 'train' asks 4 GPUs; the largest Ray node has 1; lower the node's 'resources', or add a Ray node"),
    ({"cpus": 16}, "node 'train' asks 16 CPUs; the largest Ray node has 4"),
    ({"custom": {"tidal_slot": 3}}, "node 'train' asks 3 of resource 'tidal_slot'; the largest Ray node has 2"),
    ({"custom": {"nowhere": 1}}, "node 'train' asks 1 of resource 'nowhere'; the largest Ray node has 0"),
    ({"memory": "64TiB"}, "node 'train' asks 64TiB of memory; the largest Ray node has"),
])
def test_a_request_no_node_can_satisfy_is_refused_before_anything_runs(own_connection, tmp_path, resources, words):
    pipeline = Pipeline("too-big")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.step", "train", inputs={"data": "src"}, resources=resources)
    # a local folder is fine: this process connected to Ray itself, and every Ray node runs on this machine
    workspace = Workspace.open(tmp_path)
    with pytest.raises(TidalError) as refused:
        run_pipeline(pipeline, workspace=workspace, executor="ray")
    assert words in str(refused.value)
    assert workspace.metadata.list_runs() == []


def test_a_cluster_behind_an_address_is_refused_a_local_artifact_folder(ray_address, tmp_path):
    pipeline = Pipeline("where")
    pipeline.add("testing.source", "src", params={"tag": "where"})
    workspace = Workspace.open(tmp_path)
    with pytest.raises(TidalError) as refused:
        run_pipeline(pipeline, workspace=workspace, executor="ray", address=ray_address)
    message = str(refused.value)
    assert f"the workspace's artifacts are in a local folder ({workspace.artifacts_uri})" in message
    assert f"put them on an S3-compatible store every Ray node can reach, e.g. `tidal --artifacts s3://BUCKET/PREFIX run FILE --executor ray --address {ray_address}`" in message
    assert workspace.metadata.list_runs() == []


def test_a_request_must_fit_one_node_whole_not_the_cluster_in_pieces():
    """Two nodes (as ``ray.nodes()`` describes them, under Tidal's keys): one with the GPU, one with the slot."""
    nodes = [{"cpus": 4.0, "gpus": 1.0, "memory": 8e9}, {"cpus": 1.0, "side_slot": 1.0, "memory": 2e9}]
    check_on_cluster("fits", Resources(gpus=0.5), nodes)
    check_on_cluster("fits", Resources(cpus=1, custom={"side_slot": 1}), nodes)
    with pytest.raises(TidalError) as refused:
        check_on_cluster("train", Resources(gpus=0.5, custom={"side_slot": 1}), nodes)
    assert str(refused.value) == (
        "node 'train' asks 1 CPU, 0.5 GPUs, 1 of resource 'side_slot' together; no single Ray node has all of "
        "them (2 nodes); lower the node's 'resources', or add a Ray node that has them")
    with pytest.raises(TidalError, match="node 'big' asks 8GiB of memory; the largest Ray node has 7.5GiB"):
        check_on_cluster("big", Resources(memory_bytes=8 * 2**30), nodes)


def test_ray_task_options_follow_the_request():
    task = NodeTask(run_id="r", node_id="n", component="testing.source", params={}, inputs={}, artifacts_uri="/a",
                    storage_options={}, workdir="/", resources=Resources(memory_bytes=2**30, gpus=0.25,
                                                                         custom={"tidal_slot": 1}))
    assert ray_options(task) == {"num_cpus": 1, "name": "tidal:n", "num_gpus": 0.25, "memory": 2**30,
                                 "resources": {"tidal_slot": 1.0}}
    bare = NodeTask(run_id="r", node_id="m", component="testing.source", params={}, inputs={}, artifacts_uri="/a",
                    storage_options={}, workdir="/")
    assert ray_options(bare) == {"num_cpus": 1, "name": "tidal:m"}


def test_tune_trials_run_as_ray_tasks(ray_address, s3_artifacts, tmp_path):
    """AutoML trials are node tasks too: the same executor runs them on the cluster."""
    import numpy as np
    import pandas as pd

    from tidal.automl import create_study

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] + frame["b"] > 0).astype(int)
    uri, options = s3_artifacts
    workspace = Workspace.open(tmp_path, artifacts=uri, storage_options=options)
    study = create_study(frame, trainer="classification.logistic_regression", label="label", metric="auc",
                         strategy="grid", budget=2, search_space={"C": {"type": "choice", "values": [0.1, 1.0]}},
                         workspace=workspace)
    record = study.optimize(executor="ray", address=ray_address, workers=1)
    assert record.status == "succeeded", [trial.error for trial in study.trials()]
    assert [trial.status for trial in study.trials()] == ["succeeded", "succeeded"]
    assert record.best_value is not None and record.best_value > 0.9
