"""The ``pmml`` model flavor: a PMML document served by Tidal's own evaluator (no JVM).

The evaluator lives in :mod:`tidal.models._pmml` (checked against JPMML-Evaluator to 1e-9); this
module only stores the document in a model package and describes it. A document the evaluator
cannot evaluate in full is refused when the package is made or loaded, naming the element.

Rows the model gives no prediction for (JPMML's null: a missing input under ``nullPrediction``, a
regression input that is missing) predict ``NaN`` (regression) or ``None`` (classification), with
``NaN`` probabilities; the JSON routes answer ``null`` for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tidal.models._flavors import register_flavor
from tidal.models._pmml import PmmlModel


class PmmlFlavor:
    name = "pmml"
    libraries = ("numpy",)

    def accepts(self, model: Any) -> bool:
        return isinstance(model, PmmlModel)

    def save(self, model: Any, folder: Path) -> str:
        (folder / "model.pmml").write_bytes(model.document)
        return "model.pmml"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        return PmmlModel((folder / payload).read_bytes(), payload)


def pmml_package(pmml_file: str | Path) -> Any:
    """A model package from a PMML file: inputs, task and classes come from the document."""
    from tidal.models import ModelPackage

    model = PmmlModel.from_path(pmml_file)
    if model.function == "classification" and not model.gives_probabilities:
        task = "other"  # predicts classes by votes (SVM, neighbours, rule sets): no probabilities to serve
    elif model.function == "classification":
        task = "binary" if len(model.classes) == 2 else "multiclass"
    elif model.function == "clustering":
        task = "clustering"
    else:
        task = "regression"
    return ModelPackage(model=model, task=task, features=list(model.features), flavor="pmml", label=model.target,
                        classes=model.classes or None, feature_types=model.feature_types)


register_flavor(PmmlFlavor())
