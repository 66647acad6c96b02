"""Executors: where node tasks run. The engine only submits tasks and collects results.

``LocalExecutor`` runs them on a pool of worker processes (imports are paid once per worker; a
crashing component takes down its worker, never the run). ``InlineExecutor`` runs them in the
calling process, for debugging. A cluster executor (Ray) implements the same four methods.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tidal.runtime._worker import NodeTask, TaskResult, execute_task, worker_main


class Executor(Protocol):
    """The seam between the engine and the machines that do the work."""

    capacity: int

    def submit(self, task: NodeTask) -> None:
        """Start ``task`` (the engine never submits more than ``capacity`` at once)."""

    def wait(self, timeout: float | None) -> list[TaskResult]:
        """Results of tasks that finished, waiting up to ``timeout`` seconds for at least one."""

    def cancel(self) -> list[str]:
        """Stop every running task; returns their node ids."""

    def shutdown(self) -> None:
        """Release workers."""


class InlineExecutor:
    """Runs each task immediately in this process (``--workers 0``)."""

    capacity = 1

    def __init__(self) -> None:
        self._done: list[TaskResult] = []

    def submit(self, task: NodeTask) -> None:
        self._done.append(execute_task(task, isolated=False))

    def wait(self, timeout: float | None) -> list[TaskResult]:
        done, self._done = self._done, []
        return done

    def cancel(self) -> list[str]:
        return []

    def shutdown(self) -> None:
        pass


@dataclass
class _Worker:
    process: Any
    connection: Any
    task: NodeTask | None = None
    started: float = 0.0


def _context() -> Any:
    method = os.environ.get("TIDAL_START_METHOD", "forkserver")
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["tidal.runtime._preload"])
    return context


class LocalExecutor:
    """A pool of worker processes on this machine."""

    def __init__(self, workers: int) -> None:
        self.capacity = max(1, workers)
        self._context = _context()
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._started = 0

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=worker_main, args=(child,), daemon=True, name="tidal-worker")
        process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, task: NodeTask) -> None:
        worker = self._idle.pop() if self._idle else self._spawn()
        worker.task = task
        worker.started = time.monotonic()
        worker.connection.send(task)
        self._busy.append(worker)

    def _deadline(self) -> float | None:
        deadlines = [w.started + w.task.timeout for w in self._busy if w.task is not None and w.task.timeout]
        return min(deadlines) if deadlines else None

    def wait(self, timeout: float | None) -> list[TaskResult]:
        if not self._busy:
            return []
        deadline = self._deadline()
        if deadline is not None:
            remaining = max(0.0, deadline - time.monotonic())
            timeout = remaining if timeout is None else min(timeout, remaining)
        handles: list[Any] = []
        for worker in self._busy:
            handles.extend([worker.connection, worker.process.sentinel])
        ready = set(multiprocessing.connection.wait(handles, timeout))
        results: list[TaskResult] = []
        now = time.monotonic()
        for worker in list(self._busy):
            task = worker.task
            assert task is not None
            if worker.connection in ready:
                try:
                    results.append(worker.connection.recv())
                    self._busy.remove(worker)
                    worker.task = None
                    self._idle.append(worker)
                    continue
                except (EOFError, OSError):
                    pass
            if worker.process.sentinel in ready or not worker.process.is_alive():
                worker.process.join(timeout=1)
                code = worker.process.exitcode
                results.append(
                    TaskResult(
                        task.node_id,
                        ok=False,
                        attempt=task.attempt,
                        error=f"the worker process died while running this node (exit code {code}); "
                        "the component crashed or ran out of memory",
                        error_kind="crash",
                        duration_s=now - worker.started,
                    )
                )
                self._busy.remove(worker)
            elif task.timeout and now - worker.started >= task.timeout:
                self._kill(worker)
                results.append(
                    TaskResult(
                        task.node_id,
                        ok=False,
                        attempt=task.attempt,
                        error=f"timed out after {task.timeout:g} s; raise the node's 'timeout' if it needs longer",
                        error_kind="timeout",
                        duration_s=now - worker.started,
                    )
                )
                self._busy.remove(worker)
        return results

    def _kill(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(timeout=5)
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
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
            worker.connection.close()
        self._idle = []


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "inline" or workers == 0:
        return InlineExecutor()
    if kind == "local":
        return LocalExecutor(workers)
    raise ValueError(f"unknown executor '{kind}'; choose local or inline")
