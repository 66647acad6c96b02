"""A local market for the tests: wheels built here from a scaffolded plug-in and a broken one, a JSON
index over them, and one throwaway virtual environment (per session) to install them into.

The throwaway venv sees the shared environment's packages through a ``.pth`` file (a venv made
from a venv's Python would only see the base interpreter's), so nothing here ever installs into
the shared environment; Tidal itself comes from this checkout through PYTHONPATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from tidal.market import scaffold_plugin

SOURCE = Path(__file__).parents[2] / "src"

BROKEN_PYPROJECT = """[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "broken-tools"
version = "0.2.0"
requires-python = ">=3.11"

[project.entry-points."tidal.components"]
broken_tools = "broken_tools.components"

[tool.setuptools.packages.find]
where = ["src"]
"""


@dataclass
class LocalMarket:
    root: Path
    index: Path
    wheels: dict[str, Path]
    python: Path
    env: dict[str, str]
    plugin_project: Path

    def run(self, *arguments: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.python), *arguments], capture_output=True, text=True, cwd=cwd or self.root,
                              env={**self.env, **(env or {})}, timeout=300)

    def tidal(self, *arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "tidal.cli", "--workspace", str(self.root / "ws"), *arguments, env=env)

    def installed(self, distribution: str) -> bool:
        done = self.run("-c", f"import importlib.metadata as m, sys; sys.exit(0 if any(d.metadata['Name'] == {distribution!r} "
                              "for d in m.distributions(path=[__import__('sysconfig').get_paths()['purelib']])) else 3)")
        return done.returncode == 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_entry(package: str, version: str, wheel: str, digest: str, components: list[str]) -> dict[str, object]:
    return {"package": package, "version": version, "summary": f"{package} for the tests", "components": components,
            "licence": "Apache-2.0", "wheel": wheel, "sha256": digest}


@pytest.fixture(scope="session")
def local_market(tmp_path_factory: pytest.TempPathFactory) -> LocalMarket:
    root = tmp_path_factory.mktemp("market")
    projects = root / "projects"
    plugin = scaffold_plugin("acme-tools", projects)
    broken = projects / "broken-tools"
    (broken / "src" / "broken_tools").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "src" / "broken_tools" / "__init__.py").write_text("")
    (broken / "src" / "broken_tools" / "components.py").write_text(
        "raise RuntimeError('broken on purpose: the model file is missing')\n")
    built = root / "build-copies"  # setuptools writes build/ and *.egg-info next to the sources: build from copies
    for project in (plugin, broken):
        shutil.copytree(project, built / project.name)
    wheels = root / "index" / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    str(built / "acme-tools"), str(built / "broken-tools"), "-w", str(wheels)], check=True, capture_output=True)
    found = {path.name.split("-", 1)[0]: path for path in wheels.glob("*.whl")}
    index = root / "index" / "index.json"
    index.write_text(json.dumps({"tidal_market": 1, "name": "tests", "packages": [
        index_entry("acme-tools", "0.1.0", f"wheels/{found['acme_tools'].name}", sha256(found["acme_tools"]),
                    ["acme_tools.scale_column"]),
        index_entry("broken-tools", "0.2.0", f"wheels/{found['broken_tools'].name}", sha256(found["broken_tools"]),
                    ["broken_tools.anything"]),
    ]}))

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "_shared_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {**os.environ, "PYTHONPATH": str(SOURCE), "TIDAL_MARKET_INDEX": str(index), "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("TIDAL_WORKSPACE", None)
    return LocalMarket(root, index, found, python, env, plugin)
