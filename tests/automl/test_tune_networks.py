"""AutoML over networks: nn.train's training parameters and its layers' sizes (layer_params.*) searched
together; population-based training goes on from a donor's safetensors weights and keeps its layers;
the study's model is the best checkpoint itself, never a retraining from scratch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tidal.automl import ITERATIVE, create_study
from tidal.automl._trial import fold_nested
from tidal.core import TidalError, registry
from tidal.models import ModelPackage

torch = pytest.importorskip("torch")

SPEC = {"tidal-nn": 1, "name": "iris-mlp", "inputs": {"x": {"shape": ["batch", 4]}}, "layers": [
    {"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 16}},
    {"id": "act", "kind": "relu", "inputs": ["hidden"]},
    {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": 3}}], "outputs": {"logits": "head"}}
SPACE = {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
         "layer_params.hidden.out_features": {"type": "int", "low": 4, "high": 24}}
FIXED = {"spec": SPEC, "threads": 1, "batch_size": 16, "validation_fraction": 0}


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = ["a", "b", "c", "d", "target"]
    return frame


def hidden_width(package: ModelPackage) -> int:
    return int(package.model.state["hidden.weight"].shape[0])


def test_layer_params_set_layer_sizes_and_name_every_wrong_key():
    network = registry.get("nn.network")
    assert hidden_width(network(spec=SPEC, layer_params={"hidden.out_features": 5})) == 5
    with pytest.raises(TidalError, match=r"no layer 'nope' \(layers: hidden, act, head\).*'hidden': write LAYER.PARAM"):
        network(spec=SPEC, layer_params={"nope.out_features": 3, "hidden": 2})
    with pytest.raises(TidalError, match=r"layer 'hidden' parameter 'out_features': .*got 0"):
        network(spec=SPEC, layer_params={"hidden.out_features": 0})


def test_dotted_names_fold_into_their_mapping_and_only_a_mapping_takes_them(iris, workspace):
    assert fold_nested({"lr": 0.1, "layer_params.hidden.out_features": 8, "layer_params": {"drop.p": 0.2}}) == \
        {"lr": 0.1, "layer_params": {"drop.p": 0.2, "hidden.out_features": 8}}
    with pytest.raises(TidalError, match="a dotted name sets a key of a mapping parameter .* 'lr' is not one"):
        create_study(iris, trainer="nn.train", label="target", search_space={"lr.x": {"type": "int", "low": 1, "high": 3}},
                     params=FIXED, workspace=workspace)
    with pytest.raises(TidalError, match="not parameters of nn.train"):
        create_study(iris, trainer="nn.train", label="target", search_space={"layers.hidden": {"type": "int", "low": 1, "high": 3}},
                     params=FIXED, workspace=workspace)


def test_random_search_trains_each_trial_with_its_own_layer_size(iris, workspace):
    study = create_study(iris, trainer="nn.train", label="target", metric="accuracy", strategy="random", budget=3,
                         search_space=SPACE, params={**FIXED, "epochs": 3}, refit=False, workspace=workspace, seed=2)
    record = study.optimize(workers=0, executor="inline")
    assert record.status == "succeeded"
    for trial in study.trials():
        package = ModelPackage.load(workspace.artifacts.local_path(trial.model_uri))
        assert hidden_width(package) == trial.params["layer_params.hidden.out_features"]


def test_population_based_training_goes_on_from_the_donor_weights_and_keeps_its_layers(iris, workspace):
    study = create_study(iris, trainer="nn.train", label="target", metric="accuracy", strategy="pbt", budget=6,
                         search_space=SPACE, params=FIXED, options={"population": 3, "steps": 2}, refit=True,
                         workspace=workspace, seed=1)
    record = study.optimize(workers=0, executor="inline")
    assert record.status == "succeeded"
    trials = {trial.number: trial for trial in study.trials()}
    packages = {number: ModelPackage.load(workspace.artifacts.local_path(trial.model_uri)) for number, trial in trials.items()}
    for number, trial in trials.items():
        assert packages[number].metadata["steps"] == trial.meta["total_steps"]   # epochs went on from the checkpoint
        assert packages[number].flavor == "torch" and hidden_width(packages[number]) == trial.params["layer_params.hidden.out_features"]
        parent = trial.meta["parent"]
        if parent is not None:
            assert trial.params["layer_params.hidden.out_features"] == trials[parent].params["layer_params.hidden.out_features"]
    exploited = next(trial for trial in trials.values() if trial.meta.get("exploited"))
    # two more epochs from the donor's checkpoint, with the exploited trial's own (perturbed) learning rate, give its weights exactly
    train = pd.read_parquet(workspace.artifacts.local_path(study.config["data"]["train"]["uri"]))
    again = ITERATIVE["nn.train"].train(train, "target", fold_nested({**FIXED, **exploited.params}), 2,
                                        packages[exploited.meta["parent"]])
    for name, weights in again.model.state.items():
        assert np.array_equal(weights.numpy(), packages[exploited.number].model.state[name].numpy()), name
    assert exploited.params["lr"] != trials[exploited.meta["parent"]].params["lr"]
    best = study.best_model()
    assert best.lineage.get("refit") is None and best.metadata["steps"] == 4       # the best checkpoint, not a retraining
    assert record.best_value == max(trial.value for trial in trials.values())
