"""`tidal stream run | list | status | stop` on a file source, and a schema change reported with its columns."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from tidal.cli import _stream  # noqa: F401 - registers the commands
from tidal.cli._app import app


def test_run_list_status_and_schema_change(tmp_path):
    (tmp_path / ".tidal").mkdir()
    rows = [{"id": i, "v": float(i)} for i in range(30)] + [{"id": i, "v": float(i), "extra": 1} for i in range(30, 40)]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {"tidal-stream": 1, "name": "cli-job", "source": {"kind": "file", "path": "events.jsonl"}, "batch": {"max_rows": 10},
            "steps": [{"id": "keep", "component": "stream.filter", "params": {"condition": "v >= 5"}}],
            "sinks": [{"kind": "files", "path": "out", "format": "parquet"}]}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    runner = CliRunner()
    result = runner.invoke(app, ["stream", "run", str(tmp_path / "job.yaml"), "--until-idle", "-w", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "40 rows, 35 outputs" in result.output
    assert "added ['extra']" in result.output                     # the schema change, columns named
    listed = runner.invoke(app, ["stream", "list", "--json", "-w", str(tmp_path)])
    assert json.loads(listed.output)[0]["state"] == "stopped"
    status = json.loads(runner.invoke(app, ["stream", "status", "cli-job", "--json", "-w", str(tmp_path)]).output)
    assert status["epoch"] == 4 and status["outputs"] == 35 and "extra" in status["schema_changes"][0]
    stopped = runner.invoke(app, ["stream", "stop", "cli-job", "-w", str(tmp_path)])
    assert stopped.exit_code != 0 and "not running" in str(stopped.exception)
    missing = runner.invoke(app, ["stream", "status", "../etc", "-w", str(tmp_path)])
    assert missing.exit_code != 0 and "no stream job named" in str(missing.exception)
