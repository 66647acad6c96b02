"""Start-up stays cheap: importing Tidal or asking the CLI for help loads no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

import tidal

HEAVY = ["pandas", "sqlalchemy", "sklearn", "duckdb", "pyarrow", "fastapi", "tidal.components"]


def _loaded_after(code: str) -> dict[str, bool]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps({{name: name in sys.modules for name in {HEAVY!r}}}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_tidal_loads_nothing_heavy_until_a_name_is_used():
    assert not any(_loaded_after("import tidal").values())
    used = _loaded_after("import tidal\ntidal.ModelPackage")
    assert used["pandas"] and not used["fastapi"]


def test_cli_help_and_version_load_nothing_heavy():
    code = ("import contextlib, io\nfrom tidal.cli import main\nsys.argv = ['tidal', '--help']\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main()")
    assert not any(_loaded_after(code).values())
    version = subprocess.run([sys.executable, "-m", "tidal.cli", "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"tidal {tidal.__version__}"


def test_studies_commands_outside_a_workspace_answer_before_loading_the_components(tmp_path):
    for command in (["studies", "list"], ["studies", "show", "x"], ["studies", "resume", "x"]):
        code = ("import contextlib, io, os\nfrom tidal.cli import main\n"
                f"os.chdir({str(tmp_path)!r})\nsys.argv = ['tidal', *{command!r}]\n"
                "with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.suppress(SystemExit):\n    main()\n"
                "assert 'no Tidal workspace' in err.getvalue(), err.getvalue()")
        loaded = _loaded_after(code)
        assert not loaded["sklearn"] and not loaded["tidal.components"], (command, loaded)


def test_public_names_resolve_and_unknown_ones_raise():
    for name in tidal.__all__:
        assert getattr(tidal, name) is not None
    try:
        tidal.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")
