"""Hostile ``resources:`` in a stranger's pipeline file: huge numbers, infinities, strings, nested
junk, odd names, thousands of entries. Each is refused before anything runs, naming the node and
the key, whether the file comes through the schema (``tidal run``, ``Pipeline.load``) or straight
to the parser (the Studio's ``pipeline_from_dict``); nothing reaches Ray or the local machine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tidal.cli._app import main
from tidal.core import ValidationFailed
from tidal.core._resources import parse_resources
from tidal.pipeline import Pipeline
from tidal.pipeline._yaml import pipeline_from_dict

HOSTILE = {
    "huge cpus": ({"cpus": 1e300}, "resources.cpus: 1e+300 is more than any machine has"),
    "infinite gpus": ({"gpus": float("inf")}, "resources.gpus: must be a finite number"),
    "not a number": ({"gpus": float("nan")}, "resources.gpus: must be a finite number"),
    "negative": ({"cpus": -2}, "resources.cpus: must be 0 or more"),
    "boolean": ({"cpus": True}, "resources.cpus: must be a number"),
    "string count": ({"gpus": "all of them"}, "resources.gpus: must be a number"),
    "nested junk": ({"cpus": {"a": [1, {"b": 2}]}}, "resources.cpus: must be a number"),
    "huge memory": ({"memory": "99999999999PiB"}, "resources.memory: '99999999999PiB' is more than any machine has"),
    "memory with a command": ({"memory": "2GiB; rm -rf /"}, "resources.memory: '2GiB; rm -rf /' is not a size"),
    "long memory": ({"memory": "9" * 5000}, "resources.memory: is too long to be a size"),
    "memory list": ({"memory": [1, 2]}, "resources.memory: must be a size"),
    "negative memory": ({"memory": -5}, "resources.memory: must be 0 or more"),
    "custom as a list": ({"custom": ["gpu"]}, "resources.custom: must be a mapping"),
    "custom nested": ({"custom": {"slot": {"deep": 1}}}, "resources.custom.slot: must be a number"),
    "custom odd name": ({"custom": {"../../etc": 1}}, "resources.custom: '../../etc' is not a resource name"),
    "custom reserved": ({"custom": {"GPU": 8}}, "resources.custom.GPU: Ray reserves this name; use the 'gpus' key"),
    "custom flood": ({"custom": {f"r{index}": 1 for index in range(5000)}}, "resources.custom: names 5000 resources; at most 32"),
    "unknown key": ({"num_gpus": 1}, "resources.num_gpus: unknown key; did you mean 'gpus'?"),
    "not a mapping": ("everything", "resources: must be a mapping"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_parser_refuses_with_node_and_key(name):
    value, words = HOSTILE[name]
    data = {"tidal": 1, "name": "p", "nodes": [{"id": "evil", "component": "testing.source", "resources": value}]}
    with pytest.raises(ValidationFailed) as refused:
        pipeline_from_dict(data)
    issues = refused.value.issues
    assert len(issues) == 1 and issues[0].node == "evil" and issues[0].code == "bad_resources"
    assert words in issues[0].message
    assert len(str(refused.value)) < 400  # a line a person reads, never the hostile value in full


@pytest.mark.parametrize("name", ["huge cpus", "negative", "string count", "nested junk", "custom flood",
                                  "memory with a command", "long memory"])
def test_files_through_the_schema_are_refused_too(tmp_path, name):
    value, _ = HOSTILE[name]
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump({"tidal": 1, "name": "p",
                                    "nodes": [{"id": "evil", "component": "testing.source", "resources": value}]}))
    with pytest.raises(ValidationFailed) as refused:
        Pipeline.load(path)
    assert all(issue.node == "evil" and "resources" in issue.message for issue in refused.value.issues)


def test_infinity_and_alias_tricks_in_yaml_text(tmp_path):
    text = ("tidal: 1\nname: p\nnodes:\n  - id: a\n    component: testing.source\n"
            "    resources: &r {cpus: .inf, custom: {x: .nan}}\n"
            "  - id: b\n    component: testing.source\n    resources: *r\n")
    with pytest.raises(ValidationFailed) as refused:
        Pipeline.from_yaml(text)
    shown = {(issue.node, issue.message.split(":")[0]) for issue in refused.value.issues}
    assert shown == {("a", "resources.cpus"), ("a", "resources.custom.x"), ("b", "resources.cpus"),
                     ("b", "resources.custom.x")}


def test_objects_that_are_not_yaml_values_are_refused():
    """Through the Python API a caller can pass anything; only plain numbers and sizes are taken."""
    for value in (object(), b"4", complex(1, 1), [0.5]):
        request, problems = parse_resources({"cpus": value})
        assert request is None and problems[0][0] == "cpus" and "must be a number" in problems[0][1]


def test_cli_run_refuses_with_exit_2_and_no_traceback(tmp_path, monkeypatch, capsys):
    path = tmp_path / "evil.yaml"
    path.write_text("tidal: 1\nname: p\nnodes:\n  - id: evil\n    component: testing.source\n"
                    "    resources: {gpus: .inf, memory: '2GiB; reboot', custom: {'a b': 1}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["tidal", "run", str(path), "--executor", "ray"])
    with pytest.raises(SystemExit) as exited:
        main()
    output = "".join(capsys.readouterr())
    assert exited.value.code == 2 and output.startswith("error: ") and "Traceback" not in output
    assert "node 'evil': resources.gpus: must be a finite number" in output
    assert "node 'evil': resources.memory: '2GiB; reboot' is not a size" in output
    assert "'a b' is not a resource name" in output
    assert not Path(tmp_path / ".tidal").exists()  # refused before a workspace was made
