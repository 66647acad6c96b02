"""Symbolic tensor dimensions: numbers where they are known, canonical expressions where not.

A dimension is an ``int`` or an :class:`Expr`, a polynomial with integer coefficients over
*atoms*: symbol names (``batch``, ``seq``, ``h``) and floor divisions (``(h + 1)//2``). Every
operation folds numbers at once (``(28 - 3)//1 + 1`` is ``26``) and keeps expressions in one
canonical form, so that two routes to the same size compare equal: ``(h - 3)//2 + 1`` and
``(h - 1)//2`` are both ``(h + 1)//2 - 1``. An expression that would be a plain number is
always returned as an ``int``.

Canonical floor atoms: ``floor((P + c)/d)`` keeps only the part of ``P`` that ``d`` does not
divide, its constant in ``[0, d)``, and no factor common to all of it and ``d``; whatever is
pulled out is added outside. Pure Python and small, because shape inference runs on every edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import gcd
from typing import Union

Atom = Union[str, "Floor"]
Monomial = tuple[Atom, ...]
Dim = Union[int, "Expr"]


def _atom_key(atom: Atom) -> tuple[int, str]:
    return (0, atom) if isinstance(atom, str) else (1, atom.text)


def _monomial_key(monomial: Monomial) -> tuple[int, tuple[tuple[int, str], ...]]:
    return (-len(monomial), tuple(_atom_key(atom) for atom in monomial))


class Floor:
    """The atom ``floor(numerator / denominator)``, with a canonical non-constant numerator."""

    __slots__ = ("denominator", "numerator", "text")

    def __init__(self, numerator: Expr, denominator: int) -> None:
        self.numerator = numerator
        self.denominator = denominator
        simple = len(numerator.terms) == 1 and numerator.terms[0][1] == 1 and len(numerator.terms[0][0]) == 1
        simple = simple and isinstance(numerator.terms[0][0][0], str)
        self.text = f"{numerator}//{denominator}" if simple else f"({numerator})//{denominator}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Floor) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return self.text


class Expr:
    """A polynomial over atoms; build it with :func:`symbol` and the functions below, never directly."""

    __slots__ = ("_hash", "terms")

    def __init__(self, terms: tuple[tuple[Monomial, int], ...]) -> None:
        self.terms = terms
        self._hash = hash(terms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Expr({self})"

    def __str__(self) -> str:
        parts: list[str] = []
        for monomial, coefficient in self.terms:
            text = _monomial_text(monomial, abs(coefficient))
            if not parts:
                parts.append(text if coefficient > 0 else f"-{text}")
            else:
                parts.append(f"+ {text}" if coefficient > 0 else f"- {text}")
        return " ".join(parts)

    @property
    def symbols(self) -> set[str]:
        """The symbol names this expression depends on (inside floor atoms too)."""
        found: set[str] = set()
        for monomial, _ in self.terms:
            for atom in monomial:
                if isinstance(atom, str):
                    found.add(atom)
                else:
                    found |= atom.numerator.symbols
        return found


def _monomial_text(monomial: Monomial, coefficient: int) -> str:
    if not monomial:
        return str(coefficient)
    factors: list[str] = []
    index = 0
    while index < len(monomial):
        atom = monomial[index]
        power = 1
        while index + power < len(monomial) and monomial[index + power] == atom:
            power += 1
        index += power
        text = atom if isinstance(atom, str) else atom.text
        if isinstance(atom, Floor) and (power > 1 or len(monomial) > 1 or coefficient != 1):
            text = f"({text})"
        factors.append(text if power == 1 else f"{text}**{power}")
    body = "*".join(factors)
    return body if coefficient == 1 else f"{coefficient}*{body}"


def _make(terms: dict[Monomial, int]) -> Dim:
    cleaned = [(monomial, value) for monomial, value in terms.items() if value]
    if not cleaned:
        return 0
    if len(cleaned) == 1 and cleaned[0][0] == ():
        return cleaned[0][1]
    cleaned.sort(key=lambda item: _monomial_key(item[0]))
    return Expr(tuple(cleaned))


def _terms(dim: Dim) -> dict[Monomial, int]:
    if isinstance(dim, int):
        return {(): dim} if dim else {}
    return dict(dim.terms)


def symbol(name: str) -> Expr:
    """The dimension named ``name`` (``batch``, ``seq``)."""
    return Expr((((name,), 1),))


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    terms = _terms(a)
    for monomial, value in _terms(b).items():
        terms[monomial] = terms.get(monomial, 0) + value
    return _make(terms)


def neg(a: Dim) -> Dim:
    if isinstance(a, int):
        return -a
    return _make({monomial: -value for monomial, value in a.terms})


def sub(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    return add(a, neg(b))


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    terms: dict[Monomial, int] = {}
    for left, x in _terms(a).items():
        for right, y in _terms(b).items():
            monomial = tuple(sorted(left + right, key=_atom_key))
            terms[monomial] = terms.get(monomial, 0) + x * y
    return _make(terms)


def product(dims: list[Dim] | tuple[Dim, ...]) -> Dim:
    total: Dim = 1
    for dim in dims:
        total = mul(total, dim)
    return total


def floordiv(a: Dim, divisor: int) -> Dim:
    """``a // divisor`` for a positive ``divisor``, in canonical form."""
    if divisor <= 0:
        raise ValueError("divisor must be positive")
    if isinstance(a, int):
        return a // divisor
    if divisor == 1:
        return a
    outside: dict[Monomial, int] = {}
    inside: dict[Monomial, int] = {}
    for monomial, value in a.terms:
        quotient, remainder = divmod(value, divisor)
        if quotient:
            outside[monomial] = quotient
        if remainder:
            inside[monomial] = remainder
    if not any(monomial for monomial in inside):  # only a constant in [0, divisor) is left
        return _make(outside)
    common = divisor
    for value in inside.values():
        common = gcd(common, value)
    numerator = _make({monomial: value // common for monomial, value in inside.items()})
    assert isinstance(numerator, Expr)
    outside[(Floor(numerator, divisor // common),)] = 1
    return _make(outside)


def ceildiv(a: Dim, divisor: int) -> Dim:
    """``ceil(a / divisor)`` for a positive ``divisor``."""
    return floordiv(add(a, divisor - 1), divisor)


def exact_div(a: Dim, divisor: int) -> Dim | None:
    """``a / divisor`` when it divides every coefficient, else ``None``."""
    if divisor == 0:
        return None
    if isinstance(a, int):
        return a // divisor if a % divisor == 0 else None
    if any(value % divisor for _, value in a.terms):
        return None
    return _make({monomial: value // divisor for monomial, value in a.terms})


def substitute(dim: Dim, values: Mapping[str, Dim]) -> Dim:
    """``dim`` with the symbols in ``values`` replaced (numbers fold as they appear)."""
    if isinstance(dim, int):
        return dim
    total: Dim = 0
    for monomial, coefficient in dim.terms:
        term: Dim = coefficient
        for atom in monomial:
            if isinstance(atom, str):
                term = mul(term, values.get(atom, symbol(atom)))
            else:
                term = mul(term, floordiv(substitute(atom.numerator, values), atom.denominator))
        total = add(total, term)
    return total


def is_known(dim: Dim) -> bool:
    return isinstance(dim, int)


def format_dim(dim: Dim) -> str:
    return str(dim)


def format_shape(shape: tuple[object, ...] | list[object] | list[int | str]) -> str:
    return "[" + ", ".join(str(dim) for dim in shape) + "]"


def parse_dim(value: int | str) -> Dim:
    """A dimension as written in a spec: a number or a symbol name."""
    return value if isinstance(value, int) else symbol(value)
