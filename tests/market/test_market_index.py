"""The index format, the default index, search, and the scaffold's refusals (in process, no installs)."""

from __future__ import annotations

import json

import pytest

from tidal.core import NotFound, TidalError
from tidal.core._registry import Registry
from tidal.market import INDEX_VARIABLE, MarketRefused, load_index, read_records, scaffold_plugin

ENTRY = {"package": "acme-tools", "version": "1.2.0rc1", "summary": "Scale and clip columns", "components": ["acme_tools.scale"],
         "licence": "MIT", "wheel": "wheels/acme_tools-1.2.0rc1-py3-none-any.whl", "sha256": "c" * 64}


def test_the_default_index_is_shipped_empty_and_valid(monkeypatch):
    monkeypatch.delenv(INDEX_VARIABLE, raising=False)
    index = load_index()
    assert index.entries == () and index.location.endswith("default_index.json")


def test_the_index_variable_chooses_the_index_and_search_matches_every_word(tmp_path, monkeypatch):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"tidal_market": 1, "name": "team", "packages": [ENTRY, {**ENTRY, "package": "other", "summary": "x",
                                                                                         "components": ["other.x"]}]}))
    monkeypatch.setenv(INDEX_VARIABLE, str(path))
    index = load_index()
    assert index.name == "team"
    assert [entry.package for entry in index.search("scale columns")] == ["acme-tools"]
    assert [entry.package for entry in index.search("")] == ["acme-tools", "other"]
    assert index.find("ACME_tools").version == "1.2.0rc1"
    with pytest.raises(NotFound, match="no package 'nothing'.*acme-tools, other"):
        index.find("nothing")
    assert index.wheel_location(index.find("acme-tools")) == str((tmp_path / ENTRY["wheel"]).resolve())


@pytest.mark.parametrize(("change", "where"), [({"sha256": "C" * 64}, "packages/0/sha256"), ({"version": "1.0; rm"}, "packages/0/version"),
                                               ({"components": ["NoDot"]}, "packages/0/components/0"), ({"extra": 1}, "packages/0")])
def test_an_entry_that_breaks_the_schema_is_refused_with_where(tmp_path, change, where):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"tidal_market": 1, "packages": [{**ENTRY, **change}]}))
    with pytest.raises(MarketRefused, match=f"not valid at {where}"):
        load_index(path)


def test_the_scaffold_refuses_bad_names_and_a_folder_in_use(tmp_path):
    with pytest.raises(TidalError, match="cannot name a plug-in"):
        scaffold_plugin("../evil", tmp_path)
    (tmp_path / "acme" / "keep.txt").parent.mkdir()
    (tmp_path / "acme" / "keep.txt").write_text("mine")
    with pytest.raises(TidalError, match="not empty"):
        scaffold_plugin("acme", tmp_path)
    assert (tmp_path / "acme" / "keep.txt").read_text() == "mine"
    assert not (tmp_path.parent / "evil").exists()


def test_a_damaged_verification_record_reads_as_none(tmp_path):
    (tmp_path / ".tidal" / "market").mkdir(parents=True)
    (tmp_path / ".tidal" / "market" / "verified.json").write_text("{not json")
    assert read_records(tmp_path) == {}


def test_an_unknown_component_names_the_plugin_that_failed_to_load():
    registry = Registry()
    registry._loaded = True
    registry.plugin_errors = {"acme_tools": "ImportError: no module named lightgbm"}
    registry.plugin_distributions = {"acme_tools": "acme-tools"}
    with pytest.raises(NotFound, match=r"plug-in acme_tools failed to load: ImportError: no module named lightgbm") as named:
        registry.get("acme_tools.scale")
    assert "unknown component" not in str(named.value)
    with pytest.raises(NotFound, match=r"unknown component 'zzz.x'.*plug-in acme_tools failed to load \(ImportError"):
        registry.get("zzz.x")


def test_market_show_reads_without_creating_a_workspace(tmp_path, monkeypatch, capsys):
    import sys

    from tidal.cli import main

    monkeypatch.delenv("TIDAL_WORKSPACE", raising=False)
    monkeypatch.delenv("TIDAL_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["tidal", "market", "show", "no-such-package"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2 and "is neither in the index" in capsys.readouterr().err
    assert not (tmp_path / ".tidal").exists()
