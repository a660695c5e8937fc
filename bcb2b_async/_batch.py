"""Rate-limit-aware batching: many calls in one await, per-item results.

Every item runs through the client's one request pipeline (limiter, retries, typed
errors); a fixed pool of ``concurrency`` workers pulls items from the input, so a
100,000-id batch never holds 100,000 tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Coroutine,
    Hashable,
    Iterable,
    Iterator,
)
from typing import Any, Generic, TypeVar

from .errors import BigCommerceError

__all__ = ["BatchResult", "fan_in", "run_batch", "stream_batch"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Default number of items in flight in a batch.
DEFAULT_CONCURRENCY = 8

Progress = Callable[[int, int], object]


class BatchResult(Generic[V]):
    """Per-item outcome of a batch.

    ``succeeded`` maps id → value, ``failed`` maps id → the typed error; ``ok`` is True
    when nothing failed; ``len()`` counts items; iterating yields ``(id, value_or_error)``
    in input order.
    """

    __slots__ = ("_order", "failed", "succeeded")

    def __init__(self, order: list[int]) -> None:
        self._order = order
        self.succeeded: dict[int, V] = {}
        self.failed: dict[int, BigCommerceError] = {}

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.failed

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[tuple[int, V | BigCommerceError]]:
        for key in self._order:
            if key in self.succeeded:
                yield key, self.succeeded[key]
            elif key in self.failed:
                yield key, self.failed[key]

    def __repr__(self) -> str:
        return (
            f"BatchResult(items={len(self._order)}, succeeded={len(self.succeeded)}, "
            f"failed={len(self.failed)})"
        )


async def run_batch(
    keys: list[int],
    call: Callable[[int], Awaitable[V]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    fail_fast: bool = False,
    progress: Progress | None = None,
) -> BatchResult[V]:
    """Run ``call(key)`` for every key with at most ``concurrency`` in flight.

    A :class:`BigCommerceError` is recorded for its item and the others go on; with
    ``fail_fast`` the first one stops the batch (in-flight items are cancelled) and is
    raised, carrying the partial result as ``error.batch_result``. Cancelling the caller
    cancels every worker; no task is left behind.
    """
    result: BatchResult[V] = BatchResult(keys)
    total = len(keys)
    done = 0
    feed = iter(keys)
    first_error: list[BigCommerceError] = []
    if not keys:
        return result

    async def worker() -> None:
        nonlocal done
        for key in feed:
            if first_error:
                return
            try:
                result.succeeded[key] = await call(key)
            except BigCommerceError as err:
                result.failed[key] = err
                if fail_fast and not first_error:
                    first_error.append(err)
                    raise
            done += 1
            if progress is not None:
                with contextlib.suppress(Exception):
                    progress(done, total)

    async def supervised(put: Callable[[None], Awaitable[None]]) -> None:
        await worker()

    try:
        async with contextlib.aclosing(fan_in(supervised, workers=min(concurrency, total),
                                              buffer=1)) as finished:
            async for _ in finished:
                pass  # the workers put nothing: this waits for them all, or the first error
    except BigCommerceError as err:
        if first_error and err is first_error[0]:
            err.batch_result = result  # type: ignore[attr-defined]
        raise
    return result


async def stream_batch(
    keys: Iterable[K],
    call: Callable[[K], Awaitable[V]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncGenerator[tuple[K, V | BigCommerceError], None]:
    """Yield ``(key, value_or_error)`` as calls complete, reading ``keys`` lazily.

    Memory holds at most ``concurrency`` items in flight plus ``concurrency`` finished ones
    waiting to be consumed. Closing or cancelling the consumer cancels the workers.
    """
    feed = iter(keys)  # shared by the workers; next() never awaits, so this is safe

    async def worker(put: Callable[[tuple[K, V | BigCommerceError]], Awaitable[None]]) -> None:
        for key in feed:
            value: V | BigCommerceError
            try:
                value = await call(key)
            except BigCommerceError as err:
                value = err
            await put((key, value))

    async with contextlib.aclosing(fan_in(worker, workers=concurrency,
                                          buffer=concurrency)) as items:
        async for item in items:
            yield item


T = TypeVar("T")


async def fan_in(
    worker: Callable[[Callable[[T], Awaitable[None]]], Coroutine[Any, Any, None]],
    *,
    workers: int,
    buffer: int,
) -> AsyncGenerator[T, None]:
    """Run ``workers`` copies of ``worker(put)`` and yield what they ``put``, as it comes.

    At most ``buffer`` items wait to be consumed. The first exception of a worker cancels
    the others at once and is raised to the consumer, as it is, at its next step (items
    still waiting are dropped: the walk failed). Closing or cancelling the consumer
    cancels the workers. Either way no task is left behind.

    The workers are plain tasks watched through done-callbacks, not a task group: a task
    group's abort leaves the consumer's task counted as "cancelling" on Python 3.11 and
    3.12 (not on 3.13), and nothing here reads ``Task.cancelling()``.
    """
    # One unbounded queue of events (an item, or a worker that ended): a done-callback can
    # always post without waiting. ``room`` bounds the items waiting to be consumed.
    events: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
    room = asyncio.Semaphore(max(1, buffer))
    failure: list[BaseException] = []
    tasks: list[asyncio.Future[None]] = []

    async def put(item: T) -> None:
        await room.acquire()
        events.put_nowait((True, item))

    def ended(task: asyncio.Future[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None and not failure:
            failure.append(error)
            for other in tasks:
                other.cancel()  # stop the other walks now: no request after a failure
        events.put_nowait((False, task))

    for _ in range(workers):
        task = asyncio.ensure_future(worker(put))
        task.add_done_callback(ended)
        tasks.append(task)
    running = len(tasks)
    try:
        while running:
            is_item, value = await events.get()
            if failure:
                raise failure[0]
            if is_item:
                room.release()
                yield value
            else:
                running -= 1
                if value.cancelled():
                    # Cancelled by someone else than us (we only cancel on failure or
                    # close): the walk is incomplete, so this must not end it quietly.
                    raise asyncio.CancelledError()
    finally:
        for pending in tasks:
            pending.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
