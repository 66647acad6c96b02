"""Shared helpers for the network tests: the example specs and a small spec builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "nn"


def network(layers: list[dict[str, Any]], inputs: dict[str, Any] | None = None, outputs: Any = None,
            **extra: Any) -> dict[str, Any]:
    """A network file as data: ``inputs`` default to ``x: [batch, 8]``, outputs to the last layer."""
    return {
        "tidal-nn": 1,
        "name": extra.pop("name", "test-net"),
        "inputs": inputs or {"x": {"shape": ["batch", 8]}},
        "layers": layers,
        "outputs": outputs or {"y": layers[-1]["id"]},
        **extra,
    }


def spec_of(data: dict[str, Any]):
    from tidal.nn import NetworkSpec

    return NetworkSpec.from_dict(data)


def write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch
