"""`tidal optimize` against hostile input: a crafted ONNX file never makes it read outside its folder or
allocate what a tensor declares, and a pickled payload never runs without --trust. Every refusal is
exit 2 with one line, no traceback, and nothing written.

The CLI runs in-process (``tidal.cli.main`` with its arguments), as a user's shell would call it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from package_gadgets import pickle_gadget

from tidal.cli import main
from tidal.optimize import OptimizeRefused, check_onnx_file


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
    assert "Traceback" not in err and "error: " in err
    return " ".join(err[err.index("error: "):].split())  # the message, unwrapped (the progress notice comes first)


def graph(initializer) -> bytes:
    """y = x + w, with ``w`` the given initializer."""
    from onnx import TensorProto, helper

    node = helper.make_node("Add", ["x", initializer.name], ["y"])
    body = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])], [initializer])
    return helper.make_model(body, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture
def rows(tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    pd.DataFrame({"x": np.arange(8.0), "label": np.arange(8.0)}).to_csv(path, index=False)
    return path


def test_an_external_data_path_escaping_the_folder_is_refused_before_anything_reads_it(tmp_path, rows, capsys, monkeypatch):
    from onnx import TensorProto, helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.float32(7.0).tobytes())
    folder = tmp_path / "models"
    folder.mkdir()
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "4")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    (folder / "evil.onnx").write_bytes(graph(weight))
    monkeypatch.chdir(tmp_path)
    code, out, err = tidal(capsys, "optimize", str(folder / "evil.onnx"), "--data", str(rows), "--label", "label",
                           "-o", "out")
    message = refused(code, err)
    assert "keeps its data in an external file ('../secret.bin')" in message and "self-contained" in message
    assert "7.0" not in out + err and not (tmp_path / "out").exists()


def test_a_huge_declared_tensor_is_refused_without_allocating_it(tmp_path, rows, capsys, monkeypatch):
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    weight.dims[:] = [1 << 20, 1 << 20, 1 << 10]  # 2**50 floats declared, four bytes held
    weight.ClearField("float_data")
    weight.raw_data = b"\0\0\0\0"
    path = tmp_path / "huge.onnx"
    path.write_bytes(graph(weight))
    with pytest.raises(OptimizeRefused, match="declares shape .* more than 2147483648 elements"):
        check_onnx_file(path)
    monkeypatch.chdir(tmp_path)
    code, _, err = tidal(capsys, "optimize", str(path), "--data", str(rows), "--label", "label", "-o", "out")
    assert "more than 2147483648 elements" in refused(code, err) and not (tmp_path / "out").exists()
    weight.dims[:] = [1000]  # a plausible shape, but the bytes do not match it
    path.write_bytes(graph(weight))
    with pytest.raises(OptimizeRefused, match="holds 4 bytes; the file is damaged or crafted"):
        check_onnx_file(path)


def test_a_pickled_payload_is_never_loaded_without_trust(tmp_path, rows, capsys, monkeypatch):
    marker = tmp_path / "pwned"
    package = pickle_gadget(tmp_path / "gadget", marker)
    monkeypatch.chdir(tmp_path)
    code, _, err = tidal(capsys, "optimize", str(package), "--data", str(rows), "--label", "label", "-o", "out")
    message = refused(code, err)
    assert "trust" in message and not marker.exists() and not (tmp_path / "out").exists()


def test_a_trusted_pickle_is_still_refused_as_a_flavor_that_cannot_be_optimized(tmp_path, rows, capsys, monkeypatch):
    package = pickle_gadget(tmp_path / "gadget", tmp_path / "pwned")
    monkeypatch.chdir(tmp_path)
    code, _, err = tidal(capsys, "optimize", str(package), "--data", str(rows), "--label", "label", "-o", "out", "--trust")
    assert "flavor 'pickle' cannot be optimized" in refused(code, err) and not (tmp_path / "out").exists()


def test_training_rows_and_pruning_options_from_the_command_line_are_refused_before_anything_runs(tmp_path, capsys,
                                                                                                  monkeypatch):
    """--train and --prune come from whoever types the command: a missing file, rows without the label, a share
    of channels that is not one (nan, infinity, text) each end in exit 2, one line, nothing written."""
    import tidal.nn as tnn

    spec = tnn.NetworkSpec.from_dict({"tidal-nn": 1, "name": "tiny", "inputs": {"x": {"shape": ["batch", 2]}},
                              "layers": [{"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 4}},
                                         {"id": "act", "kind": "relu", "inputs": ["hidden"]},
                                         {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": 2}}],
                              "outputs": {"y": "head"}})
    frame = pd.DataFrame({"a": np.linspace(-1, 1, 40), "b": np.linspace(1, -1, 40) ** 2, "label": [0, 1] * 20})
    package = tnn.train_network(spec, frame, label="label", settings=tnn.TrainSettings(epochs=1, threads=1)).package
    package.save(tmp_path / "tiny")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    frame.drop(columns="label").to_csv(tmp_path / "unlabelled.csv", index=False)
    monkeypatch.chdir(tmp_path)
    base = ("optimize", "tiny", "--data", "rows.csv", "--label", "label", "-o", "out")
    for extra, expected in [(("--train", "missing.csv"), "missing.csv"),
                            (("--train", "unlabelled.csv"), "the training rows have no label column 'label'"),
                            (("--train", "rows.csv", "--prune", "nan"), "--prune 'nan': each share of channels"),
                            (("--train", "rows.csv", "--prune", "1e999"), "--prune '1e999': each share of channels"),
                            (("--train", "rows.csv", "--prune", "0.5;rm -rf /"), "--prune '0.5;rm -rf /' must be numbers")]:
        code, _, err = tidal(capsys, *base, *extra)
        assert expected in refused(code, err), (extra, err)
        assert not (tmp_path / "out").exists()
