"""How a network trains faster on this machine: ``torch.compile``, bf16 autocast, both, or neither.

``acceleration`` is ``off`` (eager, float32), a fixed choice ``{compile: true | inductor | aot_eager |
eager, precision: fp32 | bf16, parallel: ddp, processes: N}`` (data-parallel processes: see
:mod:`tidal.nn._ddp`), or ``auto``. ``auto`` runs the same few training steps, on the same
batches from the same weights, for each candidate this machine can run: eager float32 (the
reference), bf16 autocast (only where the CPU computes bf16 natively: AVX512-BF16 or AMX), and
``torch.compile`` with and without bf16. A candidate is kept when its losses stay within
:data:`AUTO_LOSS_TOLERANCE` (relative) of the reference's on those steps; the fastest kept one
trains, if it is at least :data:`AUTO_MIN_SPEEDUP` times as fast as the reference (else the
reference does: a few steps' timings are noisy). Timings decide, so ``auto`` may choose differently from run to run; ``off`` and fixed
choices are reproducible.

A ``torch.compile`` that fails (no C++ compiler, an unsupported layer ...) is recorded with its
reason and training carries on eagerly. Every measurement and the choice go into the report.
"""

from __future__ import annotations

import contextlib
import copy
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError

#: steps run before timing (compiling happens here), and steps timed, per candidate of ``auto``
AUTO_WARMUP_STEPS = 3
AUTO_MEASURED_STEPS = 10
#: largest mean relative gap between a candidate's losses and eager float32's on the same steps
AUTO_LOSS_TOLERANCE = 0.05
#: how much faster than eager float32 a candidate must be to be chosen over it (timings of a few steps are noisy)
AUTO_MIN_SPEEDUP = 1.10
#: the torch.compile backend ``auto`` tries (``compile: true`` means the same)
AUTO_COMPILE_BACKEND = "inductor"
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Variant:
    """One way to run training steps: a torch.compile backend (or none) and a precision."""

    backend: str | None = None
    precision: str = "fp32"
    #: data-parallel processes (``parallel: ddp``); 1 trains in this process
    processes: int = 1

    @property
    def name(self) -> str:
        parts = [f"compile:{self.backend}" if self.backend else "eager", self.precision]
        if self.processes > 1:
            parts.insert(0, f"ddp:{self.processes}")
        return "+".join(parts)


EAGER = Variant()


def parse_acceleration(value: Any) -> str | Variant:
    """``"auto"``, or the fixed :class:`Variant` that ``value`` (``"off"`` or a mapping) asks for."""
    if value is None or value is False or value == "off":  # YAML reads a bare off as false
        return EAGER
    if value == "auto":
        return "auto"
    if not isinstance(value, dict):
        raise TidalError(f"acceleration must be auto, off or {{compile, precision, parallel, processes}}, got {value!r}")
    unknown = sorted(set(value) - {"compile", "precision", "parallel", "processes"})
    if unknown:
        raise TidalError(f"acceleration takes the keys compile, precision, parallel and processes, not {', '.join(unknown)}")
    processes = _processes(value)
    compile_value = value.get("compile", False)
    if compile_value is True:
        backend: str | None = AUTO_COMPILE_BACKEND
    elif compile_value is False or compile_value is None:
        backend = None
    elif compile_value in COMPILE_BACKENDS:
        backend = str(compile_value)
    else:
        raise TidalError(f"acceleration compile must be true, false or one of {', '.join(COMPILE_BACKENDS)}, got {compile_value!r}")
    precision = value.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise TidalError(f"acceleration precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if processes > 1 and backend is not None:
        raise TidalError("acceleration: parallel ddp with compile is not supported; choose one of them")
    return Variant(backend, str(precision), processes)


#: the most data-parallel processes one training may start
MAX_PROCESSES = 64


def _processes(value: dict[str, Any]) -> int:
    parallel = value.get("parallel", "none")
    if parallel in (None, False, "none"):
        if "processes" in value:
            raise TidalError("acceleration processes needs parallel: ddp")
        return 1
    if parallel != "ddp":
        raise TidalError(f"acceleration parallel must be ddp or none, got {parallel!r}")
    processes = value.get("processes", 2)
    if isinstance(processes, bool) or not isinstance(processes, int) or not 2 <= processes <= MAX_PROCESSES:
        raise TidalError(f"acceleration processes must be a whole number from 2 to {MAX_PROCESSES}, got {processes!r}")
    return processes


def cpu_facts() -> dict[str, Any]:
    """What this CPU offers: torch's capability level and whether it computes bf16 natively."""
    import torch

    flags: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    native = sorted(flags & {"avx512_bf16", "amx_bf16"})
    checker = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    onednn = bool(checker()) if checker is not None else False
    return {"capability": torch.backends.cpu.get_cpu_capability(), "bf16_flags": native,
            "bf16_native": bool(native) and onednn}


def autocast(variant: Variant) -> Any:
    import torch

    if variant.precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


class Stepper:
    """Training steps for one variant; a compile that fails switches to eager, keeping why."""

    def __init__(self, module: Any, optimizer: Any, loss: Callable[[Any, Any], Any], variant: Variant,
                 select: Callable[[Any], Any]) -> None:
        self.module, self.optimizer, self.loss, self.select = module, optimizer, loss, select
        self.variant = variant
        self.failure: str | None = None
        self.forward = module
        if variant.backend is not None:
            import torch

            self.forward = torch.compile(module, backend=variant.backend)

    def step(self, inputs: Any, target: Any, weight: float = 1.0) -> float:
        """One step; ``weight`` scales the loss behind the gradients (not the loss returned)."""
        try:
            return self._step(inputs, target, weight)
        except Exception as error:  # torch.compile's failures surface at the first call of each graph
            if self.variant.backend is None or self.failure is not None:
                raise
            self.failure = first_line(error)
            self.forward = self.module
            self.variant = Variant(None, self.variant.precision)
            with contextlib.suppress(Exception):
                import torch._dynamo

                torch._dynamo.reset()
            return self._step(inputs, target, weight)

    def _step(self, inputs: Any, target: Any, weight: float) -> float:
        # every call here runs once per training step: no Python work a plain loop would not do
        self.optimizer.zero_grad(set_to_none=True)
        if self.variant.precision == "bf16":
            with autocast(self.variant):
                output = self.select(self.forward(inputs))
            output = output.float()  # the loss in float32, as autocast would compute it anyway
        else:
            output = self.select(self.forward(inputs))
        value = self.loss(output, target)
        (value * weight if weight != 1.0 else value).backward()
        self.optimizer.step()
        return value.item()


def measure(module: Any, make_optimizer: Callable[[Any], Any], loss: Callable[[Any, Any], Any],
            select: Callable[[Any], Any], batches: Callable[[], Iterator[tuple[Any, Any]]],
            facts: dict[str, Any]) -> tuple[Stepper, list[dict[str, Any]]]:
    """``auto``: time each candidate on the same steps from the same weights; the fastest within bounds wins.

    Returns the winner's :class:`Stepper` (its module a copy of ``module`` that took the measured
    steps: load the starting weights and give it a fresh optimizer before training), and a row per
    candidate.
    """
    candidates = [EAGER]
    if facts["bf16_native"]:
        candidates.append(Variant(None, "bf16"))
    candidates.append(Variant(AUTO_COMPILE_BACKEND, "fp32"))
    if facts["bf16_native"]:
        candidates.append(Variant(AUTO_COMPILE_BACKEND, "bf16"))
    rows: list[dict[str, Any]] = []
    steppers: dict[str, Stepper] = {}
    reference: list[float] | None = None
    compile_failure: str | None = None
    for variant in candidates:
        row: dict[str, Any] = {"candidate": variant.name, "ms_per_step": None, "steps_per_second": None,
                               "loss_gap": None, "kept": False, "chosen": False, "note": ""}
        rows.append(row)
        if variant.backend is not None and compile_failure is not None:
            row["note"] = f"skipped: torch.compile failed ({compile_failure})"
            continue
        trial = copy.deepcopy(module).train()
        stepper = Stepper(trial, make_optimizer(trial), loss, variant, select)
        losses, times = [], []
        try:
            for index, (inputs, target) in enumerate(batches()):
                started = time.perf_counter()
                value = stepper.step(inputs, target)
                elapsed = time.perf_counter() - started
                if index >= AUTO_WARMUP_STEPS:
                    losses.append(value)
                    times.append(elapsed)
        except Exception as error:  # a precision the CPU cannot run, a layer autocast refuses ...
            if variant == EAGER:
                raise
            row["note"] = f"failed: {first_line(error)}"
            continue
        if stepper.failure is not None:
            compile_failure = stepper.failure
            row["note"] = f"torch.compile failed, not measured: {stepper.failure}"
            continue
        if not times:
            raise TidalError(f"acceleration auto needs more than {AUTO_WARMUP_STEPS} training steps to measure; "
                             "lower batch_size, or set acceleration: off")
        milliseconds = statistics.median(times) * 1000
        row.update(ms_per_step=round(milliseconds, 4), steps_per_second=round(1000 / milliseconds, 2) if milliseconds else None)
        if reference is None:
            reference = losses
        gap = _loss_gap(losses, reference)
        row["loss_gap"] = round(gap, 6) if gap == gap else None
        row["kept"] = bool(gap <= AUTO_LOSS_TOLERANCE)
        steppers[variant.name] = stepper
        if not row["kept"]:
            row["note"] = f"losses differ from eager float32's by {gap:.3g} (bound {AUTO_LOSS_TOLERANCE:g})"
    return steppers[choose(rows)["candidate"]], rows


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The row ``auto`` trains with (marked ``chosen``): the fastest kept, when it beats the reference
    (the first row, eager float32) by :data:`AUTO_MIN_SPEEDUP`; else the reference."""
    kept = [row for row in rows if row["kept"]]
    if not kept:
        raise TidalError("acceleration auto could not run a single training step: " + rows[0]["note"])
    best = min(kept, key=lambda row: row["ms_per_step"])
    if rows[0]["kept"] and best is not rows[0] and best["ms_per_step"] * AUTO_MIN_SPEEDUP > rows[0]["ms_per_step"]:
        best["note"] = f"fastest, but less than {AUTO_MIN_SPEEDUP:g}x eager float32: not worth leaving it"
        best = rows[0]
    best["chosen"] = True
    return best


def _loss_gap(losses: list[float], reference: list[float]) -> float:
    """Mean relative difference of two loss sequences over the same steps (NaN when either is not finite)."""
    gaps = []
    for ours, theirs in zip(losses, reference, strict=False):
        if not (abs(ours) < float("inf") and abs(theirs) < float("inf")):
            return float("nan")
        gaps.append(abs(ours - theirs) / max(abs(theirs), 1e-8))
    return sum(gaps) / len(gaps) if gaps else 0.0
