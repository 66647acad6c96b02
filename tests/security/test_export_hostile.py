"""`tidal models export` against hostile input: it never clobbers a file, never writes outside where it
is told, never loads a payload that runs code without --trust, and answers a mistake with exit 2 and
one line (no traceback).

The CLI runs in-process (``tidal.cli.main`` with its arguments), as a user's shell would call it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from unittest import mock

import pytest
from package_gadgets import pickle_gadget

from tidal.cli import main


def tidal(capsys, *args: str) -> tuple[int, str, str]:
    with mock.patch.object(sys, "argv", ["tidal", *args]):
        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, err: str) -> str:
    assert code == 2, err
    # the first line names the workspace the command used (on stderr, like every command)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("workspace: ")]
    assert "Traceback" not in err and lines and lines[0].startswith("error: ")
    return " ".join(lines)  # a long line wraps on a narrow terminal; it is one message


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A workspace with models:/iris@production (logistic regression) and a pickle gadget under 'gadget'."""
    from sklearn.datasets import load_iris

    from tidal.components.classification import logistic_regression
    from tidal.models import ModelRegistry
    from tidal.store import Workspace

    folder = tmp_path_factory.mktemp("export-home")
    workspace = Workspace.open(folder)
    registry = ModelRegistry(workspace)
    registry.register(logistic_regression(load_iris(as_frame=True).frame, label="target"), "iris", alias="production")
    registry.register(pickle_gadget(folder / "gadget-package", folder / "MARKER"), "gadget")
    workspace.close()
    return folder


def test_an_existing_output_file_is_never_replaced_without_force(home, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "iris-1.onnx"  # the default name: NAME-VERSION.onnx here
    victim.write_text("precious")
    message = refused(*tidal(capsys, "--home", str(home), "models", "export", "iris@production", "--to", "onnx")[::2])
    assert "already exists" in message and "--force" in message
    assert victim.read_text() == "precious"
    code, out, err = tidal(capsys, "--home", str(home), "models", "export", "iris@production", "--to", "onnx", "--force")
    assert code == 0, err
    assert "exported models:/iris/1 to" in out and "checked on" in out
    assert victim.read_bytes()[:2] != b"pr"  # now the ONNX graph
    assert sorted(item.name for item in tmp_path.iterdir()) == ["iris-1.onnx"]  # no scratch file left behind


def test_force_through_a_symbolic_link_replaces_the_link_not_its_target(home, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.onnx"
    link.symlink_to(victim)
    refused(*tidal(capsys, "--home", str(home), "models", "export", "iris", "--to", "onnx", "-o", str(link))[::2])
    assert victim.read_text() == "precious"
    code, _, err = tidal(capsys, "--home", str(home), "models", "export", "iris", "--to", "onnx", "-o", str(link), "--force")
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.stat().st_size > 100


@pytest.mark.parametrize("name", ["../../escape", "..", "iris/../../escape", "/etc/passwd", "iris@../x", "iris/1/../2"])
def test_model_names_that_look_like_paths_are_refused_and_write_nothing(home, tmp_path, capsys, monkeypatch, name):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    message = refused(*tidal(capsys, "--home", str(home), "models", "export", name, "--to", "onnx")[::2])
    assert "not valid" in message or "must be a positive whole number" in message
    assert [str(item.relative_to(tmp_path)) for item in tmp_path.rglob("*")] == ["a", os.path.join("a", "b")]


def test_a_pickle_payload_is_not_loaded_without_trust(home, tmp_path, capsys):
    target = tmp_path / "gadget.onnx"
    message = refused(*tidal(capsys, "--home", str(home), "models", "export", "gadget", "--to", "onnx",
                             "-o", str(target))[::2])
    assert "pickle" in message and "--trust" in message
    assert not (home / "MARKER").exists(), "the pickle payload ran"
    assert not target.exists()


def test_an_output_in_a_missing_folder_or_a_folder_itself_is_refused(home, tmp_path, capsys):
    message = refused(*tidal(capsys, "--home", str(home), "models", "export", "iris", "--to", "pmml",
                             "-o", str(tmp_path / "nowhere" / "m.pmml"))[::2])
    assert "does not exist" in message
    message = refused(*tidal(capsys, "--home", str(home), "models", "export", "iris", "--to", "onnx", "-o", str(tmp_path))[::2])
    assert "is a folder" in message
    assert not list(tmp_path.iterdir())
