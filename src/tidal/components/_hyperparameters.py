"""Hyper-parameters: declared over a library's own constraints, and the declarations the
classification and regression families share.

:func:`hyper` and :func:`tuned` declare one hyper-parameter of a wrapped estimator;
:func:`library_params` turns the declarations into annotated component parameters, taking
type, default, bounds and string choices from the library (scikit-learn's
``_parameter_constraints`` and ``__init__``) unless a declaration says otherwise.

Shared declarations follow: trees, neural networks, LightGBM and XGBoost. LightGBM's and
XGBoost's Python packages declare no parameter constraints in code, so their bounds below are
the ones their documentation states; the libraries are imported only when a model is trained,
and packages store the boosters in the libraries' own formats (LightGBM text, XGBoost JSON).
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from tidal.core import Param

# -- declaring hyper-parameters over a library's own constraints --------------------------------

LIBRARY: Any = inspect.Parameter.empty  # "take it from the library"


@dataclass(frozen=True)
class Hyper:
    """A hyper-parameter of a wrapped estimator, as a component parameter.

    Everything left out is derived from the library: the type and default from its ``__init__``,
    bounds and string choices from its constraints. ``choices`` maps a component choice to the
    library value (``{"all": None}``); ``empty`` makes the parameter optional, an empty value
    standing for that library value (``empty="auto"``); ``argument`` is the library's name when
    it differs. ``bounds`` (gt/ge/lt/le) are for libraries that declare none in code.
    """

    help: str
    default: Any = LIBRARY
    kind: type | None = None
    choices: dict[str, Any] | tuple[str, ...] | None = None
    empty: Any = LIBRARY
    argument: str | None = None
    bounds: dict[str, float] = field(default_factory=dict)
    tune: bool = False
    low: float | None = None
    high: float | None = None
    log: bool = False


def hyper(help: str, **options: Any) -> Hyper:
    return Hyper(help, **options)


def tuned(help: str, low: float | None = None, high: float | None = None, *, log: bool = False, **options: Any) -> Hyper:
    """A hyper-parameter AutoML tunes by default, within ``low``..``high``."""
    return Hyper(help, tune=True, low=low, high=high, log=log, **options)


def _is_interval(constraint: Any) -> bool:
    return all(hasattr(constraint, name) for name in ("type", "left", "right", "closed"))


def _string_options(constraints: list[Any]) -> list[str]:
    """Allowed strings, not deprecated ones (scikit-learn ``StrOptions``; ``Hidden`` ones are skipped)."""
    options: list[str] = []
    for constraint in constraints:
        if getattr(constraint, "type", None) is str and hasattr(constraint, "options"):
            deprecated = getattr(constraint, "deprecated", None) or set()
            options += sorted(option for option in constraint.options if option not in deprecated)
    return options


def _interval_bounds(constraints: list[Any], kind: type) -> dict[str, float]:
    for constraint in constraints:
        if not _is_interval(constraint):
            continue
        integral = issubclass(constraint.type, numbers.Integral)
        if integral != (kind is int):
            continue
        bounds: dict[str, float] = {}
        if constraint.left is not None:
            bounds["ge" if constraint.closed in ("left", "both") else "gt"] = constraint.left
        if constraint.right is not None:
            bounds["le" if constraint.closed in ("right", "both") else "lt"] = constraint.right
        return bounds
    return {}


def _kind_of(name: str, default: Any, constraints: list[Any]) -> type:
    if isinstance(default, bool) or "boolean" in [item for item in constraints if isinstance(item, str)]:
        return bool
    for kind in (int, float, str):
        if isinstance(default, kind):
            return kind
    intervals = [item for item in constraints if _is_interval(item)]
    if intervals:
        return int if issubclass(intervals[0].type, numbers.Integral) else float
    if _string_options(constraints):
        return str
    raise TypeError(f"cannot tell the type of hyper-parameter '{name}'; declare kind=")


@dataclass
class LibraryParams:
    """Component parameters declared over a library estimator's arguments."""

    parameters: list[tuple[str, Any, Any]]
    convert: dict[str, Callable[[Any], Any]]
    arguments: dict[str, str]

    def to_library(self, values: dict[str, Any]) -> dict[str, Any]:
        return {self.arguments[name]: self.convert[name](values[name]) for name in self.arguments}


def library_params(make: Callable[..., Any], hypers: dict[str, Hyper]) -> LibraryParams:
    """Turn :class:`Hyper` declarations into annotated component parameters.

    ``make`` is the estimator class (or a builder whose ``_parameter_constraints`` and signature
    describe the same arguments); names it does not know must declare ``kind`` and ``default``.
    """
    try:
        signature = inspect.signature(make).parameters
    except (TypeError, ValueError):
        signature = {}  # type: ignore[assignment]
    constraints_of = getattr(make, "_parameter_constraints", {})
    result = LibraryParams([], {}, {})
    for name, declared in hypers.items():
        argument = declared.argument or name
        constraints = list(constraints_of.get(argument, []))
        library_default = signature[argument].default if argument in signature else LIBRARY
        source_default = declared.default if declared.default is not LIBRARY else library_default
        if source_default is LIBRARY and declared.kind is None:
            raise TypeError(f"{getattr(make, '__name__', make)}: hyper-parameter '{name}' needs default= (the library declares none)")
        kind = declared.kind or (str if declared.choices else _kind_of(name, source_default, constraints))
        optional = declared.empty is not LIBRARY or any(item is None for item in constraints) or library_default is None
        empty = None if declared.empty is LIBRARY else declared.empty
        meta = Param(help=declared.help, tune=declared.tune, low=declared.low, high=declared.high, log=declared.log)
        if kind is str:
            choices = _choices(name, declared, constraints, optional, empty)
            annotation: Any = Annotated[Literal[tuple(choices)], meta]  # type: ignore[misc]
            convert: Callable[[Any], Any] = choices.__getitem__
            default = declared.default if declared.default is not LIBRARY else _choice_for(name, choices, library_default)
        else:
            bounds: dict[str, Any] = declared.bounds or (_interval_bounds(constraints, kind) if kind in (int, float) else {})
            meta = meta.merge(Param(**bounds))
            annotation = Annotated[kind | None, meta] if optional else Annotated[kind, meta]
            convert = _converter(optional, empty)
            default = declared.default if declared.default is not LIBRARY else (None if optional and library_default == empty else library_default)
        result.parameters.append((name, annotation, default))
        result.convert[name] = convert
        result.arguments[name] = argument
    return result


def _choices(name: str, declared: Hyper, constraints: list[Any], optional: bool, empty: Any) -> dict[str, Any]:
    allowed = _string_options(constraints)
    if isinstance(declared.choices, dict):
        choices = dict(declared.choices)
    else:
        choices = {option: option for option in (declared.choices or allowed)}
        if optional and "none" not in choices:
            choices["none"] = empty
    unknown = [value for value in choices.values() if isinstance(value, str) and allowed and value not in allowed]
    if unknown:
        raise TypeError(f"hyper-parameter '{name}': {unknown} not allowed by the library (allowed: {allowed})")
    return choices


def _choice_for(name: str, choices: dict[str, Any], library_default: Any) -> str:
    for choice, value in choices.items():
        if type(value) is type(library_default) and value == library_default:
            return choice
    raise TypeError(f"hyper-parameter '{name}': the library default {library_default!r} is not among the choices; declare default=")


def _converter(optional: bool, empty: Any) -> Callable[[Any], Any]:
    if optional and empty is not None:
        return lambda value: empty if value is None else value
    return lambda value: value


# -- shared declarations ------------------------------------------------------------------------

MAX_DEPTH = tuned("deepest a tree may grow; empty: no limit", 2, 32)
MIN_LEAF = tuned("fewest rows in a leaf", 1, 50, log=True)
N_TREES = tuned("number of trees", 10, 1000, log=True)

NETWORK = {
    "hidden_units": tuned("neurons in each hidden layer", 8, 256, log=True, kind=int, default=100, bounds={"ge": 1}),
    "hidden_layers": tuned("number of hidden layers", 1, 3, kind=int, default=1, bounds={"ge": 1, "le": 10}),
    "activation": hyper("activation of the hidden layers"),
    "alpha": tuned("L2 penalty", 1e-6, 1e-1, log=True),
    "learning_rate_init": tuned("initial step size (adam, sgd)", 1e-4, 1e-1, log=True),
    "max_iter": hyper("epochs at most"),
    "early_stopping": hyper("hold out 10% of the rows and stop when their score stops improving"),
}


def network_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """``hidden_units`` x ``hidden_layers`` become scikit-learn's ``hidden_layer_sizes``."""
    arguments = dict(arguments)
    width, depth = arguments.pop("hidden_units"), arguments.pop("hidden_layers")
    return {**arguments, "hidden_layer_sizes": (width,) * depth}


def lightgbm_estimator(kind: str) -> Callable[..., Any]:
    def make(**arguments: Any) -> Any:
        import lightgbm

        estimator = lightgbm.LGBMClassifier if kind == "classification" else lightgbm.LGBMRegressor
        return estimator(verbose=-1, **arguments)

    return make


def xgboost_estimator(kind: str) -> Callable[..., Any]:
    def make(**arguments: Any) -> Any:
        import xgboost

        estimator = xgboost.XGBClassifier if kind == "classification" else xgboost.XGBRegressor
        return estimator(tree_method="hist", **arguments)

    return make


LIGHTGBM = {
    "n_estimators": tuned("number of boosting rounds", 50, 2000, log=True, default=100, kind=int, bounds={"ge": 1}),
    "learning_rate": tuned("shrinkage of each tree", 0.005, 0.3, log=True, default=0.1, kind=float, bounds={"gt": 0}),
    "num_leaves": tuned("most leaves per tree", 8, 256, log=True, default=31, kind=int, bounds={"gt": 1, "le": 131072}),
    "max_depth": hyper("deepest a tree may grow; empty: no limit", default=None, kind=int, empty=-1, bounds={"ge": 1}),
    "min_child_samples": tuned("fewest rows in a leaf", 5, 200, log=True, default=20, kind=int, bounds={"ge": 0}),
    "subsample": tuned("share of rows each round sees (needs subsample_freq > 0)", 0.5, 1.0, default=1.0, kind=float, bounds={"gt": 0, "le": 1}),
    "subsample_freq": hyper("bag rows every k rounds; 0: never", default=0, kind=int, bounds={"ge": 0}),
    "colsample_bytree": tuned("share of features each tree sees", 0.3, 1.0, default=1.0, kind=float, bounds={"gt": 0, "le": 1}),
    "reg_alpha": tuned("L1 penalty on leaf values", 1e-8, 10.0, log=True, default=0.0, kind=float, bounds={"ge": 0}),
    "reg_lambda": tuned("L2 penalty on leaf values", 1e-8, 10.0, log=True, default=0.0, kind=float, bounds={"ge": 0}),
}

XGBOOST = {
    "n_estimators": tuned("number of boosting rounds", 50, 2000, log=True, default=100, kind=int, bounds={"ge": 1}),
    "learning_rate": tuned("shrinkage of each tree (eta)", 0.005, 0.3, log=True, default=0.3, kind=float, bounds={"gt": 0}),
    "max_depth": tuned("depth of each tree", 2, 12, default=6, kind=int, bounds={"ge": 1}),
    "min_child_weight": tuned("least hessian weight in a leaf", 0.1, 20.0, log=True, default=1.0, kind=float, bounds={"ge": 0}),
    "subsample": tuned("share of rows each round sees", 0.5, 1.0, default=1.0, kind=float, bounds={"gt": 0, "le": 1}),
    "colsample_bytree": tuned("share of features each tree sees", 0.3, 1.0, default=1.0, kind=float, bounds={"gt": 0, "le": 1}),
    "gamma": tuned("least loss reduction to make a split", 1e-8, 5.0, log=True, default=0.0, kind=float, bounds={"ge": 0}),
    "reg_alpha": tuned("L1 penalty on leaf weights", 1e-8, 10.0, log=True, default=0.0, kind=float, bounds={"ge": 0}),
    "reg_lambda": tuned("L2 penalty on leaf weights", 1e-3, 10.0, log=True, default=1.0, kind=float, bounds={"ge": 0}),
    "max_bin": hyper("histogram bins per feature", default=256, kind=int, bounds={"ge": 2}),
}

# The package stores the booster: in memory it predicts exactly as it will after a reload.
LIGHTGBM_CAPABILITIES: dict[str, Any] = {"seed": True, "handles_missing": True, "supports_weights": True, "native": lambda estimator: estimator.booster_}
XGBOOST_CAPABILITIES: dict[str, Any] = {"seed": True, "handles_missing": True, "supports_weights": True, "native": lambda estimator: estimator.get_booster()}
