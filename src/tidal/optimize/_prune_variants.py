"""Structured pruning as search variants: a torch network with fewer channels, fine-tuned, then exported.

Each ratio gives one variant: :func:`tidal.nn.prune_network` removes that share of the output
channels of every prunable layer (smallest L1 norm first), :func:`tidal.nn.train_network` fine-tunes
the smaller network for a few epochs on the *training* rows the caller gives (never on the
validation rows the variants are scored on), and the result is exported to an ONNX graph, which the
search scores and times like any other graph (its thread counts are tried too, when it keeps within
the bound). Without training rows pruning is reported as skipped: a pruned network that is not
fine-tuned loses too much to be worth measuring.
"""

from __future__ import annotations

import copy
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from tidal.optimize._data import OptimizeRefused
from tidal.optimize._measure import Runner
from tidal.optimize._onnx_files import merge_file_inputs
from tidal.optimize._variants import Context, Skipped, Variant

#: shares of each prunable layer's output channels removed, one variant each
RATIOS = (0.25, 0.5)
#: fine-tuning epochs after pruning (with the network's own learning rate and schedule: on the digits CNN, 3 epochs
#: at its rate won back 1.6 points more at half the channels than 3 epochs at 30% of it; benchmarks/optimize.md)
EPOCHS = 3


def parse_ratios(text: str, name: str) -> tuple[float, ...]:
    """``"0.25,0.5"`` as shares of channels to prune; an empty text asks for none. ``name``: the option, for errors."""
    try:
        ratios = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise OptimizeRefused(f"{name} '{text}' must be numbers between 0 and 1 separated by commas, e.g. 0.25,0.5") from None
    if any(not 0 < ratio < 1 for ratio in ratios):
        raise OptimizeRefused(f"{name} '{text}': each share of channels to prune must be above 0 and below 1, e.g. 0.25,0.5")
    return ratios


def _settings(package: Any, epochs: int) -> Any:
    """The network's own training settings (from its package), shortened to a fine-tuning run."""
    from tidal.nn import TrainSettings

    known = {item.name for item in fields(TrainSettings)}
    recorded = {key: value for key, value in (package.params or {}).items() if key in known}
    return TrainSettings(**{**recorded, "epochs": epochs, "acceleration": "off",
                            "patience": 0, "keep_checkpoints": 0, "frozen": ()})


def check_pruning(package: Any, train: Any, label: str | None, ratios: tuple[float, ...], epochs: int) -> pd.DataFrame | None:
    """The options and training rows, checked before anything runs: the rows kept (model columns and label), or
    ``None`` without them. Refused with the option or the columns named."""
    wrong = [ratio for ratio in ratios if not 0 < ratio < 1]
    if wrong or epochs < 1:
        raise OptimizeRefused(f"pruning ratios must be above 0 and below 1 (got {list(ratios)}) and fine-tuning epochs "
                              f"at least 1 (got {epochs})")
    if train is None:
        return None
    if not isinstance(train, pd.DataFrame):
        raise OptimizeRefused(f"the training rows must be a table, got {type(train).__name__}")
    if label is None or label not in train.columns:
        raise OptimizeRefused(f"the training rows have no label column '{label}'; fine-tuning a pruned network needs the "
                              f"true answers (columns: {', '.join(map(str, train.columns[:20]))})")
    missing = [name for name in package.features if name not in train.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise OptimizeRefused(f"the training rows lack {len(missing)} of the model's columns: {shown}")
    if len(train) < 10:
        raise OptimizeRefused(f"the training rows are {len(train)}; fine-tuning a pruned network needs at least 10")
    return train[[*package.features, label]]


def pruning_variants(package: Any, train: pd.DataFrame | None, label: str | None,
                     ratios: tuple[float, ...] = RATIOS, epochs: int = EPOCHS) -> tuple[list[Variant], list[Skipped]]:
    """One variant per ratio for a trained ``tidal.nn`` network, or why pruning is skipped; ``train`` as
    :func:`check_pruning` returned it."""
    from tidal.nn import NetworkModel
    from tidal.nn._prune import pruning_plan

    if not isinstance(package.model, NetworkModel):
        return [], [Skipped("pruning", "only networks built with tidal.nn (layer specs) are pruned")]
    if not ratios:
        return [], [Skipped("pruning", "off (no pruning ratios asked for)")]
    plan = pruning_plan(package.model.spec)
    prunable = [name for name, group in plan.items() if not isinstance(group, str)]
    if not prunable:
        reasons = "; ".join(f"{name}: {why}" for name, why in plan.items()) or "no convolution or linear layer"
        return [], [Skipped("pruning", f"no layer of network '{package.model.spec.name}' can be pruned ({reasons})")]
    if train is None:
        return [], [Skipped("pruning", "give training rows (--train, or the train input of model.optimize) to fine-tune "
                                       f"pruned networks; prunable layers: {', '.join(prunable)}")]
    assert label is not None  # check_pruning refused training rows without it
    skipped = [Skipped(f"pruning {name}", str(why)) for name, why in plan.items() if isinstance(why, str)]
    return [_variant(package, train, label, ratio, epochs) for ratio in ratios], skipped


def _variant(package: Any, rows: pd.DataFrame, label: str, ratio: float, epochs: int) -> Variant:
    name = f"pruned-{round(ratio * 100)}"
    settings: dict[str, Any] = {"ratio": ratio, "fine_tune_epochs": epochs, "fine_tune_rows": len(rows),
                                "recipe": f"{round(ratio * 100)}% of the channels of each prunable layer removed "
                                          f"(smallest L1 norm), fine-tuned {epochs} epoch(s) on {len(rows)} rows"}

    def make(context: Context) -> tuple[Runner, Path | None]:
        from tidal.models import export_model
        from tidal.nn import train_network
        from tidal.nn._inline import inline_network
        from tidal.nn._prune import prune_network

        pruned, kept = prune_network(package.model, ratio)
        written = inline_network(package.model)  # layers inside sub-networks are named as the pruned network names them
        settings["channels"] = {layer: f"{len(indices)} of {_width(written, layer)}" for layer, indices in kept.items()}
        variant.note = "channels kept: " + ", ".join(f"{layer} {count}" for layer, count in settings["channels"].items())
        smaller = copy.copy(package)
        smaller.model = pruned
        tuned = train_network(smaller, rows, label=label, features=list(package.features),
                              settings=_settings(package, epochs)).package
        path = context.folder / f"{name}.onnx"
        export_model(tuned, path, format="onnx", data=context.frame, overwrite=True)
        merge_file_inputs(path, list(package.features))  # the same single matrix input as the float32 graph's
        return context.onnx_runner(path, {"graph_level": "all"}), path

    variant = Variant(name, "pruning", settings, make)
    return variant


def _width(model: Any, layer: str) -> int:
    return int(model.state[f"{layer}.weight"].shape[0])
