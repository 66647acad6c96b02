"""Fixtures for the speech tests: speech made by espeak-ng, padded with silence by numpy, as files."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("silero_vad")
soundfile = pytest.importorskip("soundfile")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RATE = 16_000
LEAD, TAIL = 1.5, 2.0  # seconds of silence before and after the speech


@dataclass(frozen=True)
class Recording:
    wav_16k: Path        # 16 kHz mono, 16-bit: what the model takes as is
    wav_native: Path     # espeak-ng's own rate (22,050 Hz), so the component resamples
    samples: np.ndarray  # the 16 kHz float32 samples of wav_16k, as decoded
    native_rate: int
    voiced: tuple[float, float]  # first and last loud 10 ms frame of the speech, in seconds of the padded file
    lead: float          # seconds of silence before the speech


def _loud_span(samples: np.ndarray, rate: int) -> tuple[float, float]:
    frame = rate // 100
    energy = np.sqrt(np.mean(samples[: len(samples) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.05 * energy.max())
    return loud[0] * frame / rate, (loud[-1] + 1) * frame / rate


@pytest.fixture(scope="session")
def recording(tmp_path_factory) -> Recording:
    from scipy.signal import resample_poly

    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run scripts/system-deps.sh (make test does)")
    folder = tmp_path_factory.mktemp("speech")
    spoken = folder / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "160", "-w", str(spoken),
                    "Tidal finds the speech in this recording."], check=True, capture_output=True, timeout=60)
    speech, native_rate = soundfile.read(spoken, dtype="float32")
    padded = np.concatenate([np.zeros(int(LEAD * native_rate), np.float32), speech,
                             np.zeros(int(TAIL * native_rate), np.float32)])
    native = folder / "padded_native.wav"
    soundfile.write(native, padded, native_rate, subtype="PCM_16")
    at_16k = resample_poly(padded, RATE // 50, native_rate // 50) if native_rate != RATE else padded
    wav_16k = folder / "padded_16k.wav"
    soundfile.write(wav_16k, at_16k, RATE, subtype="PCM_16")
    decoded, _ = soundfile.read(wav_16k, dtype="float32")
    start, end = _loud_span(decoded, RATE)
    return Recording(wav_16k, native, decoded, native_rate, (start, end), LEAD)
