"""Every category people see has a proper title, from the one table in tidal.core._categories."""

from __future__ import annotations

from tidal.core import registry
from tidal.core._categories import CATEGORY_TITLES, category_title


def test_every_built_in_category_has_a_title_in_the_table():
    categories = {spec.category for spec in registry.all() if spec.func.__module__.startswith("tidal.components.")}
    missing = sorted(categories - set(CATEGORY_TITLES))
    assert not missing, f"add titles for {missing} to CATEGORY_TITLES in src/tidal/core/_categories.py"


def test_titles_are_for_people_and_unknown_ones_fall_back():
    assert (category_title("io"), category_title("automl"), category_title("rl")) == ("IO", "AutoML", "Reinforcement learning")
    assert category_title("my_plugin") == "My plugin"
