"""Adaptive batching: requests queued while the model is busy run together as one batch.

Each caller awaits its own future and gets back exactly its own rows. The queue is bounded:
a request that finds it full is refused at once (:class:`Overloaded`, answered 503 with
``Retry-After``), and one that waits longer than ``queue_timeout_s`` is refused too, so latency
never grows without bound.

``max_batch_size`` caps the rows in one call; ``max_wait_ms`` is how long the first request of
a batch may wait for company (0: take what is already queued, never wait). The model runs on
the event loop's thread by default: requests that arrive meanwhile queue up and form the next
batch, and there is no thread hop or GIL hand-over per call. ``threaded=True`` runs it in a
worker thread instead, so the server keeps parsing requests during long model calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tidal.core._errors import TidalError
from tidal.serving._signature import Columns


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
    enqueued: float = field(default_factory=time.perf_counter)


BatchObserver = Callable[[int, int, float], None]  # (rows, requests, seconds)


class Batcher:
    """One per served model version; ``predict`` runs in a single worker thread."""

    def __init__(self, predict: Callable[[Columns, int], dict[str, np.ndarray]], config: BatchingConfig,
                 observe: BatchObserver | None = None) -> None:
        self._predict = predict
        self.config = config
        self._observe = observe
        self._queue: deque[_Pending] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidal-batch")
        self._stopping = False
        self.in_flight = 0

    @property
    def depth(self) -> int:
        return len(self._queue)

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
        if len(self._queue) >= self.config.max_queue:
            raise Overloaded(f"the model's queue is full ({self.config.max_queue} requests waiting); retry shortly")
        future: asyncio.Future[dict[str, np.ndarray]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(columns, rows, future))
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
            try:
                await self._run_batch(loop, batch)
                await _after_pending_io(loop)  # let the requests that arrived meanwhile be read and queued
            except Exception as error:
                if len(batch) == 1:
                    if not batch[0].future.done():
                        batch[0].future.set_exception(error)
                    continue
                # one caller's rows may have broken the batch: run each alone, so only it fails
                for item in batch:
                    try:
                        await self._run_batch(loop, [item])
                    except Exception as single_error:  # never let the loop die
                        if not item.future.done():
                            item.future.set_exception(single_error)

    async def _collect(self) -> list[_Pending]:
        config = self.config
        now = time.perf_counter()
        batch: list[_Pending] = []
        rows = 0
        deadline = (self._queue[0].enqueued + config.max_wait_ms / 1000.0) if config.max_wait_ms > 0 else 0.0
        while True:
            while self._queue and rows < config.max_batch_size:
                head = self._queue[0]
                if batch and rows + head.rows > config.max_batch_size:
                    return batch
                self._queue.popleft()
                if head.future.done():  # the caller went away
                    continue
                if now - head.enqueued > config.queue_timeout_s:
                    head.future.set_exception(Overloaded(
                        f"the request waited more than {config.queue_timeout_s:g}s in the model's queue; retry shortly"))
                    continue
                batch.append(head)
                rows += head.rows
            remaining = deadline - time.perf_counter()
            if rows >= config.max_batch_size or remaining <= 0 or not batch:
                return batch
            assert self._wakeup is not None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return batch
            now = time.perf_counter()

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        if len(batch) == 1:
            columns, rows = batch[0].columns, batch[0].rows
        else:
            names = batch[0].columns.keys()
            columns = {name: np.concatenate([item.columns[name] for item in batch]) for name in names}
            rows = sum(item.rows for item in batch)
        started = time.perf_counter()
        if self.config.threaded:
            outputs = await loop.run_in_executor(self._executor, self._predict, columns, rows)
        else:
            outputs = self._predict(columns, rows)
        if self._observe is not None:
            self._observe(rows, len(batch), time.perf_counter() - started)
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
        if self._task is not None and self._wakeup is not None:
            self._wakeup.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
        self._executor.shutdown(wait=False)

    def stats(self) -> dict[str, Any]:
        return {"queue_depth": self.depth, "in_flight": self.in_flight}
