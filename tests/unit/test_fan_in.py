"""The one fan-in under sliced exports and batches: failures end the walk, nothing is left.

Every test that could hang is bounded by a timeout: before the fix, a two-worker fan-in
whose worker raised waited forever on Python 3.11 and 3.12 (the task group left the runner
marked as cancelling, so the end marker was never queued).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from bcb2b_async._batch import fan_in, run_batch, stream_batch
from bcb2b_async.errors import BigCommerceError, PermissionDeniedError

Put = Callable[[int], Awaitable[None]]


def forbidden() -> PermissionDeniedError:
    return PermissionDeniedError(status=403, method="GET", url="https://x.test/orders",
                                 body=b'{"code":403}')


def other_tasks() -> set[asyncio.Task[object]]:
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("workers", [2, 4])
async def test_a_worker_failure_ends_the_stream_with_that_error(workers: int) -> None:
    started = 0

    async def worker(put: Put) -> None:
        nonlocal started
        started += 1
        me = started
        for i in range(1000):
            await put(me * 10_000 + i)
            await asyncio.sleep(0.001)
            if me == 1 and i == 5:
                raise forbidden()

    before = other_tasks()
    got: list[int] = []
    with pytest.raises(PermissionDeniedError):
        async with asyncio.timeout(5):
            async with contextlib.aclosing(fan_in(worker, workers=workers, buffer=8)) as items:
                async for item in items:
                    got.append(item)
    assert len(got) == len(set(got))
    assert len(got) < 200  # raised promptly, not after the other workers finished
    await asyncio.sleep(0)
    assert other_tasks() == before
    # No cancellation leaks into the consumer's task (3.11/3.12 left it "cancelling").
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


@pytest.mark.timeout(10)
async def test_failure_while_other_workers_wait_for_room() -> None:
    """The other workers are blocked on a full buffer when one fails: still raised."""
    gate = asyncio.Event()

    async def worker(put: Put) -> None:
        if not gate.is_set():
            gate.set()
            await asyncio.sleep(0.05)
            raise forbidden()
        for i in range(100):
            await put(i)

    gen = fan_in(worker, workers=3, buffer=2)
    with pytest.raises(PermissionDeniedError):
        async with asyncio.timeout(5):
            await anext(gen)  # read one item, then stop reading
            await asyncio.sleep(0.2)  # the failure happens while nobody reads
            async for _ in gen:
                pass
    await gen.aclose()


@pytest.mark.timeout(10)
async def test_a_bug_in_a_worker_propagates_as_is() -> None:
    async def worker(put: Put) -> None:
        await put(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        async with asyncio.timeout(5):
            async for _ in fan_in(worker, workers=2, buffer=4):
                pass


@pytest.mark.timeout(10)
async def test_all_items_once_when_nothing_fails() -> None:
    counter = iter(range(5000))

    async def worker(put: Put) -> None:
        for i in counter:
            if i % 97 == 0:
                await asyncio.sleep(0)
            await put(i)

    got = [i async for i in fan_in(worker, workers=4, buffer=16)]
    assert sorted(got) == list(range(5000))


@pytest.mark.timeout(10)
async def test_closing_early_cancels_the_workers() -> None:
    in_flight = 0

    async def worker(put: Put) -> None:
        nonlocal in_flight
        while True:
            in_flight += 1
            try:
                await asyncio.sleep(0.001)
            finally:
                in_flight -= 1
            await put(1)

    before = other_tasks()
    gen = fan_in(worker, workers=4, buffer=4)
    n = 0
    async for _ in gen:
        n += 1
        if n == 50:
            break
    await gen.aclose()
    assert in_flight == 0
    assert other_tasks() == before


@pytest.mark.timeout(10)
async def test_cancelling_the_consumer_cancels_the_workers() -> None:
    async def worker(put: Put) -> None:
        while True:
            await asyncio.sleep(0.01)
            await put(1)

    before_consumer = other_tasks()

    async def consume() -> None:
        async with contextlib.aclosing(fan_in(worker, workers=3, buffer=1)) as items:
            async for _ in items:
                await asyncio.sleep(0.01)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert other_tasks() == before_consumer


@pytest.mark.timeout(10)
async def test_run_batch_fail_fast_raises_first_error_and_leaves_nothing() -> None:
    calls: list[int] = []

    async def call(key: int) -> int:
        calls.append(key)
        await asyncio.sleep(0.01)
        if key == 7:
            raise forbidden()
        return key * 2

    before = other_tasks()
    with pytest.raises(PermissionDeniedError) as info:
        async with asyncio.timeout(5):
            await run_batch(list(range(1000)), call, concurrency=4, fail_fast=True)
    result = info.value.batch_result  # type: ignore[attr-defined]
    assert 7 in result.failed and len(calls) < 50
    assert all(result.succeeded[k] == 2 * k for k in result.succeeded)
    assert other_tasks() == before
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    # A later timeout in the same task still works as a timeout.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)


@pytest.mark.timeout(10)
async def test_run_batch_without_fail_fast_records_every_error() -> None:
    async def call(key: int) -> int:
        await asyncio.sleep(0)
        if key % 10 == 0:
            raise forbidden()
        return key

    result = await run_batch(list(range(100)), call, concurrency=8)
    assert len(result.failed) == 10 and len(result.succeeded) == 90
    assert [k for k, _ in result] == list(range(100))


@pytest.mark.timeout(10)
async def test_run_batch_bug_propagates_as_is() -> None:
    async def call(key: int) -> int:
        await asyncio.sleep(0.001)
        if key == 3:
            raise ZeroDivisionError
        return key

    before = other_tasks()
    with pytest.raises(ZeroDivisionError):
        async with asyncio.timeout(5):
            await run_batch(list(range(100)), call, concurrency=4)
    assert other_tasks() == before


@pytest.mark.timeout(10)
async def test_stream_batch_yields_errors_per_item_and_propagates_bugs() -> None:
    async def call(key: int) -> int:
        await asyncio.sleep(0.001)
        if key % 5 == 0:
            raise forbidden()
        return key

    got = dict([item async for item in stream_batch(range(50), call, concurrency=4)])
    assert sorted(got) == list(range(50))
    assert all(isinstance(v, BigCommerceError) for k, v in got.items() if k % 5 == 0)

    async def buggy(key: int) -> int:
        await asyncio.sleep(0.001)
        if key == 20:
            raise RuntimeError("bug")
        return key

    before = other_tasks()
    with pytest.raises(RuntimeError):
        async with asyncio.timeout(5):
            async with contextlib.aclosing(stream_batch(range(10_000), buggy,
                                                        concurrency=4)) as items:
                async for _ in items:
                    pass
    assert other_tasks() == before
