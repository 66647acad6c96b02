"""The data and the training loops that benchmarks/nn_training.py compares, each behind one small
interface (``step(inputs, target) -> loss``, ``module``, ``optimizer``):

* :class:`PlainLoop`: a PyTorch loop written the way a user would (zero_grad, forward, loss,
  backward, step, ``loss.item()`` for the log), float32 or with bf16 autocast around the forward;
* :class:`FabricLoop`: Lightning Fabric's loop (``Fabric(accelerator="cpu", precision=...)``,
  ``fabric.setup``, ``fabric.backward``) at ``32-true`` or ``bf16-mixed``;
* :class:`TidalLoop`: the steps ``nn.train`` runs (its :class:`~tidal.nn._accelerate.Stepper` and
  its loss function), for every variant ``acceleration`` can fix.

The tasks: scikit-learn's 8x8 digits (shipped with scikit-learn) for the CNN and the wide MLP, and
a synthetic sequence-classification set for the transformer (how many different marker tokens
occur among 32 tokens), made here from a seed: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tidal.components.data import split
from tidal.components.io_datasets import dataset
from tidal.nn._accelerate import Stepper, Variant
from tidal.nn._spec import NetworkSpec
from tidal.nn._train import _loss_function, _whole, output_selector

#: the synthetic sequence set: tokens per row, vocabulary, marker tokens 1..MARKERS (0 is unused)
SEQUENCE_LENGTH, VOCABULARY, MARKERS = 32, 64, 12


@dataclass
class Task:
    """One network's data: the tables ``nn.train`` reads and the tensors the loops read, scaled alike."""

    name: str
    spec: NetworkSpec
    train: pd.DataFrame
    test: pd.DataFrame
    inputs: Any
    targets: Any
    test_inputs: Any
    test_targets: Any
    batch: int
    lr: float

    def batches(self, seed: int = 0) -> list[tuple[Any, Any]]:
        """Full batches of the training rows in a fixed shuffled order (one shape: compiled steps keep it)."""
        order = torch.randperm(len(self.inputs), generator=torch.Generator().manual_seed(seed))
        return [
            (self.inputs[rows], self.targets[rows])
            for rows in (
                order[start : start + self.batch]
                for start in range(0, len(order) - self.batch + 1, self.batch)
            )
        ]

    def features(self, table: pd.DataFrame) -> pd.DataFrame:
        return table.drop(columns=["target"])


def table_tensors(
    train: pd.DataFrame, table: pd.DataFrame, shape: tuple[int, ...], tokens: bool
) -> Any:
    """``table``'s feature columns as the network's input, standardized with ``train``'s columns as
    ``nn.train`` does (token ids are left as they are)."""
    columns = [name for name in train.columns if name != "target"]
    if tokens:
        return torch.from_numpy(table[columns].to_numpy(dtype=np.int64).copy()).reshape(*shape)
    reference = train[columns].to_numpy(dtype=np.float64)
    spread = reference.std(axis=0)
    matrix = (table[columns].to_numpy(dtype=np.float64) - reference.mean(axis=0)) / np.where(
        spread > 0, spread, 1.0
    )
    return torch.from_numpy(matrix.astype(np.float32)).reshape(*shape)


def labels(table: pd.DataFrame) -> Any:
    return torch.from_numpy(table["target"].to_numpy(dtype=np.int64).copy())


def digits_task(spec: NetworkSpec, name: str, batch: int, shape: tuple[int, ...]) -> Task:
    parts = split(dataset(name="digits"), fraction=0.8, seed=42, stratify="target")
    train, test = parts.train.reset_index(drop=True), parts.test.reset_index(drop=True)
    return Task(
        name,
        spec,
        train,
        test,
        table_tensors(train, train, shape, False),
        labels(train),
        table_tensors(train, test, shape, False),
        labels(test),
        batch,
        3e-3,
    )


def sequence_table(rows: int, seed: int) -> pd.DataFrame:
    """Rows of 32 token ids; the label is how many different marker tokens (1..12) occur in the row.

    A row holds 1 to 4 different markers, each 1 to 4 times, at random places among background
    tokens (13..63); the label is stored as 0..3. The number of marker tokens alone does not tell
    it (one marker four times, or four markers once each): the network must tell them apart.
    """
    rng = np.random.default_rng(seed)
    tokens = rng.integers(MARKERS + 1, VOCABULARY, size=(rows, SEQUENCE_LENGTH))
    kinds = rng.integers(1, 5, size=rows)
    for row in range(rows):
        chosen = rng.permutation(MARKERS)[: kinds[row]] + 1
        counts = rng.integers(1, 5, size=kinds[row])
        places = rng.permutation(SEQUENCE_LENGTH)[: counts.sum()]
        tokens[row, places] = np.repeat(chosen, counts)
    table = pd.DataFrame(tokens, columns=[f"token_{index}" for index in range(SEQUENCE_LENGTH)])
    table["target"] = kinds - 1
    return table


def sequence_task(spec: NetworkSpec, rows: int, batch: int) -> Task:
    train, test = sequence_table(rows, seed=1), sequence_table(rows // 2, seed=2)
    shape = (-1, SEQUENCE_LENGTH)
    return Task(
        "transformer",
        spec,
        train,
        test,
        table_tensors(train, train, shape, True),
        labels(train),
        table_tensors(train, test, shape, True),
        labels(test),
        batch,
        1e-3,
    )


class PlainLoop:
    """A training step as a user writes it in plain PyTorch."""

    def __init__(self, module: Any, lr: float, precision: str = "fp32") -> None:
        self.module, self.precision = module, precision
        self.optimizer = torch.optim.AdamW(module.parameters(), lr=lr)
        self.name = "plain PyTorch fp32" if precision == "fp32" else "plain PyTorch + bf16 autocast"

    def step(self, inputs: Any, target: Any) -> float:
        self.optimizer.zero_grad()
        if self.precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = self.module(inputs)
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
        else:
            loss = torch.nn.functional.cross_entropy(self.module(inputs), target)
        loss.backward()
        self.optimizer.step()
        return loss.item()


class FabricLoop:
    """Lightning Fabric's loop: the module and optimizer set up by Fabric, ``fabric.backward``."""

    def __init__(self, module: Any, lr: float, precision: str = "32-true") -> None:
        from lightning.fabric import Fabric

        self.fabric = Fabric(accelerator="cpu", devices=1, precision=precision)
        self.module = module
        self.raw_optimizer = torch.optim.AdamW(module.parameters(), lr=lr)
        self.model, self.fabric_optimizer = self.fabric.setup(module, self.raw_optimizer)
        self.optimizer = self.raw_optimizer
        self.name = f"Lightning Fabric {precision}"

    def step(self, inputs: Any, target: Any) -> float:
        self.fabric_optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(inputs), target)
        self.fabric.backward(loss)
        self.fabric_optimizer.step()
        return loss.item()


class TidalLoop:
    """``nn.train``'s steps: its Stepper (autocast, torch.compile, fallback) and its loss function."""

    def __init__(
        self, module: Any, lr: float, variant: Variant, spec: NetworkSpec | None = None
    ) -> None:
        self.module = module
        self.stepper = Stepper(
            module,
            torch.optim.AdamW(module.parameters(), lr=lr),
            _loss_function("cross_entropy", torch),
            variant,
            output_selector(spec, next(iter(spec.output_map))) if spec else _whole,
        )
        self.name = f"Tidal {variant.name}"

    @property
    def optimizer(self) -> Any:
        return self.stepper.optimizer

    def step(self, inputs: Any, target: Any) -> float:
        return self.stepper.step(inputs, target)


def restart(loop: Any, state: dict[str, Any]) -> None:
    """Back to the starting weights with a fresh optimizer state (AdamW's moments and step count)."""
    loop.module.load_state_dict(state)
    loop.optimizer.state.clear()


def accuracy(module: Any, inputs: Any, targets: Any) -> float:
    """Held-out accuracy in float32 with the weights as they are (the way a trained package predicts)."""
    module.eval()
    with torch.inference_mode():
        predicted = torch.cat(
            [module(inputs[start : start + 1024]) for start in range(0, len(inputs), 1024)]
        )
    module.train()
    return float((predicted.argmax(dim=1) == targets).float().mean())


def plain_training(task: Task, module: Any, epochs: int, fabric: bool = False) -> int:
    """A whole training the way a user writes it (plain PyTorch or Fabric): the table to tensors,
    standardized; then each epoch a shuffle and its batches; returns the number of steps."""
    shape = tuple(task.inputs.shape[1:])
    inputs = table_tensors(task.train, task.train, (-1, *shape), task.inputs.dtype == torch.int64)
    targets = labels(task.train)
    loop: Any = FabricLoop(module, task.lr) if fabric else PlainLoop(module, task.lr)
    generator = torch.Generator().manual_seed(0)
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for start in range(0, len(order), task.batch):
            rows = order[start : start + task.batch]
            total += loop.step(inputs[rows], targets[rows]) * len(rows)
            steps += 1
    state = {key: value.detach().clone() for key, value in module.state_dict().items()}
    assert state and np.isfinite(total)
    return steps
