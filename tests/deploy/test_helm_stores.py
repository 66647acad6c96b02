"""The chart's S3 wiring, run for real against a local S3 server (moto on loopback): the bucket Job's
own command with its rendered environment makes the artifacts bucket (twice: it is idempotent),
and Tidal's artifact store, given the Studio container's environment, writes into that bucket."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helm_charts import RELEASE, container_environment, find, render, size_values
from servers import s3_server

pytest.importorskip("helm_python")
pytest.importorskip("s3fs")
FULLNAME = f"{RELEASE}-tidal"
SOURCE = str(Path(__import__("tidal").__file__).parents[1])  # the tidal under test, for the child process


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


def _environment(objects, container, endpoint):
    """The container's environment, its object storage Service replaced by the local S3 server."""
    environment = container_environment(objects, container)
    assert environment["AWS_ENDPOINT_URL"] == f"http://{FULLNAME}-object-storage:9000"
    environment["AWS_ENDPOINT_URL"] = endpoint
    return {"PATH": "/usr/bin:/bin", **environment}


def test_the_bucket_job_makes_the_bucket_and_tidal_writes_artifacts_there(s3_endpoint, tmp_path):
    import boto3

    objects = render(size_values("small", objectStorage={"bucket": "team-artifacts", "prefix": "runs/tidal"}))
    job = find(objects, "Job", f"{FULLNAME}-create-bucket")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[:2] == ["python", "-c"]
    environment = _environment(objects, container, s3_endpoint)
    for _ in range(2):  # a second run (helm upgrade) finds the bucket there
        done = subprocess.run([sys.executable, "-c", command[2]], env=environment, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"bucket team-artifacts ready at {s3_endpoint}" in done.stdout
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"])
    assert "team-artifacts" in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}

    studio = find(objects, "Deployment", f"{FULLNAME}-studio")["spec"]["template"]["spec"]["containers"][0]
    studio_environment = _environment(objects, studio, s3_endpoint)
    assert studio_environment["TIDAL_ARTIFACTS"] == "s3://team-artifacts/runs/tidal"
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    script = ("import os, sys; from tidal.store import ArtifactStore; "
              "store = ArtifactStore(os.environ['TIDAL_ARTIFACTS'], cache_dir='cache'); "
              "print(store.full_uri(store.put_content_addressed('table.csv', '.csv')[0]))")
    done = subprocess.run([sys.executable, "-c", script], env={**studio_environment, "PYTHONPATH": SOURCE},
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = done.stdout.strip()
    assert written.startswith("s3://team-artifacts/runs/tidal/objects/"), written
    key = written[len("s3://team-artifacts/"):]
    assert client.get_object(Bucket="team-artifacts", Key=key)["Body"].read() == b"a,b\n1,2\n"


def test_the_bucket_job_gives_up_with_a_message_naming_the_endpoint(tmp_path):
    objects = render(size_values("small"))
    container = find(objects, "Job", f"{FULLNAME}-create-bucket")["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][2].replace("range(60)", "range(1)").replace("time.sleep(5)", "time.sleep(0)")
    environment = _environment(objects, container, "http://127.0.0.1:9")  # nothing listens on the discard port
    done = subprocess.run([sys.executable, "-c", script], env={**environment, "AWS_MAX_ATTEMPTS": "1"},
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert "bucket tidal-artifacts could not be made at http://127.0.0.1:9: check the object storage pod" in done.stderr
