"""The plan memo: a fully cached run recorded without the engine, exactly as the engine records it.

Every test here checks that the shortcut is taken only when nothing changed, and that otherwise
the run goes the usual way (recomputing what changed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tidal
from tidal.core import CodeNotAllowed
from tidal.pipeline import Pipeline
from tidal.runtime._plan_memo import PLANS_DIR


def chain() -> Pipeline:
    pipeline = Pipeline("memo")
    pipeline.add("testing.source", "src", params={"rows": 4})
    pipeline.add("testing.step", "a", inputs={"data": "src"}, params={"tag": "a"})
    pipeline.add("testing.score", "m", inputs={"data": "a"})
    return pipeline


def memo_files(workspace) -> list[Path]:
    return sorted((workspace.root / ".tidal" / PLANS_DIR).glob("*.json"))


def comparable(result) -> dict:
    """What two runs of the same cached pipeline must agree on, whichever path recorded them."""
    nodes = {
        node_id: (record.status, record.cached, record.cache_key, record.source_run_id, record.component_version,
                  record.attempts, record.log_uri, record.input_rows)
        for node_id, record in result.nodes.items()
    }
    outputs = {
        node_id: {port: (item.uri, item.content_hash, item.size_bytes, item.cache_key, item.type) for port, item in ports.items()}
        for node_id, ports in result.artifacts.items()
    }
    return {"status": result.status, "nodes": nodes, "outputs": outputs, "metrics": result.metrics()}


def test_a_second_run_is_recorded_from_the_memo_exactly_as_the_engine_records_it(workspace, execution_log, monkeypatch):
    first = tidal.run(chain(), workspace=workspace, workers=0)
    assert first.ok and len(memo_files(workspace)) == 1
    memo = tidal.run(chain(), workspace=workspace, workers=0)
    assert memo.run.options["plan_memo"] is True
    monkeypatch.setenv("TIDAL_PLAN_MEMO", "0")
    engine = tidal.run(chain(), workspace=workspace, workers=0)
    assert "plan_memo" not in engine.run.options
    assert comparable(memo) == comparable(engine)
    assert all(record.cached for record in memo.nodes.values())
    assert len(execution_log()) == 3  # only the first run computed anything


def test_the_memo_path_tells_watchers_what_the_engine_tells_them(workspace):
    tidal.run(chain(), workspace=workspace, workers=0)
    events = []
    result = tidal.run(chain(), workspace=workspace, workers=0, on_event=events.append)
    assert result.run.options["plan_memo"] is True
    assert [(event.status, event.node_id, event.cached) for event in events] == [
        ("running", None, False), ("cached", "src", True), ("cached", "a", True), ("cached", "m", True), ("succeeded", None, False),
    ]


def test_a_changed_input_file_is_not_served_from_the_memo(workspace, execution_log):
    data = workspace.root / "rows.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    pipeline = Pipeline("files")
    pipeline.add("io.read_csv", "read", params={"path": "rows.csv"})
    assert tidal.run(pipeline, workspace=workspace, workers=0).ok
    assert tidal.run(pipeline, workspace=workspace, workers=0).run.options.get("plan_memo") is True
    data.write_text("x,y\n1,2\n3,4\n5,6\n")
    changed = tidal.run(pipeline, workspace=workspace, workers=0)
    assert "plan_memo" not in changed.run.options
    assert changed.nodes["read"].status == "succeeded" and not changed.nodes["read"].cached
    assert changed.output("read").to_pandas().shape == (3, 2)


def test_a_deleted_artifact_falls_back_to_the_engine_which_recomputes_it(workspace, execution_log):
    first = tidal.run(chain(), workspace=workspace, workers=0)
    record = workspace.metadata.artifacts(first.id, "a")[0]
    workspace.artifacts.local_path(record.uri).unlink()
    again = tidal.run(chain(), workspace=workspace, workers=0)
    assert again.ok and "plan_memo" not in again.run.options
    assert again.nodes["a"].status == "succeeded" and execution_log().count("step:a") == 2


def test_an_override_changes_the_plan_and_runs_the_usual_way(workspace, execution_log):
    tidal.run(chain(), workspace=workspace, workers=0)
    changed = tidal.run(chain(), workspace=workspace, workers=0, overrides=["a.tag=b"])
    assert "plan_memo" not in changed.run.options and changed.nodes["a"].status == "succeeded"
    assert tidal.run(chain(), workspace=workspace, workers=0).run.options["plan_memo"] is True


def test_a_damaged_memo_is_ignored(workspace, execution_log):
    tidal.run(chain(), workspace=workspace, workers=0)
    for damaged in ("not json", json.dumps({"memo": 1, "nodes": {"src": 3, "a": [], "m": None}}), json.dumps([1, 2])):
        memo_files(workspace)[0].write_text(damaged)
        again = tidal.run(chain(), workspace=workspace, workers=0)
        assert again.ok and all(record.cached for record in again.nodes.values())  # served by the engine's cache
        assert "plan_memo" not in again.run.options


def test_a_memo_naming_another_component_is_not_used(workspace, execution_log):
    tidal.run(chain(), workspace=workspace, workers=0)
    path = memo_files(workspace)[0]
    memo = json.loads(path.read_text())
    memo["nodes"]["a"]["document"]["component"] = "testing.score"
    path.write_text(json.dumps(memo))
    assert "plan_memo" not in tidal.run(chain(), workspace=workspace, workers=0).run.options


def test_code_nodes_stay_refused_without_allow_code_even_when_cached(workspace):
    pipeline = Pipeline("code")
    pipeline.add("testing.source", "src", params={"rows": 4})
    pipeline.add("tools.python_script", "code", inputs={"t1": "src"}, params={"code": "def run(t1, t2=None, t3=None):\n    return t1\n"})
    first = tidal.run(pipeline, workspace=workspace, workers=0, allow_code=True)
    assert first.ok and memo_files(workspace)
    with pytest.raises(CodeNotAllowed):
        tidal.run(pipeline, workspace=workspace, workers=0)
    assert tidal.run(pipeline, workspace=workspace, workers=0, allow_code=True).run.options["plan_memo"] is True


def test_an_edited_plugin_component_is_recomputed(tmp_path, monkeypatch):
    plugin = tmp_path / "memo_plugin.py"
    body = textwrap.dedent('''
        from tidal import component
        from tidal.core import Metrics

        @component("memo_plugin.answer")
        def answer() -> Metrics:
            return Metrics({{"answer": {value}}})
    ''')
    plugin.write_text(body.format(value=41))
    script = textwrap.dedent(f'''
        import sys
        import tidal
        from tidal.pipeline import Pipeline
        pipeline = Pipeline("plugin")
        pipeline.add("memo_plugin.answer", "ask")
        result = tidal.run(pipeline, workspace={str(tmp_path / "ws")!r}, workers=0)
        print(result.metrics("ask")["answer"], bool(result.run.options.get("plan_memo")), result.nodes["ask"].cached)
    ''')
    environment = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "TIDAL_PLUGINS": "memo_plugin"}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.split("\n")[-2]

    assert run() == "41 False False"
    assert run() == "41 True True"
    plugin.write_text(body.format(value=42))
    assert run() == "42 False False"


def test_a_fully_cached_cli_run_imports_no_component_and_starts_no_engine(tmp_path):
    (tmp_path / "data").mkdir()
    rows = "\n".join(f"{index % 7},{(index * 3) % 5},{index % 2}" for index in range(60))
    (tmp_path / "data" / "rows.csv").write_text("a,b,label\n" + rows + "\n")
    (tmp_path / "pipeline.yaml").write_text(textwrap.dedent('''
        tidal: 1
        name: memo-cli
        nodes:
          - {id: read, component: io.read_csv, params: {path: data/rows.csv}}
          - {id: split, component: data.split, inputs: {data: read}, params: {fraction: 0.7, seed: 1}}
          - {id: train, component: classification.logistic_regression, inputs: {data: split.train}, params: {label: label}}
    '''))
    (tmp_path / ".tidal").mkdir()
    probe = textwrap.dedent('''
        import sys
        from tidal.cli._app import main
        sys.argv = ["tidal", "run", "pipeline.yaml", "--quiet"]
        try:
            main()
        except SystemExit as stop:
            assert not stop.code, stop.code
        heavy = ("tidal.components", "sklearn", "pandas", "tidal.runtime._engine")
        print("LOADED", ",".join(name for name in heavy if name in sys.modules) or "-")
    ''')

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr + done.stdout
        return next(line for line in done.stdout.splitlines() if line.startswith("LOADED"))

    assert run() == "LOADED tidal.components,sklearn,pandas,tidal.runtime._engine"  # the first run computes
    assert run() == "LOADED -"  # the second finds everything cached without them
