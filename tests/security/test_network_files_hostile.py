"""Hostile network files: sub-network files outside the spec's folder are never read, YAML bombs and
deep nesting are refused, and nothing written in a spec runs as code in the generated module.

Secrets are files outside the spec's folder holding a marker string; each test asserts the marker
never reaches an error message. Code gadgets write a marker file if they ever run; the tests assert
the file is absent, not only that an error was raised.
"""

from __future__ import annotations

import os

import pytest
import yaml

from tidal.core import YamlError
from tidal.nn import NetworkError, load_network, to_source, validate_network

SECRET = "TOP-SECRET-7f3a"


def _net(layers, **extra):
    return {"tidal-nn": 1, "name": "hostile", "inputs": {"x": {"shape": ["batch", 4]}}, "layers": layers,
            "outputs": {"y": layers[-1]["id"]}, **extra}


def _module_layer(path):
    return {"id": "sub", "kind": "module", "inputs": ["x"], "params": {"file": path}}


@pytest.fixture
def secret(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "secret.yaml"
    target.write_text(f"tidal-nn: 1\nname: {SECRET}\n{SECRET}: {SECRET}\n")
    spec_folder = tmp_path / "spec"
    spec_folder.mkdir()
    return spec_folder, target


@pytest.mark.parametrize("path", ["../outside/secret.yaml", "blocks/../../outside/secret.yaml", "ABSOLUTE",
                                  "~/secret.yaml", "..\\outside\\secret.yaml", "C:/outside/secret.yaml"])
def test_sub_network_paths_cannot_leave_the_folder(secret, path):
    folder, target = secret
    written = str(target) if path == "ABSOLUTE" else path
    top = folder / "top.yaml"
    top.write_text(yaml.safe_dump(_net([_module_layer(written)])))
    with pytest.raises(NetworkError) as info:
        load_network(top)
    (problem,) = info.value.issues
    assert problem.layer == "sub" and problem.param == "file"
    assert SECRET not in str(info.value)


def test_a_link_inside_the_folder_to_a_file_outside_is_refused(secret):
    folder, target = secret
    (folder / "innocent.yaml").symlink_to(target)
    top = folder / "top.yaml"
    top.write_text(yaml.safe_dump(_net([_module_layer("innocent.yaml")])))
    with pytest.raises(NetworkError, match="lies outside the spec's folder") as info:
        load_network(top)
    assert SECRET not in str(info.value)


def test_files_that_refer_back_to_themselves_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(_net([_module_layer("b.yaml")])))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(_net([_module_layer("a.yaml")])))
    with pytest.raises(NetworkError, match=r"refers back to itself \(a.yaml -> b.yaml -> a.yaml\)"):
        load_network(tmp_path / "a.yaml")
    (tmp_path / "self.yaml").write_text(yaml.safe_dump(_net([_module_layer("self.yaml")])))
    with pytest.raises(NetworkError, match="refers back to itself"):
        load_network(tmp_path / "self.yaml")


def test_a_folder_or_a_pipe_named_as_a_sub_network_is_refused(tmp_path):
    (tmp_path / "folder.yaml").mkdir()
    os.mkfifo(tmp_path / "pipe.yaml")
    spec = _net([{"id": "a", "kind": "module", "inputs": ["x"], "params": {"file": "folder.yaml"}},
                 {"id": "b", "kind": "module", "inputs": ["x"], "params": {"file": "pipe.yaml"}}])
    (tmp_path / "top.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(NetworkError) as info:  # a FIFO would block a reader forever
        load_network(tmp_path / "top.yaml")
    assert {item.layer for item in info.value.issues} == {"a", "b"}


def test_yaml_bombs_and_deep_nesting_are_refused(tmp_path):
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("tidal-nn: 1\nname: bomb\nx-bomb:\n" + "\n".join("  " + line for line in lines) + "\n")
    with pytest.raises(YamlError) as info:
        load_network(bomb)
    assert info.value.code == "aliases"
    deep = tmp_path / "deep.yaml"
    deep.write_text("tidal-nn: 1\nname: deep\nx-deep: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(YamlError) as info:
        load_network(deep)
    assert info.value.code == "too_deep"


def test_blocks_nested_beyond_the_limit_stop_cleanly():
    modules = {}
    for depth in range(40):
        inner = ({"id": "inner", "kind": "module", "inputs": ["x"], "params": {"network": f"b{depth + 1}"}}
                 if depth < 39 else {"id": "inner", "kind": "relu", "inputs": ["x"]})
        modules[f"b{depth}"] = {"inputs": {"x": {"shape": ["batch", 4]}}, "layers": [inner], "outputs": {"y": "inner"}}
    from tidal.nn import NetworkSpec

    spec = NetworkSpec.from_dict(_net([{"id": "top", "kind": "module", "inputs": ["x"], "params": {"network": "b0"}}],
                                      modules=modules))
    issues = validate_network(spec)
    assert [item.code for item in issues] == ["too_deep"]
    assert issues[0].layer.count("/") == 32


def test_blocks_that_use_blocks_twice_nested_deep_are_refused_before_the_work_doubles_30_times():
    """Each block runs the next one twice: 30 levels are 2^30 layers written out. Inferring shapes, building,
    writing out (pruning) would each double their work per level; they stop at 20,000 layers instead."""
    from tidal.nn import NetworkSpec, inline_modules

    modules = {}
    for depth in range(30):
        layers = ([{"id": "a", "kind": "module", "inputs": ["x"], "params": {"network": f"b{depth + 1}"}},
                   {"id": "b", "kind": "module", "inputs": ["a"], "params": {"network": f"b{depth + 1}"}}]
                  if depth < 29 else [{"id": "a", "kind": "relu", "inputs": ["x"]}])
        modules[f"b{depth}"] = {"inputs": {"x": {"shape": ["batch", 4]}}, "layers": layers, "outputs": {"y": layers[-1]["id"]}}
    spec = NetworkSpec.from_dict(_net([{"id": "top", "kind": "module", "inputs": ["x"], "params": {"network": "b0"}}],
                                      modules=modules))
    issues = validate_network(spec)
    assert [item.code for item in issues] == ["too_large"]
    assert "more than 20,000 layers once each use of a sub-network counts its layers" in issues[0].message
    with pytest.raises(NetworkError, match="more than 20,000 layers"):
        inline_modules(spec)


def test_huge_sizes_are_refused_or_computed_without_hanging():
    from tidal.nn import NetworkSpec

    with pytest.raises(NetworkError, match="a dim must be a positive integer"):
        NetworkSpec.from_dict(_net([{"id": "r", "kind": "relu", "inputs": ["x"]}], inputs={"x": {"shape": [2**41]}}))
    spec = NetworkSpec.from_dict(_net([{"id": "r", "kind": "reshape", "inputs": ["x"], "params": {"shape": [2**62, 3]}}]))
    (problem,) = validate_network(spec)
    assert problem.layer == "r" and "cannot reshape" in problem.message


def test_nothing_in_a_spec_runs_as_code_in_the_generated_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    gadget = f"__import__('os').system('touch {marker}')"
    spec_data = _net([{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 2}, "title": gadget,
                       "x-note": f'"""\n{gadget}\n"""'}],
                     name=f'evil"""\n{gadget}\n"""', description=f'"""{gadget}"""\\')
    from tidal.nn import NetworkSpec

    source = to_source(NetworkSpec.from_dict(spec_data))
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    classes = [value for value in namespace.values() if isinstance(value, type) and value.__module__ != "torch"]
    torch = pytest.importorskip("torch")
    for cls in classes:
        if issubclass(cls, torch.nn.Module):
            cls()(torch.zeros(1, 4))
    assert not marker.exists()
    for attempt in ([{"id": "x; import os", "kind": "relu", "inputs": ["x"]}],
                    [{"id": "r", "kind": "relu", "inputs": ["x); import os; (x"]}],
                    [{"id": "g", "kind": "gelu", "inputs": ["x"], "params": {"approximate": f"none'); {gadget}; ('"}}]):
        with pytest.raises(NetworkError):
            to_source(NetworkSpec.from_dict(_net(attempt)))
    assert not marker.exists()


def test_tidal_nn_import_never_runs_a_module_file_without_trust(tmp_path, monkeypatch, capsys):
    """`tidal nn import` executes the file it reads: without --trust nothing of it may run."""
    import sys

    from tidal.cli import main

    marker = tmp_path / "ran.txt"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\nimport torch\n"
                                      "class Net(torch.nn.Module):\n    def forward(self, x):\n        return x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["tidal", "nn", "import", "evil.py", "Net", "--input-shape", "1,2"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2 and "pass --trust" in capsys.readouterr().err
    assert not marker.exists()
    # `check` and `code` read YAML only: a .py file given to them is refused as a network file, never run
    for command in ("check", "code"):
        monkeypatch.setattr(sys, "argv", ["tidal", "nn", command, "evil.py"])
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2
        assert not marker.exists()


def test_dtype_and_number_params_of_the_import_kinds_cannot_carry_code(tmp_path, monkeypatch):
    """cast and full_like write their dtype as torch.<name>: only the fixed dtype names get there."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    gadget = f"__import__('os').system('touch {marker}')"
    from tidal.nn import NetworkSpec
    from tidal.nn._codegen import _render

    for layer in ({"id": "c", "kind": "cast", "inputs": ["x"], "params": {"dtype": f"bool); {gadget}; (torch.bool"}},
                  {"id": "f", "kind": "full_like", "inputs": ["x"], "params": {"fill_value": 0, "dtype": f"int64) or {gadget} or ("}},
                  {"id": "f", "kind": "full_like", "inputs": ["x"], "params": {"fill_value": f"0) or {gadget} or (0"}},
                  {"id": "a", "kind": "scaled_dot_product_attention", "inputs": ["x", "x", "x"],
                   "params": {"scale": f"1.0) or {gadget} or (1"}}):
        with pytest.raises(NetworkError) as info:
            to_source(NetworkSpec.from_dict(_net([layer])))
        assert info.value.issues[0].layer == layer["id"]
    with pytest.raises(ValueError, match="is not a dtype Tidal writes"):  # even past validation, the writer refuses it
        from tidal.nn._kinds import KINDS

        class Layer:
            params = {"dtype": f"bool); {gadget}; (torch.bool"}

        _render(KINDS["cast"], Layer(), ["x"])  # type: ignore[arg-type]
    assert not marker.exists()
