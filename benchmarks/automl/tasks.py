"""Benchmark tasks for the AutoML strategies: bundled or generated data, a trainer, a space, a metric.

Every strategy sees the same train/validation split and the same space for a task; a trial is
the code path of a real ``automl.trial`` task (train the component, score the validation part),
run in this process so that the benchmark measures the search, not worker start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split

from tidal.automl import SearchSpace
from tidal.automl._trial import trial

LIGHTGBM_SPACE = {
    "n_estimators": {"type": "int", "low": 20, "high": 200, "log": True},
    "learning_rate": {"type": "float", "low": 0.005, "high": 0.3, "log": True},
    "num_leaves": {"type": "int", "low": 4, "high": 128, "log": True},
    "min_child_samples": {"type": "int", "low": 2, "high": 100, "log": True},
    "colsample_bytree": {"type": "float", "low": 0.3, "high": 1.0},
    "reg_lambda": {"type": "float", "low": 1e-8, "high": 10.0, "log": True},
}

MLP_SPACE = {
    "hidden_units": {"type": "int", "low": 8, "high": 256, "log": True},
    "alpha": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
    "learning_rate_init": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
}


@dataclass
class Task:
    name: str
    trainer: str
    label: str
    metric: str
    direction: str
    space: dict[str, Any]
    train: pd.DataFrame
    valid: pd.DataFrame
    fixed: dict[str, Any]

    def evaluate(self, params: dict[str, Any]) -> float:
        result = trial.run_eager(self.train, self.valid, trainer=self.trainer, label=self.label, metric=self.metric,
                                 direction=self.direction, params={**self.fixed, **params})
        return float(result.scores["value"])

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)


def _split(frame: pd.DataFrame, label: str, stratify: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, valid = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame[label] if stratify else None)
    return train.reset_index(drop=True), valid.reset_index(drop=True)


def _frame(bunch: Any) -> pd.DataFrame:
    frame = pd.DataFrame(bunch.data, columns=[f"f{i}" for i in range(bunch.data.shape[1])])
    frame["target"] = bunch.target
    return frame


def make_tasks(generated_rows: int = 20_000) -> list[Task]:
    tasks = []
    cancer = _frame(datasets.load_breast_cancer())
    tasks.append(Task("lightgbm · breast cancer (AUC)", "classification.lightgbm", "target", "auc", "maximize",
                      LIGHTGBM_SPACE, *_split(cancer, "target"), {}))
    digits = _frame(datasets.load_digits())
    tasks.append(Task("lightgbm · digits (log loss)", "classification.lightgbm", "target", "logloss", "minimize",
                      LIGHTGBM_SPACE, *_split(digits, "target"), {}))
    X, y = datasets.make_classification(n_samples=generated_rows, n_features=30, n_informative=12, n_redundant=6,
                                        flip_y=0.05, class_sep=0.8, random_state=0)
    generated = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)]).assign(target=y)
    tasks.append(Task(f"lightgbm · generated {generated_rows // 1000}k rows (AUC)", "classification.lightgbm", "target", "auc",
                      "maximize", LIGHTGBM_SPACE, *_split(generated, "target"), {}))
    tasks.append(Task("mlp · digits (accuracy)", "classification.mlp", "target", "accuracy", "maximize",
                      MLP_SPACE, *_split(digits, "target"), {"max_iter": 30}))
    diabetes = _frame(datasets.load_diabetes())
    tasks.append(Task("lightgbm regression · diabetes (RMSE)", "regression.lightgbm", "target", "rmse", "minimize",
                      LIGHTGBM_SPACE, *_split(diabetes, "target", stratify=False), {}))
    return tasks
