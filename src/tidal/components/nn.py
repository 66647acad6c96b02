"""Neural networks from ``tidal-nn: 1`` specs: build one (``nn.network``) and train it on a table (``nn.train``).

Scoring needs no component of its own: ``model.predict`` scores a trained network as it scores
any model (class labels and ``prob_<class>`` columns, or values), and ``model.export`` writes it
as ONNX. PyTorch is imported only when a component runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import pandas as pd
from typing_extensions import TypedDict

from tidal.components._charts import series_chart, xy_chart
from tidal.core import Column, Columns, DataError, InputFile, Metrics, Param, component
from tidal.core._errors import TidalError
from tidal.models import ModelPackage

#: the conformance suite's network: four features in, two classes out
SAMPLE_SPEC: dict[str, Any] = {
    "tidal-nn": 1, "name": "sample-mlp", "inputs": {"x": {"shape": ["batch", 4]}},
    "layers": [{"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 8}},
               {"id": "act", "kind": "relu", "inputs": ["hidden"]},
               {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": 2}}],
    "outputs": {"logits": "head"},
}


class Acceleration(TypedDict, total=False):
    """A fixed acceleration: ``compile`` (true: inductor, or a backend name), ``precision``, and data-parallel
    ``parallel: ddp`` over ``processes`` processes (gloo on loopback)."""

    compile: bool | Literal["inductor", "aot_eager", "eager"]
    precision: Literal["fp32", "bf16"]
    parallel: Literal["none", "ddp"]
    processes: int


class TrainedNetwork(NamedTuple):
    model: ModelPackage
    report: Metrics


PATH = Annotated[InputFile | None, Param(help="a network file (tidal-nn: 1); relative paths start at the workspace")]
SPEC = Annotated[dict[str, Any] | str | None, Param(help="the network written inline: a mapping in a pipeline file, or YAML text",
                                                    widget="code")]
OUTPUT = Annotated[str | None, Param(help="which output of the network to read, when it has several")]
SEED = Annotated[int, Param(ge=0, help="random seed; the same seed gives the same weights (and, training, the same model)")]
LAYER_PARAMS = Annotated[dict[str, Any] | None, Param(help="layer parameters to set, by LAYER.PARAM, e.g. {hidden.out_features: 64, "
                                                           "drop.p: 0.3}: what AutoML searches over a network")]


def read_spec(path: str | None, spec: dict[str, Any] | str | None, *, network_given: bool = False) -> Any:
    """The spec from exactly one of a file, an inline spec, or (nn.train) a connected network."""
    from tidal.nn import NetworkSpec, load_network, parse_network

    given = [name for name, value in (("path", path), ("spec", spec), ("input 'network'", network_given or None)) if value]
    if len(given) != 1:
        raise TidalError("give the network one way: " + ("a file in 'path', a spec in 'spec' or a network input" if not given
                                                         else f"{' and '.join(given)} are both given"))
    if path:
        return load_network(path)
    if isinstance(spec, str):
        return parse_network(spec, source="parameter 'spec'")
    if spec is not None:
        return NetworkSpec.from_dict(spec, source="parameter 'spec'")
    return None


def with_layer_params(network: Any, overrides: dict[str, Any] | None) -> Any:
    """``network`` (a spec) with ``overrides`` (``{"LAYER.PARAM": value}``) set; every wrong key named at once."""
    if not overrides:
        return network
    from tidal.nn import NetworkSpec
    from tidal.nn._files import resolve_files

    if not isinstance(overrides, dict):
        raise TidalError(f"layer_params must be a mapping of LAYER.PARAM to a value, got {type(overrides).__name__}")
    data = network.to_dict()
    layers = {layer["id"]: layer for layer in data.get("layers", [])}
    problems = []
    for key, value in overrides.items():
        layer_id, _, name = str(key).partition(".")
        if not name or not layer_id:
            problems.append(f"'{key}': write LAYER.PARAM, e.g. hidden.out_features")
        elif layer_id not in layers:
            problems.append(f"'{key}': network '{network.name}' has no layer '{layer_id}' (layers: {', '.join(layers)})")
        else:
            layers[layer_id].setdefault("params", {})[name] = value
    if problems:
        raise TidalError("layer_params: " + "; ".join(problems))
    changed = NetworkSpec.from_dict(data, source=network.source)
    if network.source is not None:
        resolve_files(changed, network.source.parent)
    return changed


@component("nn.network", title="Network", tags={
    "sample": "classification", "sample_params": {"spec": SAMPLE_SPEC, "path": None, "features": ["x1", "x2", "x3", "x4"]}})
def network(
    *,
    path: PATH = None,
    spec: SPEC = None,
    features: Annotated[list[str] | None, Param(help="the table columns that fill the input, in order (row-major into its "
                                                     "shape); empty: <input>_0, <input>_1 ...")] = None,
    output: OUTPUT = None,
    layer_params: LAYER_PARAMS = None,
    seed: SEED = 0,
) -> ModelPackage:
    """A network from its spec (a file or inline), shapes checked, with freshly drawn weights: untrained.

    Every problem in the spec is reported at once, each naming its layer and port (see
    ``docs/nn.md``). The network must have one input whose sizes after the batch dim are numbers:
    a table's columns fill it, row-major (64 pixel columns fill ``[batch, 1, 8, 8]``). The model is
    of task ``other``: ``predict`` gives the raw output. Connect it to ``nn.train``.

    Examples
    --------
    >>> spec = '''
    ... tidal-nn: 1
    ... name: tiny
    ... inputs: {x: {shape: [batch, 4]}}
    ... layers:
    ...   - {id: hidden, kind: linear, inputs: [x], params: {out_features: 8}}
    ...   - {id: act, kind: relu, inputs: [hidden]}
    ...   - {id: head, kind: linear, inputs: [act], params: {out_features: 3}}
    ... outputs: {logits: head}
    ... '''
    >>> untrained = network(spec=spec, features=["a", "b", "c", "d"])
    >>> untrained.task, untrained.features, untrained.metadata["trained"]
    ('other', ['a', 'b', 'c', 'd'], False)
    >>> try:
    ...     network(spec=spec.replace("{out_features: 3}", "{in_features: 5, out_features: 3}"))
    ... except TidalError as error:
    ...     print(error)
    network 'tiny' has 1 problem:
      - layer 'head' input 'x': expects last dim 5 (in_features) but gets 8 from 'act' [batch, 8]; set in_features: 8
    """
    from tidal.nn._packages import network_package

    return network_package(with_layer_params(read_spec(path, spec), layer_params), features=features, output=output, seed=seed)


@component("nn.train", title="Train Network", tags={
    "sample": "classification", "sample_model": "nn.network",
    "sample_params": {"path": None, "epochs": 3, "batch_size": 16, "threads": 1}})
def train(
    data: pd.DataFrame,
    network: ModelPackage | None = None,
    *,
    label: Annotated[Column, Param(help="the column to predict")],
    features: Annotated[Columns, Param(help="the columns that fill the network's input, in order; empty: the "
                                            "network input's own columns if the table has them all, else every "
                                            "numeric column but the label")] = None,
    path: PATH = None,
    spec: SPEC = None,
    output: OUTPUT = None,
    layer_params: LAYER_PARAMS = None,
    loss: Annotated[Literal["cross_entropy", "binary_cross_entropy", "mse", "l1", "huber"],
                    Param(help="cross_entropy: one logit per class; binary_cross_entropy: one logit; "
                               "mse, l1, huber: regression")] = "cross_entropy",
    optimizer: Annotated[Literal["adam", "adamw", "sgd"], Param(help="sgd uses momentum 0.9")] = "adam",
    lr: Annotated[float, Param(gt=0, log=True, tune=True, low=1e-4, high=1e-1, help="learning rate")] = 1e-3,
    weight_decay: Annotated[float, Param(ge=0, help="L2 penalty (decoupled for adamw)")] = 0.0,
    schedule: Annotated[Literal["none", "cosine", "step"],
                        Param(help="learning rate per epoch: cosine to 0, or step (x0.1 every third of the epochs)")] = "none",
    epochs: Annotated[int, Param(ge=1, le=100_000, help="passes over the training rows")] = 10,
    batch_size: Annotated[int, Param(ge=1, help="rows per training step")] = 64,
    validation_fraction: Annotated[float, Param(ge=0, lt=1, help="share of rows held out to validate each epoch "
                                                                 "(the model keeps the best epoch's weights)")] = 0.1,
    patience: Annotated[int, Param(ge=0, help="stop after this many epochs without a better validation loss; 0: never")] = 0,
    standardize: Annotated[bool, Param(help="scale each column, and a regressor's label, to zero mean and unit variance (part of the model)")] = True,
    keep_checkpoints: Annotated[int, Param(ge=0, help="how many of the last epochs' weights the model keeps "
                                                      "(checkpoints/epoch_NNN.safetensors)")] = 5,
    acceleration: Annotated[Literal["off", "auto", False] | Acceleration,
                            Param(help="off: eager float32 (YAML reads a bare off as false: the same); auto: measure "
                                       "and pick; or {compile, precision}")] = "off",
    threads: Annotated[int | None, Param(ge=1, help="CPU threads for PyTorch; empty: PyTorch's default")] = None,
    seed: SEED = 0,
) -> TrainedNetwork:
    """Train a network on a table: from ``nn.network`` (or an earlier ``nn.train``, to go on training) or a spec.

    The feature columns fill the network's one input, row-major into its shape (64 pixel columns
    fill ``[batch, 1, 8, 8]``). The loss sets the task: ``cross_entropy`` needs one logit per
    class, ``binary_cross_entropy`` one logit for two classes, ``mse``/``l1``/``huber`` one value
    per row; any mismatch is reported before training, naming the output and its layer.
    ``validation_fraction`` holds rows out (stratified by class); the model keeps the weights of
    the epoch with the lowest validation loss, and ``patience`` stops early. The weights after
    each epoch are kept as safetensors checkpoints in the model (the last ``keep_checkpoints``).

    The report has one row per epoch (``epochs``: losses, validation accuracy, learning rate),
    loss and accuracy charts, and what ``acceleration`` ran: ``auto`` times a few steps of eager
    float32, bf16 autocast (where the CPU computes bf16 natively) and ``torch.compile``, and trains
    with the fastest whose losses stay within 5% of eager's, if it is at least 1.1x as fast (table
    ``acceleration``); a compile that fails is recorded and training goes on eagerly. The same seed gives the same model with
    ``off`` or a fixed choice; ``auto`` decides by timings.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> mlp = network(spec='''
    ... tidal-nn: 1
    ... name: iris-mlp
    ... inputs: {x: {shape: [batch, 4]}}
    ... layers:
    ...   - {id: hidden, kind: linear, inputs: [x], params: {out_features: 16}}
    ...   - {id: act, kind: relu, inputs: [hidden]}
    ...   - {id: head, kind: linear, inputs: [act], params: {out_features: 3}}
    ... outputs: {logits: head}
    ... ''')
    >>> trained = train(frame, mlp, label="target", epochs=40, batch_size=16, lr=0.01, threads=1)
    >>> trained.model.task, trained.model.classes, trained.report["val_accuracy"] >= 0.9
    ('multiclass', [0, 1, 2], True)
    >>> [row["epoch"] for row in trained.report.tables["epochs"]][-3:]
    [38, 39, 40]
    """
    from tidal.nn._train import TrainSettings, train_network

    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input 'data' must be a table, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no rows to train on")
    given = read_spec(path, spec, network_given=network is not None)
    if layer_params and given is None:
        raise TidalError("layer_params change a network's layers before it is built: give the network by 'path' or "
                         "'spec', not as a connected network, which has its weights already")
    start = with_layer_params(given, layer_params) if given is not None else network
    assert start is not None  # read_spec refuses a call with neither
    settings = TrainSettings(loss=loss, optimizer=optimizer, lr=lr, weight_decay=weight_decay, schedule=schedule,
                             epochs=epochs, batch_size=batch_size, validation_fraction=validation_fraction,
                             patience=patience, seed=seed, standardize=standardize, keep_checkpoints=keep_checkpoints,
                             threads=threads, acceleration=acceleration, output=output)
    result = train_network(start, data, label=label, features=features, settings=settings)
    return TrainedNetwork(result.package, _report(result))


def _report(result: Any) -> Metrics:
    history = result.history
    best = next(row for row in history if row["epoch"] == result.best_epoch)
    values: dict[str, Any] = {"epochs_run": len(history), "best_epoch": result.best_epoch,
                              "stopped_early": result.stopped_early, "train_loss": history[-1]["train_loss"],
                              "parameters": int(sum(value.numel() for value in result.package.model.state.values())),
                              "acceleration": result.acceleration["used"]}
    for key in ("val_loss", "val_accuracy"):
        if key in best:
            values[key] = best[key]
    if "fallback" in result.acceleration:
        values["acceleration_fallback"] = result.acceleration["fallback"]
    losses = [{"epoch": row["epoch"], "loss": row[key], "set": name} for row in history
              for key, name in (("train_loss", "train"), ("val_loss", "validation")) if key in row]
    figures = {"loss": series_chart(losses, x="epoch", y="loss", series="set", title="Loss per epoch")}
    if "val_accuracy" in best:
        figures["accuracy"] = xy_chart([row["epoch"] for row in history], [row["val_accuracy"] for row in history],
                                       x="epoch", y="validation accuracy", title="Validation accuracy per epoch")
    tables = {"epochs": history}
    candidates = result.acceleration.get("candidates")
    if candidates:
        tables["acceleration"] = candidates
    return Metrics(values, figures=figures, tables=tables)
