"""Studies on real worker processes: failures, crashes and timeouts are recorded and the rest go on;
population-based training continues checkpoints; early stopping prunes; the best model is registered."""

from __future__ import annotations

from tidal.automl import create_study, load_study
from tidal.models import ModelPackage, ModelRegistry


def test_failing_crashing_and_hanging_trials_are_recorded_and_the_others_go_on(workspace, breast_cancer):
    study = create_study(
        breast_cancer, trainer="testing_automl.logistic", label="target", metric="auc", strategy="grid", budget=6,
        search_space={"C": {"type": "choice", "values": [0.01, 0.1, 1.0, 7.0, 70.0, 700.0]}},
        params={"crash_above": 600.0, "fail_above": 60.0, "hang_above": 5.0}, timeout=15, workspace=workspace,
    )
    record = study.optimize(workers=2)
    trials = {t.params["C"]: t for t in study.trials()}
    assert record.status == "succeeded"
    assert {c: trials[c].status for c in trials} == {
        0.01: "succeeded", 0.1: "succeeded", 1.0: "succeeded", 7.0: "timeout", 70.0: "failed", 700.0: "crashed"}
    assert "timed out after 15 s" in trials[7.0].error
    assert "a failure on purpose" in trials[70.0].error and trials[70.0].log_uri
    assert "worker process died" in trials[700.0].error
    for trial in trials.values():
        assert trial.started_at and trial.finished_at and trial.duration_s is not None and trial.attempts == 1
    good = [t for t in trials.values() if t.status == "succeeded"]
    assert all(t.model_uri and 0.9 < t.value <= 1 and t.metrics["accuracy"] > 0.8 for t in good)
    best = max(good, key=lambda t: t.value)
    assert (record.best_trial, record.best_value) == (best.number, best.value)
    model = study.best_model()
    assert model.task == "binary" and model.predict_proba(breast_cancer).shape == (len(breast_cancer), 2)
    assert load_study(study.id, workspace).to_dict()["counts"] == {"crashed": 1, "failed": 1, "succeeded": 3, "timeout": 1}


def test_population_based_training_continues_checkpoints_and_records_lineage(workspace, breast_cancer):
    study = create_study(
        breast_cancer, trainer="classification.lightgbm", label="target", metric="logloss", strategy="pbt", budget=12,
        options={"population": 4, "steps": 5}, workspace=workspace, seed=1,
    )
    record = study.optimize(workers=2)
    assert record.status == "succeeded" and record.direction == "minimize"
    trials = study.trials()
    assert [t.meta["generation"] for t in trials] == [0] * 4 + [1] * 4 + [2] * 4
    by_number = {t.number: t for t in trials}
    for trial in trials:
        package = ModelPackage.load(workspace.artifacts.local_path(trial.model_uri))
        assert package.metadata["steps"] == trial.meta["total_steps"]  # boosting rounds continued, not restarted
        if trial.meta["generation"] == 0:
            assert trial.meta["parent"] is None and trial.meta["total_steps"] == 5
        else:
            parent = by_number[trial.meta["parent"]]
            assert parent.meta["generation"] == trial.meta["generation"] - 1
            assert trial.meta["total_steps"] == parent.meta["total_steps"] + 5
    exploited = [t for t in trials if t.meta.get("exploited")]
    assert len(exploited) == 2  # one bottom member per later generation copies a top one
    assert record.best_value == min(t.value for t in trials if t.status == "succeeded")
    edges, points = (layer["data"]["values"] for layer in study.report().figures["lineage"]["layer"])  # the chart
    assert len(points) == 12 and {row["edge"] for row in edges if row["kind"] == "exploit"} == {t.number for t in exploited}


def test_median_rule_stops_poor_trials_of_an_iterative_trainer(workspace, breast_cancer):
    study = create_study(
        breast_cancer, trainer="classification.lightgbm", label="target", metric="auc", strategy="random", budget=8,
        pruner={"type": "median", "min_trials": 2}, steps=40, report_every=10, workspace=workspace, seed=3,
    )
    record = study.optimize(workers=0, executor="inline")
    trials = study.trials()
    assert record.status == "succeeded"
    pruned = [t for t in trials if t.status == "pruned"]
    finished = [t for t in trials if t.status == "succeeded"]
    assert pruned and finished
    for trial in finished:
        assert [p["step"] for p in trial.meta["intermediate"]] == [10, 20, 30, 40]
    for trial in pruned:
        steps = [p["step"] for p in trial.meta["intermediate"]]
        assert steps[-1] == trial.meta["pruned_at"] < 40
    curves = study.report().figures["intermediate_values"]["data"]["values"]  # the chart: pruned lines stop early
    assert max(row["step"] for row in curves if row["status"] == "pruned") < 40
    assert {row["trial"] for row in curves} == {t.number for t in pruned + finished}


def test_best_model_is_registered_under_an_alias(workspace, breast_cancer):
    study = create_study(breast_cancer, trainer="classification.logistic_regression", label="target", strategy="random",
                         budget=3, refit=True, workspace=workspace)
    study.optimize(workers=0, executor="inline")
    version = study.register_best("bc-logistic", alias="staging")
    registry = ModelRegistry(workspace)
    loaded = registry.load("models:/bc-logistic@staging")
    assert version == 1 and loaded.task == "binary" and loaded.lineage.get("study_id") == study.id


def test_population_based_training_of_an_mlp_continues_epochs_and_keeps_its_layers(workspace, breast_cancer):
    study = create_study(
        breast_cancer, trainer="classification.mlp", label="target", metric="accuracy", strategy="pbt", budget=4,
        options={"population": 2, "steps": 2}, workspace=workspace, seed=0,
    )
    record = study.optimize(workers=0, executor="inline")
    trials = study.trials()
    assert record.status == "succeeded" and len(trials) == 4
    for trial in trials:
        package = ModelPackage.load(workspace.artifacts.local_path(trial.model_uri))
        network = package.model.steps[-1][1]
        assert package.metadata["steps"] == trial.meta["total_steps"]  # epochs continued from the checkpoint
        assert network.learning_rate_init == trial.params["learning_rate_init"]
        if trial.meta["parent"] is not None:
            parent = ModelPackage.load(workspace.artifacts.local_path(trials[trial.meta["parent"]].model_uri))
            assert network.hidden_layer_sizes == parent.model.steps[-1][1].hidden_layer_sizes


def test_trials_side_by_side_share_the_cores_between_their_thread_pools(workspace, breast_cancer, monkeypatch):
    """Two workers on N cores: each trial's OpenMP and BLAS pools get N // 2 threads (one per core each would
    oversubscribe them: LightGBM trials ran 8x slower so), unless the caller set the variable itself."""
    from tidal.runtime._machine import visible_cpus

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    study = create_study(breast_cancer, trainer="testing_automl.logistic", label="target", metric="auc", strategy="grid",
                         budget=2, search_space={"C": {"type": "choice", "values": [0.1, 1.0]}},
                         params={"show_threads": True}, workspace=workspace)
    assert study.optimize(workers=2).status == "succeeded"
    expected = max(1, visible_cpus() // 2)
    for trial in study.trials():
        log = workspace.artifacts.read_bytes(trial.log_uri).decode()
        assert f"threads: OMP_NUM_THREADS={expected}" in log, log
