"""Exporting a model package to ONNX or PMML, checked row by row before anything is written.

::

    report = export_model(package, "churn.onnx", format="onnx", data=held_out)
    report.rows, report.max_difference          # what the check compared

The export is converted into a scratch folder, scored there (ONNX by onnxruntime, PMML by
Tidal's own evaluator) on the caller's rows or on rows generated from the model (see
:mod:`tidal.models._export_check`), and compared with the model's own answers. Only an export
that agrees is moved into place, atomically; a refusal (:class:`ExportRefused`) says why and
leaves the target untouched. The CLI (``tidal models export``) and the ``model.export``
component both call :func:`export_model`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidal.models._export_check import ExportRefused, caller_rows, compare, generated_rows

FORMATS = ("onnx", "pmml")
#: default agreement required: float32 graphs (ONNX) to 1e-5, PMML (evaluated in float64) to 1e-9
TOLERANCES = {"onnx": 1e-5, "pmml": 1e-9}
#: XGBoost computes in float32 itself, so its PMML agrees with it to float32 precision only
FLOAT32_MODEL_TOLERANCE = 1e-6
EXPORTABLE_TASKS = ("binary", "multiclass", "regression")
#: ONNX converters of flavors defined above this layer, by flavor: the name of a module with ``convert``,
#: ``score`` and ``converter_version`` like :mod:`tidal.models._export_onnx` (``tidal.nn`` adds torch's)
ONNX_CONVERTERS: dict[str, str] = {}


def register_onnx_converter(flavor: str, module: str) -> None:
    """Export packages of ``flavor`` to ONNX with ``module`` (imported when an export needs it)."""
    ONNX_CONVERTERS[flavor] = module


@dataclass
class ExportReport:
    """What was written and how closely it was checked."""

    path: Path
    format: str
    converter: str
    rows: int
    rows_source: str
    max_difference: float
    tolerance: float
    label_ties: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "converter": self.converter, "rows": self.rows,
                "rows_source": self.rows_source, "max_difference": self.max_difference, "tolerance": self.tolerance,
                "label_ties": self.label_ties, "notes": list(self.notes)}

    def summary(self) -> str:
        ties = f", {self.label_ties} tied row(s) labelled either way" if self.label_ties else ""
        return (f"checked on {self.rows} {self.rows_source} rows: largest difference {self.max_difference:.3g} "
                f"(tolerance {self.tolerance:g}){ties}")


def default_export_name(name: str, version: int | str, format: str) -> str:
    """``NAME-VERSION.onnx`` / ``.pmml``: a plain file name, never a path."""
    file_name = f"{name}-{version}.{format}"
    if Path(file_name).name != file_name or file_name.startswith("."):
        raise ExportRefused(f"'{file_name}' is not a plain file name; give the output file with -o FILE")
    return file_name


def _holds_xgboost(model: Any) -> bool:
    """An XGBoost model, or a scikit-learn pipeline with one among its steps."""
    steps = [step for _, step in getattr(model, "steps", [])] or [model]
    return any(type(step).__module__.startswith("xgboost") for step in steps)


def _check_target(target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise ExportRefused(f"{target} is a folder; give the path of the file to write")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise ExportRefused(f"{target} already exists; choose another file, or replace it with --force (overwrite=True)")
    if not target.parent.is_dir():
        raise ExportRefused(f"folder {target.parent} does not exist")


def _check_package(package: Any, format: str) -> None:
    if format not in FORMATS:
        raise ExportRefused(f"cannot export to '{format}'; choose one of {', '.join(FORMATS)}")
    if package.task not in EXPORTABLE_TASKS:
        raise ExportRefused(f"a {package.task} model cannot be exported; export takes classifiers and regressors")
    if not package.features:
        raise ExportRefused("the model's signature lists no input columns, so the export cannot be checked")
    text = [name for name in package.features
            if not package.feature_types.get(name, "float64").lower().startswith(("float", "int", "uint", "bool", "unknown"))]
    if text:
        kinds = ", ".join(f"'{name}' ({package.feature_types[name]})" for name in text[:5])
        raise ExportRefused(f"feature(s) {kinds} are not numeric; exported models take numeric features only "
                            "(encode them before training)")


def export_model(
    package: Any,
    path: str | Path,
    *,
    format: str,
    data: Any = None,
    tolerance: float | None = None,
    overwrite: bool = False,
    source: str = "",
) -> ExportReport:
    """Convert ``package`` to ``format`` (``onnx`` or ``pmml``), check it, and write it to ``path``.

    ``data`` (any table with the model's feature columns) gives the rows to check on; without it,
    rows are generated from the model. ``tolerance`` defaults to 1e-5 for ONNX (float32) and
    1e-9 for PMML; probabilities (or, for regressors, predictions, relative above 1) must agree
    within it and class labels exactly. Raises :class:`ExportRefused` (nothing written) when the
    model cannot be converted, a library is missing, or the check fails. ``source`` (e.g.
    ``models:/churn/3``) is stored in an ONNX file's metadata.
    """
    target = Path(os.path.expanduser(str(path))).absolute()
    _check_package(package, format)
    _check_target(target, overwrite)
    if tolerance is not None and not tolerance > 0:
        raise ExportRefused(f"tolerance must be greater than 0, got {tolerance!r}")
    notes: list[str] = []
    if format == "onnx":
        from tidal.models import _export_onnx as converter

        if package.flavor in ONNX_CONVERTERS:
            import importlib

            converter = importlib.import_module(ONNX_CONVERTERS[package.flavor])  # type: ignore[assignment]
        probe_split_points = package.flavor != "lightgbm"
        if not probe_split_points and data is None:
            notes.append(converter.SPLIT_POINT_NOTE)
        limit = tolerance or TOLERANCES["onnx"]
    else:
        from tidal.models import _export_pmml as converter  # type: ignore[no-redef]

        probe_split_points = True
        limit = tolerance or (FLOAT32_MODEL_TOLERANCE if _holds_xgboost(package.model) else TOLERANCES["pmml"])
    if data is not None:
        rows, rows_source = caller_rows(package, data), "given"
    else:
        rows, rows_source = generated_rows(package, split_points=probe_split_points), "generated"
    with tempfile.TemporaryDirectory(prefix="tidal-export-") as scratch:
        written = converter.convert(package, Path(scratch) / f"model.{format}", source)
        scores = converter.score(written, package, rows)
        agreement = compare(package, rows, scores, tolerance=limit, what=f"the {format.upper()} export")
        _write(written, target, overwrite)
    return ExportReport(target, format, converter.converter_version(package), agreement.rows, rows_source,
                        agreement.max_difference, limit, agreement.label_ties, notes)


def _write(written: Path, target: Path, overwrite: bool) -> None:
    """Put the checked file in place atomically; without ``overwrite`` an existing file is never replaced."""
    handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(written.read_bytes())
        os.chmod(partial, 0o644)  # mkstemp's 0600 is for the scratch name, not the exported file
        if overwrite:
            os.replace(partial, target)
            return
        try:
            os.link(partial, target)  # fails if the target appeared meanwhile: never clobbered
        except FileExistsError:
            raise ExportRefused(f"{target} already exists; choose another file, or replace it with --force "
                                "(overwrite=True)") from None
        except OSError:  # a file system without hard links
            if target.exists() or target.is_symlink():
                raise ExportRefused(f"{target} already exists; choose another file, or replace it with --force "
                                    "(overwrite=True)") from None
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
