"""Hostile audio for speech.vad: undecodable, truncated, oversized or odd files are refused by name, never crash."""

from __future__ import annotations

import io
import struct

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("silero_vad")
soundfile = pytest.importorskip("soundfile")

from tidal.components.speech import vad  # noqa: E402
from tidal.core import DataError, registry  # noqa: E402

RATE = 16_000


def _wav(samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    encoded = io.BytesIO()
    soundfile.write(encoded, samples, rate, format="WAV", subtype=subtype)
    return encoded.getvalue()


def test_a_file_that_is_not_audio_is_named(tmp_path):
    fake = tmp_path / "meeting.wav"
    fake.write_text("this is a transcript, not a recording\n" * 20)
    with pytest.raises(DataError, match=r"row 0 \(file .*meeting\.wav\) cannot be decoded as audio \(Format not recognised"):
        vad(pd.DataFrame({"audio": [str(fake)]}))
    with pytest.raises(DataError, match=r"^file .*meeting\.wav cannot be decoded as audio"):
        vad(path=str(fake))


def test_a_wav_truncated_in_its_header_is_named(tmp_path):
    cut = tmp_path / "cut.wav"
    cut.write_bytes(_wav(np.zeros(RATE))[:20])
    with pytest.raises(DataError, match=r"file .*cut\.wav cannot be decoded as audio"):
        vad(path=str(cut))


def test_a_wav_truncated_in_its_samples_decodes_what_is_there(tmp_path):
    """libsndfile reads the frames present when the data chunk is cut short: segments stay inside them."""
    rng = np.random.default_rng(0)
    whole = _wav(0.2 * rng.normal(size=4 * RATE))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 4 + 1])  # about one second, ending mid-sample
    segments = vad(path=str(cut))
    assert segments.empty or segments["end"].max() <= 1.0 + 1e-9


def test_a_crafted_sample_rate_is_refused_before_resampling():
    header = bytearray(_wav(np.zeros(RATE)))
    header[24:28] = struct.pack("<I", 1_000_000_000)  # the fmt chunk's sample rate
    with pytest.raises(DataError, match=r"row 0 \(bytes\): sample rate 1000000000 Hz is outside 1000-384000 Hz"):
        vad(pd.DataFrame({"audio": [bytes(header)]}))


def test_audio_longer_than_max_seconds_is_refused_from_the_header():
    with pytest.raises(DataError, match=r"row 0 \(bytes\) lasts 3\.0 s, over 'max_seconds' = 2"):
        vad(pd.DataFrame({"audio": [_wav(np.zeros(3 * RATE))]}), max_seconds=2)


def test_samples_that_are_not_numbers_are_refused():
    samples = np.zeros(RATE, dtype=np.float32)
    samples[100] = np.nan
    with pytest.raises(DataError, match="not finite numbers"):
        vad(pd.DataFrame({"audio": [_wav(samples, subtype="FLOAT")]}))


def test_a_cell_that_is_neither_a_path_nor_bytes_is_named():
    with pytest.raises(DataError, match=r"column 'audio', row 1: expected an audio file path or audio bytes, got a value of type int"):
        vad(pd.DataFrame({"audio": [_wav(np.zeros(RATE)), 7]}))


def test_no_parameter_chooses_a_model_file():
    names = {param.name for param in registry.get("speech.vad").params}
    assert names == {"column", "path", "threshold", "min_speech_ms", "min_silence_ms", "speech_pad_ms",
                     "max_speech_seconds", "max_seconds"}
