"""Keeping a job inside its share of a shared GPU.

Ray packs fractional GPU requests (``num_gpus=0.25``) onto one device, but nothing keeps a job to
its quarter of the device's memory: one job that grows takes the others down with it. Two guards,
used together:

- :func:`apply_memory_share`, inside the job's process: PyTorch's caching allocator is capped at
  the share (``torch.cuda.set_per_process_memory_fraction``), so an allocation beyond it fails in
  that job alone; :meth:`MemoryShare.guard` turns the allocator's out-of-memory error into one that
  names the job and its share. Without CUDA it does nothing and says so in the log.
- :class:`MemoryWatchdog`, beside the job (in the executor): a thread that samples the process's
  GPU memory through NVML, which sees every allocation (the CUDA context, other libraries, memory
  outside PyTorch's allocator), and stops that process, SIGTERM then SIGKILL after a grace period,
  once it holds more than its share. It records why. It signals only the process it watches,
  identified by pid and start time, so a pid reused by another process is never touched.

NVML reports host pids: inside a container without the host's pid namespace the sampler finds no
process and the watchdog does nothing (``last_sample`` stays ``None``). torch and NVML (the
``nvidia-ml-py`` package, ``tidal-ml[gpu]``) are imported only when used.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from tidal.core._errors import TidalError

log = logging.getLogger(__name__)

MIB = 1 << 20
#: bytes of GPU memory a process holds, or None when it holds none the sampler can see
Sampler = Callable[[int], "int | None"]


class GpuShareExceeded(TidalError):
    """A job asked for more GPU memory than its share."""


def _mib(size: int) -> str:
    return f"{size / MIB:,.0f} MiB"


@dataclass(frozen=True)
class MemoryShare:
    """The share applied to this process: ``fraction`` of device ``device`` (``limit_bytes``)."""

    fraction: float
    device: int
    limit_bytes: int
    job: str

    def describe(self) -> str:
        return f"its share {self.fraction:g} of GPU {self.device} ({_mib(self.limit_bytes)})"

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Run the job's GPU work; an allocation beyond the share raises :class:`GpuShareExceeded`."""
        import torch

        try:
            yield
        except torch.cuda.OutOfMemoryError as error:
            raise GpuShareExceeded(
                f"job {self.job}: asked for more GPU memory than {self.describe()}; lower its batch size or "
                f"model size, or request a larger GPU share (num_gpus) for it ({str(error).splitlines()[0]})") from error


def apply_memory_share(fraction: float, device: int = 0, *, job: str = "this job") -> MemoryShare | None:
    """Cap this process's PyTorch allocations on ``device`` at ``fraction`` of its memory.

    Returns the applied :class:`MemoryShare`, or None (and a note in the log) when PyTorch or a CUDA
    device is missing: there is no GPU memory to share then.
    """
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 < fraction <= 1:
        raise TidalError(f"job {job}: GPU memory share {fraction!r} must be a fraction in (0, 1], e.g. 0.25 for num_gpus=0.25")
    try:
        import torch
    except ImportError:
        log.info("job %s: PyTorch is not installed; GPU memory share %g not applied", job, fraction)
        return None
    if not torch.cuda.is_available():
        log.info("job %s: no CUDA device; GPU memory share %g not applied", job, fraction)
        return None
    count = torch.cuda.device_count()
    if not 0 <= device < count:
        raise TidalError(f"job {job}: GPU {device} does not exist here ({count} visible: 0..{count - 1}); "
                         "check CUDA_VISIBLE_DEVICES and the device the job was given")
    torch.cuda.set_per_process_memory_fraction(float(fraction), device)
    total = int(torch.cuda.get_device_properties(device).total_memory)
    share = MemoryShare(float(fraction), device, int(total * fraction), job)
    log.info("job %s: PyTorch allocations capped at %s", job, share.describe())
    return share


class NvmlSampler:
    """GPU memory of a process, summed over the devices, from NVML's list of compute processes."""

    def __init__(self, devices: Sequence[int] | None = None) -> None:
        try:
            import pynvml
        except ImportError:
            raise TidalError("reading GPU memory per process needs NVML's Python binding: "
                             "pip install 'tidal-ml[gpu]' (nvidia-ml-py)") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise TidalError(f"NVML could not start ({error}): is the NVIDIA driver installed and a GPU visible?") from None
        self._nvml = pynvml
        indices = range(pynvml.nvmlDeviceGetCount()) if devices is None else devices
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(index) for index in indices]

    def __call__(self, pid: int) -> int | None:
        used: int | None = None
        for handle in self._handles:
            for process in self._nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                # usedGpuMemory is None where the driver does not report it (some vGPU and MIG setups)
                if process.pid == pid and process.usedGpuMemory is not None:
                    used = (used or 0) + int(process.usedGpuMemory)
        return used

    def device_total_bytes(self, index: int = 0) -> int:
        """Memory of the ``index``-th device this sampler reads."""
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handles[index]).total)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()


def nvml_probe() -> tuple[Sampler, int] | None:
    """A sampler of per-process GPU memory and the first visible device's size; None without an NVIDIA driver
    (no NVML to ask: nothing to watch), read without importing anything when there is none."""
    if not Path("/proc/driver/nvidia/version").exists():
        return None
    sampler = NvmlSampler([0])
    return sampler, sampler.device_total_bytes(0)


@dataclass(frozen=True)
class ShareViolation:
    """Why a watchdog stopped its process."""

    pid: int
    job: str
    used_bytes: int
    limit_bytes: int
    action: str  # "terminated" (SIGTERM sufficed), "killed" (SIGKILL after the grace period), or "exited"

    def __str__(self) -> str:
        how = {"terminated": "stopped with SIGTERM", "killed": "killed (SIGKILL) after ignoring SIGTERM",
               "exited": "it exited before it could be stopped"}[self.action]
        return (f"job {self.job} (pid {self.pid}) held {_mib(self.used_bytes)} of GPU memory, over its share of "
                f"{_mib(self.limit_bytes)}: {how}")


class MemoryWatchdog:
    """A thread that stops process ``pid`` once its GPU memory goes over ``limit_bytes``.

    ``sampler(pid)`` gives the process's GPU memory in bytes (default: :class:`NvmlSampler`);
    it is read every ``interval`` seconds. Over the limit, the process gets SIGTERM, then SIGKILL
    if it still runs after ``grace`` seconds; :attr:`violation` says what happened and
    ``on_violation`` is called with it. The thread ends when the process ends or on :meth:`stop`.
    """

    def __init__(self, pid: int, limit_bytes: int, *, sampler: Sampler | None = None, interval: float = 1.0,
                 grace: float = 10.0, job: str | None = None,
                 on_violation: Callable[[ShareViolation], Any] | None = None) -> None:
        if limit_bytes <= 0:
            raise TidalError(f"GPU memory limit for pid {pid} must be positive, not {limit_bytes}")
        if interval <= 0 or grace < 0:
            raise TidalError(f"watchdog for pid {pid}: interval must be positive and grace not negative "
                             f"(got interval={interval}, grace={grace})")
        try:
            self._process = psutil.Process(pid)  # remembers the start time: a reused pid is a different process
        except psutil.NoSuchProcess:
            raise TidalError(f"no process {pid} to watch: it has ended or never started") from None
        self.pid = pid
        self.limit_bytes = int(limit_bytes)
        self.job = job or f"pid {pid}"
        self.interval = interval
        self.grace = grace
        self.on_violation = on_violation
        self._sampler = sampler
        self._owned_sampler: NvmlSampler | None = None
        self.violation: ShareViolation | None = None
        self.last_sample: int | None = None
        self.sampling_errors = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"gpu-share-watchdog-{pid}", daemon=True)

    def start(self) -> MemoryWatchdog:
        if self._sampler is None:
            self._owned_sampler = NvmlSampler()
            self._sampler = self._owned_sampler
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching (the process is left alone) and wait for the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> MemoryWatchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _alive(self) -> bool:
        try:
            return self._process.is_running() and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def _watch(self) -> None:
        assert self._sampler is not None
        try:
            while not self._stopping.is_set() and self._alive():
                try:
                    used = self._sampler(self.pid)
                except Exception as error:  # a failed read is no reason to stop a job
                    self.sampling_errors += 1
                    log.warning("GPU memory of job %s could not be read: %s", self.job, error)
                    used = None
                self.last_sample = used
                if used is not None and used > self.limit_bytes:
                    self._enforce(used)
                    return
                self._stopping.wait(self.interval)
        finally:
            if self._owned_sampler is not None:
                self._owned_sampler.close()

    def _ended_within(self, seconds: float) -> bool:
        """Whether the process ends within ``seconds``. Polls: it never reaps the process, which stays
        its parent's to wait for (a Popen's return code)."""
        deadline = time.monotonic() + seconds
        while self._alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.02, self.interval))
        return True

    def _signal(self, number: int) -> bool:
        """Send ``number`` to the watched process; False when it is gone (or its pid now names another)."""
        try:
            if not self._process.is_running():  # compares the start time too
                return False
            self._process.send_signal(number)
            return True
        except psutil.NoSuchProcess:
            return False

    def _enforce(self, used: int) -> None:
        action = "exited"
        if self._signal(signal.SIGTERM):
            action = "terminated"
            if not self._ended_within(self.grace) and self._signal(signal.SIGKILL):
                action = "killed"
                self._ended_within(max(self.grace, 1.0))
        self.violation = ShareViolation(self.pid, self.job, used, self.limit_bytes, action)
        log.warning("%s", self.violation)
        if self.on_violation is not None:
            self.on_violation(self.violation)


def watch_until_done(watchdogs: Sequence[MemoryWatchdog], timeout: float) -> bool:
    """Wait until every watchdog's thread has ended; False when ``timeout`` seconds passed first."""
    deadline = time.monotonic() + timeout
    for watchdog in watchdogs:
        watchdog.join(max(0.0, deadline - time.monotonic()))
    return not any(watchdog.running for watchdog in watchdogs)
