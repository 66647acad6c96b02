"""Third-party components: a real package installed with pip, found through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

PLUGIN = Path(__file__).parents[1] / "plugin_package"


def test_installed_plugin_is_discovered_runs_and_passes_conformance(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(PLUGIN)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = subprocess.run([sys.executable, "-m", "tidal.cli", "components", "list", "--json", "--category", "acme"],
                            capture_output=True, text=True, env=env, check=True)
    assert [item["id"] for item in json.loads(listed.stdout)] == ["acme.add_constant"]

    (tmp_path / "d.csv").write_text("x\n1\n2\n")
    pipeline = {"tidal": 1, "name": "plugin", "nodes": [
        {"id": "read", "component": "io.read_csv", "params": {"path": "d.csv"}},
        {"id": "add", "component": "acme.add_constant", "inputs": {"data": "read"}, "params": {"column": "x", "value": 10}},
    ]}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pipeline))
    ran = subprocess.run([sys.executable, "-m", "tidal.cli", "run", "p.yaml", "--json"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert ran.returncode == 0, ran.stderr
    checks = subprocess.run(
        [sys.executable, "-c", "from tidal.conformance import run_checks; from tidal import get_component;"
         "import json; print(json.dumps(run_checks(get_component('acme.add_constant'))))"],
        capture_output=True, text=True, env=env, check=True)
    assert json.loads(checks.stdout) == dict.fromkeys(json.loads(checks.stdout), None)
