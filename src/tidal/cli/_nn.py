"""``tidal nn``: network files (``tidal-nn: 1``) checked, turned into PyTorch code, and read back from it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tidal.cli._app import app
from tidal.cli._render import console, print_json
from tidal.core._errors import TidalError

nn_app = typer.Typer(help="Network files: check shapes, write PyTorch code, import a PyTorch module.", no_args_is_help=True)
app.add_typer(nn_app, name="nn")


def _load(file: Path) -> Any:
    from tidal.nn import load_network

    if not file.is_file():
        raise TidalError(f"no network file {file}; give the path of a `tidal-nn: 1` YAML file")
    return load_network(file)


@nn_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="network YAML file (tidal-nn: 1)")],
    json_: Annotated[bool, typer.Option("--json", help="the shapes and issues as JSON")] = False,
) -> None:
    """Check a network without PyTorch: every layer's output shape, or every mistake at once (exit 2).

    Each mistake names the layer and its input or parameter, both shapes of a mismatch and what to change."""
    from tidal.nn import NetworkError, infer_shapes

    try:
        spec = _load(file)
    except NetworkError as error:  # the file itself: YAML, unknown keys, bad values
        if json_:
            print_json({"file": str(file), "ok": False, "issues": [item.to_dict() for item in error.issues]})
            raise typer.Exit(2) from None
        raise
    shapes = infer_shapes(spec, check=False)
    if json_:
        print_json({"file": str(file), "ok": shapes.ok, **shapes.to_dict()})
        if not shapes.ok:
            raise typer.Exit(2)
        return
    shapes.raise_for_issues()  # every issue, one per line, exit 2 (the CLI's handler prints it)
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"{spec.name}: {len(shapes.layers)} layers, no problems"), title_justify="left")
    for column in ("layer", "kind", "from", "output"):
        table.add_column(column)
    for name, tensor in shapes.inputs.items():
        table.add_row(escape(name), "input", "", escape(str(tensor)))
    for layer in shapes.layers.values():
        sources = ", ".join(ref for _, ref, _ in layer.inputs)
        outputs = "; ".join(f"{port}: {tensor}" if len(layer.outputs) > 1 else str(tensor)
                            for port, tensor in layer.outputs.items())
        table.add_row(escape(layer.id), layer.kind, escape(sources), escape(outputs))  # shapes look like markup
    console.print(table)
    for name, result in shapes.outputs.items():
        console.print(f"output [bold]{escape(name)}[/]: {escape(str(result))}")


@nn_app.command("code")
def code(
    file: Annotated[Path, typer.Argument(help="network YAML file (tidal-nn: 1)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the .py file here instead of printing")] = None,
) -> None:
    """Write the network as a readable PyTorch ``nn.Module`` source file (needs no PyTorch to write)."""
    from tidal.nn import to_source

    text = to_source(_load(file))
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text)
    console.print(f"wrote {output}")


def _shape(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or any(size < 1 or size > 1_000_000 for size in sizes):
        raise TidalError(f"--input-shape {text!r} must be sizes separated by commas, e.g. 1,1,8,8 (batch first)")
    return sizes


@nn_app.command("import")
def import_module(
    file: Annotated[Path, typer.Argument(help="a Python file that defines the nn.Module class")],
    class_name: Annotated[str, typer.Argument(help="the class to import; built with no arguments")],
    input_shape: Annotated[list[str], typer.Option("--input-shape", help="an example input's shape, batch first, "
                                                   "e.g. 1,1,8,8 (once per input)")],
    input_dtype: Annotated[list[str] | None, typer.Option("--input-dtype", help="float32 (default) or int64 (token "
                                                          "ids), once per input in the same order")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the network YAML here")] = None,
    name: Annotated[str | None, typer.Option("--name", help="the network's name (default: from the class)")] = None,
    trust: Annotated[bool, typer.Option("--trust", help="run FILE's code: importing a module executes it")] = False,
    via: Annotated[str, typer.Option("--via", help="auto (torch.fx, then torch.export when fx cannot read the "
                                     "module), fx or export")] = "auto",
) -> None:
    """Read a PyTorch module back into a network file, through torch.fx or torch.export.

    Importing FILE runs its code, so it needs --trust: run it only on files you would run with python."""
    if not trust:
        raise TidalError(f"importing {file} runs its Python code; pass --trust if you would run it with python, "
                         "or read the network from a tidal-nn YAML file instead")
    if via not in ("auto", "fx", "export"):
        raise TidalError(f"--via takes auto, fx or export, not {via!r}")
    if not file.is_file() or file.suffix != ".py":
        raise TidalError(f"no Python file {file}; give the .py file that defines {class_name}")
    from tidal.nn._torch import require_torch

    torch = require_torch()
    from tidal.nn import NetworkError, from_module
    from tidal.nn._import_source import build_named_module

    spec = importlib.util.spec_from_file_location(f"tidal_nn_import_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise TidalError(f"cannot import {file} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look classes up here
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file: its own error, named, without our traceback
        raise TidalError(f"importing {file} failed: {type(error).__name__}: {error}; fix the file and try again") from None
    instance = build_named_module(module, class_name, where=str(file))
    dtypes = list(input_dtype or [])
    if len(dtypes) > len(input_shape) or any(item not in ("float32", "int64") for item in dtypes):
        raise TidalError(f"--input-dtype takes float32 or int64, at most once per --input-shape; got {dtypes}")
    dtypes += ["float32"] * (len(input_shape) - len(dtypes))
    examples = tuple(torch.zeros(_shape(text), dtype=getattr(torch, dtype)) for text, dtype in zip(input_shape, dtypes, strict=True))
    try:
        network = from_module(instance, examples, name=name, via=via)
    except NetworkError:
        raise  # names the layer and what to change already
    except Exception as error:  # forward() itself failed on the example inputs
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        shapes = ", ".join(f"[{text}]" for text in input_shape)
        raise TidalError(f"{class_name}.forward failed on example inputs of shape {shapes}: {type(error).__name__}: "
                         f"{first}; check --input-shape (batch first) and --input-dtype") from None
    text = network.to_yaml()
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text)
    console.print(f"wrote {output} ({len(network.layers)} layers)")
