"""Hostile policy packages (flavor rl_policy): pickles and SB3 zips never load, paths never leave the
package, and tensors that do not fit the manifest are refused by name.

Gadgets write a marker file if their code ever runs; a secret is a file outside the package holding a
marker string. Each test asserts the attack failed (no marker file, no secret in the message), not
only that an error was raised. Loading with trust changes none of it: a policy package has no
trusted path that unpickles.
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
from package_gadgets import set_manifest, zip_folder

from tidal.models import PackageRefused, load_model

pytest.importorskip("stable_baselines3")
SECRET = "TOP-SECRET-rl-5e1f"


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    """An honest policy package folder (PPO on CartPole, a few steps, with its checkpoint)."""
    import torch

    from tidal.components import rl

    torch.set_num_threads(1)
    trained = rl.train(environment="CartPole-v1", total_timesteps=64, n_steps=32, batch_size=16, n_epochs=1, threads=1)
    return trained.model.save(tmp_path_factory.mktemp("honest") / "model")


@pytest.fixture
def package(honest, tmp_path) -> Path:
    return Path(shutil.copytree(honest, tmp_path / "model"))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran.marker"


def settings(package: Path) -> dict:
    return json.loads((package / "rl.json").read_text())


def write_settings(package: Path, data: dict) -> None:
    (package / "rl.json").write_text(json.dumps(data))


@pytest.mark.parametrize("trust", [False, True])
def test_a_pickled_payload_never_runs(package, marker, trust):
    (package / "policy.pkl").write_bytes(pickle.dumps(_Gadget(marker)))
    set_manifest(package, payload="policy.pkl")
    with pytest.raises(PackageRefused, match="policy.pkl.*a pickle"):
        load_model(package, trust=trust)
    assert not marker.exists()


def test_an_sb3_zip_inside_the_package_is_refused(package, marker, tmp_path):
    """SB3's own format: a zip with 'data' (JSON holding cloudpickled objects) and pytorch_variables.pth."""
    sb3 = tmp_path / "sb3.zip"
    with zipfile.ZipFile(sb3, "w") as archive:
        archive.writestr("data", json.dumps({"policy_class": {":serialized:": pickle.dumps(_Gadget(marker)).hex()}}))
        archive.writestr("pytorch_variables.pth", pickle.dumps(_Gadget(marker)))
    shutil.copy(sb3, package / "model.zip")
    set_manifest(package, payload="model.zip")
    with pytest.raises(PackageRefused, match="model.zip.*Stable-Baselines3 zip.*never loaded"):
        load_model(zip_folder(package, tmp_path / "hostile.zip"), trust=True)
    assert not marker.exists()


def test_a_pickle_beside_honest_files_is_refused(package, marker):
    (package / "extra.pkl").write_bytes(pickle.dumps(_Gadget(marker)))
    with pytest.raises(PackageRefused, match="holds 'extra.pkl'"):
        load_model(package)
    assert not marker.exists()


@pytest.mark.parametrize("field", ["payload", "optimizer"])
def test_paths_outside_the_package_are_never_read(package, tmp_path, field):
    secret = tmp_path / "secret.safetensors"
    secret.write_text(SECRET)
    if field == "payload":
        set_manifest(package, payload="../secret.safetensors")
    else:
        data = settings(package)
        data["checkpoint"]["optimizer"] = "../secret.safetensors"
        write_settings(package, data)
    with pytest.raises(PackageRefused) as caught:
        load_model(package)
    assert "leaves the package" in str(caught.value) and SECRET not in str(caught.value)


def test_a_symlinked_weights_file_is_refused(package, tmp_path):
    secret = tmp_path / "secret.safetensors"
    secret.write_text(SECRET)
    (package / "policy.safetensors").unlink()
    (package / "policy.safetensors").symlink_to(secret)
    with pytest.raises(PackageRefused) as caught:
        load_model(package)
    assert SECRET not in str(caught.value)


def test_weights_that_do_not_fit_the_manifest_are_refused_by_name(package):
    data = settings(package)
    data["policy_kwargs"] = {"net_arch": [32, 32]}
    write_settings(package, data)
    with pytest.raises(PackageRefused, match=r"mlp_extractor.policy_net.0.weight is \[64, 4\].*needs \[32, 4\]"):
        load_model(package)


def test_spaces_that_do_not_fit_the_weights_are_refused(package):
    data = settings(package)
    data["observation_space"] = {"type": "Box", "shape": [7], "dtype": "float32", "low": [0] * 7, "high": [1] * 7}
    write_settings(package, data)
    with pytest.raises(PackageRefused, match=r"is \[64, 4\].*needs \[64, 7\]"):
        load_model(package)


def test_optimizer_state_that_does_not_fit_is_refused(package):
    from safetensors.torch import load, save

    tensors = load((package / "optimizer.safetensors").read_bytes())
    tensors["state.0.exp_avg"] = tensors["state.0.exp_avg"][:3]
    (package / "optimizer.safetensors").write_bytes(save(tensors))
    with pytest.raises(PackageRefused, match=r"optimizer.safetensors does not fit.*state.0.exp_avg is \[3, 4\]"):
        load_model(package)


@pytest.mark.parametrize(("change", "message"), [
    ({"policy_kwargs": {"activation_fn": "os.system"}}, "'activation_fn' must be one of"),
    ({"policy_kwargs": {"optimizer_class": "builtins.eval"}}, "'optimizer_class' must be one of"),
    ({"policy_kwargs": {"features_extractor_class": "x:Y"}}, "not one a policy package may set"),
    ({"policy_kwargs": {"net_arch": [65536, 65536, 65536, 65536]}}, "cannot be built: the policy would hold about"),
    ({"observation_space": {"type": "Dict"}}, "type must be Box or Discrete"),
    ({"observation_space": {"type": "Box", "shape": [10000, 10000], "dtype": "float32", "low": [], "high": []}}, "larger than"),
    ({"algorithm": "SAC"}, "'algorithm' must be one of"),
    ({"policy": "CnnPolicy"}, "'policy' must be 'MlpPolicy'"),
])
def test_a_manifest_naming_other_code_or_huge_shapes_is_refused(package, marker, change, message):
    write_settings(package, {**settings(package), **change})
    with pytest.raises(PackageRefused, match=message):
        load_model(package, trust=True)
    assert not marker.exists()


def test_a_weights_file_that_is_not_safetensors_is_refused(package, marker):
    (package / "policy.safetensors").write_bytes(pickle.dumps(_Gadget(marker)))
    with pytest.raises(PackageRefused, match="policy.safetensors is not a valid safetensors file"):
        load_model(package, trust=True)
    assert not marker.exists()
