"""examples/ocr.yaml end to end on the engine, with the network off: the models come from the installed package."""

from __future__ import annotations

import shutil
from pathlib import Path

from offline_guard import no_network

import tidal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_models_are_files_of_the_installed_package():
    import rapidocr_onnxruntime

    from tidal.components._ocr_engine import MODEL_FILES, model_folder

    folder = model_folder()
    assert folder == Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"
    assert all((folder / name).stat().st_size > 500_000 for name in MODEL_FILES)


def test_the_ocr_example_runs_offline(tmp_path, monkeypatch):
    from tidal.components._ocr_engine import engine

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TIDAL_HOME", str(tmp_path))
    shutil.copytree(EXAMPLES / "data" / "ocr", tmp_path / "examples" / "data" / "ocr")
    shutil.copy(EXAMPLES / "data" / "ocr_images.csv", tmp_path / "examples" / "data")
    shutil.copy(EXAMPLES / "ocr.yaml", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    engine.cache_clear()  # the engine is built (models loaded) inside the guard
    with no_network() as attempts:
        result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "ocr.yaml"), workspace=tmp_path, workers=0)
    assert attempts == []
    assert result.ok, result.to_dict()
    lines = result.output("lines").to_pandas()
    assert set(lines["row"]) == {0, 1} and (lines["score"] > 0.9).all()
    pages = result.output("pages").to_pandas().set_index("name")
    assert pages.loc["notice", "text"] == "机器学习平台 欢迎使用"
    assert "".join(pages.loc["receipt", "text"].split()) == "HarbourCafe2Espresso5.80TotalEUR12.40"
