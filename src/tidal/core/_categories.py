"""Titles of the component categories, in one table: the Studio's palette, the catalogue and the CLI use them.

A category is the first part of a component id (``io`` in ``io.read_csv``). Its title is for people:
``IO``, ``AutoML``, ``Reinforcement learning``. A plug-in's own category without an entry here gets
its id with the first letter capitalised and underscores as spaces.
"""

from __future__ import annotations

CATEGORY_TITLES = {
    "anomaly": "Anomaly detection",
    "automl": "AutoML",
    "classification": "Classification",
    "clustering": "Clustering",
    "data": "Data preparation",
    "evaluation": "Evaluation",
    "features": "Feature engineering",
    "finance": "Finance",
    "graph": "Graph",
    "io": "IO",
    "model": "Models",
    "nn": "Neural networks",
    "recommendation": "Recommendation",
    "regression": "Regression",
    "rl": "Reinforcement learning",
    "speech": "Speech",
    "stats": "Statistics",
    "stream": "Streaming",
    "text": "Text",
    "timeseries": "Time series",
    "tools": "Tools",
    "vision": "Vision",
}


def category_title(category: str) -> str:
    """The title of ``category`` (``io`` -> ``IO``); an unknown one is its id, capitalised."""
    title = CATEGORY_TITLES.get(category)
    if title is not None:
        return title
    text = category.replace("_", " ")
    return text[:1].upper() + text[1:]
