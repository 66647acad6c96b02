"""The DuckDB sandbox of the SQL components: no file, database, extension or setting beyond the inputs.

A secret lives outside the workspace (and one right next to it); every attempt to read it must
fail with an error naming the parameter, and its content must never appear in any output. Writes
to outside paths must leave no file behind.
"""

from __future__ import annotations

import pandas as pd
import pytest

import tidal
from tidal.components.data_combine import sql
from tidal.components.io_db import duckdb_query
from tidal.components.tools import assert_rows, sql_script
from tidal.core import DataError, TidalError

SECRET = "s3cret-d0-not-leak"


@pytest.fixture
def places(tmp_path, monkeypatch):
    """The workspace (current folder), a secret outside it, and one next to it sharing its prefix."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text(f"value\n{SECRET}\n")
    beside = tmp_path / "ws-secret.csv"
    beside.write_text(f"value\n{SECRET}\n")
    (workspace / "link.csv").symlink_to(secret)
    (workspace / "ok.csv").write_text("value\nfine\n")
    monkeypatch.chdir(workspace)
    return {"workspace": workspace, "outside": outside, "secret": secret, "beside": beside}


def attacks(places: dict) -> dict[str, str]:
    secret, outside, beside = places["secret"], places["outside"], places["beside"]
    return {
        "read_csv /etc/passwd": "SELECT * FROM read_csv('/etc/passwd')",
        "read_csv outside": f"SELECT * FROM read_csv('{secret}')",
        "read_csv beside": f"SELECT * FROM read_csv('{beside}')",
        "replacement scan": f"SELECT * FROM '{secret}'",
        "read_text": f"SELECT content FROM read_text('{secret}')",
        "read_blob": f"SELECT content::VARCHAR FROM read_blob('{secret}')",
        "glob": f"SELECT file FROM glob('{outside}/*')",
        "symlink in the workspace": f"SELECT * FROM read_csv('{places['workspace'] / 'link.csv'}')",
        "copy to": f"COPY (SELECT 'x' AS a) TO '{outside / 'written.csv'}'; SELECT 1",
        "attach": f"ATTACH '{outside / 'attached.db'}' AS other; SELECT 1",
        "install": "INSTALL httpfs; SELECT 1",
        "load": "LOAD httpfs; SELECT 1",
        "load a file": f"LOAD '{outside / 'evil.duckdb_extension'}'; SELECT 1",
        "re-enable access": "SET enable_external_access = true; SELECT 1",
        "unlock": "SET lock_configuration = false; SELECT 1",
        "widen paths": "SET allowed_directories = ['/']; SELECT 1",
        "move spill": f"SET temp_directory = '{outside}'; SELECT 1",
        "lift memory cap": "SET memory_limit = '1TB'; SELECT 1",
        "export": f"EXPORT DATABASE '{outside / 'export'}'; SELECT 1",
        "url": "SELECT * FROM read_csv('https://example.com/data.csv')",
    }


def assert_untouched(places: dict) -> None:
    outside = places["outside"]
    assert sorted(path.name for path in outside.iterdir()) == ["secret.csv"]
    assert places["secret"].read_text() == f"value\n{SECRET}\n"


@pytest.mark.parametrize("connected", [False, True], ids=["no tables", "with a table"])
def test_sql_script_cannot_reach_beyond_its_inputs(places, connected):
    table = pd.DataFrame({"x": [1, 2]}) if connected else None
    for name, script in attacks(places).items():
        with pytest.raises(DataError) as refused:
            result = sql_script(table, script=script)
            pytest.fail(f"{name}: the script ran and returned {result.to_pandas()!r}")
        message = str(refused.value)
        assert "parameter 'script'" in message, (name, message)
        assert SECRET not in message
        if "/etc/passwd" not in name and "url" != name:
            assert "sandbox" in message or "does not exist" in message, (name, message)
    assert_untouched(places)


def test_sandbox_errors_say_what_happened(places):
    with pytest.raises(DataError, match=r"parameter 'script', statement 1.*refused by the SQL sandbox"):
        sql_script(script=f"SELECT * FROM read_text('{places['secret']}')")
    with pytest.raises(DataError, match=r"statement 1: .*configuration has been locked.*SQL sandbox"):
        sql_script(script="SET enable_external_access = true; SELECT 1")


def test_inputs_still_work_inside_the_sandbox(places):
    frame = pd.DataFrame({"shop": ["a", "b", "a"], "amount": [5, 7, 2]})
    script = "CREATE TEMP TABLE t AS SELECT * FROM t1; CREATE MACRO twice(x) AS 2 * x; SELECT shop, twice(sum(amount)) AS n FROM t GROUP BY shop ORDER BY shop"
    assert sql_script(frame, script=script).to_pandas()["n"].tolist() == [14, 14]
    assert sql(frame, frame, query="SELECT count(*) AS n FROM t1 JOIN t2 USING (shop)").to_pandas()["n"].item() == 5


def test_other_sql_parameters_are_sandboxed_too(places):
    frame = pd.DataFrame({"x": [1, 2]})
    secret = places["secret"]
    with pytest.raises(DataError, match="parameter 'query'") as refused:
        sql(frame, query=f"SELECT content FROM read_text('{secret}')")
    assert SECRET not in str(refused.value)
    with pytest.raises(DataError, match="parameter 'where'") as refused:
        assert_rows(frame, where=f"(SELECT count(*) FROM read_text('{secret}')) = 0")
    assert SECRET not in str(refused.value)
    injected = f"true), false) FROM data; COPY (SELECT 1) TO '{places['outside'] / 'x.csv'}'; SELECT (1"
    with pytest.raises(TidalError):
        assert_rows(frame, where=injected)
    assert_untouched(places)


def test_duckdb_query_reads_the_workspace_and_nothing_outside(places):
    assert duckdb_query(query="SELECT * FROM 'ok.csv'").to_pandas()["value"].tolist() == ["fine"]
    for query in (
        f"SELECT * FROM read_csv('{places['secret']}')",
        f"SELECT * FROM read_csv('{places['beside']}')",
        "SELECT * FROM read_csv('link.csv')",
        "SELECT * FROM read_csv('../outside/secret.csv')",
        f"COPY (SELECT 1) TO '{places['outside'] / 'out.csv'}'",
    ):
        with pytest.raises(TidalError) as refused:
            duckdb_query(query=query)
        assert "parameter 'query'" in str(refused.value) and SECRET not in str(refused.value), query
    assert_untouched(places)


def test_a_pipeline_node_cannot_leak_the_secret_into_outputs_or_logs(places):
    text = (
        "tidal: 1\nname: leak\nnodes:\n"
        "  - id: steal\n    component: tools.sql_script\n"
        f"    params: {{script: \"SELECT content FROM read_text('{places['secret']}')\"}}\n"
    )
    (places["workspace"] / "leak.yaml").write_text(text)
    result = tidal.run("leak.yaml", workspace=places["workspace"], workers=0)
    assert not result.ok
    error = result.nodes["steal"].error or ""
    assert "parameter 'script'" in error and "sandbox" in error and SECRET not in error
    stored = [path for path in (places["workspace"] / ".tidal").rglob("*") if path.is_file()]
    assert stored and not any(SECRET.encode() in path.read_bytes() for path in stored)
