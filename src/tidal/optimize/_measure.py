"""Running a variant on rows, and timing it fairly beside the others.

A *runner* answers a feature frame with ``(prediction, probabilities)`` (probabilities ``None``
for a regressor), the way a caller of the package would get them: from the table in, so a
variant pays for its own input conversion. :class:`PackageRunner` calls the package's own
``predict_proba`` / ``predict`` (the baseline: the native booster, scikit-learn, or torch eager);
:class:`OnnxRunner` an onnxruntime session with the variant's session options.

Timing runs in rounds: every round times each variant in turn on the same rows, so a burst of
load on the machine falls on all of them, not on one. Between one variant's calls and the next's the
timer pauses :data:`PAUSE_S`, and the search's onnxruntime sessions do not spin: worker threads that spin
after each call starve the next variant's on a machine with few cores (torch's OpenMP threads wait at
every barrier). With twenty sessions spinning, the digits CNN's eager baseline measured 52 ms a call
beside the graphs, against 0.7 ms alone; without spinning, 0.8 ms. A package served by the ``onnx``
flavor keeps onnxruntime's default, and the winner's package is timed as served before it is handed
back (:mod:`tidal.optimize._served`). Latency p50/p99 come from all timed calls;
throughput is rows per second at the median latency. Nothing here asserts a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

#: onnxruntime's element types, and the numpy dtypes fed to them
ONNX_DTYPES: dict[str, Any] = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                               "tensor(int32)": np.int32, "tensor(bool)": np.bool_}
GRAPH_LEVELS = ("disabled", "basic", "extended", "all")
#: seconds between one runner's timed calls and the next runner's (see the module notes)
PAUSE_S = 0.01


class Runner(Protocol):
    def answer(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass(frozen=True)
class Timing:
    """How hard each variant is timed: warm-up calls, then ``rounds`` x ``calls`` timed calls per batch size."""

    warmup: int = 10
    rounds: int = 5
    calls: int = 20


class PackageRunner:
    """The package's own predict: the baseline every variant is compared with."""

    def __init__(self, package: Any) -> None:
        self.package = package
        self.classifier = package.task in ("binary", "multiclass")

    def answer(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.classifier:
            return np.asarray(self.package.predict(frame)).ravel(), None
        probabilities = np.asarray(self.package.predict_proba(frame), dtype=np.float64)
        return np.asarray(self.package.classes, dtype=object)[probabilities.argmax(axis=1)], probabilities


def session_options(settings: dict[str, Any]) -> Any:
    """onnxruntime SessionOptions from a variant's settings (``graph_level``, ``threads``, ``arena``)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # no spinning: a search holds many sessions, and their worker threads spinning after each call starved the
    # variants timed next (the digits CNN's eager baseline measured 52 ms a call among them, 0.7 ms alone)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    level = settings.get("graph_level", "all")
    options.graph_optimization_level = {
        "disabled": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    if settings.get("threads"):
        options.intra_op_num_threads = int(settings["threads"])
        options.inter_op_num_threads = 1
    if settings.get("arena") is False:
        options.enable_cpu_mem_arena = False
    return options


class OnnxRunner:
    """An onnxruntime session fed from feature columns: one input per column, or one ``[N, k]`` matrix."""

    def __init__(self, path: Path, features: Sequence[str], classifier: bool, settings: dict[str, Any] | None = None,
                 label_output: str | None = None, proba_output: str | None = None) -> None:
        import onnxruntime

        self.path = Path(path)
        self.features = list(features)
        self.classifier = classifier
        self.session = onnxruntime.InferenceSession(str(path), session_options(settings or {}),
                                                    providers=["CPUExecutionProvider"])
        self.inputs = [(item.name, ONNX_DTYPES.get(item.type, np.float32), len(item.shape))
                       for item in self.session.get_inputs()]
        outputs = [item.name for item in self.session.get_outputs()]
        self.label_output = label_output or outputs[0]
        self.proba_output = proba_output or (outputs[1] if classifier and len(outputs) > 1 else None)
        self.matrix = len(self.inputs) == 1 and self.inputs[0][0] not in self.features

    def feed(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if self.matrix:
            name, dtype, _ = self.inputs[0]
            return {name: _columns(frame, self.features).to_numpy(dtype=dtype)}
        dtypes = {dtype for _, dtype, _ in self.inputs}
        if len(dtypes) == 1:  # one conversion of the whole table, then a view per input
            matrix = _columns(frame, [name for name, _, _ in self.inputs]).to_numpy(dtype=dtypes.pop())
            return {name: matrix[:, index] if rank == 1 else matrix[:, index:index + 1]
                    for index, (name, _, rank) in enumerate(self.inputs)}
        fed = {}
        for name, dtype, rank in self.inputs:
            column = frame[name].to_numpy(dtype=dtype)
            fed[name] = column if rank == 1 else column.reshape(-1, 1)
        return fed

    def answer(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        wanted = [self.label_output] + ([self.proba_output] if self.proba_output else [])
        produced = self.session.run(wanted, self.feed(frame))
        prediction = np.asarray(produced[0])
        prediction = prediction.ravel() if prediction.ndim > 1 and prediction.shape[1] == 1 else prediction
        probabilities = None
        if self.proba_output:
            raw = produced[1]
            if isinstance(raw, list):  # ZipMap: a list of {class: probability}
                raw = [[row[key] for key in row] for row in raw]
            probabilities = np.asarray(raw, dtype=np.float64)
        return prediction, probabilities


def _columns(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``frame[names]``, without pandas' copy (a third of a millisecond for 64 columns) when it is that already."""
    return frame if frame.columns.tolist() == names else frame[names]


def answer_all(runner: Runner, frame: pd.DataFrame, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray | None]:
    """The runner's answers for every row, in chunks (bounded memory on large tables)."""
    parts = [runner.answer(frame.iloc[start:start + chunk]) for start in range(0, len(frame), chunk)]
    prediction = np.concatenate([part[0] for part in parts])
    probabilities = None if parts[0][1] is None else np.concatenate([part[1] for part in parts if part[1] is not None])
    return prediction, probabilities


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    throughput: float  # rows per second at the median latency

    def to_dict(self) -> dict[str, float]:
        return {"p50_ms": round(self.p50_ms, 4), "p99_ms": round(self.p99_ms, 4), "throughput": round(self.throughput, 1)}


def batch_rows(frame: pd.DataFrame, size: int) -> pd.DataFrame:
    """``size`` rows of the validation table (repeated when it has fewer)."""
    if len(frame) >= size:
        return frame.iloc[:size].reset_index(drop=True)
    repeats = -(-size // len(frame))
    return pd.concat([frame] * repeats, ignore_index=True).iloc[:size]


def time_runners(runners: dict[str, Runner], frame: pd.DataFrame, batch_sizes: Sequence[int], timing: Timing,
                 clock: Callable[[], float] = time.perf_counter,
                 pause: Callable[[float], None] = time.sleep) -> dict[str, dict[int, Latency]]:
    """Latency of every runner at every batch size, timed in interleaved rounds (see the module notes)."""
    results: dict[str, dict[int, Latency]] = {name: {} for name in runners}
    for size in batch_sizes:
        rows = batch_rows(frame, size)
        samples: dict[str, list[float]] = {name: [] for name in runners}
        for runner in runners.values():
            for _ in range(timing.warmup):
                runner.answer(rows)
        for _ in range(timing.rounds):
            for name, runner in runners.items():
                pause(PAUSE_S)  # the last runner's idle threads stop spinning before this one is timed
                for _ in range(timing.calls):
                    start = clock()
                    runner.answer(rows)
                    samples[name].append(clock() - start)
        for name, values in samples.items():
            seconds = np.asarray(values)
            p50 = float(np.percentile(seconds, 50))
            results[name][size] = Latency(p50 * 1e3, float(np.percentile(seconds, 99)) * 1e3,
                                          size / p50 if p50 > 0 else float("inf"))
    return results
