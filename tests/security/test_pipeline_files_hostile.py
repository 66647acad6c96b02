"""Hostile pipeline files and code-running nodes: every attack is refused, with one clear line.

The files are generated here: an alias bomb ("billion laughs"), 20,000 levels of nesting (flow
and block style), 300,000 values in one list, Latin-1, UTF-16 and binary bytes, a 50 MB sparse
file. The CLI is called in-process
through its real entry point (``main``: exit codes and messages as a user sees them), and once
as a subprocess to show no traceback reaches the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tidal
from tidal.cli._app import main
from tidal.core import (
    CodeNotAllowed,
    TidalError,
    YamlError,
    YamlLimits,
    check_nesting,
    load_yaml,
    load_yaml_file,
)
from tidal.pipeline import Pipeline
from tidal.runtime import parse_override
from tidal.runtime._worker import NodeTask, execute_task

FIFTY_MB = 50 * 1024 * 1024


def alias_bomb() -> str:
    """Nine levels of nine aliases: 1 KB of text that expands to 9**9 (387 million) strings."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "tidal: 1\nname: bomb\nnodes: []\nx-bomb:\n" + "\n".join("  " + line for line in lines) + "\n"


def hostile_files(folder: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (file, YamlError code, words its message must hold)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, str, str]] = {}

    def add(name: str, data: bytes, code: str, words: str) -> None:
        path = folder / f"{name}.yaml"
        path.write_bytes(data)
        files[name] = (path, code, words)

    add("bomb", alias_bomb().encode(), "aliases", "alias bomb")
    add("deep_flow", b"tidal: 1\nname: deep\nnodes: []\nx: " + b"[" * 20_000 + b"]" * 20_000 + b"\n", "too_deep", "levels deep")
    add("deep_block", b"tidal: 1\nname: deep\nnodes: []\nx:\n" + b"- " * 20_000 + b"1\n", "too_deep", "levels deep")
    add("wide", b"tidal: 1\nname: wide\nnodes: []\nx: [" + b"1," * 300_000 + b"1]\n", "too_many_nodes", "more than 250,000 values")
    add("latin1", "tidal: 1\nname: café\nnodes: []\n".encode("latin-1"), "not_utf8", "byte offset 18")
    add("binary", b"tidal: 1\n\x00\x01\x02\xff\xfe garbage", "binary", "NUL byte at byte offset 9")
    add("utf16", "tidal: 1\nname: x\nnodes: []\n".encode("utf-16"), "binary", "UTF-16")
    big = folder / "big.yaml"
    with open(big, "wb") as handle:  # sparse: cheap to make; all NULs inside, so reading it would say "binary"
        handle.write(b"tidal: 1\nname: big\nnodes: []\n")
        handle.seek(FIFTY_MB)
        handle.write(b"\n")
    files["big"] = (big, "too_large", "too large")
    return files


@pytest.fixture
def hostile(tmp_path):
    return hostile_files(tmp_path / "hostile")


# -- the loader ---------------------------------------------------------------------------------
def test_every_hostile_file_is_refused_with_one_line_naming_file_and_problem(hostile):
    for name, (path, code, words) in hostile.items():
        with pytest.raises(YamlError) as refused:
            load_yaml_file(path)
        message = str(refused.value)
        assert refused.value.code == code, (name, message)
        assert words in message, (name, message)
        assert "\n" not in message and str(path) in message, (name, message)
        with pytest.raises(YamlError) as again:
            Pipeline.load(path)
        assert again.value.code == code


def test_size_is_checked_before_the_file_is_read(tmp_path, monkeypatch):
    """The 50 MB file is refused from its size: its content (NULs) is never looked at."""
    files = hostile_files(tmp_path)
    path = files["big"][0]
    read_sizes: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.handle.close()

        def fileno(self):
            return self.handle.fileno()

        def read(self, size=-1):
            read_sizes.append(size)
            return self.handle.read(size)

    with monkeypatch.context() as patched, pytest.raises(YamlError, match=r"too large \(52,428,801 bytes; the limit is 10,485,760") as refused:
        patched.setattr("builtins.open", lambda file, mode="r", *a, **k: Spy(real_open(file, mode, *a, **k)))
        load_yaml_file(path)
    assert refused.value.code == "too_large"
    assert read_sizes == []


def test_size_limit_can_be_raised_by_the_operator(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text("tidal: 1\nname: small\nnodes: []\n")
    monkeypatch.setenv("TIDAL_YAML_MAX_BYTES", "10")
    with pytest.raises(YamlError, match="TIDAL_YAML_MAX_BYTES"):
        Pipeline.load(path)
    monkeypatch.setenv("TIDAL_YAML_MAX_BYTES", "1000")
    assert Pipeline.load(path).name == "small"
    assert load_yaml_file(path, limits=YamlLimits(max_bytes=10_000))["name"] == "small"


def test_alias_bomb_is_refused_while_composing_and_ordinary_anchors_still_work():
    with pytest.raises(YamlError, match="billion laughs") as refused:
        load_yaml(alias_bomb(), source="bomb.yaml")
    assert str(refused.value).startswith("bomb.yaml: ")
    with pytest.raises(YamlError, match="recursive alias"):
        load_yaml("a: &a [1, *a]\n")
    with pytest.raises(YamlError, match="not valid YAML.*binary values"):
        load_yaml("a: !!binary /w==\n")
    with pytest.raises(YamlError, match="could not determine a constructor"):
        load_yaml("a: !!python/object/apply:os.system [echo hi]\n")
    data = load_yaml("base: &base {C: 1.0, seed: 1}\ntrain: {<<: *base, C: 2.0}\nlist: [*base, *base]\n")
    assert data["train"] == {"C": 2.0, "seed": 1} and data["list"] == [{"C": 1.0, "seed": 1}] * 2
    assert load_yaml("\ufeffa: 1\n") == {"a": 1}
    assert load_yaml(b"\xef\xbb\xbfa: 1\n") == {"a": 1}
    assert isinstance(load_yaml("[" * 100 + "]" * 100), list)  # exactly at the limit is accepted
    with pytest.raises(YamlError, match="more than 100 levels"):
        load_yaml("[" * 101 + "]" * 101)


def test_nesting_of_data_from_json_is_checked_without_recursion():
    deep: dict = {}
    cursor = deep
    for _ in range(50_000):
        cursor["a"] = {}
        cursor = cursor["a"]
    with pytest.raises(YamlError, match="'body': nested more than 100 levels deep"):
        check_nesting(deep, source="'body'")
    check_nesting({"a": [[{"b": 1}]]}, source="'body'")


def test_set_overrides_go_through_the_limits():
    assert parse_override("train.C=0.5") == ("train", "C", 0.5)
    assert parse_override("read.path=[unclosed") == ("read", "path", "[unclosed")  # not YAML: taken as text
    with pytest.raises(YamlError, match="--set train.C: nested more than 100 levels deep"):
        parse_override("train.C=" + "[" * 20_000 + "]" * 20_000)
    bomb = "{" + alias_bomb().split("x-bomb:\n", 1)[1].replace("\n  ", ", ").strip().rstrip(",") + "}"
    with pytest.raises(YamlError, match="alias bomb"):
        parse_override("train.C=" + bomb)


# -- the command line -----------------------------------------------------------------------------
def run_cli(monkeypatch, capsys, cwd: Path, *args: str) -> tuple[int, str]:
    """``tidal ARGS`` through the real entry point, in this process; (exit code, stdout + stderr)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["tidal", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), captured.out + captured.err


@pytest.mark.parametrize("command", [["validate"], ["run", "--workers", "0"], ["export", "--to", "python"]])
def test_cli_refuses_each_hostile_file_with_exit_2_and_one_line(tmp_path, monkeypatch, capsys, command):
    files = hostile_files(tmp_path / "hostile")
    for name, (path, _, words) in files.items():
        code, output = run_cli(monkeypatch, capsys, tmp_path, *command, str(path))
        assert code == 2, (name, output)
        lines = [line for line in output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, output)
        assert words in output and path.name in output, (name, output)
        assert "Traceback" not in output


def test_cli_tune_refuses_a_hostile_study_file(tmp_path, monkeypatch, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(alias_bomb().replace("tidal: 1\nname: bomb\nnodes: []\n", "trainer: x\n"))
    code, output = run_cli(monkeypatch, capsys, tmp_path, "tune", str(study))
    assert code == 2 and "alias bomb" in output and "study.yaml" in output and "Traceback" not in output


def test_cli_subprocess_prints_no_traceback_for_a_deep_file(tmp_path):
    files = hostile_files(tmp_path / "hostile")
    done = subprocess.run([sys.executable, "-m", "tidal.cli", "run", str(files["deep_flow"][0])], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "deep_flow.yaml: nested more than 100 levels deep" in done.stderr


# -- code-running components -----------------------------------------------------------------------
def gadget(tmp_path: Path) -> tuple[Path, Path]:
    """A pipeline whose python_script node writes a marker file (what an attacker's code would do)."""
    marker = tmp_path / "pwned.txt"
    code = f"def run(t1, t2=None, t3=None):\n    open({str(marker)!r}, 'w').write('pwned')\n    return t1\n"
    text = (
        "tidal: 1\nname: gadget\nnodes:\n"
        "  - id: source\n    component: testing.source\n"
        "  - id: evil\n    component: tools.python_script\n    inputs: {t1: source}\n"
        f"    params:\n      code: {json.dumps(code)}\n"
    )
    path = tmp_path / "gadget.yaml"
    path.write_text(text)
    return path, marker


def test_engine_refuses_code_nodes_before_anything_runs(tmp_path):
    path, marker = gadget(tmp_path)
    workspace = tmp_path / "ws"
    with pytest.raises(CodeNotAllowed) as refused:
        tidal.run(path, workspace=workspace, workers=0)
    message = str(refused.value)
    assert "node 'evil' (tools.python_script)" in message
    assert "tidal run --allow-code" in message and "allow_code=True" in message and "tidal studio --allow-code" in message
    assert not marker.exists()
    assert tidal.Workspace.open(workspace).metadata.list_runs() == []  # refused before a run was even recorded
    result = tidal.run(path, workspace=workspace, workers=0, allow_code=True)
    assert result.ok and marker.read_text() == "pwned"


def test_cli_run_and_resume_need_allow_code(tmp_path, monkeypatch, capsys):
    path, marker = gadget(tmp_path)
    code, output = run_cli(monkeypatch, capsys, tmp_path, "run", "--workers", "0", str(path))
    assert code == 2 and "node 'evil' (tools.python_script)" in output and "--allow-code" in output
    assert not marker.exists()
    code, output = run_cli(monkeypatch, capsys, tmp_path, "run", "--workers", "0", "--allow-code", str(path))
    assert code == 0, output
    assert marker.read_text() == "pwned"
    marker.unlink()
    run_id = tidal.Workspace.open(tmp_path).metadata.list_runs()[0].id
    tidal.Workspace.open(tmp_path).metadata.update_run(run_id, status="failed")
    code, output = run_cli(monkeypatch, capsys, tmp_path, "runs", "resume", run_id, "--workers", "0")
    assert code == 2 and "--allow-code" in output


def test_worker_refuses_a_code_task_the_engine_did_not_allow(tmp_path):
    """Defence in depth: a node task for a code component runs only when it says allow_code."""
    marker = tmp_path / "pwned.txt"
    task = NodeTask(
        run_id="r", node_id="evil", component="tools.python_script",
        params={"code": f"def run(t1, t2=None, t3=None):\n    open({str(marker)!r}, 'w')\n    return t1\n"},
        inputs={}, artifacts_uri=(tmp_path / "artifacts").as_uri(), storage_options={}, workdir=str(tmp_path),
    )
    result = execute_task(task, isolated=False)
    assert not result.ok and result.error_kind == "user" and "did not allow it" in (result.error or "")
    assert not marker.exists()


def test_code_components_are_refused_where_components_are_named_in_parameters(tmp_path):
    import pandas as pd

    from tidal.automl import create_study
    from tidal.cli._tune import load_data
    from tidal.components.evaluation_validation import trainer_spec

    frame = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
    with pytest.raises(CodeNotAllowed, match="tidal tune --allow-code"):
        create_study(frame, trainer="tools.python_script", label="y", workspace=tmp_path)
    with pytest.raises(CodeNotAllowed, match="tidal tune --allow-code"):
        load_data({"component": "tools.python_script", "params": {"code": "import os"}}, tmp_path)
    with pytest.raises(TidalError, match="runs code taken from its parameters"):
        trainer_spec("tools.python_script")


def test_python_script_called_eagerly_still_runs(tmp_path):
    """In a notebook the user wrote the code: no switch needed."""
    import pandas as pd

    from tidal.components.tools import python_script

    marker = tmp_path / "mine.txt"
    code = f"def run(t1, t2=None, t3=None):\n    open({str(marker)!r}, 'w').write('ok')\n    return t1\n"
    assert len(python_script(pd.DataFrame({"a": [1]}), code=code)) == 1
    assert marker.read_text() == "ok"


def test_service_specs_are_read_with_the_same_limits(tmp_path):
    from tidal.serving._service import load_service

    bomb = tmp_path / "service.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(TidalError, match="service.yaml"):
        load_service(bomb)
