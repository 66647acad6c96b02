"""Executors: where node tasks run. The engine only submits tasks and collects results.

``LocalExecutor`` runs them on a pool of worker processes (imports are paid once per worker; a
crashing component takes down its worker, never the run). ``InlineExecutor`` runs them in the
calling process, for debugging. ``RayExecutor`` (:mod:`tidal.runtime._ray_executor`) runs them as
Ray tasks on a cluster, scheduled by their resource requests; it implements the same methods.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tidal.runtime._machine import check_fits_here
from tidal.runtime._run import check_executor_choice
from tidal.runtime._worker import (
    PRELOAD_VARIABLE,
    NodeTask,
    TaskResult,
    execute_task,
    thread_environment,
    timeout_message,
)

if TYPE_CHECKING:
    from tidal.core._resources import Resources
    from tidal.store._artifacts import ArtifactStore

#: the executors ``make_executor`` (and ``tidal run --executor``) knows
class Executor(Protocol):
    """The seam between the engine and the machines that do the work."""

    capacity: int

    def check(self, requests: Mapping[str, Resources], artifacts: ArtifactStore) -> None:
        """Refuse, before anything runs, a run this executor cannot carry out: a node's resource
        request (node id -> request) no machine can satisfy, or artifacts its machines cannot reach."""

    def submit(self, task: NodeTask) -> None:
        """Start ``task`` (the engine never submits more than ``capacity`` at once)."""

    def wait(self, timeout: float | None) -> list[TaskResult]:
        """Results of tasks that finished, waiting up to ``timeout`` seconds for at least one."""

    def cancel(self) -> list[str]:
        """Stop every running task; returns their node ids."""

    def shutdown(self) -> None:
        """Release workers."""


def _this_machine_memory() -> tuple[int | None, str]:
    from tidal.runtime._machine import visible_memory_bytes

    return visible_memory_bytes(), "this machine"


class InlineExecutor:
    """Runs each task immediately in this process (``--workers 0``)."""

    capacity = 1
    #: the node runs inside :meth:`submit` (the engine records "running" before it)
    runs_on_submit = True

    def __init__(self) -> None:
        self._done: list[TaskResult] = []

    def check(self, requests: Mapping[str, Resources], artifacts: ArtifactStore) -> None:
        for node_id, request in requests.items():
            check_fits_here(node_id, request)

    def memory_limit(self) -> tuple[int | None, str]:
        """The most memory one node can have here, and where that is."""
        return _this_machine_memory()

    def submit(self, task: NodeTask) -> None:
        self._done.append(execute_task(task, isolated=False))

    def wait(self, timeout: float | None) -> list[TaskResult]:
        done, self._done = self._done, []
        return done

    def cancel(self) -> list[str]:
        return []

    def shutdown(self) -> None:
        pass


#: seconds a new worker may take to start and connect (imports included) before its node fails
DEFAULT_START_TIMEOUT_S = 60.0
START_TIMEOUT_VARIABLE = "TIDAL_WORKER_START_TIMEOUT"


class WorkerStartFailed(Exception):
    """A worker process died or stalled before connecting; the node it was for fails."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    connection: Any
    task: NodeTask | None = None
    started: float = 0.0
    #: URIs of the tables this worker produced last (it keeps them in memory)
    recent: frozenset[str] = frozenset()
    #: keeps the running task inside its GPU share (a node asking a fraction of a GPU), or None
    watchdog: Any = None


def gpu_probe() -> tuple[Any, int] | None:
    """(a sampler of a process's GPU memory, the device's bytes), or None where there is no GPU to watch."""
    from tidal.runtime._gpu_share import nvml_probe

    return nvml_probe()


#: how the local executor reads a worker's GPU memory (tests put a fake one here)
GPU_PROBE = gpu_probe


class LocalExecutor:
    """A pool of worker processes on this machine.

    Workers are fresh interpreters (``python -m tidal._worker_process``) connected over a local
    socket, so the caller's ``__main__`` is never re-imported (a script or notebook needs no
    ``if __name__ == "__main__"`` guard) and a worker that dies is noticed at once: its end of the
    connection closes.
    """

    def __init__(self, workers: int, *, threads: int | None = None) -> None:
        self.capacity = max(1, workers)
        #: native threads per worker (OpenMP, BLAS, PyTorch), for work known to run side by side; None: the
        #: libraries' own default (one per core), unless the caller's environment says otherwise
        self.threads = threads
        self._failed: list[TaskResult] = []
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._folder = tempfile.mkdtemp(prefix="tidal-workers-")
        self._authkey = secrets.token_bytes(32)
        #: workers started and not yet connected: pid -> (process, deadline)
        self._starting: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
        self._preload: tuple[str, ...] = ()
        self._listener = multiprocessing.connection.Listener(
            os.path.join(self._folder, "socket"), family="AF_UNIX", authkey=self._authkey
        )

    def memory_limit(self) -> tuple[int | None, str]:
        """The most memory one node can have here, and where that is."""
        return _this_machine_memory()

    def check(self, requests: Mapping[str, Resources], artifacts: ArtifactStore) -> None:
        """Every request must fit this machine (CPUs, memory and GPUs as visible here; no custom resources).

        The pool does not schedule by requests: it runs ``workers`` nodes at once, whatever they ask.
        """
        for node_id, request in requests.items():
            check_fits_here(node_id, request)

    def prestart(self, count: int, modules: list[str] | tuple[str, ...] = ()) -> None:
        """Start up to ``count`` workers now without waiting for them; each imports ``modules`` (the component
        modules the run will likely need) before it connects, while the engine goes on validating."""
        self._preload = tuple(modules)
        for _ in range(min(count, self.capacity) - len(self._idle) - len(self._busy) - len(self._starting)):
            self._launch()

    def _launch(self) -> None:
        environment = dict(os.environ)
        environment["TIDAL_WORKER_AUTHKEY"] = self._authkey.hex()
        environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
        if self._preload:
            environment[PRELOAD_VARIABLE] = ",".join(self._preload)
        if self.threads:  # the caller's own settings win
            environment.update({name: value for name, value in thread_environment(self.threads).items()
                                if name not in os.environ})
        process = subprocess.Popen(
            [sys.executable, "-m", "tidal._worker_process", str(self._listener.address)],
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        self._starting[process.pid] = (process, time.monotonic() + self._start_limit())

    @staticmethod
    def _start_limit() -> float:
        return float(os.environ.get(START_TIMEOUT_VARIABLE) or DEFAULT_START_TIMEOUT_S)

    def _spawn(self) -> _Worker:
        """A started worker, connected (one is started if none is on its way); a worker that dies or stalls
        before connecting raises :class:`WorkerStartFailed`."""
        if not self._starting:
            self._launch()
        while True:
            # wait for a connection in short slices, so a worker that died is noticed at once
            if multiprocessing.connection.wait([self._listener_socket], timeout=0.2):
                connection = self._listener.accept()
                pid = connection.recv() if connection.poll(self._start_limit()) else None
                entry = self._starting.pop(pid, None) if isinstance(pid, int) else None
                if entry is not None:
                    return _Worker(entry[0], connection)
                connection.close()  # not one of ours (it authenticated, so this is only defensive)
                continue
            for pid, (process, deadline) in list(self._starting.items()):
                code = process.poll()
                if code is not None:
                    del self._starting[pid]
                    raise WorkerStartFailed(f"the worker process exited (code {code}) before it connected; "
                                            "see its output above (a broken plug-in import, say)")
                if time.monotonic() > deadline:
                    del self._starting[pid]
                    process.kill()
                    process.wait()
                    raise WorkerStartFailed(f"the worker process did not connect within {self._start_limit():g} s; "
                                            f"raise {START_TIMEOUT_VARIABLE} on a very slow machine")

    @property
    def _listener_socket(self) -> Any:
        return self._listener._listener._socket  # type: ignore[attr-defined]

    def submit(self, task: NodeTask) -> None:
        try:
            worker = self._pick(task)
        except WorkerStartFailed as error:
            self._failed.append(TaskResult(task.node_id, ok=False, attempt=task.attempt, error=str(error),
                                           error_kind="crash"))
            return
        worker.task = task
        worker.started = time.monotonic()
        worker.watchdog = self._watch_share(task, worker)
        worker.connection.send(task)
        self._busy.append(worker)

    @staticmethod
    def _watch_share(task: NodeTask, worker: _Worker) -> Any:
        """For a node asking a fraction of a GPU: a watchdog that stops its worker once it holds more GPU
        memory than that fraction of the device (the worker also caps PyTorch's allocator at it)."""
        gpus = task.resources.gpus if task.resources is not None else None
        if not gpus or gpus >= 1:
            return None
        probe = GPU_PROBE()
        if probe is None:
            return None
        from tidal.runtime._gpu_share import MemoryWatchdog

        sampler, total = probe
        return MemoryWatchdog(worker.process.pid, int(total * gpus), sampler=sampler, interval=0.25, grace=5.0,
                              job=f"node '{task.node_id}' (gpus: {gpus:g})").start()

    @staticmethod
    def _unwatch(worker: _Worker) -> str | None:
        """Stop the worker's watchdog; why it stopped the worker, if it did."""
        watchdog, worker.watchdog = worker.watchdog, None
        if watchdog is None:
            return None
        watchdog.stop(timeout=5)
        return str(watchdog.violation) if watchdog.violation is not None else None

    def _pick(self, task: NodeTask) -> _Worker:
        """An idle worker, preferring the one holding this task's inputs in memory."""
        if not self._idle:
            return self._spawn()
        wanted = {artifact.uri: artifact.size_bytes for artifact in task.inputs.values()}
        best = max(self._idle, key=lambda worker: sum(size for uri, size in wanted.items() if uri in worker.recent))
        self._idle.remove(best)
        return best

    def _deadline(self) -> float | None:
        deadlines = [w.started + w.task.timeout for w in self._busy if w.task is not None and w.task.timeout]
        return min(deadlines) if deadlines else None

    def _failure(self, worker: _Worker, error: str, kind: str) -> TaskResult:
        task = worker.task
        assert task is not None
        return TaskResult(
            task.node_id, ok=False, attempt=task.attempt, error=error, error_kind=kind,
            duration_s=time.monotonic() - worker.started,
        )

    def wait(self, timeout: float | None) -> list[TaskResult]:
        if self._failed:
            failed, self._failed = self._failed, []
            return failed
        if not self._busy:
            return []
        deadline = self._deadline()
        if deadline is not None:
            remaining = max(0.0, deadline - time.monotonic())
            timeout = remaining if timeout is None else min(timeout, remaining)
        ready = set(multiprocessing.connection.wait([worker.connection for worker in self._busy], timeout))
        results: list[TaskResult] = []
        for worker in list(self._busy):
            task = worker.task
            assert task is not None
            if worker.connection in ready:
                try:
                    results.append(worker.connection.recv())
                except (EOFError, OSError):
                    code = worker.process.wait()
                    violation = self._unwatch(worker)
                    if violation is not None:  # retrying would only hit the same limit
                        results.append(self._failure(worker, f"{violation}; request a larger share (resources: gpus) "
                                                             "or lower the node's batch or model size", "user"))
                    else:
                        results.append(self._failure(
                            worker,
                            f"the worker process died while running this node (exit code {code}); "
                            "the component crashed or ran out of memory",
                            "crash",
                        ))
                    worker.connection.close()
                else:
                    self._unwatch(worker)
                    outcome = results[-1]
                    worker.recent = frozenset(item.uri for item in outcome.outputs if item.type == "Table")
                    worker.task = None
                    self._idle.append(worker)
                self._busy.remove(worker)
            elif task.timeout and time.monotonic() - worker.started >= task.timeout:
                results.append(self._failure(
                    worker, timeout_message(task.timeout), "timeout"
                ))
                self._kill(worker)
                self._busy.remove(worker)
        return results

    def _kill(self, worker: _Worker) -> None:
        self._unwatch(worker)
        worker.process.kill()
        worker.process.wait(timeout=10)
        worker.connection.close()

    def cancel(self) -> list[str]:
        stopped = []
        for worker in self._busy:
            if worker.task is not None:
                stopped.append(worker.task.node_id)
            self._kill(worker)
        self._busy = []
        return stopped

    def shutdown(self) -> None:
        self.cancel()
        for worker in self._idle:
            try:
                worker.connection.send(None)
            except (BrokenPipeError, OSError):
                pass
        for worker in self._idle:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.connection.close()
        self._idle = []
        for process, _ in self._starting.values():  # started ahead of need and never used
            process.kill()
            process.wait()
        self._starting = {}
        self._listener.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def make_executor(kind: str, workers: int | None, *, address: str | None = None, threads: int | None = None) -> Executor:
    """The executor named ``kind``: ``local`` (``workers`` processes; 0 runs inline), ``inline``, or ``ray``.

    For ``ray``, ``workers`` caps the nodes in flight (default: the cluster's CPUs) and ``address``
    names the cluster (default: ``RAY_ADDRESS``, else a Ray started here, on this machine). ``threads`` sets
    the native threads of each local worker (Ray gives each task as many as the CPUs it holds).
    """
    check_executor_choice(kind, workers, address)
    if kind == "ray":
        from tidal.runtime._ray_executor import RayExecutor

        return RayExecutor(workers, address=address)
    count = 1 if workers is None else workers
    if kind == "inline" or count == 0:
        return InlineExecutor()
    return LocalExecutor(count, threads=threads)
