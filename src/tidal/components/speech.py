"""Speech: voice-activity detection with Silero VAD, offline.

The model is the ONNX file that ships inside the ``silero-vad`` package, run by onnxruntime;
audio is decoded with soundfile (libsndfile) and resampled to 16 kHz with SciPy, so torchaudio is
never needed: ``pip install 'tidal-ml[speech]'`` (after PyTorch, as for ``nn``). Nothing downloads.
See ``docs/speech.md``.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd

from tidal.core import InputFile, Param, component

VAD_COLUMNS = ["row", "audio", "segment", "start", "end", "duration"]


@component("speech.vad", title="Voice Activity (Silero VAD)", tags={"sample": "speech_audio", "sample_params": {"path": None}})
def vad(
    data: pd.DataFrame | None = None,
    *,
    column: Annotated[str, Param(help="the audio column: file paths (relative to the workspace) or encoded audio "
                                      "bytes (WAV, FLAC, OGG, MP3 ...)")] = "audio",
    path: Annotated[InputFile | None, Param(help="one audio file, instead of a table on 'data'")] = None,
    threshold: Annotated[float, Param(gt=0, lt=1, help="a 32 ms window is speech when the model's probability is above "
                                                       "this (it ends when it falls 0.15 below)")] = 0.5,
    min_speech_ms: Annotated[int, Param(ge=0, le=60_000, help="speech shorter than this is dropped")] = 250,
    min_silence_ms: Annotated[int, Param(ge=0, le=60_000, help="a pause must last this long to end a "
                                                               "segment")] = 100,
    speech_pad_ms: Annotated[int, Param(ge=0, le=10_000, help="each segment is widened by this much on both "
                                                              "sides")] = 30,
    max_speech_seconds: Annotated[float | None, Param(gt=0, help="longer segments are split at their longest pause "
                                                                  "(or cut); empty: no limit")] = None,
    max_seconds: Annotated[float, Param(gt=0, le=86_400, help="longest audio accepted (checked on the header "
                                                              "before decoding)")] = 14_400,
) -> pd.DataFrame:
    """Find where people speak in audio: one row per speech segment, with its start and end in seconds.

    Each file is decoded (WAV, FLAC, OGG, MP3 ...), mixed down to mono and resampled to 16 kHz;
    Silero VAD gives a speech probability for every 32 ms window, and silero-vad's own
    segmenting turns them into segments (``threshold``, ``min_speech_ms``, ``min_silence_ms``,
    ``speech_pad_ms``, ``max_speech_seconds`` are its parameters). ``row`` is the position of the
    file in ``data`` (0 for ``path``), ``audio`` its path (empty for bytes), ``segment`` the
    segment's number in its file, ``start``/``end``/``duration`` in seconds (to the sample at
    16 kHz). Audio without speech adds no rows. A file that cannot be decoded fails the node,
    naming it.

    Examples
    --------
    >>> import io, numpy as np, soundfile
    >>> from scipy.signal import lfilter
    >>> rate = 16_000
    >>> voice = (np.arange(2 * rate) % (rate // 160) == 0).astype(float)  # vocal folds at 160 Hz
    >>> for formant in (700, 1220, 2600):                                 # the resonances of an "a"
    ...     voice = lfilter([1.0], [1, -1.9 * np.cos(2 * np.pi * formant / rate), 0.9025], voice)
    >>> voice *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(2 * rate) / rate)  # four syllables a second
    >>> audio = np.concatenate([np.zeros(rate), voice / np.abs(voice).max() / 2, np.zeros(rate)])
    >>> wav = io.BytesIO()
    >>> soundfile.write(wav, audio, rate, format="WAV")
    >>> segments = vad(pd.DataFrame({"audio": [wav.getvalue()]}))
    >>> len(segments), bool(0.9 < segments["start"][0] < 1.1), list(segments.columns)
    (1, True, ['row', 'audio', 'segment', 'start', 'end', 'duration'])
    """
    from tidal.components._audio import read_audio
    from tidal.components._media_inputs import media_inputs
    from tidal.components._vad_model import RATE, speech_segments

    rows: list[list[object]] = []
    for item in media_inputs(data, path, column, "audio"):
        samples, _ = read_audio(item, RATE, max_seconds)
        found = speech_segments(samples, threshold=threshold, min_speech_ms=min_speech_ms, min_silence_ms=min_silence_ms,
                                speech_pad_ms=speech_pad_ms, max_speech_seconds=max_speech_seconds)
        for segment, (start, end) in enumerate(found):
            rows.append([max(item.row, 0), item.path, segment, start / RATE, end / RATE, (end - start) / RATE])
    table = pd.DataFrame(rows, columns=VAD_COLUMNS)
    return table.astype({"row": "int64", "segment": "int64", "start": "float64", "end": "float64", "duration": "float64"})
