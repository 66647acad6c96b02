"""Adaptive batching: every caller gets exactly its own rows back, under concurrency."""

from __future__ import annotations

import asyncio
import random
import time

import numpy as np
import pytest

from tidal.serving import Batcher, BatchingConfig, Overloaded


def echo_model(calls: list[int], delay: float = 0.0):
    def predict(columns, rows):
        calls.append(rows)
        if delay:
            time.sleep(delay)
        if np.isnan(columns["x"]).any():
            raise ValueError("x must not be NaN")
        return {"prediction": columns["x"] * 10.0, "row_id": columns["id"].copy()}

    return predict


def request(caller: int, rows: int) -> dict[str, np.ndarray]:
    return {"x": np.arange(rows, dtype=float) + caller * 1000, "id": np.full(rows, caller, dtype=np.int64)}


def test_concurrent_callers_each_get_their_own_rows_in_order():
    calls: list[int] = []
    observed: list[tuple[int, int]] = []
    batcher = Batcher(echo_model(calls, delay=0.002), BatchingConfig(max_batch_size=32, max_queue=1000),
                      observe=lambda rows, requests, seconds: observed.append((rows, requests)))
    sizes = [random.Random(index).randint(1, 7) for index in range(300)]

    async def caller(index: int) -> None:
        await asyncio.sleep(random.Random(index).random() * 0.05)
        result = await batcher.submit(request(index, sizes[index]), sizes[index])
        assert result["row_id"].tolist() == [index] * sizes[index]
        assert result["prediction"].tolist() == ((np.arange(sizes[index]) + index * 1000) * 10.0).tolist()

    async def main() -> None:
        await asyncio.gather(*(caller(index) for index in range(300)))
        await batcher.stop()

    asyncio.run(main())
    assert sum(calls) == sum(sizes)
    assert max(calls) <= 32 or any(size > 32 for size in sizes)
    assert max(requests for _, requests in observed) > 1  # requests really were merged
    assert len(calls) < 300


def test_max_wait_gathers_requests_that_arrive_close_together():
    calls: list[int] = []
    batcher = Batcher(echo_model(calls), BatchingConfig(max_batch_size=64, max_wait_ms=200))

    async def main() -> None:
        first = asyncio.ensure_future(batcher.submit(request(1, 2), 2))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(batcher.submit(request(2, 3), 3))
        assert (await first)["row_id"].tolist() == [1, 1] and (await second)["row_id"].tolist() == [2, 2, 2]
        await batcher.stop()

    asyncio.run(main())
    assert calls == [5]
    assert list(batcher.recent_flushes) == ["waited"]


def test_a_full_batch_does_not_wait_and_batches_never_exceed_the_cap():
    calls: list[int] = []
    batcher = Batcher(echo_model(calls), BatchingConfig(max_batch_size=4, max_wait_ms=5000))

    async def main() -> None:
        results = await asyncio.gather(*(batcher.submit(request(index, 2), 2) for index in range(4)))
        assert [item["row_id"][0] for item in results] == [0, 1, 2, 3]
        await batcher.stop()

    asyncio.run(main())
    assert calls == [4, 4]
    assert list(batcher.recent_flushes) == ["full", "full"]  # both left as soon as they were full, not after the wait


def test_bounded_queue_refuses_instead_of_waiting():
    calls: list[int] = []
    batcher = Batcher(echo_model(calls, delay=0.2), BatchingConfig(max_batch_size=1, max_queue=2))

    async def main() -> list:
        outcomes = await asyncio.gather(*(batcher.submit(request(index, 1), 1) for index in range(6)), return_exceptions=True)
        await batcher.stop()
        return outcomes

    outcomes = asyncio.run(main())
    refused = [item for item in outcomes if isinstance(item, Overloaded)]
    assert len(refused) == 4 and "queue is full" in str(refused[0])
    assert [item["row_id"][0] for item in outcomes if isinstance(item, dict)] == [0, 1]


def test_requests_that_wait_too_long_are_refused():
    batcher = Batcher(echo_model([], delay=0.3), BatchingConfig(max_batch_size=1, max_queue=10, queue_timeout_s=0.1))

    async def main() -> list:
        outcomes = await asyncio.gather(*(batcher.submit(request(index, 1), 1) for index in range(3)), return_exceptions=True)
        await batcher.stop()
        return outcomes

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[0], dict)
    assert all(isinstance(item, Overloaded) and "waited more than 0.1s" in str(item) for item in outcomes[1:])


def test_a_bad_request_fails_alone_not_its_batch_mates():
    calls: list[int] = []
    batcher = Batcher(echo_model(calls, delay=0.01), BatchingConfig(max_batch_size=64, max_wait_ms=50))

    async def main() -> list:
        bad = request(1, 2)
        bad["x"][1] = np.nan
        outcomes = await asyncio.gather(batcher.submit(request(0, 2), 2), batcher.submit(bad, 2),
                                        batcher.submit(request(2, 2), 2), return_exceptions=True)
        await batcher.stop()
        return outcomes

    good, bad, other = asyncio.run(main())
    assert isinstance(bad, ValueError)
    assert good["row_id"].tolist() == [0, 0] and other["row_id"].tolist() == [2, 2]
    assert calls[0] == 6


def test_stop_finishes_queued_requests_then_refuses_new_ones():
    batcher = Batcher(echo_model([], delay=0.05), BatchingConfig(max_batch_size=1))

    async def main() -> None:
        pending = [asyncio.ensure_future(batcher.submit(request(index, 1), 1)) for index in range(3)]
        await asyncio.sleep(0.01)
        await batcher.stop()
        assert [(await item)["row_id"][0] for item in pending] == [0, 1, 2]
        with pytest.raises(Exception, match="being unloaded"):
            await batcher.submit(request(9, 1), 1)

    asyncio.run(main())


def test_config_is_checked():
    with pytest.raises(Exception, match="max_batch_size >= 1"):
        BatchingConfig(max_batch_size=0)
    with pytest.raises(Exception, match="queue_timeout_s > 0"):
        BatchingConfig(queue_timeout_s=0)


def test_matrix_requests_merge_into_one_matrix_and_mixed_ones_into_columns():
    from tidal.serving._signature import MatrixColumns

    seen: list[object] = []

    def predict(columns, rows):
        seen.append(getattr(columns, "matrix", None))
        return {"prediction": columns["a"] * 10.0 + columns["b"]}

    def matrix_request(start: float, rows: int) -> MatrixColumns:
        matrix = np.arange(start, start + 2 * rows, dtype=np.float64).reshape(rows, 2)
        return MatrixColumns({"a": matrix[:, 0], "b": matrix[:, 1]}, matrix)

    batcher = Batcher(predict, BatchingConfig(max_batch_size=64, max_wait_ms=200))

    async def main() -> list[dict[str, np.ndarray]]:
        answers = await asyncio.gather(batcher.submit(matrix_request(0, 3), 3), batcher.submit(matrix_request(100, 2), 2),
                                       batcher.submit({"a": np.array([7.0]), "b": np.array([8.0])}, 1))
        merged = await asyncio.gather(batcher.submit(matrix_request(0, 3), 3), batcher.submit(matrix_request(100, 2), 2))
        await batcher.stop()
        return [*answers, *merged]

    first, second, plain, again_first, again_second = asyncio.run(main())
    assert first["prediction"].tolist() == [1.0, 23.0, 45.0] == again_first["prediction"].tolist()
    assert second["prediction"].tolist() == [1101.0, 1123.0] == again_second["prediction"].tolist()
    assert plain["prediction"].tolist() == [78.0]
    assert seen[0] is None  # a batch with plain columns in it is merged column by column
    merged = seen[-1]
    assert isinstance(merged, np.ndarray) and merged.shape == (5, 2)  # two matrix requests: one merged matrix
