"""Fixtures for the network tests; the helpers are in nn_helpers.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch
