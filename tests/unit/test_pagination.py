"""The pure next-page logic and the paginator's walk, prefetch and cancellation."""

from __future__ import annotations

import asyncio

import pytest

from bcb2b_async import Page, PaginationDriftError
from bcb2b_async._pagination import AsyncPaginator, is_last_page, page_count
from bcb2b_async.errors import PermissionDeniedError


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
