"""The artifact store on a local folder and on a local S3 server (moto)."""

from __future__ import annotations

import pytest

import tidal
from tidal.core import NotFound
from tidal.store import ArtifactStore, Workspace, file_digest


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "artifacts"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return ArtifactStore(f"s3://{bucket}/tidal", {"client_kwargs": {"endpoint_url": endpoint}}, cache_dir=tmp_path / "cache")


def test_content_addressed_put_and_read_back(store, tmp_path):
    staged = store.staging_dir() / "one.bin"
    staged.write_bytes(b"hello tidal")
    uri, digest, size = store.put_content_addressed(staged, ".bin")
    assert size == 11 and uri.endswith(f"{digest}.bin") and not staged.exists()
    assert store.exists(uri) and store.read_bytes(uri) == b"hello tidal"
    assert file_digest(store.local_path(uri)) == digest
    again = store.staging_dir() / "two.bin"
    again.write_bytes(b"hello tidal")
    assert store.put_content_addressed(again, ".bin")[0] == uri  # deduplicated


def test_missing_artifact_is_a_clear_error(store):
    with pytest.raises(NotFound, match="missing from the store"):
        store.local_path(store.uri_for("objects/00/nothing.parquet"))


def test_pipeline_runs_with_artifacts_on_s3(tmp_path, s3_endpoint, s3_bucket):
    options = {"client_kwargs": {"endpoint_url": s3_endpoint}}
    ws = Workspace.open(tmp_path, artifacts=f"s3://{s3_bucket}/runs", storage_options=options)
    pipeline = tidal.Pipeline("s3")
    pipeline.add("testing.source", "src", params={"rows": 5})
    pipeline.add("testing.step", "a", inputs={"data": "src"})
    pipeline.add("testing.score", "m", inputs={"data": "a"})
    result = tidal.run(pipeline, workspace=ws, workers=1)
    assert result.ok, {n: r.error for n, r in result.nodes.items()}
    assert result.metrics("m") == {"rows": 5.0}
    records = [item for outputs in result.artifacts.values() for item in outputs.values()]
    assert all(ws.artifacts.full_uri(item.uri).startswith(f"s3://{s3_bucket}/runs/objects/") for item in records)
    assert tidal.run(pipeline, workspace=ws, workers=1).nodes["a"].cached


def test_cli_with_s3_artifacts_and_endpoint_from_environment(tmp_path, s3_endpoint, s3_bucket, monkeypatch, demo_files):
    import subprocess
    import sys

    env = {**__import__("os").environ, "AWS_ENDPOINT_URL": s3_endpoint}
    done = subprocess.run([sys.executable, "-m", "tidal.cli", "--artifacts", f"s3://{s3_bucket}/cli", "run", str(demo_files), "--json"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report["nodes"]["eval"]["metrics"]["auc"] > 0.95
    assert report["nodes"]["train"]["outputs"]["output"]["uri"].startswith(f"s3://{s3_bucket}/cli/")
