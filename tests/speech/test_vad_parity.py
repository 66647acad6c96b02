"""speech.vad on speech made by espeak-ng: segments cover the speech, not the silence, and equal silero-vad's own call."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from tidal.components.speech import VAD_COLUMNS, vad

RATE = 16_000


def _direct(samples: np.ndarray, model, **options) -> list[tuple[float, float]]:
    from silero_vad import get_speech_timestamps

    found = get_speech_timestamps(torch.from_numpy(samples), model, sampling_rate=RATE, **options)
    return [(item["start"] / RATE, item["end"] / RATE) for item in found]


@pytest.fixture(scope="module")
def segments(recording) -> pd.DataFrame:
    return vad(pd.DataFrame({"audio": [str(recording.wav_16k), str(recording.wav_native)]}))


def test_segments_cover_the_speech_and_not_the_silence(recording, segments):
    assert list(segments.columns) == VAD_COLUMNS
    for row in (0, 1):
        found = segments[segments["row"] == row]
        assert len(found) >= 1
        start, end = recording.voiced
        assert found["start"].min() <= start + 0.1 and found["end"].max() >= end - 0.1  # the speech is covered
        assert found["start"].min() >= recording.lead - 0.3  # nothing in the leading second and a half of silence
        assert found["end"].max() <= end + 0.5  # nor in the trailing two seconds
        assert np.allclose(found["duration"], found["end"] - found["start"])
        assert found["segment"].tolist() == list(range(len(found)))


def test_segments_equal_silero_vads_own_call_on_the_same_samples(recording, segments):
    from silero_vad import load_silero_vad

    ours = segments[segments["row"] == 0]
    direct = _direct(recording.samples, load_silero_vad(onnx=True))
    assert list(zip(ours["start"], ours["end"], strict=True)) == direct


def test_the_torchscript_model_agrees_within_a_window(recording, segments):
    """silero-vad's default (TorchScript) model finds the same segments, to one 32 ms window."""
    from silero_vad import load_silero_vad

    ours = segments[segments["row"] == 0]
    direct = _direct(recording.samples, load_silero_vad())
    assert len(direct) == len(ours)
    assert np.allclose(np.array(direct), ours[["start", "end"]].to_numpy(), atol=0.032)


def test_resampled_audio_finds_the_same_segments_to_a_window(segments):
    at_16k, native = segments[segments["row"] == 0], segments[segments["row"] == 1]
    assert len(at_16k) == len(native)
    assert np.allclose(at_16k[["start", "end"]].to_numpy(), native[["start", "end"]].to_numpy(), atol=0.064)


def test_parameters_reach_silero(recording):
    from silero_vad import load_silero_vad

    options = {"threshold": 0.7, "min_speech_ms": 100, "min_silence_ms": 50, "speech_pad_ms": 0}
    ours = vad(path=str(recording.wav_16k), **options)
    direct = _direct(recording.samples, load_silero_vad(onnx=True), threshold=0.7, min_speech_duration_ms=100,
                     min_silence_duration_ms=50, speech_pad_ms=0)
    assert list(zip(ours["start"], ours["end"], strict=True)) == direct
    assert ours["row"].unique().tolist() == [0] and ours["audio"].tolist() == [str(recording.wav_16k)] * len(ours)


def test_stereo_flac_bytes_are_mixed_down(recording, segments):
    import soundfile

    stereo = np.stack([recording.samples, np.zeros_like(recording.samples)], axis=1)
    flac = io.BytesIO()
    soundfile.write(flac, stereo, RATE, format="FLAC")
    found = vad(pd.DataFrame({"audio": [flac.getvalue()]}))
    assert len(found) >= 1 and found["audio"].isna().all()
    start, end = recording.voiced
    assert found["start"].min() <= start + 0.1 and found["end"].max() >= end - 0.1


def test_silence_and_an_empty_table_give_no_rows(tmp_path):
    import soundfile

    quiet = tmp_path / "quiet.wav"
    soundfile.write(quiet, np.zeros(RATE), RATE)
    assert vad(path=str(quiet)).empty
    empty = vad(pd.DataFrame({"audio": pd.Series([], dtype=object)}))
    assert empty.empty and list(empty.columns) == VAD_COLUMNS


def test_importing_silero_leaves_torchs_threads_alone():
    import subprocess
    import sys

    script = ("import torch; torch.set_num_threads(2)\n"
              "from tidal.components._vad_model import vad_model; vad_model()\n"
              "print(torch.get_num_threads())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "2"
