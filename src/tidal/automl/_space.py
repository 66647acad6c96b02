"""Search spaces: uniform, log-uniform, integer and choice dimensions, with conditions.

A space comes from a component's own parameter declarations (:meth:`SearchSpace.from_component`:
parameters marked ``Param(tune=True)`` with their ``low``/``high``/``log`` hints, and ``Literal``
choices) or is written by the user in YAML or Python::

    learning_rate: {type: float, low: 0.01, high: 0.3, log: true}
    num_leaves: {type: int, low: 8, high: 128}
    boosting: {type: choice, values: [gbdt, dart]}
    drop_rate: {type: float, low: 0.05, high: 0.5, when: {boosting: dart}}

    SearchSpace([loguniform("learning_rate", 0.01, 0.3), randint("num_leaves", 8, 128)])

Every dimension maps its values to and from the unit interval, which is where the
evolutionary optimizer and population-based training measure distances and perturb.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

import numpy as np

from tidal.core._errors import TidalError

KINDS = ("float", "int", "choice")


class SpaceError(TidalError):
    """A search space that cannot be used: says which parameter and what to write instead."""


@dataclass(frozen=True)
class Dimension:
    """One tunable parameter. ``when`` makes it conditional: ``{"boosting": "dart"}``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    values: tuple[Any, ...] = ()
    when: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        where = f"search space parameter '{self.name}'"
        if self.kind not in KINDS:
            raise SpaceError(f"{where}: type must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.kind == "choice":
            if not self.values:
                raise SpaceError(f"{where}: a choice needs 'values', e.g. values: [a, b]")
            return
        if self.low is None or self.high is None:
            raise SpaceError(f"{where}: a {self.kind} needs both 'low' and 'high'")
        if not self.low < self.high:
            raise SpaceError(f"{where}: low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise SpaceError(f"{where}: a log-scale range must be positive (low is {self.low}); set log: false or raise low")

    # -- the unit interval --------------------------------------------------------------------
    def to_unit(self, value: Any) -> float:
        if self.kind == "choice":
            index = self.values.index(value) if value in self.values else 0
            return (index + 0.5) / len(self.values)
        assert self.low is not None and self.high is not None
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (float(value) - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> Any:
        unit = min(1.0, max(0.0, float(unit)))
        if self.kind == "choice":
            return self.values[min(len(self.values) - 1, int(unit * len(self.values)))]
        assert self.low is not None and self.high is not None
        if self.log:
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + unit * (self.high - self.low)
        if self.kind == "int":
            return int(min(self.high, max(self.low, round(value))))
        return float(min(self.high, max(self.low, value)))

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        if self.kind == "int" and not self.log:
            return int(rng.integers(int(self.low), int(self.high) + 1))  # type: ignore[arg-type]
        return self.from_unit(float(rng.uniform()))

    def grid(self, points: int) -> list[Any]:
        if self.kind == "choice":
            return list(self.values)
        values = [self.from_unit(unit) for unit in np.linspace(0.0, 1.0, max(2, points))]
        unique: list[Any] = []
        for value in values:
            if value not in unique:
                unique.append(value)
        return unique

    def active(self, params: dict[str, Any]) -> bool:
        return all(params.get(name) == value for name, value in self.when.items())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.kind == "choice":
            out["values"] = list(self.values)
        else:
            out.update(low=self.low, high=self.high)
            if self.log:
                out["log"] = True
        if self.when:
            out["when"] = dict(self.when)
        return out


def uniform(name: str, low: float, high: float, **when: Any) -> Dimension:
    return Dimension(name, "float", low, high, when=when)


def loguniform(name: str, low: float, high: float, **when: Any) -> Dimension:
    return Dimension(name, "float", low, high, log=True, when=when)


def randint(name: str, low: int, high: int, *, log: bool = False, **when: Any) -> Dimension:
    return Dimension(name, "int", low, high, log=log, when=when)


def choice(name: str, values: list[Any], **when: Any) -> Dimension:
    return Dimension(name, "choice", values=tuple(values), when=when)


class SearchSpace:
    """An ordered set of dimensions; conditional ones follow the parameters they depend on."""

    def __init__(self, dimensions: list[Dimension]) -> None:
        self.dimensions = list(dimensions)
        names = [item.name for item in self.dimensions]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SpaceError(f"search space parameter(s) {', '.join(duplicates)} declared twice")
        for item in self.dimensions:
            for parent in item.when:
                if parent not in names or names.index(parent) > names.index(item.name):
                    raise SpaceError(
                        f"search space parameter '{item.name}': its condition names '{parent}', which must be "
                        "declared before it in the space"
                    )
        if not self.dimensions:
            raise SpaceError("the search space is empty: give search_space, or a trainer with tunable parameters")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    def __getitem__(self, name: str) -> Dimension:
        for item in self.dimensions:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.dimensions]

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SearchSpace:
        """The YAML form: ``{name: {type, low, high, log, values, when}}``; a bare list is a choice."""
        if not isinstance(spec, dict):
            raise SpaceError(f"search_space must be a mapping of parameter names to ranges, got {type(spec).__name__}")
        dimensions = []
        for name, item in spec.items():
            if isinstance(item, list):
                item = {"type": "choice", "values": item}
            if not isinstance(item, dict):
                raise SpaceError(
                    f"search space parameter '{name}': write a mapping such as "
                    "{type: float, low: 0.01, high: 0.3, log: true} or a list of choices"
                )
            unknown = set(item) - {"type", "low", "high", "log", "values", "when"}
            if unknown:
                raise SpaceError(f"search space parameter '{name}': unknown key(s) {', '.join(sorted(unknown))}")
            kind = item.get("type") or ("choice" if "values" in item else "float")
            dimensions.append(Dimension(
                str(name), kind, item.get("low"), item.get("high"), bool(item.get("log", False)),
                tuple(item.get("values") or ()), dict(item.get("when") or {}),
            ))
        return cls(dimensions)

    def to_dict(self) -> dict[str, Any]:
        return {item.name: item.to_dict() for item in self.dimensions}

    @classmethod
    def from_component(cls, spec: Any, include: list[str] | None = None) -> SearchSpace:
        """Default ranges from a component's declarations: ``Param(tune=True, low, high, log)``, Literal choices.

        ``include`` picks parameters by name (choices and bounded numbers are then used even if
        they are not marked ``tune``).
        """
        dimensions = []
        for param in spec.params:
            if include is not None and param.name not in include:
                continue
            if include is None and not param.meta.tune:
                continue
            dimension = _dimension_of(param)
            if dimension is None:
                if include is not None:
                    raise SpaceError(f"{spec.id} parameter '{param.name}' has no declared range; give it in search_space")
                continue
            dimensions.append(dimension)
        if not dimensions:
            raise SpaceError(f"{spec.id} declares no tunable parameters (Param(tune=True)); give search_space explicitly")
        return cls(dimensions)

    # -- using ------------------------------------------------------------------------------------
    def active(self, params: dict[str, Any]) -> dict[str, Any]:
        """Only the parameters whose conditions hold."""
        chosen: dict[str, Any] = {}
        for item in self.dimensions:
            if item.name in params and item.active(chosen):
                chosen[item.name] = params[item.name]
        return chosen

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return self.active({item.name: item.sample(rng) for item in self.dimensions})

    def to_unit(self, params: dict[str, Any]) -> np.ndarray:
        """Unit coordinates; an inactive parameter sits at the middle."""
        return np.array([item.to_unit(params[item.name]) if item.name in params else 0.5 for item in self.dimensions])

    def from_unit(self, units: np.ndarray) -> dict[str, Any]:
        return self.active({item.name: item.from_unit(unit) for item, unit in zip(self.dimensions, units, strict=True)})

    def grid(self, budget: int) -> list[dict[str, Any]]:
        """A full grid: choices take every value; numbers get as many points as keep it near ``budget``."""
        choices = math.prod(len(item.values) for item in self.dimensions if item.kind == "choice")
        numeric = [item for item in self.dimensions if item.kind != "choice"]
        points = 2
        if numeric:
            room = max(1.0, budget / max(1, choices))
            points = max(2, int(math.floor(room ** (1.0 / len(numeric)) + 1e-9)))
        axes = [item.grid(points) for item in self.dimensions]
        seen: list[dict[str, Any]] = []
        for combination in itertools.product(*axes):
            params = self.active(dict(zip(self.names, combination, strict=True)))
            if params not in seen:
                seen.append(params)
        return seen


def _dimension_of(param: Any) -> Dimension | None:
    annotation = param.annotation
    origin = get_origin(annotation)
    if origin is Literal:
        values = get_args(annotation)
        return Dimension(param.name, "choice", values=tuple(values))
    base = annotation
    if origin is not None:  # int | None
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        base = members[0] if len(members) == 1 else None
    if base is bool:
        return Dimension(param.name, "choice", values=(False, True))
    if base not in (int, float):
        return None
    meta = param.meta
    low = meta.low if meta.low is not None else (meta.ge if meta.ge is not None else meta.gt)
    high = meta.high if meta.high is not None else (meta.le if meta.le is not None else meta.lt)
    if low is None or high is None:
        return None
    if meta.low is None and meta.gt is not None and meta.ge is None:
        low = low + (1 if base is int else 1e-9 * max(1.0, abs(high)))
    if meta.high is None and meta.lt is not None and meta.le is None:
        high = high - (1 if base is int else 1e-9 * max(1.0, abs(high)))
    return Dimension(param.name, "int" if base is int else "float", low, high, log=meta.log and low > 0)
