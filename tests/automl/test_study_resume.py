"""kill -9 the study controller (and its workers) mid-study, then `tidal studies resume`:
finished trials are kept and never rerun, the strategy carries on, the budget is met exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml
from automl_helpers import cli_env
from sqlalchemy.exc import OperationalError

from tidal.automl import StudyStore
from tidal.store._metadata import make_engine

TIDAL = [sys.executable, "-m", "tidal.cli"]


def write_study(folder, breast_cancer, strategy: str = "evolutionary") -> None:
    breast_cancer.to_csv(folder / "bc.csv", index=False)
    config = {
        "name": "resume-me", "data": "bc.csv", "trainer": "testing_automl.logistic", "label": "target", "metric": "auc",
        "strategy": strategy, "budget": 8, "workers": 2, "seed": 5, "params": {"seconds": 1.5},
        "options": {"candidates": 4, "keep": 2},
    }
    (folder / "study.yaml").write_text(yaml.safe_dump(config))


def fits(log) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_kill_dash_nine_then_resume_reruns_no_finished_trial(tmp_path, breast_cancer):
    write_study(tmp_path, breast_cancer)
    env = cli_env(tmp_path)
    log = tmp_path / "fits.log"
    env["TIDAL_TEST_LOG"] = str(log)
    process = subprocess.Popen([*TIDAL, "tune", "study.yaml", "--quiet"], cwd=tmp_path, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    db = tmp_path / ".tidal" / "tidal.db"
    deadline = time.time() + 180
    study_id = None
    # read the database without migrating it: the controller may be creating it right now
    engine = make_engine(f"sqlite:///{db}")
    store = StudyStore(engine)
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
        if not db.exists():
            continue
        try:
            studies = store.list_studies()
            if not studies:
                continue
            study_id = studies[0].id
            trials = store.trials(study_id)
        except OperationalError:
            continue
        done = [t for t in trials if t.status == "succeeded"]
        if len(done) >= 3 and any(t.status == "running" for t in trials):
            break
    engine.dispose()
    assert process.poll() is None, process.communicate()[0].decode()
    assert study_id is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    listed = subprocess.run([*TIDAL, "studies", "list", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert json.loads(listed.stdout)[0]["status"] == "interrupted"
    from tidal.store import Workspace

    workspace = Workspace.open(tmp_path)
    store = StudyStore(workspace.metadata.engine)
    before = {t.number: t for t in store.trials(study_id)}
    finished = {n: t for n, t in before.items() if t.status == "succeeded"}
    unfinished = {n: t for n, t in before.items() if t.status == "running"}
    assert len(finished) >= 3 and unfinished and len(before) < 8
    fits_before = fits(log)

    resumed = subprocess.run([*TIDAL, "studies", "resume", study_id, "--json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    shown = json.loads(resumed.stdout)
    assert shown["status"] == "succeeded" and len(shown["trials"]) == 8 and shown["best_value"] > 0.95
    after = {t.number: t for t in store.trials(study_id)}
    assert sorted(after) == list(range(8)) and all(t.status == "succeeded" for t in after.values())
    for number, trial in finished.items():
        assert after[number].finished_at == trial.finished_at, f"trial {number} was rerun"
        assert after[number].params == trial.params
    for number, trial in unfinished.items():  # cut off mid-run: run again with the same parameters
        assert after[number].params == trial.params and after[number].attempts == trial.attempts + 1
    new_fits = fits(log)[len(fits_before):]
    finished_fits = {f"fit:{t.params['C']:.8f}" for t in finished.values()}
    assert not finished_fits & set(new_fits), "a finished trial was trained again"
    assert len(new_fits) == 8 - len(finished)
    # the evolutionary rounds went on from the recorded ones: round sizes 4, 2, 2 (candidates 4, keep 2 then 1 ...)
    rounds = [after[n].meta["round"] for n in range(8)]
    assert rounds[:4] == [0, 0, 0, 0] and rounds[4:6] == [1, 1]
    workspace.close()
