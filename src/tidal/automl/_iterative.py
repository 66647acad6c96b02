"""Iterative trainers: models that train in steps and continue from a checkpoint.

Population-based training and early stopping need to stop a model after some steps, score it,
and carry on later (maybe with new parameters, maybe from another trial's checkpoint). An
:class:`IterativeTrainer` does that for one family of trainer components:

* LightGBM (``classification.lightgbm``, ``regression.lightgbm``): a step is a boosting round;
  training continues from the saved booster (``init_model``) with the current parameters.
* scikit-learn MLPs (``classification.mlp``, ``regression.mlp``): a step is an epoch of
  ``partial_fit``; the optimizer's learning rate and the L2 penalty can change between steps.
* networks (``nn.train``): a step is an epoch; training goes on from the checkpoint's safetensors
  weights with the current learning rate, weight decay and batch size.

Checkpoints are ordinary model packages, so the best checkpoint is the study's model.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError
from tidal.models import ModelPackage
from tidal.models._training_data import (
    classification_task,
    feature_columns,
    label_values,
    numeric_features,
)


class IterativeTrainer(Protocol):
    #: parameters fixed once training starts (a checkpoint keeps the values it was built with)
    structural: tuple[str, ...]

    def train(self, data: pd.DataFrame, label: str, params: dict[str, Any], steps: int,
              checkpoint: ModelPackage | None) -> ModelPackage:
        """``steps`` more steps from ``checkpoint`` (or from scratch); returns the new checkpoint."""


def _prepare(data: pd.DataFrame, label: str, kind: str, features: list[str] | None) -> tuple[pd.DataFrame, pd.Series, str, list[Any] | None]:
    columns = feature_columns(data, label, features)
    X = numeric_features(data, columns, allow_missing=True)
    y = label_values(data, label)
    if kind == "classification":
        task = classification_task(y)
        return X, y, task, sorted(pd.unique(y).tolist())
    return X, y, "regression", None


class LightGBMSteps:
    structural: tuple[str, ...] = ("max_depth",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def library_params(self, params: dict[str, Any], task: str, classes: list[Any] | None) -> dict[str, Any]:
        mapping = {"learning_rate": "learning_rate", "num_leaves": "num_leaves", "min_child_samples": "min_data_in_leaf",
                   "subsample": "bagging_fraction", "subsample_freq": "bagging_freq", "colsample_bytree": "feature_fraction",
                   "reg_alpha": "lambda_l1", "reg_lambda": "lambda_l2", "max_depth": "max_depth", "seed": "seed"}
        out: dict[str, Any] = {"verbosity": -1, "num_threads": 1, "deterministic": True}
        for name, value in params.items():
            if name in mapping and value is not None:
                out[mapping[name]] = value
        if task == "binary":
            out["objective"] = "binary"
        elif task == "multiclass":
            out.update(objective="multiclass", num_class=len(classes or []))
        else:
            out["objective"] = "regression"
        return out

    def train(self, data: pd.DataFrame, label: str, params: dict[str, Any], steps: int,
              checkpoint: ModelPackage | None) -> ModelPackage:
        import lightgbm

        X, y, task, classes = _prepare(data, label, self.kind, params.get("features"))
        target = pd.Categorical(y, categories=classes).codes if classes is not None else y
        booster = lightgbm.train(
            self.library_params(params, task, classes),
            lightgbm.Dataset(X, target, free_raw_data=False),
            num_boost_round=int(steps),
            init_model=checkpoint.model if checkpoint is not None else None,
            keep_training_booster=True,
        )
        package = ModelPackage(model=booster, task=task, features=list(X.columns), label=label, classes=classes,
                               feature_types={name: str(data[name].dtype) for name in X.columns},
                               params={k: v for k, v in params.items() if k != "features"})
        package.metadata["steps"] = int(booster.current_iteration())
        return package


class MLPSteps:
    structural: tuple[str, ...] = ("hidden_units", "hidden_layers", "activation")

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def train(self, data: pd.DataFrame, label: str, params: dict[str, Any], steps: int,
              checkpoint: ModelPackage | None) -> ModelPackage:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y, task, classes = _prepare(data, label, self.kind, params.get("features"))
        if checkpoint is None:
            width, depth = int(params.get("hidden_units", 100)), int(params.get("hidden_layers", 1))
            make = MLPClassifier if self.kind == "classification" else MLPRegressor
            network = make(hidden_layer_sizes=(width,) * depth, activation=params.get("activation", "relu"),
                           alpha=float(params.get("alpha", 1e-4)), learning_rate_init=float(params.get("learning_rate_init", 1e-3)),
                           random_state=int(params.get("seed", 0)))
            model = make_pipeline(StandardScaler().fit(X), network)
        else:
            model = checkpoint.model
            network = model.steps[-1][1]
        scaler = model.steps[0][1]
        network.set_params(alpha=float(params.get("alpha", network.alpha)),
                           learning_rate_init=float(params.get("learning_rate_init", network.learning_rate_init)))
        optimizer = getattr(network, "_optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate_init"):
            optimizer.learning_rate_init = optimizer.learning_rate = network.learning_rate_init
        features = scaler.transform(X)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(int(steps)):
                if self.kind == "classification":
                    network.partial_fit(features, y, classes=np.asarray(classes))
                else:
                    network.partial_fit(features, y)
        package = ModelPackage.from_estimator(model, data, features=list(X.columns), task=task, label=label, classes=classes,
                                              params={k: v for k, v in params.items() if k != "features"})
        package.metadata["steps"] = int(getattr(network, "t_", 0) // max(1, len(X)))
        return package


class NetworkSteps:
    """``nn.train``: a step is an epoch; training goes on from the checkpoint's weights (its safetensors).

    The network's structure (``spec``/``path``, ``layer_params``, ``output``, ``loss``) is fixed once
    built; the learning rate, weight decay, batch size and schedule may change between steps. The
    optimizer starts afresh at each continuation (its moments are not part of a checkpoint).
    """

    structural: tuple[str, ...] = ("path", "spec", "layer_params", "output", "loss", "features", "standardize")

    def train(self, data: pd.DataFrame, label: str, params: dict[str, Any], steps: int,
              checkpoint: ModelPackage | None) -> ModelPackage:
        from tidal.core import registry

        component = registry.get("nn.train")
        values = {"label": label, **params, "epochs": int(steps)}
        inputs: dict[str, Any] = {"data": data}
        if checkpoint is not None:  # the network comes with its weights: how it was built is in them
            for name in ("path", "spec", "layer_params"):
                values.pop(name, None)
            inputs["network"] = checkpoint
        package: ModelPackage = component.execute(inputs, values)["model"]
        before = int((checkpoint.metadata or {}).get("steps", 0)) if checkpoint is not None else 0
        package.metadata["steps"] = before + int(package.metadata.get("epochs", steps))
        return package


ITERATIVE: dict[str, IterativeTrainer] = {
    "nn.train": NetworkSteps(),
    "classification.lightgbm": LightGBMSteps("classification"),
    "regression.lightgbm": LightGBMSteps("regression"),
    "classification.mlp": MLPSteps("classification"),
    "regression.mlp": MLPSteps("regression"),
}


def iterative_trainer(component_id: str) -> IterativeTrainer:
    try:
        return ITERATIVE[component_id]
    except KeyError:
        raise TidalError(
            f"trainer '{component_id}' cannot train in steps, which population-based training and early stopping need; "
            f"use one of: {', '.join(sorted(ITERATIVE))}, or another strategy"
        ) from None
