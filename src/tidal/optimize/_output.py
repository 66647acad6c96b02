"""The search's answer as a model package: the original when the baseline won, else an ``onnx``
package that ``tidal serve`` loads like any other.

The ``onnx`` flavor lives in the serving layer; this module never imports it. It writes the
package through :class:`tidal.models.ModelPackage` with the flavor's name (flavors are found by
name, like plug-ins) and a small payload object carrying what that flavor saves (the graph file
and its settings), then loads the folder back, so the returned package is the one serving gets.

A sentence encoder's winner is packaged by its own flavor (:func:`encoder_package`): the parts'
``rebuild`` wraps the winning graph with the same tokenizer and head, as a model of the flavor the
parts name (``text_encoder_onnx``), found by name in the same way.

Lineage: the source model (registry URI or path, its own lineage), the variant and its settings,
and the SHA-256 of the report, in the manifest's ``lineage`` and ``metadata.optimized``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidal.optimize._pick import Measurement, Pick

#: session options the ``onnx`` flavor may apply when it loads the graph (recorded in onnx.json)
SESSION_KEYS = ("graph_level", "threads", "arena")


@dataclass
class _OnnxPayload:
    """What the ``onnx`` flavor's ``save`` reads: the graph file and its settings."""

    path: Path
    settings: dict[str, Any]


def report_digest(report: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True, default=str).encode()).hexdigest()


def source_of(package: Any, given: str = "") -> str:
    """Where the model came from: the caller's word, else its registry entry, else its run."""
    if given:
        return given
    registered, lineage = package.metadata.get("registered") or {}, package.lineage or {}
    if registered.get("name"):
        return f"models:/{registered['name']}/{registered['version']}"
    if lineage.get("run_id"):
        return f"run {lineage['run_id']}, node {lineage.get('node_id', '?')}"
    return ""


def output_package(package: Any, source: str, chosen: Pick, path: Path | None, winner: Measurement, runner: Any,
                   report: dict[str, Any], scratch: Path) -> Any:
    """The package to hand back: ``package`` itself when the baseline won, else the winner as an onnx package."""
    if chosen.kept_original or path is None:
        return package
    from tidal.models import ModelPackage, load_model

    session = {key: winner.settings[key] for key in SESSION_KEYS if key in winner.settings}
    settings = {"features": list(package.features), "label_output": runner.label_output,
                "proba_output": runner.proba_output, "session": session}
    facts = {"source": source_of(package, source), "source_flavor": package.flavor, "variant": winner.name,
             "settings": winner.settings, "report_sha256": report_digest(report)}
    lineage = {**(package.lineage or {}), "optimized_from": facts}
    metadata = {key: value for key, value in (package.metadata or {}).items() if key != "registered"}
    built = ModelPackage(model=_OnnxPayload(path, settings), task=package.task, features=list(package.features),
                         flavor="onnx", label=package.label, classes=package.classes,
                         feature_types=dict(package.feature_types), metadata={**metadata, "optimized": facts},
                         lineage=lineage)
    folder = built.save(scratch / "package")
    return load_model(folder)


def encoder_package(package: Any, parts: Any, source: str, chosen: Pick, path: Path | None, winner: Measurement,
                    report: dict[str, Any], scratch: Path) -> Any:
    """A sentence encoder's answer: ``package`` itself when the baseline won, else the winning graph rebuilt by
    the flavor's ``parts.rebuild`` (the same tokenizer and head around the ONNX encoder), saved and loaded back."""
    if chosen.kept_original or path is None:
        return package
    from tidal.models import ModelPackage, load_model

    session = {key: winner.settings[key] for key in SESSION_KEYS if key in winner.settings}
    facts = {"source": source_of(package, source), "source_flavor": package.flavor, "variant": winner.name,
             "settings": winner.settings, "report_sha256": report_digest(report)}
    lineage = {**(package.lineage or {}), "optimized_from": facts}
    metadata = {key: value for key, value in (package.metadata or {}).items() if key != "registered"}
    built = ModelPackage(model=parts.rebuild(path.read_bytes(), session), task=package.task, features=list(package.features),
                         flavor=parts.flavor, label=package.label, classes=package.classes,
                         feature_types=dict(package.feature_types), params=dict(package.params or {}),
                         metadata={**metadata, "optimized": facts}, lineage=lineage)
    return load_model(built.save(scratch / "package"))
