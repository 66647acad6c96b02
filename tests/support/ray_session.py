"""Session fixtures shared across test folders: the S3-compatible server the executor tests write
artifacts to, and the Ray cluster (head + worker, started with ``ray start``) every Ray test runs on.

Every file that asks for ``ray_address`` is listed in ``SHARED_SCOPES`` (tests/support/scheduling.py),
so one xdist worker runs them all and the cluster starts once per test run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from servers import s3_server

S3_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def executions_file(tmp_path_factory):
    """One file every test component appends its name to, for worker processes and Ray workers alike."""
    return tmp_path_factory.mktemp("executions") / "executions.log"


@pytest.fixture(scope="session")
def s3_endpoint():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3_ENVIRONMENT.items():
            patch.setenv(name, value)
        with s3_server() as endpoint:
            yield endpoint


@pytest.fixture(scope="session")
def fake_gpu_folder(tmp_path_factory):
    """Where nodes on the Ray cluster pretend to hold GPU memory (testing_components reads it for the probe)."""
    return tmp_path_factory.mktemp("fake-gpu")


@pytest.fixture(scope="session")
def ray_address(s3_endpoint, executions_file, fake_gpu_folder):
    """A Ray cluster started with `ray start`, once per session: a head node (4 CPUs, one fake GPU, a custom
    resource) and a worker node joined with `ray start --address` (1 CPU), so the executor suite and the
    kill-and-resume test run on a real two-node cluster (placement rules are checked on resource tables
    in test_ray_resources). The files that use it run on one xdist worker (tests/support/scheduling.py),
    so the cluster starts once per test run.

    Its workers see the test components (PYTHONPATH, TIDAL_PLUGINS), the S3 server and the executions file.
    """
    pytest.importorskip("ray")
    from ray_cluster import ray_cluster

    environment = {**os.environ, **S3_ENVIRONMENT, "AWS_ENDPOINT_URL": s3_endpoint, "RAY_AUTH_MODE": "disabled",
                   "TIDAL_TEST_LOG": str(executions_file), "TIDAL_TEST_FAKE_GPU": str(fake_gpu_folder)}
    folder = Path(tempfile.mkdtemp(prefix="tidal-ray-"))  # short: Ray's socket paths live under it
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")  # the cluster runs without token auth; so does this driver
        try:
            with ray_cluster(folder, environment, resources={"tidal_slot": 2}, worker={"tidal_worker_node": 1}) as address:
                try:
                    yield address
                finally:
                    import ray

                    if ray.is_initialized():
                        ray.shutdown()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def leave_ray_disconnected():
    """After a module, drop this process's Ray connection, so a later module's own ``ray.init`` starts its Ray."""
    yield
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
