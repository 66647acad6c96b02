"""The one place that decides which model payloads load without the operator's trust.

Every loader of model payloads asks here: model packages (every flavor, nested pipeline steps),
registry versions, AutoML trials, serving and the runtime's stored outputs all go through
:meth:`tidal.models.ModelPackage.load`, whose flavors call :func:`load_skops` and
:func:`require_trust`.

skops payloads are checked against an **exact** allow-list of type names: the types that
Tidal's own components and flavors produce and that skops does not already trust by default.
A module prefix is never enough (``builtins.eval`` and ``numpy.testing`` functions share their
modules with harmless types). Anything else is refused, naming the type, unless the operator
trusts the source (``trust=True``; CLI ``--trust``).

Adding a component whose model holds a new type: add the exact name below; the conformance
suite's model round-trip (which loads without trust) fails until you do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tidal.core._errors import UnsafeModelError

#: scikit-learn internals that fitted estimators hold and skops does not trust by default
_SKLEARN_TYPES = frozenset({
    # losses held by gradient boosting and histogram gradient boosting
    "sklearn._loss.loss.AbsoluteError",
    "sklearn._loss.loss.ExponentialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfGammaLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfPoissonLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfTweedieLoss",
    "sklearn._loss.loss.HalfTweedieLossIdentity",
    "sklearn._loss.loss.HuberLoss",
    "sklearn._loss.loss.PinballLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    # calibration
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # clustering internals (a bisecting tree; the k-means variant function chosen at fit)
    "sklearn.cluster._bisect_k_means._BisectingTree",
    "sklearn.cluster._kmeans._kmeans_single_elkan",
    "sklearn.cluster._kmeans._kmeans_single_lloyd",
    # trees and their predictors
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    # neighbour search structures and distance metrics
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    # cross-validation splitters kept by *CV estimators
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    # neural network optimizers kept by MLP estimators
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
})

#: Tidal's own model classes (plain attributes: numpy arrays, lists, numbers, strings)
_TIDAL_TYPES = frozenset({
    "tidal.components._centers.NearestCenter",
    "tidal.components._detectors.AnomalyModel",
    "tidal.components._detectors.BoxPlotDetector",
    "tidal.components._detectors.KSigmaDetector",
    "tidal.components._factorization.FactorizationMachineClassifier",
    "tidal.components._finance_binning.WoeBinner",
    "tidal.components._forecasters.GroupedForecaster",
    "tidal.components._forecasters.StatsForecaster",
    "tidal.components._forecasters.TimeAxis",
    "tidal.components._recommenders.AlternatingLeastSquares",
    "tidal.components._recommenders.FactorizationMachine",
    "tidal.components._recommenders.NeighborhoodModel",
    "tidal.components._recommenders.PopularityModel",
    "tidal.components._text.TextVectorizer",
    "tidal.components._transforms.ColumnSubset",
    "tidal.components._transforms.FrequencyEncoder",
    "tidal.components._transforms.HashingEncoder",
})

#: every type name a skops payload may hold beyond skops' own defaults, without trust
TRUSTED_SKOPS_TYPES: frozenset[str] = _SKLEARN_TYPES | _TIDAL_TYPES

_EXTRA_TYPES: set[str] = set()


def allow_skops_types(*names: str) -> None:
    """Add exact type names (``module.Class``) to the allow-list, e.g. for a plug-in's own model class.

    A plug-in calls this at import time for the classes its components store. Names must be
    exact: a trailing ``.`` or a ``*`` (a module prefix) is refused.
    """
    for name in names:
        if not name or name.endswith(".") or "*" in name or "." not in name:
            raise ValueError(f"'{name}' is not an exact type name (module.Class); prefixes are never trusted")
    _EXTRA_TYPES.update(names)


def trusted_skops_types() -> frozenset[str]:
    return TRUSTED_SKOPS_TYPES | frozenset(_EXTRA_TYPES)


def require_trust(trust: bool, what: str, where: str | Path) -> None:
    """Refuse a payload that can run code (a pickle, a custom processor) unless the operator trusts it."""
    if not trust:
        raise UnsafeModelError(
            f"model at {where} is {what}, and loading it can run any code; load it only if you trust "
            "its source, with trust=True (CLI: --trust, set by whoever runs Tidal, never by a request)"
        )


def load_skops(path: Path, *, trust: bool, where: str | Path | None = None) -> Any:
    """Load a skops file; types outside the allow-list are refused (named) unless ``trust``."""
    from tidal.models._skops import skops_io

    skops = skops_io()
    try:
        untrusted = skops.get_untrusted_types(file=path)
    except Exception as error:  # a malformed schema is a refusal, not a crash
        raise UnsafeModelError(f"model at {where or path} has an unreadable skops payload: "
                               f"{type(error).__name__}: {error}") from None
    allowed = trusted_skops_types()
    unknown = sorted(name for name in untrusted if name not in allowed)
    if unknown and not trust:
        raise UnsafeModelError(
            f"model at {where or path} holds types that Tidal does not know to be safe: {', '.join(unknown)}; "
            "load it only if you trust its source, with trust=True (CLI: --trust)"
        )
    return skops.load(path, trusted=list(untrusted) if trust else [name for name in untrusted if name in allowed])
