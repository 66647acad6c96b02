"""The issue's 'done when': a scaffolded plug-in, built into a wheel and installed from a local index,
appears in `tidal components list` and the Studio's palette, and passes `tidal market verify`.

Each test drives the real ``tidal`` entry point (``tidal.cli.main``, the same error handling as the
console script) and the Studio's app several times in one subprocess of the throwaway venv, so the
component registry loads once per test instead of once per command.
"""

from __future__ import annotations

import json

DRIVER = """
import contextlib, io, json, sys
from fastapi.testclient import TestClient
from tidal.cli import main
from tidal.studio import create_app

def palette(client):
    return {item["id"]: item["origin"] for item in client.get("/api/components").json()}

results = []
workspace = sys.argv[1]
for step in json.loads(sys.argv[2]):
    if "studio" in step:  # {"studio": "view" | "off" | "on"}: off and on also POST an install of acme-tools
        client = TestClient(create_app(workspace, allow_install=step["studio"] == "on"))
        view = {"plugins": client.get("/api/plugins").json(), "palette": palette(client)}
        if step["studio"] != "view":
            reply = client.post("/api/plugins/install", json={"package": "acme-tools"})
            view.update(install={"status": reply.status_code, "body": reply.json()}, palette_after=palette(client))
        results.append(view)
        continue
    out, err, code = io.StringIO(), io.StringIO(), 0
    sys.argv = ["tidal", "--workspace", workspace, *step["cli"]]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps(results))
"""


def drive(local_market, *steps: list[str] | str) -> list[dict]:
    """Run ``tidal`` commands (lists) and Studio views (strings) in order, in one process of the throwaway venv."""
    plan = [{"studio": step} if isinstance(step, str) else {"cli": step} for step in steps]
    done = local_market.run("-c", DRIVER, str(local_market.root / "ws"), json.dumps(plan))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_scaffolded_plugin_installs_from_the_index_lists_passes_its_tests_and_verifies(local_market):
    try:
        search, install, listed, verify, show, view = drive(
            local_market, ["market", "search", "acme", "--json"], ["market", "install", "acme-tools", "--yes"],
            ["components", "list", "--json", "--category", "acme_tools"], ["market", "verify", "acme-tools", "--json"],
            ["market", "show", "acme-tools", "--json"], "view")
        assert [item["package"] for item in json.loads(search["out"])] == ["acme-tools"]
        assert install["code"] == 0, install["err"]
        assert "sha256" in install["out"] and local_market.installed("acme-tools")
        assert [(item["id"], item["origin"]) for item in json.loads(listed["out"])] == [("acme_tools.scale_column", "acme-tools")]

        record = json.loads(verify["out"])
        assert verify["code"] == 0 and record["passed"] is True
        assert list(record["components"]) == ["acme_tools.scale_column"]
        assert set(record["components"]["acme_tools.scale_column"].values()) == {None}
        shown = json.loads(show["out"])
        assert shown["index"]["version"] == "0.1.0"
        assert shown["installed"]["conformance"] == "passed" and shown["installed"]["verified_version"] == "0.1.0"

        generated = local_market.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=local_market.plugin_project)
        assert generated.returncode == 0, generated.stdout[-3000:]
        assert "8 passed" in generated.stdout

        assert view["palette"]["acme_tools.scale_column"] == "acme-tools" and view["palette"]["data.split"] == "tidal"
        assert [(item["distribution"], item["version"], item["conformance"]) for item in view["plugins"]] == [
            ("acme-tools", "0.1.0", "passed")]
    finally:
        (removed,) = drive(local_market, ["market", "remove", "acme-tools"])
    assert removed["code"] == 0, removed["err"]
    assert not local_market.installed("acme-tools")


def test_studio_installs_only_with_the_switch_and_the_palette_shows_the_new_components(local_market):
    try:
        off, allowed = drive(local_market, "off", "on")
        refused = off["install"]
        assert refused["status"] == 403 and "--allow-install" in refused["body"]["detail"]
        assert allowed["install"]["status"] == 200, allowed["install"]
        assert allowed["install"]["body"]["components"] == ["acme_tools.scale_column"]
        assert "acme_tools.scale_column" not in allowed["palette"]
        assert allowed["palette_after"]["acme_tools.scale_column"] == "acme-tools"
    finally:
        (removed,) = drive(local_market, ["market", "remove", "acme-tools"])
    assert removed["code"] == 0, removed["err"]


def test_a_plugin_that_fails_to_import_is_reported_with_its_error(local_market):
    error = "RuntimeError: broken on purpose: the model file is missing"
    try:
        install, listed, show, asked, verify, view = drive(
            local_market, ["market", "install", "broken-tools", "--yes"], ["components", "list", "-c", "none"],
            ["market", "show", "broken-tools", "--json"], ["components", "show", "broken_tools.anything"],
            ["market", "verify", "broken-tools", "--json"], "view")
        assert install["code"] == 0, install["err"]
        assert f"plug-in broken_tools failed to load: {error}" in listed["out"]
        assert json.loads(show["out"])["installed"]["load_errors"] == {"broken_tools": error}
        assert asked["code"] != 0
        assert f"plug-in broken_tools failed to load: {error}" in asked["err"] and "unknown component" not in asked["err"]
        assert verify["code"] == 1 and json.loads(verify["out"])["load_errors"] == {"broken_tools": error}
        assert [(item["distribution"], item["conformance"], item["load_errors"]) for item in view["plugins"]] == [
            ("broken-tools", "failed", {"broken_tools": error})]
    finally:
        (removed,) = drive(local_market, ["market", "remove", "broken-tools"])
    assert removed["code"] == 0, removed["err"]


def test_a_wheel_whose_hash_does_not_match_is_refused_and_nothing_is_installed(local_market):
    index = json.loads(local_market.index.read_text())
    real = index["packages"][0]["sha256"]
    index["packages"][0]["sha256"] = "0" * 64
    tampered = local_market.index.with_name("tampered.json")
    tampered.write_text(json.dumps(index))
    (refused,) = drive(local_market, ["market", "install", "acme-tools", "--yes", "--index", str(tampered)])
    assert refused["code"] == 2
    message = " ".join(refused["err"].split())
    assert "0" * 64 in message and real in message and "nothing was installed" in message
    assert "Traceback" not in refused["err"]
    assert not local_market.installed("acme-tools")
