"""Silero VAD from the installed ``silero-vad`` package: its ONNX model, run by onnxruntime.

The package ships the model in several files; Tidal loads ``silero_vad/data/silero_vad.onnx``
(a graph and weights, not code) through the package's own ``load_silero_vad(onnx=True)``, and
never the TorchScript file (``silero_vad.jit``, a zip with pickled code). No path is ever taken
from a parameter, a table or a request, and nothing is downloaded. Speech segments come from the
package's ``get_speech_timestamps``, so they equal a direct call on the same 16 kHz samples.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from tidal.core._errors import TidalError

#: the model's own rate; every input is resampled to it
RATE = 16_000
MODEL_FILE = "silero_vad.onnx"


def _package() -> Any:
    try:
        import torch
    except ImportError:
        raise TidalError("speech.vad needs PyTorch (silero-vad's segmenting runs on tensors): "
                         "pip install 'tidal-ml[speech]'") from None
    threads = torch.get_num_threads()
    try:
        import silero_vad
    except ImportError:
        raise TidalError("speech.vad runs the Silero VAD model that ships in silero-vad: pip install 'tidal-ml[speech]'") from None
    finally:
        # importing silero_vad sets PyTorch's threads to 1 for the whole process; give them back
        torch.set_num_threads(threads)
    return silero_vad


def model_file() -> Path:
    """The ONNX model inside the installed silero-vad package (checked to be there)."""
    package = _package()
    path = Path(package.__file__).resolve().parent / "data" / MODEL_FILE
    if not path.is_file():
        raise TidalError(f"the installed silero-vad lacks {MODEL_FILE} in {path.parent}: reinstall it "
                         "(pip install --force-reinstall silero-vad)")
    return path


@functools.lru_cache(maxsize=1)
def vad_model() -> Any:
    """The package's ONNX model wrapper (one onnxruntime session, one thread), built once per process."""
    model_file()
    return _package().load_silero_vad(onnx=True)


def speech_segments(samples: np.ndarray, *, threshold: float, min_speech_ms: int, min_silence_ms: int,
                    speech_pad_ms: int, max_speech_seconds: float | None) -> list[tuple[int, int]]:
    """(start, end) sample positions at 16 kHz of each speech segment, as silero-vad finds them."""
    if samples.size == 0:
        return []
    import torch

    found = _package().get_speech_timestamps(
        torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), vad_model(), threshold=threshold,
        sampling_rate=RATE, min_speech_duration_ms=min_speech_ms, min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        max_speech_duration_s=float("inf") if max_speech_seconds is None else max_speech_seconds)
    return [(int(segment["start"]), int(segment["end"])) for segment in found]
