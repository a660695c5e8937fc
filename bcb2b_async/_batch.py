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

from .errors import BigCommerceError, InvalidArgumentError

__all__ = ["BatchResult", "fan_in", "run_batch", "stream_batch"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
BatchKey = int

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


def check_batch_ids(name: str, ids: Iterable[object], validate: Callable[[object], object]) -> None:
    """Validate every id; report all problems (by id) in one InvalidArgumentError."""
    problems: list[str] = []
    seen: set[object] = set()
    for raw in ids:
        try:
            validate(raw)
        except InvalidArgumentError as err:
            problems.append(f"{raw!r}: {err.message}")
            continue
        if raw in seen:
            problems.append(f"{raw!r}: duplicate id")
        seen.add(raw)
    if problems:
        raise invalid_items_error(name, problems)


def invalid_items_error(name: str, problems: list[str]) -> InvalidArgumentError:
    """One error for every bad item of a batch (the first 20 spelled out)."""
    shown = "; ".join(problems[:20])
    more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
    return InvalidArgumentError(f"{name}: {len(problems)} invalid item(s): {shown}{more}")


def check_concurrency(value: object) -> int:
    """``concurrency`` must be an int in 1..256."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise InvalidArgumentError(f"concurrency must be an int in 1..256, got {value!r}")
    return value


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

    workers = min(concurrency, total)
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
    except BaseExceptionGroup as group_err:
        if first_error:
            err = first_error[0]
            err.batch_result = result  # type: ignore[attr-defined]
            raise err from None
        # A bug or a cancellation: surface the first underlying exception as is.
        raise group_err.exceptions[0] from None
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

    At most ``buffer`` items wait to be consumed. A worker's exception ends the stream
    and is raised to the consumer; closing or cancelling the consumer cancels the workers
    and leaves no task behind.
    """
    queue: asyncio.Queue[tuple[T] | None] = asyncio.Queue(buffer)

    async def put(item: T) -> None:
        await queue.put((item,))

    async def run_all() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker(put))
        except BaseExceptionGroup as group_err:
            raise group_err.exceptions[0] from None
        finally:
            # Wake the consumer with the end marker, unless it is gone: it cancelled us on
            # close, nobody reads the queue any more, and waiting for room in a full queue
            # would hang its close forever.
            task = asyncio.current_task()
            if task is None or not task.cancelling():
                await queue.put(None)

    runner = asyncio.ensure_future(run_all())
    try:
        while True:
            got = await queue.get()
            if got is None:
                break
            yield got[0]
        await runner
    finally:
        if not runner.done():
            runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
