"""THE exactly-once test: a job killed with SIGKILL at random points, restarted each time, ends with the
same learner weights (bit for bit) and the same outputs (none missing, none twice) as a run never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from stream_job_helpers import LEARN, WINDOW, job, make_events, read_parts

from tidal.stream import _checkpoint
from tidal.stream._job_spec import parse
from tidal.stream._runner import StreamJob

DEDUP = {"id": "dedup", "component": "stream.deduplicate", "params": {"key": "id", "time": "ts", "horizon": 100.0}}


def _workspace(root: Path, events_text: str) -> Path:
    (root / ".tidal").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "events.jsonl").write_text(events_text)
    spec = job("replay", {"kind": "file", "path": "data/events.jsonl", "format": "jsonl"}, [DEDUP, LEARN, WINDOW],
               [{"kind": "files", "path": "out/windows"}, {"kind": "files", "path": "out/scored", "after": "learn"}], max_rows=100)
    (root / "job.yaml").write_text(yaml.safe_dump(spec))
    return root


def _epoch(root: Path) -> int:
    try:
        document = _checkpoint.load(root / ".tidal" / "streams" / "replay" / "checkpoint")
    except Exception:  # noqa: BLE001 - never torn (atomic rename); guard anyway
        return -1
    return -1 if document is None else int(document["epoch"])


def test_kill_9_at_random_points_equals_uninterrupted_run(tmp_path):
    events = make_events(5000, seed=3)
    duplicated = events.iloc[[10, 500, 2000]].copy()           # the source repeats three events: dedup drops them
    text = "".join(line + "\n" for line in events.to_json(orient="records", lines=True).splitlines())
    text += "{broken\n" + "".join(line + "\n" for line in duplicated.to_json(orient="records", lines=True).splitlines())
    reference = _workspace(tmp_path / "reference", text)
    calm = StreamJob(parse(yaml.safe_load((reference / "job.yaml").read_text()), reference))
    calm.run(until_idle=True)

    killed = _workspace(tmp_path / "killed", text)
    command = [sys.executable, "-m", "tidal.cli", "stream", "run", str(killed / "job.yaml"), "--until-idle", "-q", "-w", str(killed)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    chooser = random.Random(20261204)
    kills = 0
    while kills < 10:                                          # ten random points, as the goal asks
        before = _epoch(killed)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = before + chooser.randint(1, 3)                # let it commit an epoch or a few, then kill it mid-flight
        while _epoch(killed) < target and process.poll() is None:
            time.sleep(0.005)
        time.sleep(chooser.uniform(0.0, 0.03))
        if process.poll() is not None:                        # it finished before the kill: the data is done
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert kills == 10

    resumed = StreamJob(parse(yaml.safe_load((killed / "job.yaml").read_text()), killed))
    ours, theirs = resumed.learner_state(), calm.learner_state()
    assert ours is not None and theirs is not None and ours["n_seen"] == len(events)
    for key, value in theirs.items():                         # bit-identical learner state
        if isinstance(value, np.ndarray):
            assert ours[key].tobytes() == value.tobytes(), key
        else:
            assert ours[key] == value, key
    for folder in ("out/scored", "out/windows"):              # the same outputs, part for part
        calm_parts = sorted((reference / folder).glob("part-*"))
        our_parts = sorted((killed / folder).glob("part-*"))
        assert [p.name for p in our_parts] == [p.name for p in calm_parts]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(our_parts, calm_parts, strict=True))
    scored = read_parts(killed / "out" / "scored")
    assert sorted(scored["id"]) == list(range(len(events)))   # no duplicate, no missing
    dead = sorted((killed / ".tidal" / "streams" / "replay" / "dead-letter").glob("*.jsonl"))
    assert sum(len(p.read_text().splitlines()) for p in dead) == 1   # the broken line, once
