"""Hostile torch packages: pickled weights never run, files outside the package are never read, and
weights that do not fit the network are refused by name.

Gadgets write a marker file if their code ever runs; secrets are files outside the package holding
a marker string. Each test asserts the attack failed (no marker file, no secret in the message),
not only that an error was raised.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from package_gadgets import set_manifest, zip_folder

from tidal.core import TidalError
from tidal.models import PackageRefused, load_model

pytest.importorskip("torch")
SECRET = "TOP-SECRET-91c2"


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    """An honest torch package folder (an untrained MLP), copied by each test before it is spoiled."""
    from tidal.nn import parse_network
    from tidal.nn._packages import network_package

    spec = parse_network("""
tidal-nn: 1
name: honest
inputs: {x: {shape: [batch, 3]}}
layers:
  - {id: head, kind: linear, inputs: [x], params: {out_features: 2}}
outputs: {y: head}
""")
    return network_package(spec, seed=0).save(tmp_path_factory.mktemp("honest") / "model")


@pytest.fixture
def package(honest, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(honest, tmp_path / "model"))


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code-ran.marker"


def _settings(folder: Path, **changes) -> None:
    settings = json.loads((folder / "torch.json").read_text())
    settings.update(changes)
    (folder / "torch.json").write_text(json.dumps(settings))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_weights_are_refused_without_trust_and_never_unpickled_even_with_it(package, marker, tmp_path):
    (package / "weights.pt").write_bytes(pickle.dumps(_Gadget(marker)))
    set_manifest(package, payload="weights.pt")
    for source in (package, zip_folder(package, tmp_path / "model.zip")):
        with pytest.raises(TidalError, match="not safetensors.*trust"):
            load_model(source)
        assert not marker.exists()
    # trusted, the file is read with torch.load(weights_only=True), which refuses the gadget's callable
    with pytest.raises(PackageRefused, match="cannot be read as PyTorch weights"):
        load_model(package, trust=True)
    assert not marker.exists()


def test_trusted_state_dict_in_torch_format_loads(package):
    """The trusted path is real: a plain torch.save state_dict loads and predicts."""
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(package / "weights.safetensors"), package / "weights.pt")
    set_manifest(package, payload="weights.pt")
    loaded = load_model(package, trust=True)
    assert loaded.predict({"x_0": [1.0], "x_1": [2.0], "x_2": [3.0]}).shape == (1, 2)


def test_pickled_checkpoints_are_refused_without_trust(package, marker):
    (package / "checkpoints").mkdir()
    (package / "checkpoints" / "epoch_001.pt").write_bytes(pickle.dumps(_Gadget(marker)))
    _settings(package, checkpoints=["checkpoints/epoch_001.pt"])
    with pytest.raises(TidalError, match="checkpoint that is not safetensors"):
        load_model(package)
    assert not marker.exists()


@pytest.mark.parametrize("path", ["../secret.yaml", "/etc/passwd", "network/../../secret.yaml"])
def test_the_network_file_must_lie_inside_the_package(package, path):
    (package.parent / "secret.yaml").write_text(f"tidal-nn: 1\nname: {SECRET}\n")
    _settings(package, network=path)
    with pytest.raises(PackageRefused) as refused:
        load_model(package)
    assert SECRET not in str(refused.value)


def test_sub_network_files_outside_the_network_folder_are_never_read(package):
    (package / "secret.yaml").write_text(f"tidal-nn: 1\nname: {SECRET}\n{SECRET}: 1\n")
    (package / "network" / "network.yaml").write_text("""
tidal-nn: 1
name: honest
inputs: {x: {shape: [batch, 3]}}
layers:
  - {id: head, kind: module, inputs: [x], params: {file: ../secret.yaml}}
outputs: {y: head}
""")
    with pytest.raises(PackageRefused, match="inside the spec's folder") as refused:
        load_model(package)
    assert SECRET not in str(refused.value)


def test_weights_that_do_not_fit_the_network_are_refused_by_key(package):
    import torch
    from safetensors.torch import save_file

    save_file({"head.weight": torch.zeros(2, 5), "head.bias": torch.zeros(2), "extra.weight": torch.zeros(1)},
              package / "weights.safetensors")
    with pytest.raises(PackageRefused, match=r"unexpected extra\.weight; head\.weight is \[2, 5\], the network needs \[2, 3\]"):
        load_model(package)


def test_a_corrupt_safetensors_header_is_refused(package):
    (package / "weights.safetensors").write_bytes((2**40).to_bytes(8, "little") + b"{}")
    with pytest.raises(PackageRefused, match="not a valid safetensors file"):
        load_model(package)


@pytest.mark.parametrize(("changes", "field"), [({"head": "exec"}, "head"), ({"input": {"name": "x", "shape": [-1], "dtype": "float32"}}, "input.shape"),
                                                ({"classes": [{"__class__": "os.system"}]}, "classes"),
                                                ({"scaling": {"mean": [0.0], "std": [1.0]}}, "scaling"),
                                                ({"input": {"name": "y", "shape": [3], "dtype": "float32"}}, "input")])
def test_malformed_settings_are_refused_naming_the_field(package, changes, field):
    _settings(package, **changes)
    with pytest.raises(PackageRefused) as refused:
        load_model(package)
    assert f"'{field}'" in str(refused.value) or "input 'y'" in str(refused.value)


def test_pruning_a_package_whose_weights_name_no_layer_is_refused_by_name():
    """Pruning writes sub-networks out and re-keys the weights: a weight that belongs to no layer (a package
    edited by hand) is refused naming it, before anything is sliced or built."""
    import torch

    import tidal.nn as tnn

    examples = Path(__file__).resolve().parents[2] / "examples" / "nn"
    spec = tnn.load_network(examples / "nested.yaml")
    state = {key: value.clone() for key, value in tnn.build_module(spec).state_dict().items()}
    state["block1.nowhere.weight"] = torch.zeros(1)
    model = tnn.NetworkModel(spec, state, "image", (1, 6, 6), "logits")
    with pytest.raises(TidalError, match=r"weight 'block1.nowhere.weight' belongs to no layer of the network"):
        tnn.prune_network(model, 0.5)
