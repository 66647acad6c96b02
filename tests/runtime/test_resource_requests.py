"""Resource requests as data: component defaults, node overrides, their YAML form, and the local
executor refusing (before anything runs or is recorded) what this machine cannot give."""

from __future__ import annotations

import sys

import pytest
import yaml
from threadpoolctl import threadpool_limits

from tidal.cli._app import main
from tidal.core import Metrics, TidalError, ValidationFailed, component
from tidal.core._resources import Resources
from tidal.pipeline import Pipeline, from_python, to_python
from tidal.runtime import run_pipeline
from tidal.runtime._machine import visible_cpus
from tidal.runtime._preflight import resource_requests
from tidal.store import Workspace

PIPELINE = """
tidal: 1
name: asks
nodes:
  - id: hold
    component: testing.hold
    resources: {memory: 512MiB, gpus: 0.25, custom: {tidal_slot: 1}}
  - id: plain
    component: testing.source
  - id: big
    component: testing.source
    resources: {cpus: 2, memory: 1500000000}
"""


def test_node_requests_override_component_defaults_key_by_key():
    pipeline = Pipeline.from_yaml(PIPELINE)
    requests = resource_requests(pipeline)
    # testing.hold declares cpus 0.5; the node adds memory, a quarter GPU and a custom resource
    assert requests["hold"] == Resources(cpus=0.5, memory_bytes=512 * 2**20, gpus=0.25, custom={"tidal_slot": 1.0})
    assert "plain" not in requests  # asks for nothing: the executor's defaults
    assert requests["big"] == Resources(cpus=2, memory_bytes=1_500_000_000)


def test_requests_round_trip_through_yaml_and_python(tmp_path):
    pipeline = Pipeline.from_yaml(PIPELINE)
    dumped = yaml.safe_load(pipeline.to_yaml())
    assert dumped["nodes"][0]["resources"] == {"memory": "512MiB", "gpus": 0.25, "custom": {"tidal_slot": 1}}
    assert dumped["nodes"][2]["resources"] == {"cpus": 2, "memory": "1500000000"}
    assert Pipeline.from_yaml(pipeline.to_yaml()).nodes["hold"].resources == pipeline.nodes["hold"].resources
    script = tmp_path / "asks.py"
    script.write_text(to_python(pipeline))
    rebuilt = from_python(script)
    assert {node_id: node.resources for node_id, node in rebuilt.nodes.items()} == \
        {node_id: node.resources for node_id, node in pipeline.nodes.items()}


def test_python_api_and_decorator_take_requests_and_refuse_bad_ones():
    pipeline = Pipeline("api")
    node = pipeline.add("testing.source", "src", resources={"gpus": 0.5, "memory": "1GiB"})
    assert node.resources == Resources(gpus=0.5, memory_bytes=2**30)
    with pytest.raises(ValidationFailed, match=r"(?s)node 'gpu'.*resources.gpus: must be 0 or more"):
        pipeline.add("testing.source", "gpu", resources={"gpus": -1})
    with pytest.raises(ValidationFailed, match=r"(?s)component testing.bad_request.*resources.memory: 'lots' is not a size"):
        @component("testing.bad_request", register=False, resources={"memory": "lots"})
        def bad() -> Metrics:  # pragma: no cover - never registered
            return Metrics({})


def test_parser_reports_every_bad_key_with_its_node():
    text = """
tidal: 1
name: bad
nodes:
  - id: a
    component: testing.source
    resources: {gpu: 1, memory: 2 lots}
  - id: b
    component: testing.source
    resources: {cpus: 0.00001, custom: {CPU: 1}}
"""
    with pytest.raises(ValidationFailed) as failed:
        Pipeline.from_yaml(text)
    shown = [str(issue) for issue in failed.value.issues]
    assert shown == [
        "node 'a': resources.gpu: unknown key; did you mean 'gpus'?",
        "node 'a': resources.memory: '2 lots' is not a size; write it like 2GiB, 512MiB, 1.5GB or a number of bytes",
        "node 'b': resources.cpus: 1e-05 is finer than Ray's precision; use multiples of 0.0001",
        "node 'b': resources.custom.CPU: Ray reserves this name; use the 'cpus' key",
    ]


@pytest.mark.parametrize(("request_", "words"), [
    ({"gpus": 64}, "node 'x' asks 64 GPUs; this machine has"),
    ({"cpus": visible_cpus() + 1}, f"node 'x' asks {visible_cpus() + 1} CPUs; this machine has {visible_cpus()}"),
    ({"memory": "1000TiB"}, "node 'x' asks 1000TiB of memory; this machine has"),
    ({"custom": {"tidal_slot": 1}}, "node 'x' asks 1 of resource 'tidal_slot'; custom resources exist only on a Ray cluster"),
])
def test_local_executor_refuses_what_this_machine_cannot_give_before_anything_runs(tmp_path, request_, words):
    pipeline = Pipeline("too-big")
    pipeline.add("testing.source", "x", resources=request_)
    workspace = Workspace.open(tmp_path)
    for executor in ("local", "inline"):
        with pytest.raises(TidalError) as refused:
            run_pipeline(pipeline, workspace=workspace, executor=executor)
        assert words in str(refused.value)
    assert workspace.metadata.list_runs() == []


def run_cli(monkeypatch, capsys, cwd, *args):
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["tidal", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


@pytest.mark.parametrize(("args", "words"), [
    (["--executor", "spark"], "error: unknown executor 'spark'; choose one of: local, ray, inline"),
    (["--address", "10.0.0.1:6379"], "error: --address names a Ray cluster; it goes with --executor ray"),
    (["--executor", "ray", "--workers", "0"], "error: --workers 0 runs nodes in this process"),
])
def test_cli_checks_the_executor_options_before_any_work(tmp_path, monkeypatch, capsys, args, words):
    path = tmp_path / "p.yaml"
    path.write_text("tidal: 1\nname: p\nnodes:\n  - {id: a, component: testing.source}\n")
    code, output = run_cli(monkeypatch, capsys, tmp_path, "run", str(path), *args)
    assert code == 2 and words in output and "Traceback" not in output
    assert not (tmp_path / ".tidal").exists()


def test_an_address_where_nothing_answers_fails_fast_with_the_address():
    from servers import free_port

    from tidal.runtime._ray_executor import _probe

    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(TidalError, match=f"cannot reach the Ray cluster at {address}: nothing answers there"):
        _probe(address)
    _probe("auto")  # Ray's own forms are Ray's to resolve
    _probe("ray://head:10001")


def test_a_node_asking_for_cpus_runs_its_thread_pools_on_that_many_threads(workspace, monkeypatch):
    """Already-loaded pools (numpy's BLAS, scikit-learn's OpenMP) are limited while the node runs, a library it
    loads then reads the variable, and the process has its own settings back afterwards."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    pipeline = Pipeline("threads")
    pipeline.add("testing.threads", "one", params={"load": "sklearn.utils._openmp_helpers"}, resources={"cpus": 1})
    pipeline.add("testing.threads", "free", params={"load": "sklearn.utils._openmp_helpers"})
    with threadpool_limits(limits=2):  # this process's pools at two threads (xdist workers start them at one)
        result = run_pipeline(pipeline, workspace=workspace, executor="inline")
    assert result.status == "succeeded", result.run.error
    limited, free = result.metrics("one"), result.metrics("free")
    assert limited["openmp_variable"] == 1.0 and limited["blas"] == 1.0 and limited["openmp"] == 1.0
    assert free["openmp_variable"] == 0.0  # nothing asked: the variable is not left behind
    assert free["blas"] == 2.0 and free["openmp"] == 2.0  # and the pools have their size back
