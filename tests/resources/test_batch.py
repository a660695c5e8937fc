"""Batch calls on ``client.orders`` against aioresponses: per-item results in input order,
every bad item reported before any request, fail_fast, bounded concurrency, cancellation
without leftover tasks, progress, and the streaming ``iter_products`` with flat memory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import re
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import aiohttp
import aioresponses.core as aioresponses_core
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from bcb2b_async import (
    B2BClient,
    BigCommerceError,
    InvalidArgumentError,
    NotFoundError,
    Order,
    OrderProduct,
    OrderUpdate,
    ServerError,
)
from bcb2b_async._batch import BatchResult
from bcb2b_async._client import USER_AGENT
from bcb2b_async.resources.b2b_orders import SeenIds

from ._helpers import B2B, STORE, TOKEN

ORDER_URL = re.compile(re.escape(B2B) + r"/orders/(\d+)$")
PRODUCTS_URL = re.compile(re.escape(B2B) + r"/orders/(\d+)/products$")
NOT_FOUND = {"code": 404, "data": {}, "meta": {"message": "Order not found"}}
MISSING = {5, 15, 25, 35, 45}


# --- helpers ------------------------------------------------------------------------------


def order_id(url: URL) -> int:
    parts = url.path.split("/")
    return int(parts[-2] if parts[-1] == "products" else parts[-1])


def order_body(oid: int, **extra: Any) -> dict[str, Any]:
    return {"code": 200, "data": [{"bcOrderId": oid, **extra}], "meta": {"message": "SUCCESS"}}


def products_body(oid: int) -> dict[str, Any]:
    return {"code": 200, "data": [{"id": oid * 10, "productId": oid, "quantity": 2}],
            "meta": {"message": "SUCCESS"}}


def answer(url: URL, **kwargs: Any) -> CallbackResult:
    """An order (GET/PUT) or its products; 404 for the ids in MISSING."""
    oid = order_id(url)
    if oid in MISSING:
        return CallbackResult(status=404, payload=NOT_FOUND)
    if url.path.endswith("/products"):
        return CallbackResult(payload=products_body(oid))
    sent = json.loads(kwargs["data"]) if kwargs.get("data") else {}
    return CallbackResult(payload=order_body(oid, poNumber=sent.get("poNumber")))


def made(m: aioresponses) -> list[tuple[str, int, dict[str, Any]]]:
    """Every request as (method, order id, kwargs)."""
    return [(method, order_id(url), r.kwargs) for (method, url), reqs in m.requests.items()
            for r in reqs]


def assert_b2b_headers(kwargs: dict[str, Any], *, body: bool) -> None:
    headers = kwargs["headers"]
    assert headers["X-Auth-Token"] == TOKEN and headers["X-Store-Hash"] == STORE
    assert headers["Accept"] == "application/json" and headers["User-Agent"] == USER_AGENT
    assert ("Content-Type" in headers) is body


class InFlight:
    """An async mock callback that counts requests in flight at once."""

    def __init__(self, delay: float = 0.005, *, jitter: bool = False) -> None:
        self.now = 0
        self.peak = 0
        self.started = 0
        self.delay = delay
        self.rng = random.Random(1) if jitter else None
        self.finished: list[int] = []

    async def callback(self, url: URL, **kwargs: Any) -> CallbackResult:
        # a bound method, so aioresponses sees a coroutine function and awaits it
        self.now += 1
        self.started += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.delay * (self.rng.random() if self.rng else 1.0))
        finally:
            self.now -= 1
        self.finished.append(order_id(url))
        return answer(url, **kwargs)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- per-item results ----------------------------------------------------------------------


async def test_get_many_results_in_input_order(client: B2BClient) -> None:
    ids = [9, 3, 27, 1, 14]
    with aioresponses() as m:
        m.get(ORDER_URL, callback=answer, repeat=True)
        result = await client.orders.get_many(ids)
        requests = made(m)
    assert isinstance(result, BatchResult)
    assert result.ok and len(result) == 5 and not result.failed
    assert [oid for oid, _ in result] == ids
    assert all(isinstance(v, Order) and v.bc_order_id == oid for oid, v in result)
    assert sorted(oid for _, oid, _ in requests) == sorted(ids)
    for method, _, kwargs in requests:
        assert method == "GET"
        assert_b2b_headers(kwargs, body=False)
    assert "succeeded=5" in repr(result) and "failed=0" in repr(result)


async def test_update_many_50_with_5_missing(client: B2BClient) -> None:
    ids = random.Random(7).sample(range(1, 51), 50)  # input order is not id order
    updates: dict[int, Any] = {
        oid: (OrderUpdate(po_number=f"PO-{oid}") if oid % 2 else {"po_number": f"PO-{oid}"})
        for oid in ids
    }
    progress: list[tuple[int, int]] = []
    with aioresponses() as m:
        # random delays: items finish out of input order
        flight = InFlight(delay=0.003, jitter=True)
        m.put(ORDER_URL, callback=flight.callback, repeat=True)
        result = await client.orders.update_many(
            updates, concurrency=6, progress=lambda done, total: progress.append((done, total)))
        requests = made(m)
    assert len(requests) == 50 and {method for method, _, _ in requests} == {"PUT"}
    for _, oid, kwargs in requests:
        assert json.loads(kwargs["data"]) == {"poNumber": f"PO-{oid}"}
        assert_b2b_headers(kwargs, body=True)
    assert len(result) == 50 and not result.ok
    assert len(result.succeeded) == 45 and set(result.failed) == MISSING
    assert all(isinstance(err, NotFoundError) and err.status == 404 and
               "Order not found" in str(err) for err in result.failed.values())
    assert flight.finished != ids and sorted(flight.finished) == sorted(ids)
    assert [oid for oid, _ in result] == ids  # input order, whatever finished first
    for oid, value in result:
        if oid in MISSING:
            assert isinstance(value, NotFoundError)
        else:
            assert isinstance(value, Order) and value.po_number == f"PO-{oid}"
    assert progress == [(n, 50) for n in range(1, 51)]


async def test_products_many_with_failures(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=answer, repeat=True)
        result = await client.orders.products_many(range(1, 51))
    assert len(result) == 50 and not result.ok
    assert len(result.succeeded) == 45 and set(result.failed) == MISSING
    assert all(isinstance(e, NotFoundError) for e in result.failed.values())
    products = result.succeeded[7]
    assert len(products) == 1 and isinstance(products[0], OrderProduct)
    assert products[0].product_id == 7 and products[0].quantity == 2
    assert [oid for oid, _ in result] == list(range(1, 51))


async def test_items_go_through_the_retrying_pipeline(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(f"{B2B}/orders/1", status=503, payload={"code": 503, "data": {},
                                                      "meta": {"message": "busy"}})
        m.get(f"{B2B}/orders/1", payload=order_body(1))
        m.get(f"{B2B}/orders/2", status=500, body="x", repeat=True)
        result = await client.orders.get_many([1, 2])
        attempts = {oid: sum(1 for _, i, _ in made(m) if i == oid) for oid in (1, 2)}
    assert attempts == {1: 2, 2: 3}  # max_retries=2: 3 attempts at most
    assert result.succeeded[1].bc_order_id == 1
    assert isinstance(result.failed[2], ServerError) and result.failed[2].attempts == 3


async def test_empty_batch(client: B2BClient) -> None:
    progress: list[tuple[int, int]] = []
    with aioresponses() as m:
        result = await client.orders.get_many([], progress=lambda d, t: progress.append((d, t)))
        assert not m.requests
    assert result.ok and len(result) == 0 and list(result) == []


# --- validation before any request --------------------------------------------------------


@pytest.mark.parametrize("method", ["get_many", "products_many"])
async def test_bad_ids_reported_together_before_any_request(
    client: B2BClient, method: str
) -> None:
    ids: list[Any] = [11, 12, 11, 0, -4, True, "13", 14.0, None, 12]
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await getattr(client.orders, method)(ids)
        assert not m.requests
    text = str(info.value)
    assert "8 invalid item(s)" in text
    for item in ("11: duplicate id", "12: duplicate id", "0: ", "-4: ", "True: ", "'13': ",
                 "14.0: ", "None: "):
        assert item in text


@pytest.mark.parametrize("ids", [5, "123", b"1", {1: 2}, None])
async def test_ids_must_be_an_iterable_of_ints(client: B2BClient, ids: Any) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError):
            await client.orders.get_many(ids)
        assert not m.requests


async def test_update_many_bad_bodies_reported_by_id(client: B2BClient) -> None:
    updates: dict[Any, Any] = {
        201: {"po_number": "ok"},                         # fine
        202: {},                                          # nothing to update
        -203: {"po_number": "x"},                         # bad id
        204: {"po_number": 5},                            # wrong type
        205: OrderUpdate(extra_fields=[{"fieldName": ""}]),
        206: {"colour": "red"},                           # unknown key
        207: "PO-7",                                      # not an update
        0: {"po_number": "x"},
        208: OrderUpdate(),                               # nothing to update
    }
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.orders.update_many(updates)
        assert not m.requests
    text = str(info.value)
    assert "8 invalid item(s)" in text
    for oid in (202, -203, 204, 205, 206, 207, 0, 208):
        assert f"{oid}: " in text
    assert "201" not in text


@pytest.mark.parametrize("bad", [0, -1, 257, True, 2.0, "4", None])
async def test_bad_concurrency_sends_nothing(client: B2BClient, bad: Any) -> None:
    with aioresponses() as m:
        for call in (
            lambda: client.orders.get_many([1], concurrency=bad),
            lambda: client.orders.products_many([1], concurrency=bad),
            lambda: client.orders.update_many({1: {"po_number": "x"}}, concurrency=bad),
        ):
            with pytest.raises(InvalidArgumentError, match="concurrency"):
                await call()
        with pytest.raises(InvalidArgumentError, match="concurrency"):
            async for _ in client.orders.iter_products([1], concurrency=bad):
                pass
        assert not m.requests


async def test_bad_priority_sends_nothing(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError):
            await client.orders.get_many([1], priority="urgent")  # type: ignore[arg-type]
        assert not m.requests


# --- fail_fast -----------------------------------------------------------------------------


async def test_fail_fast_raises_the_first_error_and_stops_scheduling(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(ORDER_URL, callback=answer, repeat=True)
        with pytest.raises(NotFoundError) as info:
            await client.orders.get_many(range(1, 51), concurrency=1, fail_fast=True)
        requested = [oid for _, oid, _ in made(m)]
    assert requested == [1, 2, 3, 4, 5]  # 5 is missing: nothing after it was sent
    err = info.value
    assert err.status == 404 and "Order not found" in str(err)
    partial = err.batch_result  # type: ignore[attr-defined]
    assert set(partial.succeeded) == {1, 2, 3, 4} and set(partial.failed) == {5}


async def test_fail_fast_with_concurrency_cancels_the_rest(client: B2BClient) -> None:
    flight = InFlight(delay=0.002)
    before = asyncio.all_tasks()
    with aioresponses() as m:
        m.put(ORDER_URL, callback=flight.callback, repeat=True)
        with pytest.raises(NotFoundError):
            await client.orders.update_many(
                {oid: {"po_number": "x"} for oid in range(1, 201)}, concurrency=4,
                fail_fast=True)
        sent = len(made(m))
    await settle()
    assert sent < 20  # 5 fails early; the other 195 items are never all sent
    assert asyncio.all_tasks() == before


async def test_without_fail_fast_every_item_runs(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(ORDER_URL, callback=answer, repeat=True)
        result = await client.orders.get_many(range(1, 51), concurrency=1)
        assert len(made(m)) == 50
    assert len(result.failed) == 5


# --- concurrency, cancellation, progress ----------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_concurrency_is_bounded(client: B2BClient, concurrency: int) -> None:
    flight = InFlight()
    before = asyncio.all_tasks()
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=flight.callback, repeat=True)
        result = await client.orders.products_many(range(100, 140), concurrency=concurrency)
    await settle()
    assert flight.started == 40 and len(result.succeeded) == 40
    assert flight.peak == concurrency  # reached, never exceeded
    assert asyncio.all_tasks() == before  # no worker left once the batch is done


async def test_iter_products_concurrency_is_bounded(client: B2BClient) -> None:
    flight = InFlight()
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=flight.callback, repeat=True)
        got = [oid async for oid, _ in client.orders.iter_products(range(1, 41), concurrency=5)]
    assert sorted(got) == list(range(1, 41))
    assert flight.peak == 5


async def test_cancelling_a_batch_leaves_no_task_behind(client: B2BClient) -> None:
    release = asyncio.Event()
    started: list[int] = []

    async def hang(url: URL, **kwargs: Any) -> CallbackResult:
        started.append(order_id(url))
        await release.wait()
        return answer(url, **kwargs)

    before = asyncio.all_tasks()
    with aioresponses() as m:
        m.get(ORDER_URL, callback=hang, repeat=True)
        task = asyncio.create_task(client.orders.get_many(range(1, 1001), concurrency=4))
        for _ in range(100):
            await asyncio.sleep(0)
            if len(started) == 4:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await settle()
    assert len(started) == 4  # only the first window was ever sent
    assert asyncio.all_tasks() == before


async def test_progress_reports_done_and_total(client: B2BClient) -> None:
    progress: list[tuple[int, int]] = []
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=InFlight(delay=0.001).callback, repeat=True)
        await client.orders.products_many(range(1, 31), concurrency=4,
                                          progress=lambda d, t: progress.append((d, t)))
    assert progress == [(n, 30) for n in range(1, 31)]  # failures count as done too
    assert progress[-1] == (30, 30)


async def test_a_failing_progress_callback_does_not_break_the_batch(client: B2BClient) -> None:
    def boom(done: int, total: int) -> None:
        raise RuntimeError("progress bar crashed")

    with aioresponses() as m:
        m.get(ORDER_URL, callback=answer, repeat=True)
        result = await client.orders.get_many(range(1, 11), progress=boom)
    assert len(result.succeeded) == 9 and set(result.failed) == {5}


# --- iter_products -------------------------------------------------------------------------


async def test_iter_products_yields_every_id_once_as_they_complete(client: B2BClient) -> None:
    async def slow_first(url: URL, **kwargs: Any) -> CallbackResult:
        if order_id(url) == 1:
            await asyncio.sleep(0.05)
        return answer(url, **kwargs)

    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=slow_first, repeat=True)
        got = [item async for item in client.orders.iter_products(range(1, 11), concurrency=4)]
        assert len(made(m)) == 10
    ids = [oid for oid, _ in got]
    assert sorted(ids) == list(range(1, 11))  # each id exactly once
    assert ids[-1] == 1  # the slow one comes last: results stream as they complete
    values = dict(got)
    assert isinstance(values[5], NotFoundError)
    products = values[2]
    assert isinstance(products, list) and products[0].product_id == 2


async def test_iter_products_invalid_ids_yield_errors_without_requests(
    client: B2BClient,
) -> None:
    ids: list[Any] = [1, 0, 2, -3, "4", True, 2, None, 6]
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=answer, repeat=True)
        got = [item async for item in client.orders.iter_products(ids, concurrency=3)]
        requested = sorted(oid for _, oid, _ in made(m))
    assert requested == [1, 2, 6]
    assert len(got) == len(ids)
    errors = [(oid, v) for oid, v in got if isinstance(v, BigCommerceError)]
    assert all(isinstance(v, InvalidArgumentError) for _, v in errors)
    assert sorted(map(repr, (oid for oid, _ in errors))) == sorted(
        map(repr, [0, -3, "4", True, 2, None]))
    assert any("appears twice" in str(v) for oid, v in errors if oid == 2)
    assert sorted(oid for oid, v in got if isinstance(v, list)) == [1, 2, 6]


async def test_iter_products_reads_ids_lazily(client: B2BClient) -> None:
    pulled = 0

    def ids() -> Iterator[int]:
        nonlocal pulled
        for oid in range(1, 10_001):
            pulled += 1
            yield oid

    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=answer, repeat=True)
        async with contextlib.aclosing(
            client.orders.iter_products(ids(), concurrency=4)
        ) as stream:
            async for _ in stream:
                break
    # at most: 4 in flight, 4 waiting in the queue, 4 blocked on put, the one yielded
    assert pulled <= 13


async def test_iter_products_closing_early_stops_everything(client: B2BClient) -> None:
    before = asyncio.all_tasks()
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=InFlight(delay=0.001).callback, repeat=True)

        async def consume_two() -> int:
            n = 0
            async with contextlib.aclosing(
                client.orders.iter_products(range(1, 10_001), concurrency=4)
            ) as stream:
                async for _ in stream:
                    n += 1
                    if n == 2:
                        await asyncio.sleep(0.05)  # the workers fill the queue meanwhile
                        break
            return n

        # closing must not hang on a full queue
        assert await asyncio.wait_for(consume_two(), timeout=5) == 2
        sent = len(made(m))
    await settle()
    assert sent < 20
    assert asyncio.all_tasks() == before


async def test_iter_products_cancelling_the_consumer_leaves_no_task(client: B2BClient) -> None:
    release = asyncio.Event()

    async def hang(url: URL, **kwargs: Any) -> CallbackResult:
        await release.wait()
        return answer(url, **kwargs)

    before = asyncio.all_tasks()
    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=hang, repeat=True)

        async def consume() -> None:
            async for _ in client.orders.iter_products(range(1, 1001), concurrency=4):
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await settle()
        assert len(made(m)) == 4
    assert asyncio.all_tasks() == before


class _QuietLoop:
    """Stands in for the ``unittest.mock.Mock`` aioresponses builds as the loop of every
    mocked response: a new Mock class per response is slow (20,000 of them take minutes
    under tracemalloc) and is kept alive by the mock machinery, which would swamp what is
    being measured. ``get_debug()`` answers False, as a real loop does."""

    return_value = False

    def __call__(self) -> bool:
        return False


def _forget_mock_records(m: aioresponses) -> None:
    """aioresponses keeps every request and response it saw; drop them (test harness
    memory, not the library's)."""
    m.requests.clear()
    m._responses.clear()
    aiohttp.ClientSession._request.reset_mock()  # type: ignore[attr-defined]


async def test_iter_products_memory_stays_flat(
    client: B2BClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aioresponses_core, "Mock", _QuietLoop)
    n = 20_000
    pulled = 0

    def ids() -> Iterator[int]:
        nonlocal pulled
        for oid in range(1, n + 1):
            pulled += 1
            yield oid

    count = 0
    errors = 0
    samples: list[int] = []  # memory in use every 2,000 items, while the stream is open
    started = time.monotonic()
    with aioresponses() as m:
        m.get(PRODUCTS_URL, payload=products_body(1), repeat=True)
        gc.collect()
        tracemalloc.start()
        try:
            start, _ = tracemalloc.get_traced_memory()
            async for _, value in client.orders.iter_products(ids(), concurrency=8):
                count += 1
                errors += isinstance(value, BaseException)
                if count % 100 == 0:
                    _forget_mock_records(m)
                if count % 2_000 == 0:
                    gc.collect()
                    samples.append(tracemalloc.get_traced_memory()[0])
                    # pulled ids run at most a few windows ahead of the consumer
                    assert pulled - count <= 3 * 8 + 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == n and errors == 0
    assert peak - start < 5_000_000, f"peak {peak - start} bytes above the start"
    # flat, not merely bounded: the last 18,000 ids add (almost) nothing
    growth = samples[-1] - samples[0]
    assert growth < 300_000, f"grew {growth} bytes over 18,000 ids"
    assert time.monotonic() - started < 60


# --- the record of ids seen by iter_products ---------------------------------------------------


def test_seen_ids_matches_a_set() -> None:
    rng = random.Random(2024)
    for base in (1, 4_095, 4_096, 2**40, 2**63 - 100_000):
        seen, ref = SeenIds(), set()
        for _ in range(3_000):
            value = base + rng.choice([rng.randrange(100), rng.randrange(9_000),
                                       rng.randrange(10**9)])
            value = min(value, 2**63 - 1)
            assert seen.add(value) is (value not in ref)
            ref.add(value)
        assert all(v in seen for v in ref)
        assert sum(1 for v in range(base, base + 200) if v in seen) == sum(
            1 for v in range(base, base + 200) if v in ref)
    assert 0 not in seen and True not in seen and "1" not in seen


def test_seen_ids_is_small_for_runs_of_ids() -> None:
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        seen = SeenIds()
        for oid in range(1, 200_001):
            seen.add(oid)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert used - start < 100_000  # a set of 200,000 ints takes about 10 MB
    assert 200_000 in seen and 200_001 not in seen


async def test_more_than_20_bad_items_are_counted(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as ids_info:
            await client.orders.get_many([-i for i in range(1, 26)])
        with pytest.raises(InvalidArgumentError) as updates_info:
            await client.orders.update_many({i: {} for i in range(1, 26)})
        assert not m.requests
    for info in (ids_info, updates_info):
        assert "25 invalid item(s)" in str(info.value) and "(+5 more)" in str(info.value)
