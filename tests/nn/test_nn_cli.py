"""`tidal nn check | code | import`: a network file checked, written as PyTorch, and read back, as a user types it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tidal.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "nn"

BAD = """\
tidal-nn: 1
name: bad
inputs:
  x: {shape: [batch, 1, 8, 8]}
layers:
  - {id: conv, kind: conv2d, inputs: [x], params: {in_channels: 3, out_channels: 8, kernel_size: 3}}
  - {id: flat, kind: flatten, inputs: [conv]}
  - {id: fc, kind: linear, inputs: [flat], params: {in_features: 100, out_features: 10}}
  - {id: act, kind: rellu, inputs: [fc]}
outputs: [act]
"""


def tidal(monkeypatch, capsys, cwd: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["tidal", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (0 if code is None else code if isinstance(code, int) else 1), captured.out, captured.err


def test_check_shows_every_layers_shape(monkeypatch, capsys, tmp_path):
    code, out, _ = tidal(monkeypatch, capsys, tmp_path, "nn", "check", str(EXAMPLES / "lstm_classifier.yaml"))
    assert code == 0
    assert "5 layers, no problems" in out and "[batch, seq, 16]" in out and "output logits: [batch, 4]" in out


def test_check_names_every_mistake_and_exits_2(monkeypatch, capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    code, out, err = tidal(monkeypatch, capsys, tmp_path, "nn", "check", "bad.yaml")
    assert code == 2 and "Traceback" not in out + err
    assert "network 'bad' has 3 problems" in err
    assert "layer 'act': unknown layer kind 'rellu'; did you mean relu" in err
    assert "layer 'conv' input 'x': expects channels (dim 1) 3 (in_channels) but gets 1" in err and "set in_channels: 1" in err
    assert "layer 'fc' input 'x': expects last dim 100 (in_features) but gets 288" in err and "set in_features: 288" in err

    code, out, _ = tidal(monkeypatch, capsys, tmp_path, "nn", "check", "bad.yaml", "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False
    assert sorted(item["layer"] for item in report["issues"]) == ["act", "conv", "fc"]
    assert next(item for item in report["issues"] if item["layer"] == "fc")["actual"] == "[batch, 288]"


def test_a_file_that_is_not_a_network_is_refused_with_its_problems(monkeypatch, capsys, tmp_path):
    (tmp_path / "odd.yaml").write_text("tidal-nn: 1\nname: odd\nlayerz: []\n")
    code, out, err = tidal(monkeypatch, capsys, tmp_path, "nn", "check", "odd.yaml", "--json")
    assert code == 2 and json.loads(out)["issues"]
    code, _, err = tidal(monkeypatch, capsys, tmp_path, "nn", "check", "missing.yaml")
    assert code == 2 and "no network file missing.yaml" in err


def test_code_then_import_gives_the_same_network_back(monkeypatch, capsys, tmp_path):
    pytest.importorskip("torch")
    import tidal.nn as tnn

    code, _, _ = tidal(monkeypatch, capsys, tmp_path, "nn", "code", str(EXAMPLES / "digits_cnn.yaml"), "-o", "cnn.py")
    assert code == 0 and (tmp_path / "cnn.py").read_text().startswith('"""Network')

    code, _, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "cnn.py", "DigitsCnn", "--input-shape", "2,1,8,8",
                         "-o", "back.yaml")
    assert code == 2 and "runs its Python code; pass --trust" in err and not (tmp_path / "back.yaml").exists()

    code, out, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "cnn.py", "DigitsCnn", "--input-shape", "2,1,8,8",
                           "-o", "back.yaml", "--trust", "--name", "digits-cnn")
    assert code == 0, err
    original, back = tnn.load_network(EXAMPLES / "digits_cnn.yaml"), tnn.load_network(tmp_path / "back.yaml")
    assert tnn.same_structure(original, back)
    assert tnn.infer_shapes(back).outputs.keys()
    code, _, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "cnn.py", "DigitsCnn", "--input-shape", "2,1,8,8",
                         "-o", "exported.yaml", "--trust", "--name", "digits-cnn", "--via", "export")
    assert code == 0, err
    assert tnn.same_structure(original, tnn.load_network(tmp_path / "exported.yaml"))  # torch.export reads it the same
    code, _, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "cnn.py", "DigitsCnn", "--input-shape", "2,1,8,8",
                         "--trust", "--via", "onnx")
    assert code == 2 and "--via takes auto, fx or export" in err

    code, _, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "cnn.py", "Nope", "--input-shape", "2,1,8,8", "--trust")
    assert code == 2 and "has no nn.Module class 'Nope'; it defines: DigitsCnn" in err
    code, _, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "cnn.py", "DigitsCnn", "--input-shape", "two", "--trust")
    assert code == 2 and "--input-shape 'two' must be sizes" in err


def test_import_names_the_users_own_failures_without_a_traceback(monkeypatch, capsys, tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "broken.py").write_text("import torch\nraise RuntimeError('boom at import')\n")
    (tmp_path / "net.py").write_text("import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
                                     "        super().__init__()\n        self.fc = torch.nn.Linear(4, 2)\n"
                                     "    def forward(self, x):\n        return self.fc(x)\n")
    code, out, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "broken.py", "Net", "--input-shape", "1,4", "--trust")
    assert code == 2 and "importing broken.py failed: RuntimeError: boom at import" in err and "Traceback" not in out + err
    code, out, err = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "net.py", "Net", "--input-shape", "1,5", "--trust")
    assert code == 2 and "Net.forward failed on example inputs of shape [1,5]" in err and "check --input-shape" in err
    assert "Traceback" not in out + err
    code, out, _ = tidal(monkeypatch, capsys, tmp_path, "nn", "import", "net.py", "Net", "--input-shape", "1,4", "--trust")
    assert code == 0 and "kind: linear" in out
