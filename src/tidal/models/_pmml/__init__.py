"""Tidal's PMML evaluator: pure Python and numpy, checked against JPMML-Evaluator to 1e-9.

Load a document with :class:`PmmlModel` (``PmmlModel.from_path("model.pmml")``); everything the
evaluator cannot evaluate is refused at load with :class:`PmmlUnsupported`, naming the element or
attribute. Scoring is vectorised over the rows of a DataFrame.

Modules: ``_document`` (safe XML, refusing unread parts), ``_values`` (typed columns),
``_context`` (field scopes), ``_transformations`` and ``_functions`` (derived fields),
``_predicates``, ``_schema`` (data dictionary, mining fields), ``_results`` (predictions, targets,
math context), ``_base`` (what all models share, outputs), ``_regression``, ``_trees``, ``_mining``,
and ``_evaluator`` (the facade).
"""

from tidal.models._pmml._document import PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._evaluator import PANDAS_TYPES, PmmlModel

__all__ = ["PANDAS_TYPES", "PmmlInvalid", "PmmlModel", "PmmlUnsupported"]
