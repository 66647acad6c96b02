"""Tiny image and audio samples for the conformance suite, made in memory with no files or fonts to install.

``text_images``: two PNG images of printed text (Pillow's built-in font) in column ``image``.
``speech_audio``: two WAV files in column ``audio``: a voiced sound (a 160 Hz pulse train through
three vowel formants, four syllables a second) between silences, and silence alone.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from tidal.conformance._samples import Sample


def _png(lines: list[str]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=32)
    page = Image.new("RGB", (260, 20 + 48 * len(lines)), "white")
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines):
        draw.text((12, 10 + 48 * index), line, fill="black", font=font)
    encoded = io.BytesIO()
    page.save(encoded, format="PNG")
    return encoded.getvalue()


def text_images() -> Sample:
    frame = pd.DataFrame({"id": [1, 2], "image": [_png(["Tidal", "2024"]), _png(["OCR"])]})
    return Sample(frame, {"column": "image"})


def _wav(samples: np.ndarray, rate: int) -> bytes:
    import soundfile

    encoded = io.BytesIO()
    soundfile.write(encoded, samples, rate, format="WAV", subtype="PCM_16")
    return encoded.getvalue()


def voiced(seconds: float, rate: int = 16_000, pitch: int = 160) -> np.ndarray:
    """A vowel-like sound: glottal pulses through the first three formants of an "a", amplitude-modulated."""
    from scipy.signal import lfilter

    count = int(seconds * rate)
    voice = (np.arange(count) % (rate // pitch) == 0).astype(float)
    for formant in (700, 1220, 2600):
        voice = lfilter([1.0], [1, -1.9 * np.cos(2 * np.pi * formant / rate), 0.9025], voice)
    voice *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(count) / rate)
    return 0.5 * voice / np.abs(voice).max()  # type: ignore[no-any-return]


def speech_audio() -> Sample:
    rate = 16_000
    silence = np.zeros(rate // 2)
    frame = pd.DataFrame({"id": [1, 2], "audio": [_wav(np.concatenate([silence, voiced(1.5), silence]), rate),
                                                   _wav(np.zeros(rate), rate)]})
    return Sample(frame, {"column": "audio"})
