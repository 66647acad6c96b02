"""GPU memory shares: the watchdog against real child processes with an injected sampler (no GPU
needed): only the process over its share is stopped, SIGTERM then SIGKILL, and why is recorded; the
allocator cap is a no-op with a note where there is no CUDA. benchmarks/gpu_share/check_on_gpu.py
runs the same guards on a real GPU."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import types

import pytest

from tidal.core import TidalError
from tidal.runtime._gpu_share import (
    MemoryShare,
    MemoryWatchdog,
    NvmlSampler,
    ShareViolation,
    apply_memory_share,
    watch_until_done,
)

GIB = 1 << 30
#: a job that works for a while, then finishes on its own
WORKER = "import sys, time; time.sleep(float(sys.argv[1])); print('done', flush=True)"
#: a job that ignores SIGTERM
STUBBORN = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(60)")


class FakeSampler:
    """GPU memory per pid as a test sets it, as NVML would report it."""

    def __init__(self) -> None:
        self.used: dict[int, int] = {}
        self.lock = threading.Lock()
        self.calls: list[int] = []

    def __call__(self, pid: int) -> int | None:
        with self.lock:
            self.calls.append(pid)
            return self.used.get(pid)


def start(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)


def test_only_the_process_over_its_share_is_stopped():
    sampler = FakeSampler()
    greedy, modest = start(WORKER, "60"), start(WORKER, "1.5")
    sampler.used = {greedy.pid: 3 * GIB, modest.pid: GIB // 2}
    seen: list[ShareViolation] = []
    watchdogs = [MemoryWatchdog(process.pid, GIB, sampler=sampler, interval=0.02, grace=5, job=name, on_violation=seen.append)
                 for process, name in ((greedy, "train-big"), (modest, "train-small"))]
    for watchdog in watchdogs:
        watchdog.start()
    try:
        assert greedy.wait(timeout=30) == -signal.SIGTERM
        assert modest.wait(timeout=30) == 0 and modest.stdout is not None and modest.stdout.read() == "done\n"
        assert watch_until_done(watchdogs, timeout=10)
    finally:
        for process in (greedy, modest):
            process.kill()
            process.wait()
    big, small = watchdogs
    assert small.violation is None and small.last_sample == GIB // 2
    assert big.violation == ShareViolation(greedy.pid, "train-big", 3 * GIB, GIB, "terminated") and seen == [big.violation]
    assert str(big.violation) == (f"job train-big (pid {greedy.pid}) held 3,072 MiB of GPU memory, over its share of "
                                  "1,024 MiB: stopped with SIGTERM")
    assert set(sampler.calls) == {greedy.pid, modest.pid}  # each watchdog reads its own process only


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period():
    sampler = FakeSampler()
    stubborn = start(STUBBORN)
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
        sampler.used[stubborn.pid] = 2 * GIB
        watchdog = MemoryWatchdog(stubborn.pid, GIB, sampler=sampler, interval=0.02, grace=0.3, job="stubborn").start()
        assert stubborn.wait(timeout=30) == -signal.SIGKILL
        watchdog.join(10)
    finally:
        stubborn.kill()
        stubborn.wait()
    assert watchdog.violation is not None and watchdog.violation.action == "killed"
    assert "killed (SIGKILL) after ignoring SIGTERM" in str(watchdog.violation)


def test_growth_is_caught_when_it_crosses_the_share_and_not_before():
    sampler = FakeSampler()
    process = start(WORKER, "60")
    try:
        sampler.used[process.pid] = GIB  # exactly the share: allowed
        watchdog = MemoryWatchdog(process.pid, GIB, sampler=sampler, interval=0.02, grace=5).start()
        while len(sampler.calls) < 5:
            threading.Event().wait(0.02)
        assert process.poll() is None and watchdog.violation is None and watchdog.running
        with sampler.lock:
            sampler.used[process.pid] = GIB + 1
        assert process.wait(timeout=30) == -signal.SIGTERM
        watchdog.join(10)
    finally:
        process.kill()
        process.wait()
    assert watchdog.violation is not None and watchdog.violation.used_bytes == GIB + 1
    assert watchdog.violation.job == f"pid {process.pid}"


def test_unreadable_or_absent_memory_never_stops_a_job(caplog):
    calls = []

    def failing(pid: int) -> int | None:
        calls.append(pid)
        if len(calls) % 2:
            raise RuntimeError("NVML_ERROR_GPU_IS_LOST")
        return None  # not on the GPU

    process = start(WORKER, "0.5")
    with caplog.at_level(logging.WARNING, logger="tidal.runtime._gpu_share"):
        watchdog = MemoryWatchdog(process.pid, GIB, sampler=failing, interval=0.02, job="flaky").start()
        assert process.wait(timeout=30) == 0
        watchdog.join(10)
    assert not watchdog.running and watchdog.violation is None  # it ended with its process
    assert watchdog.sampling_errors >= 1 and "GPU memory of job flaky could not be read: NVML_ERROR_GPU_IS_LOST" in caplog.text


def test_stop_leaves_the_process_alone_and_bad_arguments_are_refused():
    process = start(WORKER, "60")
    try:
        with MemoryWatchdog(process.pid, GIB, sampler=lambda pid: GIB // 4, interval=0.02) as watchdog:
            assert watchdog.running
        assert not watchdog.running and process.poll() is None
    finally:
        process.kill()
        process.wait()
    with pytest.raises(TidalError, match=f"no process {process.pid} to watch"):
        MemoryWatchdog(process.pid, GIB, sampler=lambda pid: None)
    with pytest.raises(TidalError, match="must be positive, not 0"):
        MemoryWatchdog(1, 0, sampler=lambda pid: None)
    with pytest.raises(TidalError, match="interval must be positive"):
        MemoryWatchdog(1, GIB, sampler=lambda pid: None, interval=0)


def test_without_cuda_the_share_is_a_noted_no_op(caplog):
    with caplog.at_level(logging.INFO, logger="tidal.runtime._gpu_share"):
        assert apply_memory_share(0.25, job="node train") is None
    assert "job node train: no CUDA device; GPU memory share 0.25 not applied" in caplog.text
    for bad in (0, 1.5, -0.25, True, "0.25"):
        with pytest.raises(TidalError, match=r"must be a fraction in \(0, 1\]"):
            apply_memory_share(bad, job="node train")  # type: ignore[arg-type]


def test_without_torch_the_share_is_a_noted_no_op(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch then fails
    with caplog.at_level(logging.INFO, logger="tidal.runtime._gpu_share"):
        assert apply_memory_share(0.5) is None
    assert "PyTorch is not installed; GPU memory share 0.5 not applied" in caplog.text


def _fake_cuda_torch(devices: int, total: int) -> tuple[types.ModuleType, list[tuple[float, int]]]:
    calls: list[tuple[float, int]] = []

    class OutOfMemoryError(RuntimeError):
        pass

    cuda = types.SimpleNamespace(
        is_available=lambda: True, device_count=lambda: devices, OutOfMemoryError=OutOfMemoryError,
        set_per_process_memory_fraction=lambda fraction, device: calls.append((fraction, device)),
        get_device_properties=lambda device: types.SimpleNamespace(total_memory=total))
    module = types.ModuleType("torch")
    module.cuda = cuda  # type: ignore[attr-defined]
    return module, calls


def test_with_cuda_the_allocator_is_capped_and_its_error_names_the_share(monkeypatch):
    torch, calls = _fake_cuda_torch(devices=2, total=80 * GIB)
    monkeypatch.setitem(sys.modules, "torch", torch)
    share = apply_memory_share(0.25, device=1, job="node train")
    assert calls == [(0.25, 1)]
    assert share == MemoryShare(0.25, 1, 20 * GIB, "node train")
    with pytest.raises(TidalError) as refused:
        with share.guard():
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 30.00 GiB\nmore detail")
    assert str(refused.value).startswith("job node train: asked for more GPU memory than its share 0.25 of GPU 1 "
                                         "(20,480 MiB); lower its batch size")
    assert str(refused.value).endswith("(CUDA out of memory. Tried to allocate 30.00 GiB)")
    with pytest.raises(TidalError, match=r"GPU 2 does not exist here \(2 visible: 0..1\)"):
        apply_memory_share(0.25, device=2, job="node train")


def test_the_nvml_sampler_sums_a_process_over_devices(monkeypatch):
    process = lambda pid, used: types.SimpleNamespace(pid=pid, usedGpuMemory=used)  # noqa: E731
    running = {0: [process(10, GIB), process(11, 3 * GIB)], 1: [process(10, GIB // 2), process(12, None)]}

    class NVMLError(Exception):
        pass

    fake = types.SimpleNamespace(
        NVMLError=NVMLError, nvmlInit=lambda: None, nvmlShutdown=lambda: None, nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetComputeRunningProcesses=lambda handle: running[handle])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvmlSampler()
    assert (sampler(10), sampler(11), sampler(12), sampler(13)) == (GIB + GIB // 2, 3 * GIB, None, None)
    assert NvmlSampler(devices=[1])(10) == GIB // 2

    def no_driver() -> None:
        raise NVMLError("Driver Not Loaded")

    monkeypatch.setattr(fake, "nvmlInit", no_driver)
    with pytest.raises(TidalError, match=r"NVML could not start \(Driver Not Loaded\)"):
        NvmlSampler()
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(TidalError, match=r"pip install 'tidal-ml\[gpu\]'"):
        NvmlSampler()
