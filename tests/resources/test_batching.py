"""Batch calls: per-item results, validation first, bounded concurrency, fail_fast,
cancellation, and the streaming form's flat memory."""

from __future__ import annotations

import asyncio
import re
import tracemalloc
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from bcb2b_async import B2BClient, InvalidArgumentError, NotFoundError, OrderUpdate
from bcb2b_async._batch import BatchResult, run_batch, stream_batch
from bcb2b_async.errors import BigCommerceError

from ._helpers import B2B, client

__all__ = ["client"]

ORDER_URL = re.compile(re.escape(B2B) + r"/orders/(\d+)$")
PRODUCTS_URL = re.compile(re.escape(B2B) + r"/orders/(\d+)/products$")


def order_payload(url: Any, **kwargs: Any) -> CallbackResult:
    oid = int(str(url).rsplit("/", 1)[1])
    return CallbackResult(payload={"code": 200, "data": [{"bcOrderId": oid}]})


async def test_get_many_results_in_input_order(client: B2BClient) -> None:
    ids = [5, 3, 9, 1]
    with aioresponses() as m:
        m.get(ORDER_URL, callback=order_payload, repeat=True)
        result = await client.orders.get_many(ids)
    assert result.ok and len(result) == 4
    assert [k for k, _ in result] == ids
    assert all(result.succeeded[i].bc_order_id == i for i in ids)


async def test_update_many_validates_every_item_before_any_request(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.orders.update_many({
                1: {"po_number": "ok"},
                2: {},                                   # nothing to update
                -3: {"po_number": "x"},                  # bad id
                4: {"po_number": 5},                     # bad type
                5: OrderUpdate(extra_fields=[{"fieldName": ""}]),
                6: {"colour": "red"},                    # unknown key
            })
        assert not m.requests
    text = str(info.value)
    assert "5 invalid item(s)" in text
    for key in ("2:", "-3:", "4:", "5:", "6:"):
        assert key in text


@pytest.mark.parametrize("ids", [[1, 2, 1], [0, 1], [1, True], ["7"]])
async def test_bad_ids_rejected_before_any_request(client: B2BClient, ids: list[Any]) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError):
            await client.orders.get_many(ids)
        assert not m.requests


async def test_products_many_with_failures(client: B2BClient) -> None:
    def cb(url: Any, **kwargs: Any) -> CallbackResult:
        oid = int(str(url).split("/")[-2])
        if oid % 10 == 0:
            return CallbackResult(status=404, payload={"code": 404, "data": {},
                                                       "meta": {"message": "gone"}})
        return CallbackResult(payload={"code": 200, "data": [{"id": oid, "quantity": 1}]})

    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=cb, repeat=True)
        result = await client.orders.products_many(range(1, 51))
    assert len(result.succeeded) == 45 and len(result.failed) == 5
    assert all(isinstance(e, NotFoundError) for e in result.failed.values())
    assert not result.ok


async def test_concurrency_is_bounded_and_progress_reported() -> None:
    in_flight = 0
    peak = 0

    async def call(key: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return key * 2

    progress: list[tuple[int, int]] = []
    before = len(asyncio.all_tasks())
    result: BatchResult[int] = await run_batch(list(range(500)), call, concurrency=7,
                                               progress=lambda d, t: progress.append((d, t)))
    assert peak == 7
    assert len(asyncio.all_tasks()) == before
    assert result.succeeded[499] == 998
    assert progress[-1] == (500, 500) and len(progress) == 500


async def test_fail_fast_stops_and_raises() -> None:
    started: list[int] = []

    async def call(key: int) -> int:
        started.append(key)
        await asyncio.sleep(0.001)
        if key == 3:
            raise NotFoundError(status=404, method="GET", url="u")
        return key

    with pytest.raises(NotFoundError) as info:
        await run_batch(list(range(100)), call, concurrency=2, fail_fast=True)
    assert len(started) < 10
    partial = info.value.batch_result  # type: ignore[attr-defined]
    assert 3 in partial.failed


async def test_cancellation_cancels_the_whole_batch() -> None:
    async def call(key: int) -> int:
        await asyncio.sleep(10)
        return key

    before = len(asyncio.all_tasks())
    task = asyncio.create_task(run_batch(list(range(1000)), call, concurrency=8))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


async def test_iter_products_streams_every_id_once(client: B2BClient) -> None:
    def cb(url: Any, **kwargs: Any) -> CallbackResult:
        oid = int(str(url).split("/")[-2])
        return CallbackResult(payload={"code": 200, "data": [{"id": oid}]})

    with aioresponses() as m:
        m.get(PRODUCTS_URL, callback=cb, repeat=True)
        got = {oid: res async for oid, res in client.orders.iter_products(
            iter([4, 2, 0, 8, 2]), concurrency=3)}
    assert set(got) == {4, 2, 0, 8}
    assert isinstance(got[0], InvalidArgumentError)
    assert isinstance(got[2], list | InvalidArgumentError)  # second 2 reports the repeat
    assert not isinstance(got[4], BigCommerceError) and got[4][0].id == 4


async def test_streaming_memory_stays_flat_over_20000_ids() -> None:
    """20,000 results pass through; memory holds only the in-flight window."""

    async def call(key: int) -> list[int]:
        await asyncio.sleep(0)
        return [key] * 50  # a result of some size

    def ids() -> Any:
        yield from range(20_000)

    tracemalloc.start()
    try:
        seen = 0
        base = 0
        peak_after_warmup = 0
        async for _key, _value in stream_batch(ids(), call, concurrency=16):
            seen += 1
            if seen == 1_000:
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
            elif seen > 1_000:
                peak_after_warmup = max(peak_after_warmup, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert seen == 20_000
    # Growth over 19,000 further results stays within a small constant (no accumulation:
    # holding them all would take megabytes).
    assert peak_after_warmup - base < 256 * 1024
