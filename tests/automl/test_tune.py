"""automl.tune in a pipeline from YAML, eagerly in Python, and the `tidal tune` / `tidal studies` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from automl_helpers import cli_env

import tidal
from tidal.automl import list_studies, load_study
from tidal.components.automl import tune
from tidal.core import ValidationFailed

EXAMPLE = Path(__file__).parents[2] / "examples" / "automl.yaml"
TIDAL = [sys.executable, "-m", "tidal.cli"]


def test_example_pipeline_tunes_lightgbm_with_the_evolutionary_strategy(tmp_path):
    workspace = tidal.Workspace.open(tmp_path)
    result = tidal.run(EXAMPLE, workspace=workspace)
    assert result.status == "succeeded", {n: r.error for n, r in result.nodes.items()}
    report = result.metrics("tune")
    assert report["trials"] == 12 and report["succeeded_trials"] == 12 and report["best_value"] > 0.97
    assert result.metrics("eval")["auc"] > 0.97  # the tuned model on the held-out test split
    studies = list_studies(workspace)
    assert len(studies) == 1 and studies[0].strategy == "evolutionary" and studies[0].budget == 12
    study = load_study(studies[0].id, workspace)
    trials = study.trials()
    assert len(trials) == 12 and {t.meta["round"] for t in trials} >= {0, 1, 2}
    assert all(t.duration_s and t.model_uri and t.log_uri for t in trials)
    table = result.output("tune", "trials").to_pandas()
    assert len(table) == 12 and table["value"].max() == report["best_value"]


def test_tune_eagerly_outputs_model_trials_and_a_report_with_charts(tmp_path, monkeypatch, breast_cancer):
    monkeypatch.chdir(tmp_path)
    result = tune(breast_cancer, trainer="classification.logistic_regression", label="target", strategy="tpe", budget=6,
                  workers=0, search_space={"C": {"type": "float", "low": 1e-3, "high": 1e2, "log": True}, "penalty": ["l2", "l1"]},
                  register_as="bc", alias="staging")
    assert isinstance(result.model, tidal.ModelPackage) and result.model.lineage["refit"]
    assert list(result.trials.columns[:5]) == ["trial", "status", "value", "C", "penalty"] and len(result.trials) == 6
    report = result.report
    assert set(report.figures) == {"best_so_far", "parallel_coordinates", "parameter_importance"}
    curve = report.tables["best_so_far"]
    assert [p["best"] for p in curve] == sorted(p["best"] for p in curve)  # never gets worse
    assert curve[-1]["best"] == report["best_value"] == result.trials["value"].max()
    assert {row["parameter"] for row in report.tables["importance"]} == {"C", "penalty"}
    assert report["registered"] == "models:/bc/1"
    from tidal.models import ModelRegistry

    assert ModelRegistry(tidal.Workspace.open(tmp_path)).load("models:/bc@staging").task == "binary"


def test_bad_tune_parameters_are_named_before_anything_runs(breast_cancer):
    spec = tidal.get_component("automl.tune")
    with pytest.raises(ValidationFailed) as error:
        spec.execute({"data": breast_cancer}, {"trainer": "classification.lightgbm", "label": "target", "strategy": "annealing", "budget": 0})
    assert {issue.param for issue in error.value.issues} == {"strategy", "budget"}


def test_cli_tune_then_studies_list_and_show_as_json(tmp_path, breast_cancer):
    breast_cancer.to_csv(tmp_path / "bc.csv", index=False)
    config = {"name": "cli-study", "data": "bc.csv", "trainer": "classification.logistic_regression", "label": "target",
              "metric": "auc", "strategy": "random", "budget": 4, "workers": 0,
              "register": {"name": "bc-cli", "alias": "production"}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    env = cli_env(tmp_path)
    done = subprocess.run([*TIDAL, "tune", "study.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trial 3: succeeded" in done.stderr and "registered models:/bc-cli/1 (alias production)" in done.stdout
    listed = json.loads(subprocess.run([*TIDAL, "studies", "list", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True).stdout)
    assert [(s["name"], s["status"], s["budget"]) for s in listed] == [("cli-study", "succeeded", 4)]
    shown = json.loads(subprocess.run([*TIDAL, "studies", "show", "cli-study", "--json"], cwd=tmp_path, env=env,
                                      capture_output=True, text=True).stdout)
    assert isinstance(shown["trials"], list) and len(shown["trials"]) == 4
    assert shown["best_value"] == max(t["value"] for t in shown["trials"])
    assert all(t["duration_s"] is not None and t["params"]["C"] > 0 for t in shown["trials"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"data": "bc.csv", "trainer": "classification.logistic_regression"}, "missing label"),
        ({"data": "bc.csv", "trainer": "classification.logistic_regression", "label": "target", "strategy": "annealing"}, "unknown strategy 'annealing'"),
        ({"data": "bc.csv", "trainer": "classification.logistic_regression", "label": "nope"}, "label column 'nope' is not in the data"),
        ({"data": "bc.csv", "trainer": "classification.logistic_regression", "label": "target", "search_space": {"gamma": [1, 2]}},
         "gamma are not parameters of classification.logistic_regression"),
        ({"data": "missing.csv", "trainer": "classification.logistic_regression", "label": "target"}, "does not exist"),
        ({"data": "bc.csv", "trainer": "classification.logistic_regression", "label": "target", "budgett": 3}, "unknown key"),
    ],
)
def test_cli_bad_study_files_exit_2_with_a_clear_message(tmp_path, monkeypatch, breast_cancer, config, message):
    """Each mistake through the command's own code, in this process (a new `tidal` process per case would cost
    seconds of imports each); the exit code and the missing traceback are checked once, end to end, below."""
    from typer.testing import CliRunner

    from tidal.cli import _tune  # noqa: F401 - registers the commands
    from tidal.cli._app import app
    from tidal.core import TidalError

    breast_cancer.head(40).to_csv(tmp_path / "bc.csv", index=False)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["-w", str(tmp_path), "tune", "study.yaml"])
    assert isinstance(result.exception, TidalError) and result.exception.exit_code == 2, result.output
    assert message in " ".join(str(result.exception).split())


def test_cli_a_bad_study_file_exits_2_without_a_traceback(tmp_path, breast_cancer):
    breast_cancer.head(40).to_csv(tmp_path / "bc.csv", index=False)
    config = {"data": "bc.csv", "trainer": "classification.logistic_regression", "label": "target", "budgett": 3}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run([*TIDAL, "tune", "study.yaml"], cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown key" in " ".join(done.stderr.split()) and "Traceback" not in done.stderr, done.stderr


def test_studies_show_unknown_id_exits_2(tmp_path):
    done = subprocess.run([*TIDAL, "studies", "show", "nope"], cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 2 and "no Tidal workspace" in done.stderr  # nothing to show, and none is created
    (tmp_path / ".tidal").mkdir()
    from typer.testing import CliRunner

    from tidal.cli import _tune  # noqa: F401 - registers the commands
    from tidal.cli._app import app

    result = CliRunner().invoke(app, ["-w", str(tmp_path), "studies", "show", "nope"])
    assert getattr(result.exception, "exit_code", None) == 2 and "no study 'nope'" in str(result.exception)


def test_a_rerun_tune_node_continues_its_interrupted_study(tmp_path, monkeypatch, breast_cancer):
    """What `tidal runs resume` does for a pipeline killed inside automl.tune: the node finds its study."""
    import threading

    from tidal.automl import create_study
    from tidal.automl._study import study_fingerprint

    monkeypatch.chdir(tmp_path)
    settings = {"trainer": "classification.logistic_regression", "label": "target", "metric": "auto", "direction": "auto",
                "strategy": "random", "budget": 5, "search_space": None, "params": None, "options": None,
                "validation": 0.2, "seed": 0, "timeout": None, "refit": True, "name": None}
    workspace = tidal.Workspace.open(tmp_path)
    study = create_study(breast_cancer, trainer="classification.logistic_regression", label="target", strategy="random",
                         budget=5, refit=True, workspace=workspace, fingerprint=study_fingerprint(breast_cancer, settings))
    stop = threading.Event()
    record = study.optimize(workers=0, executor="inline",
                            on_event=lambda event: stop.set() if event.finished_trials >= 2 else None, cancel=stop)
    assert record.status == "cancelled"
    kept = {t.number: t.finished_at for t in study.trials() if t.status == "succeeded"}
    assert len(kept) == 2
    result = tune(breast_cancer, trainer="classification.logistic_regression", label="target", strategy="random", budget=5, workers=0)
    assert result.report["study_id"] == study.id and len(result.trials) == 5
    assert {t.number: t.finished_at for t in study.trials() if t.number in kept} == kept
    again = tune(breast_cancer, trainer="classification.logistic_regression", label="target", strategy="random", budget=5, workers=0)
    assert again.report["study_id"] != study.id  # a finished study is not reopened: a new run is a new study
