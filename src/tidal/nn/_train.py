"""Training a network on a table: :func:`train_network`, which the ``nn.train`` component runs.

The feature columns fill the network's one input (reshaped row-major to its per-row shape), the
label column gives the target, and the loss decides the task: ``cross_entropy`` (one logit per
class), ``binary_cross_entropy`` (one logit, two classes), ``mse``, ``l1`` or ``huber``
(regression, one value per row). Every check runs before the first step, and names the column,
the output and its layer, and what to change.

A seeded run is reproducible: weights, the validation split, shuffling and dropout all draw from
``seed`` (torch's global generator is left as it was). After every epoch the weights are kept as
a safetensors checkpoint (the last ``keep_checkpoints`` go into the package); with a validation
set, the package holds the weights of the epoch with the lowest validation loss, and ``patience``
stops training after that many epochs without improvement.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError, TidalError
from tidal.core._ports import to_jsonable
from tidal.models._package import ModelPackage
from tidal.models._training_data import classification_task, label_values, numeric_features
from tidal.nn._accelerate import EAGER, Stepper, Variant, cpu_facts, measure, parse_acceleration
from tidal.nn._flavor import state_bytes
from tidal.nn._network_model import NetworkModel, input_of, output_of
from tidal.nn._packages import input_tensor, seeded_module
from tidal.nn._spec import NetworkSpec
from tidal.nn._torch import require_torch

#: loss -> the task it trains
LOSSES = {"cross_entropy": "classification", "binary_cross_entropy": "binary", "mse": "regression",
          "l1": "regression", "huber": "regression"}
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "cosine", "step")
#: rows per forward pass when scoring the validation set
EVAL_BATCH = 4096


@dataclass(frozen=True)
class TrainSettings:
    """How to train; the ``nn.train`` component's parameters."""

    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "none"
    epochs: int = 10
    batch_size: int = 64
    validation_fraction: float = 0.1
    patience: int = 0
    seed: int = 0
    standardize: bool = True
    keep_checkpoints: int = 5
    threads: int | None = None
    acceleration: Any = "off"
    output: str | None = None
    #: ids of top-level layers whose weights stay as they are (fine-tuning): no gradient, batch norm statistics kept
    frozen: tuple[str, ...] = ()


@dataclass
class TrainingResult:
    """The trained package, one row per epoch, and what acceleration ran (with its measurements)."""

    package: ModelPackage
    history: list[dict[str, Any]]
    best_epoch: int
    stopped_early: bool
    acceleration: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Target:
    head: str
    task: str
    classes: list[Any] | None
    values: np.ndarray  # class codes 0..k-1, or float targets


def train_network(network: NetworkSpec | ModelPackage, data: pd.DataFrame, *, label: str,
                  features: list[str] | None = None, settings: TrainSettings | None = None) -> TrainingResult:
    """Train ``network`` (a spec, or a torch package from ``nn.network`` or an earlier training) on ``data``."""
    settings = settings or TrainSettings()
    _check_settings(settings)
    torch = require_torch()
    spec, start, output, previous = _start(network, settings)
    name, shape, dtype = input_of(spec)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"the training data must be a table, got {type(data).__name__}")
    if len(data) < 2:
        raise DataError(f"the training table has {len(data)} row(s); at least 2 are needed")
    if label not in data.columns:
        raise DataError(f"label column '{label}' is not in the table (columns: {', '.join(map(str, data.columns[:20]))})")
    if not features and isinstance(network, ModelPackage) and all(name in data.columns for name in network.features):
        features = list(network.features)  # the columns the network was made (or trained) with
    columns = _columns(data, label, features)
    model = NetworkModel(spec=spec, state=start, input_name=name, input_shape=shape, input_dtype=dtype, output_name=output)
    if len(columns) != model.width:
        shown = ", ".join(columns[:5]) + (" ..." if len(columns) > 5 else "")
        raise DataError(f"network '{spec.name}' input '{name}' {list(shape)} takes {model.width} columns per row, but "
                        f"the table gives {len(columns)} feature column(s) ({shown}); choose them with 'features'")
    matrix = numeric_features(data, columns).to_numpy(dtype=np.float64)
    target = _target(label_values(data, label), settings.loss, spec, output, label)
    model.head, model.classes = target.head, target.classes
    train_rows, check_rows = _split(len(matrix), target, settings)
    if previous is not None:  # going on training: the columns and label are scaled as the weights learned them
        model.mean, model.std = previous.mean, previous.std
        model.target_scale = previous.target_scale if target.head == "identity" else None
    elif settings.standardize:
        if dtype == "float32":
            model.mean = matrix[train_rows].mean(axis=0)
            spread = matrix[train_rows].std(axis=0)
            model.std = np.where(spread > 0, spread, 1.0)
        if target.head == "identity":
            centre, spread_value = float(target.values[train_rows].mean()), float(target.values[train_rows].std())
            model.target_scale = (centre, spread_value if spread_value > 0 else 1.0)
    if model.target_scale is not None:
        target.values = (target.values - model.target_scale[0]) / model.target_scale[1]
    if target.head == "identity":
        target.values = target.values.astype(np.float32)
    inputs = model.tensor(model.matrix(matrix))
    targets = torch.from_numpy(target.values)
    with _threads(settings.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        loop = _Loop(model, settings, inputs, targets, train_rows, check_rows, target)
        result = loop.run()
    model.state = result["state"]
    model.checkpoints = result["checkpoints"]
    model.forget_module()
    metadata: dict[str, Any] = {"network": spec.name, "trained": True, "epochs": len(result["history"]),
                                "best_epoch": result["best_epoch"], "history": result["history"],
                                "acceleration": result["acceleration"]}
    tensor = input_tensor(model)
    if tensor:
        metadata["input_tensor"] = tensor
    package = ModelPackage(model=model, task=target.task, features=columns, flavor="torch", label=label,
                           classes=target.classes, feature_types={column: str(data[column].dtype) for column in columns},
                           params=to_jsonable(asdict(settings)), metadata=to_jsonable(metadata))
    model.classes = package.classes
    return TrainingResult(package, result["history"], result["best_epoch"], result["stopped_early"], result["acceleration"])


def _check_settings(settings: TrainSettings) -> None:
    problems = []
    if settings.loss not in LOSSES:
        problems.append(f"loss must be one of {', '.join(LOSSES)}, got {settings.loss!r}")
    if settings.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {settings.optimizer!r}")
    if settings.schedule not in SCHEDULES:
        problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, got {settings.schedule!r}")
    if settings.epochs < 1 or settings.batch_size < 1 or not settings.lr > 0:
        problems.append("epochs and batch_size must be at least 1, and lr above 0")
    if not 0 <= settings.validation_fraction < 1:
        problems.append(f"validation_fraction must be in [0, 1), got {settings.validation_fraction}")
    if settings.patience > 0 and settings.validation_fraction == 0:
        problems.append("patience (early stopping) watches the validation loss: set validation_fraction above 0")
    if problems:
        raise TidalError("; ".join(problems))
    parse_acceleration(settings.acceleration)


def _start(network: Any, settings: TrainSettings) -> tuple[NetworkSpec, dict[str, Any], str, NetworkModel | None]:
    """The spec, the starting weights, the output trained, and the trained model being continued (if any)."""
    if isinstance(network, NetworkSpec):
        module = seeded_module(network, settings.seed)
        return network, module.state_dict(), output_of(network, settings.output), None
    if isinstance(network, ModelPackage):
        if not isinstance(network.model, NetworkModel):
            raise TidalError(f"the network input must be a network (flavor torch, from nn.network or nn.train), "
                             f"got a {network.flavor} model")
        model = network.model
        chosen = output_of(model.spec, settings.output) if settings.output else model.output_name
        previous = model if network.metadata.get("trained") else None
        return model.spec, dict(model.state), chosen, previous
    raise TidalError(f"expected a network spec or a torch model package, got {type(network).__name__}")


def _columns(data: pd.DataFrame, label: str, features: list[str] | None) -> list[str]:
    if features:
        missing = [name for name in features if name not in data.columns]
        if missing:
            raise DataError(f"feature column(s) {', '.join(map(repr, missing))} are not in the table")
        if label in features:
            raise DataError(f"the label column '{label}' is also listed in 'features'; remove it from 'features'")
        return list(features)
    columns = [str(name) for name in data.columns if name != label and (
        pd.api.types.is_numeric_dtype(data[name]) or pd.api.types.is_bool_dtype(data[name]))]
    if not columns:
        raise DataError("the table has no numeric column besides the label; encode features first, or name them in 'features'")
    return columns


def _output_description(spec: NetworkSpec, output: str, shapes: Any) -> tuple[Any, str]:
    tensor = shapes.outputs.get(output)
    return tensor, f"output '{output}' (layer '{spec.output_map[output].split('.')[0]}') gives {tensor}"


def _target(labels: pd.Series, loss: str, spec: NetworkSpec, output: str, label: str) -> _Target:
    from tidal.nn._infer import infer_shapes

    tensor, where = _output_description(spec, output, infer_shapes(spec))
    dims = list(tensor.shape) if tensor is not None else []
    last = dims[-1] if dims else None
    kind = LOSSES[loss]
    if kind == "regression":
        if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
            raise DataError(f"label column '{label}' ({labels.dtype}) must be numeric for loss '{loss}' (regression)")
        if not (len(dims) == 1 or (len(dims) == 2 and last == 1)):
            raise DataError(f"{where}, but regression with '{loss}' needs one value per row, [batch, 1]: "
                            "end the network with a linear layer of out_features: 1")
        return _Target("identity", "regression", None, labels.to_numpy(dtype=np.float64))
    task = classification_task(labels)
    codes, uniques = pd.factorize(labels, sort=True)
    classes = list(uniques)
    if kind == "binary":
        if len(classes) != 2:
            raise DataError(f"loss 'binary_cross_entropy' takes two classes; label column '{label}' has {len(classes)}: "
                            "use loss cross_entropy with one output per class")
        if not (len(dims) == 1 or (len(dims) == 2 and last == 1)):
            raise DataError(f"{where}, but 'binary_cross_entropy' needs one logit per row, [batch, 1]: "
                            "end the network with a linear layer of out_features: 1")
        return _Target("sigmoid", task, classes, codes.astype(np.float32))
    if len(dims) != 2 or last != len(classes):
        raise DataError(f"{where}, but label column '{label}' has {len(classes)} classes: the network must give "
                        f"[batch, {len(classes)}], one logit per class (set out_features: {len(classes)} on its last linear layer)")
    return _Target("softmax", task, classes, codes.astype(np.int64))


def _split(rows: int, target: _Target, settings: TrainSettings) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers to train on and to validate on (stratified by class where every class can give a row)."""
    everything = np.arange(rows)
    count = int(round(rows * settings.validation_fraction))
    if settings.validation_fraction == 0 or count < 1 or rows - count < 1:
        if settings.patience > 0:
            raise DataError(f"the table has {rows} rows: too few for a validation set of {settings.validation_fraction:g}, "
                            "which patience needs")
        return everything, everything[:0]
    from sklearn.model_selection import train_test_split

    stratify = None
    if target.classes is not None:
        counts = np.bincount(target.values.astype(np.int64))
        if counts.min() >= 2 and count >= len(counts) and rows - count >= len(counts):
            stratify = target.values
    train, check = train_test_split(everything, test_size=count, random_state=settings.seed, stratify=stratify)
    return np.sort(train), np.sort(check)


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[None]:
    if not count:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Loop:
    """One training run: the optimizer, schedule, epochs, validation, checkpoints and early stopping."""

    def __init__(self, model: NetworkModel, settings: TrainSettings, inputs: Any, targets: Any,
                 train_rows: np.ndarray, check_rows: np.ndarray, target: _Target) -> None:
        import torch

        self.torch, self.model, self.settings, self.target = torch, model, settings, target
        self.inputs, self.targets = inputs, targets
        self.train_rows = torch.from_numpy(train_rows)
        self.check_rows = torch.from_numpy(check_rows)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.loss = _loss_function(settings.loss, torch)
        self.select = output_selector(model.spec, model.output_name)
        #: this process's place among data-parallel processes (tidal.nn._ddp sets them in each)
        self.rank, self.world = 0, 1

    def make_optimizer(self, module: Any) -> Any:
        optim, settings = self.torch.optim, self.settings
        parameters = [parameter for parameter in module.parameters() if parameter.requires_grad]
        if settings.optimizer == "sgd":
            return optim.SGD(parameters, lr=settings.lr, momentum=0.9, weight_decay=settings.weight_decay)
        make = optim.AdamW if settings.optimizer == "adamw" else optim.Adam
        return make(parameters, lr=settings.lr, weight_decay=settings.weight_decay)

    def _schedule(self, optimizer: Any) -> Any:
        schedulers, epochs = self.torch.optim.lr_scheduler, self.settings.epochs
        if self.settings.schedule == "cosine":
            return schedulers.CosineAnnealingLR(optimizer, T_max=epochs)
        if self.settings.schedule == "step":
            return schedulers.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
        return None

    def _batches(self, steps: int) -> Iterator[tuple[Any, Any]]:
        """``steps`` training batches from a fixed shuffle (repeating the rows when there are few): auto's trial steps."""
        generator = self.torch.Generator().manual_seed(self.settings.seed + 1)
        order = self.train_rows[self.torch.randperm(len(self.train_rows), generator=generator)]
        size = min(self.settings.batch_size, len(order))
        for index in range(steps):
            start = (index * size) % max(len(order) - size + 1, 1)
            rows = order[start: start + size]
            yield self.inputs[rows], self.targets[rows]

    def _stepper(self, module: Any) -> tuple[Stepper, dict[str, Any]]:
        from tidal.nn import _accelerate

        requested = parse_acceleration(self.settings.acceleration)
        asked = self.settings.acceleration
        report: dict[str, Any] = {"requested": dict(asked) if isinstance(asked, dict) else "off" if asked in (None, False) else asked}
        if requested == EAGER:
            return Stepper(module, self.make_optimizer(module), self.loss, EAGER, self.select), report
        report["cpu"] = cpu_facts()
        if isinstance(requested, Variant):
            if requested.precision == "bf16" and not report["cpu"]["bf16_native"]:
                report["note"] = "this CPU has no native bf16 (AVX512-BF16 or AMX): bf16 runs emulated, usually slower"
            return Stepper(module, self.make_optimizer(module), self.loss, requested, self.select), report
        steps = _accelerate.AUTO_WARMUP_STEPS + _accelerate.AUTO_MEASURED_STEPS
        with self.torch.random.fork_rng(devices=[]):
            stepper, rows = measure(module, self.make_optimizer, self.loss, self.select,
                                    lambda: self._batches(steps), report["cpu"])
        report["candidates"] = rows
        report["measured_steps"] = _accelerate.AUTO_MEASURED_STEPS
        stepper.module.load_state_dict(module.state_dict())  # the measured steps trained it: start again
        stepper.optimizer = self.make_optimizer(stepper.module)
        return stepper, report

    def run(self) -> dict[str, Any]:
        requested = parse_acceleration(self.settings.acceleration)
        if isinstance(requested, Variant) and requested.processes > 1:
            from tidal.nn._ddp import train_parallel

            return train_parallel(self, requested.processes)
        if requested == EAGER or (isinstance(requested, Variant) and requested.backend is None):
            return self.run_epochs()
        from tidal.nn._compile_cache import compile_cache

        document = {key: value for key, value in self.model.spec.to_dict().items() if key not in ("layout", "description")}
        with compile_cache(document) as cache:
            result = self.run_epochs()
        result["acceleration"]["compile_cache"] = cache
        return result

    def _parallel_stepper(self, module: Any) -> tuple[Stepper, dict[str, Any]]:
        """This process's share of a data-parallel training: the module wrapped in DistributedDataParallel."""
        from torch.nn.parallel import DistributedDataParallel

        requested = parse_acceleration(self.settings.acceleration)
        assert isinstance(requested, Variant)
        report: dict[str, Any] = {"requested": dict(self.settings.acceleration), "cpu": cpu_facts(), "processes": self.world,
                                  "backend": "gloo", "threads_per_process": self.settings.threads or 1}
        wrapped = DistributedDataParallel(module)
        return Stepper(wrapped, self.make_optimizer(module), self.loss, Variant(None, requested.precision, self.world),
                       self.select), report

    def _rows(self, order: Any, start: int, drop_last: bool) -> tuple[Any, float]:
        """This process's rows of the batch at ``start`` (None: every process skips that batch) and the weight of
        its loss: DDP averages the processes' gradients, so a share of n of the batch's N rows weighs n * world / N
        and the step equals one on the whole batch even when the rows do not split evenly."""
        size = self.settings.batch_size
        rows = order[start: start + size]
        if drop_last and len(rows) < size:
            return None, 1.0  # a compiled step keeps one batch shape
        if self.world > 1:  # every process needs two rows (batch norm), and all skip the same batches
            if len(rows) < 2 * self.world and len(order) > 1:
                return None, 1.0
            share = rows[self.rank::self.world]
            return share, len(share) * self.world / len(rows)
        return (None if len(rows) == 1 and len(order) > 1 else rows), 1.0  # batch norm cannot train on one row

    def run_epochs(self) -> dict[str, Any]:
        torch, settings = self.torch, self.settings
        from tidal.nn._build import build_module

        module = build_module(self.model.spec)
        module.load_state_dict(self.model.state)
        frozen = [module.get_submodule(layer) for layer in settings.frozen if hasattr(module, layer)]
        for part in frozen:
            part.requires_grad_(False)
        stepper, report = self._parallel_stepper(module) if self.world > 1 else self._stepper(module)
        trained = stepper.module
        if self.world == 1:
            module = trained
        scheduler = self._schedule(stepper.optimizer)
        history: list[dict[str, Any]] = []
        checkpoints: dict[str, bytes] = {}
        best_loss, best_epoch, best_state, waited, stopped = float("inf"), 0, None, 0, False
        for epoch in range(1, settings.epochs + 1):
            trained.train()
            for part in frozen:
                part.eval()
            order = self.train_rows[torch.randperm(len(self.train_rows), generator=self.generator)]
            drop_last = stepper.variant.backend is not None and len(order) > settings.batch_size
            total, seen = 0.0, 0
            for start in range(0, len(order), settings.batch_size):
                rows, weight = self._rows(order, start, drop_last)
                if rows is None:
                    continue
                total += stepper.step(self.inputs[rows], self.targets[rows], weight) * len(rows)
                seen += len(rows)
            if self.world > 1:  # the epoch's loss over every process's rows
                sums = torch.tensor([total, float(seen)], dtype=torch.float64)
                torch.distributed.all_reduce(sums)
                total, seen = float(sums[0]), int(sums[1])
            if not seen:
                raise DataError(f"epoch {epoch} trained on no batch: batch_size {settings.batch_size} with "
                                f"{len(order)} training rows" + (f" over {self.world} processes (each needs 2 rows)" if self.world > 1 else ""))
            row: dict[str, Any] = {"epoch": epoch, "train_loss": total / seen,
                                   "lr": float(stepper.optimizer.param_groups[0]["lr"])}
            if not np.isfinite(row["train_loss"]):
                raise DataError(f"training diverged in epoch {epoch}: the loss is {row['train_loss']}; "
                                "lower lr, or standardize the features")
            if len(self.check_rows):
                row.update(self._validate(module))
            history.append(row)
            if scheduler is not None:
                scheduler.step()
            if settings.keep_checkpoints > 0:
                checkpoints[f"epoch_{epoch:03d}.safetensors"] = state_bytes(module.state_dict())
                for name in sorted(checkpoints)[:-settings.keep_checkpoints]:
                    del checkpoints[name]
            if not len(self.check_rows):
                best_epoch = epoch
                continue
            if row["val_loss"] < best_loss:
                best_loss, best_epoch, waited = row["val_loss"], epoch, 0
                best_state = {key: value.detach().clone() for key, value in module.state_dict().items()}
            else:
                waited += 1
                if settings.patience and waited >= settings.patience:
                    stopped = True
                    break
        state = best_state if best_state is not None else {key: value.detach().clone() for key, value in module.state_dict().items()}
        report["used"] = stepper.variant.name
        if stepper.failure is not None:
            report["fallback"] = f"torch.compile failed, trained eagerly: {stepper.failure}"
        return {"state": state, "checkpoints": checkpoints, "history": history, "best_epoch": best_epoch,
                "stopped_early": stopped, "acceleration": report}

    def _validate(self, module: Any) -> dict[str, Any]:
        torch = self.torch
        module.eval()
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(self.check_rows), EVAL_BATCH):
                rows = self.check_rows[start: start + EVAL_BATCH]
                outputs.append(self.select(module(self.inputs[rows])).float())
            produced = torch.cat(outputs)
            truth = self.targets[self.check_rows]
            values = {"val_loss": float(self.loss(produced, truth))}
            if self.target.head == "softmax":
                values["val_accuracy"] = float((produced.reshape(len(truth), -1).argmax(dim=1) == truth).float().mean())
            elif self.target.head == "sigmoid":
                values["val_accuracy"] = float(((produced.reshape(len(truth)) > 0).float() == truth).float().mean())
        return values


def _loss_function(name: str, torch: Any) -> Any:
    """The loss on a batch's output; an output already of the target's layout ([batch, classes], or
    [batch] for one value per row) is used as it is (no reshape: a view costs an autograd node per step)."""
    functional = torch.nn.functional
    if name == "cross_entropy":
        return lambda output, target: functional.cross_entropy(
            output if output.dim() == 2 else output.reshape(target.shape[0], -1), target)
    if name == "binary_cross_entropy":
        return lambda output, target: functional.binary_cross_entropy_with_logits(
            output if output.dim() == 1 else output.reshape(target.shape[0]), target)
    function = {"mse": functional.mse_loss, "l1": functional.l1_loss, "huber": functional.huber_loss}[name]
    return lambda output, target: function(output if output.dim() == 1 else output.reshape(target.shape[0]), target)


def output_selector(spec: NetworkSpec, output: str) -> Callable[[Any], Any]:
    """What picks ``output`` from what the network's forward returns, worked out once rather than
    on every step: the result itself for a network of one output, else its item at that output's place."""
    names = list(spec.output_map)
    if len(names) == 1:
        return _whole
    return operator.itemgetter(names.index(output))


def _whole(result: Any) -> Any:
    return result
