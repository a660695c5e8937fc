"""The pure next-page logic and the paginator's walk, prefetch and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from bcb2b_async import Page, PaginationDriftError
from bcb2b_async._pagination import AsyncPaginator, is_last_page, page_count
from bcb2b_async.errors import PermissionDeniedError

T = TypeVar("T")


@pytest.mark.parametrize(
    ("offset", "count", "limit", "total", "last"),
    [
        (0, 0, 10, 0, True),  # total 0
        (0, 0, 10, None, True),  # empty page, no total
        (0, 7, 10, 7, True),  # short page
        (0, 7, 10, None, True),  # short page, no total
        (0, 10, 10, 20, False),
        (10, 10, 10, 20, True),  # exact multiple: offset + count reaches the total
        (10, 10, 10, None, False),  # exact multiple, no total: one more (empty) page needed
        (20, 10, 10, 25, True),  # offset beyond the (shrunken) total
    ],
)
def test_is_last_page(offset: int, count: int, limit: int, total: int | None, last: bool) -> None:
    assert is_last_page(offset=offset, count=count, limit=limit, total=total) is last


def test_page_count() -> None:
    assert page_count(0, 10) == 0
    assert page_count(1, 10) == 1
    assert page_count(10, 10) == 1
    assert page_count(11, 10) == 2


class FakeSource:
    def __init__(self, total: int, size: int, *, delay: float = 0.0) -> None:
        self.total = total
        self.size = size
        self.calls: list[int] = []
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.total_at: dict[int, int] = {}

    async def fetch(self, index: int) -> Page[int]:
        self.calls.append(index)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # Later pages finish first: order must still hold.
            await asyncio.sleep(self.delay / (1 + index % 3))
            offset = index * self.size
            total = self.total_at.get(index, self.total)
            items = list(range(offset, min(offset + self.size, total)))
            return Page(items, total, offset, self.size)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize("total", [0, 1, 199, 200, 201, 3000])
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_walk_yields_everything_once_in_order(total: int, concurrency: int) -> None:
    src = FakeSource(total, 200, delay=0.002)
    p = AsyncPaginator(src.fetch, page_size=200, concurrency=concurrency)
    items = [i async for i in p]
    assert items == list(range(total))
    assert src.max_in_flight <= concurrency
    # No page beyond the total was requested.
    assert max(src.calls) <= max(0, (total - 1) // 200)


async def test_each_iteration_starts_fresh() -> None:
    src = FakeSource(450, 200)
    p = AsyncPaginator(src.fetch, page_size=200, concurrency=2)
    assert await p.to_list() == await p.to_list()
    pages = [pg async for pg in p.pages()]
    assert [pg.offset for pg in pages] == [0, 200, 400]
    assert all(pg.total == 450 for pg in pages)


async def test_total_change_raises_drift_before_yielding_suspect_page() -> None:
    src = FakeSource(1000, 100)
    src.total_at = {3: 1001}
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=3)
    seen: list[int] = []
    with pytest.raises(PaginationDriftError) as info:
        async for i in p:
            seen.append(i)
    assert seen == list(range(300))
    assert info.value.first_total == 1000 and info.value.new_total == 1001


async def test_cancellation_leaves_no_task_behind() -> None:
    src = FakeSource(10_000, 100, delay=0.05)
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=4)
    before = len(asyncio.all_tasks())

    async def consume() -> None:
        async for _ in p:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.12)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    assert src.in_flight == 0


async def test_break_closes_prefetch() -> None:
    src = FakeSource(10_000, 100, delay=0.01)
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=4)
    gen = p.pages()
    async for _ in gen:
        break
    await gen.aclose()
    assert src.in_flight == 0
    assert len(src.calls) <= 5


class FailingSource(FakeSource):
    """Page ``fail_at`` raises a typed error (a 403 or a 5xx after its retries)."""

    def __init__(self, total: int, size: int, *, fail_at: int, delay: float = 0.0) -> None:
        super().__init__(total, size, delay=delay)
        self.fail_at = fail_at

    async def fetch(self, index: int) -> Page[int]:
        page = await super().fetch(index)
        if index == self.fail_at:
            raise PermissionDeniedError(status=403, method="GET", url="https://x.test/orders",
                                        body=b'{"code":403}')
        return page


def other_tasks() -> set[asyncio.Task[object]]:
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("fail_at", [0, 1, 3, 7])
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_failing_page_ends_the_walk_with_its_error(fail_at: int, concurrency: int) -> None:
    src = FailingSource(5000, 100, fail_at=fail_at, delay=0.01)
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=concurrency)
    before = other_tasks()
    seen: list[int] = []
    with pytest.raises(PermissionDeniedError):
        async with asyncio.timeout(5):
            async for i in p:
                seen.append(i)
    # Whole pages before the failing one, in order, and nothing after it.
    assert seen == list(range(len(seen))) and len(seen) % 100 == 0
    assert len(seen) <= fail_at * 100
    if concurrency == 1:
        assert len(seen) == fail_at * 100
    await asyncio.sleep(0)
    assert other_tasks() == before
    assert src.in_flight == 0


@pytest.mark.timeout(10)
async def test_breaking_out_of_items_closes_the_prefetch() -> None:
    src = FakeSource(10_000, 100, delay=0.01)
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=4)
    before = other_tasks()
    it = aiter(p)
    async for i in it:
        if i == 150:
            break
    await it.aclose()  # type: ignore[attr-defined]
    assert src.in_flight == 0
    assert other_tasks() == before


class SlowHeadSource(FailingSource):
    """Page 1 takes 5 s (a page in a long retry); page 3 fails at once."""

    async def fetch(self, index: int) -> Page[int]:
        if index == 1:
            await asyncio.sleep(5)
        return await super().fetch(index)


@pytest.mark.timeout(10)
async def test_a_later_page_failing_is_not_held_back_by_a_slow_earlier_page() -> None:
    src = SlowHeadSource(5000, 100, fail_at=3)
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=4)
    before = other_tasks()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PermissionDeniedError):
        async for _ in p:
            pass
    assert loop.time() - started < 4  # the 403, not after the 5 s page
    await asyncio.sleep(0)
    assert other_tasks() == before


# -- the worker window (long-lived workers since f311a0c) ----------------------------------
@contextlib.asynccontextmanager
async def closing(it: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """``contextlib.aclosing`` for what ``aiter(p)`` and ``p.pages()`` are typed as."""
    try:
        yield it
    finally:
        await it.aclose()  # type: ignore[attr-defined]


def make_page(index: int, total: int, size: int) -> Page[int]:
    offset = index * size
    return Page(list(range(offset, min(offset + size, total))), total, offset, size)


async def turns(n: int) -> None:
    """Let the event loop run ``n`` times (a delay counted in loop turns, not seconds)."""
    for _ in range(n):
        await asyncio.sleep(0)


class WindowProbe:
    """Records, whenever a page is requested or the consumer looks, how far requests run
    ahead of the page the consumer holds."""

    def __init__(self, total: int, size: int) -> None:
        self.total = total
        self.size = size
        self.held = -1  # the page the consumer holds (-1: none yet)
        self.requested: list[int] = []
        self.delivered: set[int] = set()
        self.ahead: list[int] = []  # requested index - held page, at each request
        self.outstanding: list[int] = []  # pages requested, not yet handed out
        self.in_flight = 0
        self.max_in_flight = 0

    def look(self) -> None:
        self.outstanding.append(len(set(self.requested) - self.delivered))

    async def fetch(self, index: int) -> Page[int]:
        self.requested.append(index)
        self.ahead.append(index - self.held)
        self.look()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await turns(2)
        finally:
            self.in_flight -= 1
        return make_page(index, self.total, self.size)


@pytest.mark.timeout(5)
@pytest.mark.parametrize("concurrency", [1, 2, 3, 5])
async def test_at_most_concurrency_pages_requested_or_held_beyond_the_one_handed_out(
    concurrency: int,
) -> None:
    probe = WindowProbe(total=300, size=10)  # 30 pages
    p = AsyncPaginator(probe.fetch, page_size=10, concurrency=concurrency)
    ahead_while_held: list[int] = []
    async with closing(p.pages()) as pages:
        async for page in pages:
            index = page.offset // 10
            assert index == probe.held + 1
            probe.held = index
            probe.delivered.add(index)
            probe.look()
            for _ in range(12):  # a slow consumer: the workers fill the window meanwhile
                await asyncio.sleep(0)
                probe.look()
            ahead_while_held.append(probe.outstanding[-1])
    assert probe.requested == list(range(30)), "each page once, in order"
    assert max(probe.ahead) == concurrency
    assert max(probe.outstanding) == concurrency, "the window is used, never exceeded"
    assert probe.max_in_flight == concurrency, "requested at once, not one after another"
    # The window moves before a page is handed out: while the consumer works on page h,
    # pages h+1 .. h+concurrency are requested (concurrency 1 walks without prefetch).
    prefetch = concurrency if concurrency > 1 else 0
    assert ahead_while_held[1:] == [min(prefetch, 29 - h) for h in range(1, 30)]


@pytest.mark.timeout(5)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("concurrency", [2, 3, 5])
async def test_pages_come_out_in_order_whatever_order_fetches_finish_in(
    seed: int, concurrency: int
) -> None:
    rng = random.Random(seed)
    finished: list[int] = []

    async def fetch(index: int) -> Page[int]:
        await turns(rng.randrange(30))  # a random delay
        finished.append(index)
        return make_page(index, 400, 10)

    p = AsyncPaginator(fetch, page_size=10, concurrency=concurrency)
    offsets = [page.offset async for page in p.pages()]
    assert offsets == list(range(0, 400, 10))
    assert await p.to_list() == list(range(400))
    assert sorted(finished) == sorted(list(range(40)) * 2)
    assert finished != sorted(finished), "fetches did finish out of order"


class BlockingSource:
    """Pages of ``size`` out of ``total``; pages in ``stuck`` never complete (a page in a
    long retry), page ``fail_at`` raises a 403 at once. Records the fetches cancelled."""

    def __init__(self, total: int, size: int, *, stuck: set[int],
                 fail_at: int | None = None) -> None:
        self.total = total
        self.size = size
        self.stuck = stuck
        self.fail_at = fail_at
        self.started: list[int] = []
        self.cancelled: set[int] = set()
        self.in_flight = 0

    async def fetch(self, index: int) -> Page[int]:
        self.started.append(index)
        self.in_flight += 1
        try:
            if index in self.stuck:
                await asyncio.Event().wait()
            await turns(1)
            if index == self.fail_at:
                raise PermissionDeniedError(status=403, method="GET",
                                            url="https://x.test/orders", body=b"{}")
            return make_page(index, self.total, self.size)
        except asyncio.CancelledError:
            self.cancelled.add(index)
            raise
        finally:
            self.in_flight -= 1


@pytest.mark.timeout(5)
@pytest.mark.parametrize(("concurrency", "fail_at"), [(2, 2), (3, 3), (5, 2), (5, 5)])
async def test_a_later_failure_is_raised_while_the_head_page_is_in_flight(
    concurrency: int, fail_at: int
) -> None:
    src = BlockingSource(10_000, 100, stuck={1}, fail_at=fail_at)
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=concurrency)
    before = other_tasks()
    seen: list[int] = []
    with pytest.raises(PermissionDeniedError):
        async with asyncio.timeout(1):  # held back behind page 1, it would never come
            async for i in p:
                seen.append(i)
    assert seen == list(range(100)), "page 0 only: page 1 never arrived"
    assert 1 in src.cancelled, "the head page was cancelled, not waited for"
    assert max(src.started) <= concurrency, "nothing beyond the window was requested"
    assert src.in_flight == 0
    assert other_tasks() == before, "no task of the walk is left (no extra loop turn)"


async def _consume_items_then_break(p: AsyncPaginator[int], at: int, probe: list[int]) -> None:
    async with closing(aiter(p)) as items:
        async for i in items:
            if i == at:
                probe.append(len(other_tasks()))
                break


async def _consume_pages_then_break(p: AsyncPaginator[int], at: int, probe: list[int]) -> None:
    async with closing(p.pages()) as pages:
        async for page in pages:
            if page.offset <= at < page.offset + len(page.items):
                probe.append(len(other_tasks()))
                break


@pytest.mark.timeout(5)
@pytest.mark.parametrize("close", [_consume_items_then_break, _consume_pages_then_break])
@pytest.mark.parametrize("concurrency", [2, 4])
async def test_closing_early_with_a_page_stuck_in_flight_leaves_no_task(
    close: Callable[[AsyncPaginator[int], int, list[int]], Awaitable[None]], concurrency: int
) -> None:
    src = BlockingSource(10_000, 100, stuck={2})
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=concurrency)
    before = other_tasks()
    during: list[int] = []
    async with asyncio.timeout(1):
        await close(p, 150, during)  # in page 1, with page 2 requested and stuck
    assert during and during[0] > len(before), "the walk's workers were running"
    assert 2 in src.started and 2 in src.cancelled
    assert src.in_flight == 0
    assert other_tasks() == before


@pytest.mark.timeout(5)
@pytest.mark.parametrize("where", ["waiting-for-a-page", "holding-a-page"])
@pytest.mark.parametrize("concurrency", [2, 4])
async def test_cancelling_the_consumer_leaves_no_task(where: str, concurrency: int) -> None:
    src = BlockingSource(10_000, 100, stuck={2})
    p = AsyncPaginator(src.fetch, page_size=100, concurrency=concurrency)
    before = other_tasks()
    test_task = asyncio.current_task()
    reached = asyncio.Event()
    left_when_closed: list[set[asyncio.Task[object]]] = []

    async def consume() -> None:
        # closing(): a cancel that lands in the consumer's own body (not inside the walk)
        # closes the walk too, instead of leaving it to the async generator finalizer.
        try:
            async with closing(aiter(p)) as items:
                async for i in items:
                    if i == 199:  # the last item of page 1; page 2 is stuck
                        reached.set()
                        if where == "holding-a-page":
                            await asyncio.Event().wait()
        finally:
            # Once the walk is closed its workers are finished, not merely cancelled.
            left_when_closed.append(other_tasks() - before - {test_task})

    consumer = asyncio.create_task(consume())
    async with asyncio.timeout(1):
        await reached.wait()
        await turns(3)  # the consumer asks for page 2 (or stays in its body)
    assert len(other_tasks() - before) > 1, "the walk's workers are running"
    assert 2 in src.started and not src.cancelled
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert left_when_closed == [set()]
    assert 2 in src.cancelled
    assert src.in_flight == 0
    assert other_tasks() == before


@pytest.mark.timeout(10)
@pytest.mark.parametrize("total", [1, 199, 200, 201, 1000])
@pytest.mark.parametrize("concurrency", [1, 2, 3, 4, 5])
async def test_every_item_exactly_once(total: int, concurrency: int) -> None:
    requested: list[int] = []

    async def fetch(index: int) -> Page[int]:
        requested.append(index)
        await turns(5 - index % 5)  # later pages of a window tend to finish first
        return make_page(index, total, 200)

    p = AsyncPaginator(fetch, page_size=200, concurrency=concurrency)
    items = [i async for i in p]
    assert items == list(range(total))
    assert sorted(requested) == list(range(page_count(total, 200))), "each page once"
    assert [page.offset async for page in p.pages()] == list(range(0, total, 200))


@pytest.mark.timeout(5)
async def test_a_fetch_cancelled_by_someone_else_ends_the_walk() -> None:
    async def fetch(index: int) -> Page[int]:
        await turns(1)
        if index == 2:
            raise asyncio.CancelledError  # e.g. its request was cancelled elsewhere
        return make_page(index, 1000, 100)

    p = AsyncPaginator(fetch, page_size=100, concurrency=3)
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(0.5):
            await p.to_list()
