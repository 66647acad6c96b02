"""examples/stream_ftrl.yaml end to end: a batch logistic regression continued by FTRL on a Kafka topic, its gated
snapshots registered as versions, and a real `tidal serve models:/clicks --follow` swapping to each of them while
a client sends requests without pause: no request fails, and the last version serves its package's own answers."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from servers import free_port

import tidal
from tidal.core._yaml import load_yaml_file
from tidal.models import ModelPackage, ModelRegistry
from tidal.store import Workspace
from tidal.stream._job_spec import parse_job
from tidal.stream._runner import StreamJob

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOPIC = "clicks-example"


def _events_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("stream_ftrl_events", EXAMPLES / "stream_ftrl_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A workspace with the example's files, and the batch model registered as models:/clicks/1."""
    home = tmp_path_factory.mktemp("stream-ftrl")
    (home / "examples" / "data").mkdir(parents=True)
    for name in ("stream_ftrl.yaml", "stream_ftrl_batch.yaml"):
        shutil.copy(EXAMPLES / name, home / "examples")
    shutil.copy(EXAMPLES / "data" / "clicks_history.csv", home / "examples" / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIDAL_HOME", str(home))  # model.register writes into this workspace
        result = tidal.run(tidal.load_pipeline(home / "examples" / "stream_ftrl_batch.yaml"), workspace=home, workers=0)
    assert result.ok, result.to_dict()
    return home


def test_the_committed_history_is_what_the_generator_writes(tmp_path):
    events = _events_module()
    events.main(["history", str(tmp_path / "history.csv")])
    assert (tmp_path / "history.csv").read_bytes() == (EXAMPLES / "data" / "clicks_history.csv").read_bytes()


class Client(threading.Thread):
    """Sends the same rows again and again; keeps every answer's status and served version."""

    def __init__(self, base: str, rows: list[dict]) -> None:
        super().__init__(daemon=True)
        self.base, self.rows = base, rows
        self.answers: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.done.is_set():
                try:
                    response = client.post("/api/predict/clicks", json=self.rows)
                except httpx.HTTPError as error:
                    self.errors.append(f"{type(error).__name__}: {error}")
                    continue
                try:
                    self.answers.append((response.status_code, response.json().get("version", response.text)))
                except ValueError:
                    self.answers.append((response.status_code, response.text))

    def seen(self) -> list[str]:
        return [version for status, version in list(self.answers) if status == 200]


def _wait(condition, what: str, limit: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


def _server(home: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    command = [sys.executable, "-m", "tidal.cli", "serve", "models:/clicks", "--follow", "--follow-interval", "0.2",
               "--port", str(port), "--drain-seconds", "0", "--workspace", str(home)]
    process = subprocess.Popen(command, cwd=home, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
        try:
            return httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    _wait(ready, "the server to become ready")
    return base, process


def test_snapshots_are_hot_swapped_into_a_following_server(home, kafka_bootstrap):
    events = _events_module()
    stream_events = events.stream()
    rows = stream_events[["x1", "x2", "x3"]].iloc[:16]
    workspace = Workspace.open(home)
    registry = ModelRegistry(workspace)
    assert registry.current_version("models:/clicks") == 1
    base, server = _server(home)
    client = Client(base, rows.to_dict("records"))
    try:
        client.start()
        _wait(lambda: "1" in client.seen(), "the batch model's first answer")
        events.produce(kafka_bootstrap, TOPIC, stream_events)
        data = load_yaml_file(home / "examples" / "stream_ftrl.yaml")
        data["source"] = {"kind": "kafka", "bootstrap": kafka_bootstrap, "topic": TOPIC}
        job = StreamJob(parse_job(data, home))
        registered = 1
        try:
            for _ in range(2000):                          # epochs, and polls a loaded broker answers empty
                if job.rows >= len(stream_events):
                    break
                if job.step() is None:
                    continue
                newest = registry.current_version("models:/clicks")
                assert newest is not None
                if newest > registered:                    # a snapshot was accepted and registered: the server follows
                    _wait(lambda newest=newest: str(newest) in client.seen(), f"the server to serve version {newest}")
                    registered = newest
        finally:
            job.close()
        assert job.rows == len(stream_events)
    finally:
        client.done.set()
        client.join(30)
    try:
        # every request was answered, by versions that only moved forward, through each registered snapshot
        assert client.errors == [] and len(client.answers) > 20
        assert {status for status, _ in client.answers} == {200}
        served = [int(version) for version in client.seen()]
        assert served == sorted(served)
        assert set(served) == set(range(1, registered + 1)) and registered >= 3   # the batch model and 2+ snapshots
        # the last version is the job's last accepted snapshot, and the server gives its package's own answers
        final = registry.get_version("clicks", registered)
        assert final.tags["stream_job"] == "clicks-ftrl"
        snapshot = ModelPackage.load(home / ".tidal" / "streams" / "clicks-ftrl" / "snapshots" / final.tags["snapshot"])
        accepted = sorted(path.name for path in (home / ".tidal" / "streams" / "clicks-ftrl" / "snapshots").glob("model-*"))
        assert final.tags["snapshot"] == accepted[-1]
        probe = stream_events[["x1", "x2", "x3"]].iloc[100:164].reset_index(drop=True)
        answer = httpx.post(f"{base}/api/predict/clicks", json=probe.to_dict("records"), timeout=30)
        assert answer.status_code == 200 and answer.json()["version"] == str(registered)
        expected = snapshot.predict_proba(probe)
        got = pd.DataFrame(answer.json()["probabilities"])[["0", "1"]].to_numpy()
        assert (got == expected).all(), abs(got - expected).max()        # to the last digit
        assert answer.json()["predictions"] == snapshot.predict(probe).tolist()
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert f'tidal_follow_swaps_total{{model="clicks"}} {float(registered - 1)}' in metrics
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
        workspace.close()
    assert f"clicks now serves version {registered}" in output
