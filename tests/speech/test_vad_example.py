"""examples/speech_vad.yaml end to end on the engine, with the network off: the model comes from the installed package."""

from __future__ import annotations

import shutil
from pathlib import Path

from offline_guard import no_network

import tidal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_model_is_a_file_of_the_installed_package():
    import silero_vad

    from tidal.components._vad_model import model_file

    path = model_file()
    assert path == Path(silero_vad.__file__).resolve().parent / "data" / "silero_vad.onnx"
    assert path.stat().st_size > 1_000_000


def test_the_vad_example_runs_offline(tmp_path, monkeypatch):
    from tidal.components._vad_model import vad_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TIDAL_HOME", str(tmp_path))
    shutil.copytree(EXAMPLES / "data" / "speech", tmp_path / "examples" / "data" / "speech")
    shutil.copy(EXAMPLES / "data" / "speech_files.csv", tmp_path / "examples" / "data")
    shutil.copy(EXAMPLES / "speech_vad.yaml", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    vad_model.cache_clear()  # the model is loaded inside the guard
    with no_network() as attempts:
        result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "speech_vad.yaml"), workspace=tmp_path, workers=0)
    assert attempts == []
    assert result.ok, result.to_dict()
    segments = result.output("segments").to_pandas()
    assert len(segments) >= 1
    # welcome.flac: one second of silence, two spoken sentences (about 4 s), then two seconds of silence
    assert 0.7 <= segments["start"].min() <= 1.2 and segments["end"].max() <= 5.3
    summary = result.output("talk_time").to_pandas()
    assert summary["segments"].tolist() == [len(segments)]
    assert abs(summary["speech_seconds"].iloc[0] - segments["duration"].sum()) < 1e-9
