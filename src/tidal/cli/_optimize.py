"""``tidal optimize``: measure a model's variants on validation rows and keep the fastest within a bound."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console, errors, print_json
from tidal.core._errors import TidalError


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TidalError(f"--batch '{text}' must be whole numbers separated by commas, e.g. 1,32") from None
    if not sizes or any(size < 1 for size in sizes):
        raise TidalError(f"--batch '{text}' must list batch sizes of 1 or more, e.g. 1,32")
    return sizes


def _load(model: str, trust: bool, workspace: Path | None, announce: bool) -> tuple[Any, str, str]:
    """The package MODEL names (an ONNX file, a package folder or archive, or a registry reference),
    its source for the lineage, and a short name for the output folder."""
    from tidal.models import load_model, parse_model_uri

    path = Path(model).expanduser()
    if path.exists():
        if path.is_file() and path.suffix.lower() == ".onnx":
            from tidal.optimize import check_onnx_file
            from tidal.serving import load_processor

            check_onnx_file(path)  # before onnxruntime reads it: external data, declared sizes
            return load_processor(path).package, str(path.absolute()), path.stem
        return load_model(path, trust=trust), str(path.absolute()), path.stem
    if "/" not in model and "@" not in model and not model.startswith("models:/"):
        raise TidalError(f"no model at '{model}': give an ONNX file, a model package folder or archive, or a registry "
                         "reference (NAME@ALIAS, NAME/VERSION, models:/...)")
    from tidal.models import ModelRegistry

    reference = parse_model_uri(model if model.startswith("models:/") else f"models:/{model}")
    registry = ModelRegistry(settings.workspace(chosen=workspace, announce=announce))
    version = registry.resolve(reference)
    return registry.load(version.model_uri, trust=trust), version.model_uri, f"{version.name}-{version.version}"


@app.command("optimize")
def optimize(
    model: Annotated[str, typer.Argument(help="an ONNX file, a model package (folder or archive), or NAME@ALIAS, "
                                              "NAME/VERSION, models:/... from the registry")],
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet of validation rows: the model's input columns "
                                                      "and the label, nothing else")],
    label: Annotated[str | None, typer.Option("--label", help="the column of --data that holds the true answers "
                                                             "(optional for sentence encoders)")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="accuracy, auc, log_loss (classifiers; default "
                                                                  "accuracy) or rmse, r2 (regressors; default rmse)")] = None,
    max_loss: Annotated[str, typer.Option("--max-loss", help="how much worse than the original a variant may score: "
                                                             "1% (relative) or 0.01 (absolute, the metric's units)")] = "1%",
    cosine_mean: Annotated[float, typer.Option("--min-cosine-mean", min=-1, max=1, help="sentence encoders: the "
                                               "least mean cosine of a variant's embeddings to the original's")] = 0.99,
    cosine_min: Annotated[float, typer.Option("--min-cosine", min=-1, max=1, help="sentence encoders: the least "
                                              "cosine of any one text's embedding to the original's")] = 0.97,
    batch: Annotated[str, typer.Option("--batch", help="batch sizes to time, the first one decides the pick")] = "1,32",
    budget: Annotated[float, typer.Option("--budget", min=0, help="minutes the search may take")] = 10.0,
    target: Annotated[str, typer.Option("--target", help="where the model will run (cpu; cuda is not built yet)")] = "cpu",
    train: Annotated[Path | None, typer.Option("--train", help="CSV or Parquet of training rows (the model's columns "
                                                               "and the label): tidal.nn networks are pruned and "
                                                               "fine-tuned on them")] = None,
    prune: Annotated[str, typer.Option("--prune", help="shares of channels to prune, one variant each (with "
                                                       "--train); empty: no pruning")] = "0.25,0.5",
    fine_tune_epochs: Annotated[int, typer.Option("--fine-tune-epochs", min=1, help="epochs of fine-tuning after "
                                                                                   "pruning")] = 3,
    compile_: Annotated[bool, typer.Option("--compile", help="also measure torch.compile (torch networks and "
                                                             "sentence encoders; slow to build; reported, not packaged)")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="folder to write model/, report.json and "
                                                                       "report.html (default: optimized-NAME)")] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="timing rounds (every variant timed in each)")] = 5,
    calls: Annotated[int, typer.Option("--calls", min=1, help="timed calls per variant, batch size and round")] = 20,
    force: Annotated[bool, typer.Option("--force", help="replace the output folder if it exists")] = False,
    register: Annotated[str | None, typer.Option("--register", help="register the result under this model name")] = None,
    trust: Annotated[bool, typer.Option("--trust", help="allow model payloads that run code when loaded (pickle)")] = False,
    json_: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Measure ONNX, graph-level, INT8 and runtime variants of a model on validation rows; keep the fastest
    within --max-loss (never one slower than the original), and write it as a package with a report.

    Sentence encoders (text_encoder packages) are also bounded by the cosine of each variant's embeddings
    to the original's (--min-cosine-mean, --min-cosine); their --label is optional."""
    from tidal.cli._models import _read_rows
    from tidal.optimize import Timing, optimize_model, report_table
    from tidal.optimize._prune_variants import parse_ratios

    sizes = _batch_sizes(batch)
    ratios = parse_ratios(prune, "--prune")
    package, source, short = _load(model, trust, workspace, announce=not json_)
    target_folder = output if output is not None else Path(f"optimized-{short}")
    if target_folder.exists() and not force:
        raise TidalError(f"{target_folder} already exists; choose another folder with -o, or replace it with --force")
    rows = _read_rows(data)
    train_rows = _read_rows(train) if train is not None else None
    if not json_:
        errors.print(f"[dim]optimizing {source} on {len(rows)} rows of {data} (budget {budget:g} min)[/]", highlight=False)
    result = optimize_model(package, rows, label=label, metric=metric, max_loss=max_loss, batch_sizes=sizes,
                            budget_minutes=budget, target=target, compile=compile_, source=source,
                            cosine_mean=cosine_mean, cosine_min=cosine_min, train=train_rows, prune=ratios,
                            fine_tune_epochs=fine_tune_epochs, timing=Timing(warmup=min(10, calls), rounds=rounds, calls=calls))
    try:
        if target_folder.exists():
            shutil.rmtree(target_folder)
        folder = result.save(target_folder)
        registered = None
        if register:
            from tidal.models import ModelRegistry
            from tidal.optimize import report_digest

            registry = ModelRegistry(settings.workspace(chosen=workspace, announce=not json_))
            tags = {"optimized_from": source, "variant": result.pick.winner, "report_sha256": report_digest(result.report)}
            registered = registry.register(folder / "model", register, description=f"optimized from {source}", tags=tags)
    finally:
        result.close()
    if json_:
        print_json({**result.report, "output": str(folder.absolute()),
                    "registered": registered.model_uri if registered else None})
        return
    console.print(report_table(result.report))
    for item in result.report["skipped"]:
        console.print(f"skipped {item['name']}: {item['reason']}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {folder / 'model'}, {folder / 'report.json'}, {folder / 'report.html'}", markup=False,
                  highlight=False, soft_wrap=True)
    if registered is not None:
        console.print(f"registered {registered.model_uri}", markup=False, highlight=False)
