"""Fixtures for the vision tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits: 64 pixel columns (0..16) and the target."""
    from sklearn.datasets import load_digits

    return load_digits(as_frame=True).frame
