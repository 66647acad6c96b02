"""Symbolic dims: numbers fold at once, expressions keep one canonical form."""

from __future__ import annotations

import pytest

from tidal.nn._dims import (
    Expr,
    add,
    ceildiv,
    exact_div,
    floordiv,
    format_shape,
    mul,
    product,
    sub,
    substitute,
    symbol,
)

h, w, batch = symbol("h"), symbol("w"), symbol("batch")


def test_numbers_fold_to_ints():
    assert add(floordiv(sub(28, 3), 1), 1) == 26
    assert isinstance(sub(h, h), int) and sub(h, h) == 0
    assert product([2, 3, 4]) == 24


def test_two_routes_to_the_same_size_compare_equal():
    # (h - 3)//2 + 1 (a 3x3 conv, stride 2) and (h - 1)//2 (a 1x1 conv, stride 2, minus 1 plus 1)
    assert add(floordiv(sub(h, 3), 2), 1) == floordiv(sub(h, 1), 2)
    assert str(floordiv(sub(h, 1), 2)) == "(h + 1)//2 - 1"
    # padding 1, kernel 3, stride 1 keeps the size exactly
    assert add(floordiv(sub(add(h, 2), 3), 1), 1) == h


def test_floor_atoms_are_reduced():
    assert floordiv(mul(2, h), 2) == h
    assert floordiv(add(mul(2, h), 2), 4) == floordiv(add(h, 1), 2)
    assert ceildiv(h, 2) == floordiv(add(h, 1), 2)
    assert str(mul(floordiv(h, 2), floordiv(h, 2))) == "(h//2)**2"


def test_products_and_exact_division():
    flat = product([batch, 64, h, w])
    assert str(flat) == "64*batch*h*w"
    assert exact_div(mul(batch, 3136), 3136) == batch
    assert exact_div(mul(batch, 3136), 3000) is None
    assert exact_div(12, 5) is None


def test_substitution_evaluates_numbers():
    size = add(floordiv(sub(h, 3), 2), 1)
    assert substitute(size, {"h": 28}) == 13
    assert substitute(mul(16, mul(floordiv(h, 2), floordiv(h, 2))), {"h": 9}) == 256
    assert substitute(size, {"w": 4}) == size
    assert isinstance(size, Expr) and size.symbols == {"h"}


def test_format_and_errors():
    assert format_shape((batch, 3, add(h, 2))) == "[batch, 3, h + 2]"
    assert str(sub(1, h)) == "-h + 1"
    with pytest.raises(ValueError):
        floordiv(h, 0)
