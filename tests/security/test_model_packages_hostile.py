"""Hostile model packages on every face that loads one: none runs code or reads outside its package.

Each gadget writes a marker file if its code ever runs; each test asserts the marker is absent
(the attack failed), not only that an error was raised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from package_gadgets import (
    honest_package,
    pickle_gadget,
    set_manifest,
    skops_gadget,
    symlink_entry_archive,
    zip_bomb,
    zip_folder,
)

from tidal.core import TidalError
from tidal.models import (
    ArchiveLimits,
    ModelPackage,
    ModelRegistry,
    PackageRefused,
    allow_skops_types,
    load_model,
)
from tidal.models._archive import extract_archive

CALLEES = ["builtins.eval", "numpy.testing._private.utils.runstring"]


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "code-ran.marker"
    yield path
    assert not path.exists() or path.read_text() == "code ran"


@pytest.mark.parametrize("callee", CALLEES)
def test_skops_gadget_is_refused_by_name_and_runs_nothing(callee, tmp_path, marker):
    package = skops_gadget(tmp_path / "pkg", marker, callee)
    with pytest.raises(TidalError, match=callee.replace(".", r"\.")) as refused:
        load_model(package)
    assert "trust" in str(refused.value)
    assert not marker.exists()
    archive = zip_folder(package, tmp_path / "pkg.zip")
    with pytest.raises(TidalError):
        ModelPackage.load(archive)
    assert not marker.exists()


def test_the_same_gadget_runs_when_the_operator_trusts_it(tmp_path, marker):
    """The gadget is real: trust (the operator's switch) is what stood between it and the machine."""
    package = skops_gadget(tmp_path / "pkg", marker, "builtins.eval")
    try:
        load_model(package, trust=True)
    except Exception:
        pass  # the gadget breaks the estimator it is grafted onto; its code ran before that
    assert marker.read_text() == "code ran"
    marker.unlink()


def test_pickle_package_is_refused_without_trust(tmp_path, marker):
    package = pickle_gadget(tmp_path / "pkg", marker)
    with pytest.raises(TidalError, match="pickle"):
        load_model(package)
    assert not marker.exists()


def test_allow_list_is_exact_names_only():
    for prefix in ("builtins.", "numpy.*", "numpy", ""):
        with pytest.raises(ValueError):
            allow_skops_types(prefix)


@pytest.mark.parametrize("payload", ["/etc/passwd", "../outside/model.pkl", "sub/../../outside/model.pkl",
                                     "..\\outside\\model.pkl", "C:/outside/model.pkl"])
def test_manifest_paths_outside_the_package_are_refused_even_with_trust(payload, tmp_path, marker):
    outside = pickle_gadget(tmp_path / "outside", marker)  # a pickle just beside the package
    assert (outside / "model.pkl").exists()
    package = honest_package(tmp_path / "pkg")
    set_manifest(package, flavor="pickle", payload=payload)
    with pytest.raises(PackageRefused, match="payload"):
        load_model(package, trust=True)
    assert not marker.exists()


def test_a_symlink_inside_a_package_folder_is_refused(tmp_path, marker):
    outside = pickle_gadget(tmp_path / "outside", marker)
    package = honest_package(tmp_path / "pkg")
    (package / "model.pkl").symlink_to(outside / "model.pkl")
    set_manifest(package, flavor="pickle", payload="model.pkl")
    with pytest.raises(PackageRefused, match="symbolic link"):
        load_model(package, trust=True)
    assert not marker.exists()


def test_zip_bomb_is_refused_before_extraction(tmp_path):
    bomb = zip_bomb(honest_package(tmp_path / "pkg"), tmp_path / "bomb.zip", entry_mb=200)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(PackageRefused, match="zip bomb"):
        extract_archive(bomb, scratch)
    assert not list(scratch.rglob("*")), "nothing is extracted from a refused archive"
    with pytest.raises(PackageRefused):
        load_model(bomb)


def test_archive_limits_are_the_operators_to_raise(tmp_path, monkeypatch):
    package = zip_folder(honest_package(tmp_path / "pkg"), tmp_path / "pkg.zip")
    with pytest.raises(PackageRefused, match="entries"):
        ModelPackage.load(package, limits=ArchiveLimits(max_entries=1))
    with pytest.raises(PackageRefused, match="bytes"):
        ModelPackage.load(package, limits=ArchiveLimits(max_total_bytes=100))
    monkeypatch.setenv("TIDAL_PACKAGE_MAX_ENTRIES", "1")
    with pytest.raises(PackageRefused, match="TIDAL_PACKAGE_MAX"):
        ModelPackage.load(package)
    monkeypatch.setenv("TIDAL_PACKAGE_MAX_ENTRIES", "50")
    assert ModelPackage.load(package).task == "binary"


@pytest.mark.parametrize("name", ["../escaped.txt", "/tmp/tidal-absolute-escape.txt", "a/../../escaped.txt",
                                  "..\\escaped.txt"])
def test_archive_entries_leaving_the_package_are_refused(name, tmp_path):
    archive = zip_folder(honest_package(tmp_path / "pkg"), tmp_path / "pkg.zip", extra={name: b"written"})
    with pytest.raises(PackageRefused):
        load_model(archive)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/tidal-absolute-escape.txt").exists()


def test_archive_symlink_entries_are_refused(tmp_path):
    archive = symlink_entry_archive(honest_package(tmp_path / "pkg"), tmp_path / "pkg.zip", "/etc/passwd")
    with pytest.raises(PackageRefused, match="symbolic link"):
        load_model(archive)


@pytest.mark.parametrize("manifest", [b"[1, 2]", b"{" * 100_000, b"\xff\xfe garbage",
                                      json.dumps({"flavor": 1, "payload": "x", "task": "binary"}).encode(),
                                      json.dumps({"flavor": "sklearn", "payload": "model.skops", "task": "rm -rf"}).encode(),
                                      json.dumps({"flavor": "sklearn", "payload": "model.skops", "task": "binary",
                                                  "signature": {"inputs": "a,b"}}).encode()])
def test_malformed_manifests_get_a_clear_refusal(manifest, tmp_path):
    package = honest_package(tmp_path / "pkg")
    (package / "MANIFEST.json").write_bytes(manifest)
    with pytest.raises(TidalError, match="MANIFEST.json"):
        load_model(package)


def test_registry_keeps_gadgets_but_never_loads_them_untrusted(workspace, tmp_path, marker):
    registry = ModelRegistry(workspace)
    version = registry.register(skops_gadget(tmp_path / "pkg", marker, "builtins.eval"), "hostile")
    with pytest.raises(TidalError, match="builtins.eval"):
        registry.load(f"models:/hostile/{version.version}")
    assert not marker.exists()


def test_registering_a_folder_with_a_link_out_is_refused(workspace, tmp_path):
    package = honest_package(tmp_path / "pkg")
    (package / "notes.txt").symlink_to("/etc/passwd")
    with pytest.raises(PackageRefused, match="symbolic link"):
        ModelRegistry(workspace).register(package, "linked")


def _tidal(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tidal.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "TIDAL_HOME": str(cwd)})


def test_cli_register_and_serve_refuse_the_gadget(tmp_path, marker):
    package = skops_gadget(tmp_path / "pkg", marker, "numpy.testing._private.utils.runstring")
    registered = _tidal("models", "register", str(package), "--name", "hostile", cwd=tmp_path)
    assert registered.returncode == 0, registered.stderr
    served = _tidal("serve", "models:/hostile/1", "--port", "1", cwd=tmp_path)
    assert served.returncode == 2, served.stdout + served.stderr
    assert "numpy.testing._private.utils.runstring" in served.stderr and "Traceback" not in served.stderr
    assert not marker.exists()


def test_model_archives_tidal_writes_pass_every_check(tmp_path):
    archive = honest_package(tmp_path / "pkg")
    loaded = ModelPackage.load(ModelPackage.load(archive).save_archive(tmp_path / "again.zip"))
    with zipfile.ZipFile(tmp_path / "again.zip") as opened:
        assert all(not name.startswith("/") and ".." not in name for name in opened.namelist())
    assert loaded.features == ["a", "b"]
