"""Adaptive batching: requests queued while the model is busy run together as one batch.

Each caller awaits its own future and gets back exactly its own rows. Admission is bounded by
the expected wait: the batcher keeps a moving average of the seconds per batch and the rows per
batch, and a request that would wait longer than ``queue_timeout_s`` is refused at once
(:class:`Overloaded`, answered 503 with a ``Retry-After`` computed from the expected wait).
An idle model (nothing queued or running) always admits, so one slow batch cannot lock it out.
Before the first batch has been measured, the bound is ``max_queue`` requests (always kept, as a
memory bound). A request that still waits longer than ``queue_timeout_s`` is refused too, so
latency never grows without bound.

``max_batch_size`` caps the rows in one call; ``max_wait_ms`` is how long the first request of
a batch may wait for company (0: take what is already queued, never wait). The model runs on
the event loop's thread by default: requests that arrive meanwhile queue up and form the next
batch, and there is no thread hop or GIL hand-over per call. ``threaded=True`` runs it in a
worker thread instead, so the server keeps parsing requests during long model calls.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from tidal.core._errors import TidalError
from tidal.serving._signature import Columns, MatrixColumns


async def _after_pending_io(loop: asyncio.AbstractEventLoop) -> None:
    """Resume only after the loop has handled the I/O that is ready now, and the tasks it started.

    ``sleep(0)`` would resume this task before the handlers of newly arrived requests run, so
    they would never reach the queue while the model is busy (no batching, no bounded queue).
    A zero-delay timer fires after the iteration's I/O callbacks, and the resumed step is queued
    behind the request handlers those callbacks scheduled.
    """
    future = loop.create_future()
    loop.call_later(0, future.set_result, None)
    await future


class Overloaded(TidalError):
    """The model's queue is full, or a request waited too long in it; try again later."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Stopped(TidalError):
    """The model version was unloaded while the request waited."""


@dataclass
class BatchingConfig:
    max_batch_size: int = 64
    max_wait_ms: float = 0.0
    max_queue: int = 256
    queue_timeout_s: float = 10.0
    threaded: bool = False

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_queue < 1 or self.max_wait_ms < 0 or self.queue_timeout_s <= 0:
            raise TidalError("batching needs max_batch_size >= 1, max_queue >= 1, max_wait_ms >= 0, queue_timeout_s > 0")


@dataclass
class _Pending:
    columns: Columns
    rows: int
    future: asyncio.Future[dict[str, np.ndarray]]
    enqueued: float


BatchObserver = Callable[[int, int, float], None]  # (rows, requests, seconds)
SMOOTHING = 0.2  # weight of the newest batch in the moving averages of batch time and batch rows
#: why a batch left the queue: "full" (max_batch_size reached, or the next request would not fit),
#: "waited" (max_wait_ms ran out), "queued" (took what was queued, with no wait configured)
FLUSH_REASONS = ("full", "waited", "queued")


@dataclass
class ServiceTime:
    """Moving averages of what one batch costs; empty until the first batch has run."""

    batch_seconds: float | None = None
    rows_per_batch: float | None = None

    def record(self, rows: int, seconds: float) -> None:
        if self.batch_seconds is None or self.rows_per_batch is None:
            self.batch_seconds, self.rows_per_batch = seconds, float(rows)
            return
        self.batch_seconds += SMOOTHING * (seconds - self.batch_seconds)
        self.rows_per_batch += SMOOTHING * (rows - self.rows_per_batch)


class Batcher:
    """One per served model version; ``predict`` runs in a single worker thread."""

    def __init__(self, predict: Callable[[Columns, int], dict[str, np.ndarray]], config: BatchingConfig,
                 observe: BatchObserver | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self._predict = predict
        self.config = config
        self._observe = observe
        self._clock = clock  # seconds; tests pass a clock they control
        self.service_time = ServiceTime()
        self.flushes: Counter[str] = Counter()
        self.recent_flushes: deque[str] = deque(maxlen=64)
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._running = False
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidal-batch")
        self._stopping = False
        self.in_flight = 0

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def expected_wait_s(self) -> float | None:
        """Seconds until a request arriving now would be answered, from the measured batches (None: none yet).

        ``(queued rows / rows per batch + 1) x seconds per batch``: the batches ahead of it, and its own.
        """
        seconds, rows = self.service_time.batch_seconds, self.service_time.rows_per_batch
        if seconds is None or rows is None:
            return None
        return (self._queued_rows / max(rows, 1.0) + 1.0) * seconds

    def _admit(self) -> None:
        config = self.config
        if len(self._queue) >= config.max_queue:
            raise Overloaded(f"the model's queue is full ({config.max_queue} requests waiting); retry shortly")
        if not self._queue and not self._running:
            return  # idle: the request starts now, whatever the last batches cost (no lock-out after one slow batch)
        wait = self.expected_wait_s()
        if wait is not None and wait > config.queue_timeout_s:
            retry = max(1, math.ceil(wait - config.queue_timeout_s))
            raise Overloaded(f"the model is busy: a request now would wait about {wait:.1f}s, more than the "
                             f"{config.queue_timeout_s:g}s queue timeout; retry in {retry}s", retry_after_s=retry)

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._loop is not loop or self._task.done():
            self._loop = loop  # one loop per server process; a new loop (tests, restarts) gets a new worker task
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run())

    async def submit(self, columns: Columns, rows: int) -> dict[str, np.ndarray]:
        if self._stopping:
            raise Stopped("this model version is being unloaded")
        self._ensure_started()
        self._admit()
        future: asyncio.Future[dict[str, np.ndarray]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(columns, rows, future, self._clock()))
        self._queued_rows += rows
        self.in_flight += 1
        assert self._wakeup is not None
        self._wakeup.set()
        try:
            return await future
        finally:
            self.in_flight -= 1

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = await self._collect()
            if not batch:
                continue
            self._running = True  # for admission: a batch is in the model
            try:
                await self._run_batch(loop, batch)
            except Exception as error:
                if len(batch) == 1:
                    if not batch[0].future.done():
                        batch[0].future.set_exception(error)
                else:  # one caller's rows may have broken the batch: run each alone, so only it fails
                    for item in batch:
                        try:
                            await self._run_batch(loop, [item])
                        except Exception as single_error:  # never let the loop die
                            if not item.future.done():
                                item.future.set_exception(single_error)
            finally:
                self._running = False
            await _after_pending_io(loop)  # let the requests that arrived meanwhile be read and queued

    def _flushed(self, batch: list[_Pending], reason: str) -> list[_Pending]:
        if batch:
            self.flushes[reason] += 1
            self.recent_flushes.append(reason)
        return batch

    async def _collect(self) -> list[_Pending]:
        config = self.config
        now = self._clock()
        batch: list[_Pending] = []
        rows = 0
        deadline = (self._queue[0].enqueued + config.max_wait_ms / 1000.0) if config.max_wait_ms > 0 else 0.0
        while True:
            while self._queue and rows < config.max_batch_size:
                head = self._queue[0]
                if batch and rows + head.rows > config.max_batch_size:
                    return self._flushed(batch, "full")
                self._queue.popleft()
                self._queued_rows -= head.rows
                if head.future.done():  # the caller went away
                    continue
                if now - head.enqueued > config.queue_timeout_s:
                    head.future.set_exception(Overloaded(
                        f"the request waited more than {config.queue_timeout_s:g}s in the model's queue; retry shortly"))
                    continue
                batch.append(head)
                rows += head.rows
            if rows >= config.max_batch_size:
                return self._flushed(batch, "full")
            remaining = deadline - self._clock()
            if remaining <= 0 or not batch:
                return self._flushed(batch, "waited" if config.max_wait_ms > 0 else "queued")
            assert self._wakeup is not None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return self._flushed(batch, "waited")
            now = self._clock()

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        if len(batch) == 1:
            columns, rows = batch[0].columns, batch[0].rows
        else:
            rows = sum(item.rows for item in batch)
            found = [getattr(item.columns, "matrix", None) for item in batch]
            matrices: list[np.ndarray] = [matrix for matrix in found if matrix is not None]
            if len(matrices) == len(batch) and all(matrix.dtype == matrices[0].dtype for matrix in matrices):
                matrix = np.concatenate(matrices)  # one copy of the merged matrix; the columns are its views
                columns = MatrixColumns({name: matrix[:, index] for index, name in enumerate(batch[0].columns)}, matrix)
            else:
                names = batch[0].columns.keys()
                columns = {name: np.concatenate([item.columns[name] for item in batch]) for name in names}
        started = self._clock()
        if self.config.threaded:
            outputs = await loop.run_in_executor(self._executor, self._predict, columns, rows)
        else:
            outputs = self._predict(columns, rows)
        took = self._clock() - started
        self.service_time.record(rows, took)
        if self._observe is not None:
            self._observe(rows, len(batch), took)
        for name, array in outputs.items():
            if len(array) != rows:
                raise TidalError(f"the model returned {len(array)} rows of '{name}' for {rows} input rows")
        offset = 0
        for item in batch:
            part = {name: array[offset: offset + item.rows] for name, array in outputs.items()}
            offset += item.rows
            if not item.future.done():
                item.future.set_result(part)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Finish what is queued, then stop; later submissions are refused."""
        self._stopping = True
        running_here = self._loop is asyncio.get_running_loop()  # a worker of a finished loop has nothing left to run
        if self._task is not None and self._wakeup is not None and running_here:
            self._wakeup.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
        self._executor.shutdown(wait=False)

    def stats(self) -> dict[str, Any]:
        return {"queue_depth": self.depth, "queued_rows": self._queued_rows, "in_flight": self.in_flight,
                "batch_seconds": self.service_time.batch_seconds, "rows_per_batch": self.service_time.rows_per_batch,
                "expected_wait_s": self.expected_wait_s(), "flushes": dict(self.flushes)}
