"""Audio decoding for the speech components: libsndfile (through soundfile), mono, resampled with SciPy.

WAV, FLAC, OGG/Vorbis, Opus, MP3 (libsndfile 1.1+) and the other formats libsndfile reads are
decoded to float32 in [-1, 1]; channels are averaged to mono and the signal is resampled to the
model's rate with a polyphase filter (``scipy.signal.resample_poly``). Limits are checked on the
header, before samples are decoded: the duration (``max_seconds``) and the sample rate (so that a
crafted header cannot ask the resampler for a filter of billions of taps).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tidal.components._media_inputs import MediaInput
from tidal.core._errors import DataError, TidalError

#: sample rates accepted from a file header (from 1 kHz to 384 kHz, the highest studio rate)
MIN_RATE, MAX_RATE = 1_000, 384_000


def _soundfile() -> Any:
    try:
        import soundfile
    except ImportError:
        raise TidalError("the speech components decode audio with soundfile: pip install 'tidal-ml[speech]'") from None
    except OSError as error:  # the wheel's bundled libsndfile failed to load
        raise TidalError(f"soundfile could not load libsndfile ({error}): install libsndfile1") from None
    return soundfile


def read_audio(item: MediaInput, rate: int, max_seconds: float) -> tuple[np.ndarray, int]:
    """The input as mono float32 samples at ``rate`` Hz, and the file's own rate; errors name the input."""
    soundfile = _soundfile()
    stream = item.open()
    try:
        try:
            with soundfile.SoundFile(stream) as audio:
                source_rate, frames, channels = int(audio.samplerate), int(audio.frames), int(audio.channels)
                if not MIN_RATE <= source_rate <= MAX_RATE:
                    raise DataError(f"{item.label}: sample rate {source_rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
                if channels < 1 or channels > 64:
                    raise DataError(f"{item.label}: {channels} channels; give 1 to 64")
                if frames > max_seconds * source_rate:
                    raise DataError(f"{item.label} lasts {frames / source_rate:,.1f} s, over 'max_seconds' = "
                                    f"{max_seconds:g}; raise it or cut the file")
                samples = audio.read(dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, EOFError) as error:
            reason = getattr(error, "error_string", None) or str(error)
            raise DataError(f"{item.label} cannot be decoded as audio ({reason}); give a WAV, FLAC, OGG or MP3 file") from None
    finally:
        stream.close()
    mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    if not np.isfinite(mono).all():
        raise DataError(f"{item.label} holds samples that are not finite numbers (NaN or infinity)")
    return resample(mono, source_rate, rate), source_rate


def resample(samples: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """``samples`` from ``source_rate`` to ``rate`` Hz (polyphase, SciPy's default Kaiser window)."""
    if source_rate == rate or samples.size == 0:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    common = math.gcd(source_rate, rate)
    return np.ascontiguousarray(resample_poly(samples, rate // common, source_rate // common), dtype=np.float32)
