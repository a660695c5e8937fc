"""Webhook helper: secret verification, payload parsing, outcomes; deadlines in retries."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from aioresponses import aioresponses

from bcb2b_async import B2BClient, DeadlineExceededError, RetryPolicy, V2Order
from bcb2b_async.errors import BadRequestError, InvalidArgumentError
from bcb2b_async.webhooks import (
    DEFAULT_REPLAY_MAX_ORDERS,
    DEFAULT_REPLAY_TTL,
    B2BFields,
    ReplayGuard,
    WebhookError,
    handle_order_created,
    make_handler,
    parse_order_created,
    verify_secret,
)

SECRET = "s3cr3t-value"
V2 = "https://api.bigcommerce.com/stores/abc/v2"
B2B = "https://api-b2b.bigcommerce.com/api/v3/io"


def payload(order_id: int = 101, created_at: int | None = None) -> dict[str, Any]:
    return {
        "scope": "store/order/created",
        "store_id": "1025646",
        "data": {"type": "order", "id": order_id},
        "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d",
        "created_at": created_at if created_at is not None else int(time.time()),
        "producer": "stores/abc",
    }


@pytest.fixture
async def client() -> Any:
    c = B2BClient("abc", "tok", b2b_rate_limit=None, v2_rate_limit=None,
                  retry_policy=RetryPolicy(max_retries=3, base_delay=0.0))
    yield c
    await c.aclose()


async def fields(order: V2Order) -> B2BFields | None:
    return B2BFields(po_number=f"PO-{order.id}", extra_fields=[{"fieldName": "Fintech ID",
                                                                "fieldValue": "42"}])


def test_verify_secret_constant_time_compare() -> None:
    assert verify_secret({"X-Webhook-Secret": SECRET}, secret=SECRET,
                         header_name="X-Webhook-Secret")
    assert not verify_secret({"X-Webhook-Secret": SECRET + "x"}, secret=SECRET,
                             header_name="X-Webhook-Secret")
    assert not verify_secret({}, secret=SECRET, header_name="X-Webhook-Secret")
    assert not verify_secret({"X-Webhook-Secret": ""}, secret=SECRET,
                             header_name="X-Webhook-Secret")


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"{}",
        {**payload(), "scope": "store/order/updated"},
        {**payload(), "data": {"type": "order", "id": -1}},
        {**payload(), "data": {"type": "cart", "id": 5}},
        {**payload(), "created_at": "yesterday"},
    ],
)
def test_parse_rejects_malformed(bad: Any) -> None:
    with pytest.raises(WebhookError):
        parse_order_created(bad)


def test_parse_accepts_documented_payload() -> None:
    hook = parse_order_created(payload(7, 1_700_000_000))
    assert hook.order_id == 7
    assert hook.deadline.timestamp() == 1_700_000_010


@pytest.mark.parametrize("headers", [{}, {"X-Webhook-Secret": "wrong"}])
async def test_bad_secret_rejected_without_any_api_call(client: B2BClient,
                                                        headers: dict[str, str]) -> None:
    with aioresponses() as m:
        result = await handle_order_created(client, payload(), headers, secret=SECRET,
                                            callback=fields)
        assert result.outcome == "rejected"
        assert not m.requests
    assert client.stats.requests == 0


async def test_created_at_interactive_priority(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 9, "status_id": 11})
        m.post(f"{B2B}/orders", payload={"code": 200, "data": {"bcOrderId": 101,
                                                               "poNumber": "PO-101"}})
        result = await handle_order_created(client, payload(), {"X-Webhook-Secret": SECRET},
                                            secret=SECRET, callback=fields)
        assert result.outcome == "created"
        assert result.order is not None and result.order.po_number == "PO-101"
        (call,) = m.requests[("POST", __import__("yarl").URL(f"{B2B}/orders"))]
        assert call.kwargs["data"] == (
            b'{"bcOrderId":101,"customerId":9,"poNumber":"PO-101",'
            b'"extraFields":[{"fieldName":"Fintech ID","fieldValue":"42"}]}'
        )


async def test_guest_order_and_callback_skip(client: B2BClient) -> None:
    async def skip(order: V2Order) -> B2BFields | None:
        return None

    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 0})
        m.get(f"{V2}/orders/102", payload={"id": 102, "customer_id": 5})
        guest = await handle_order_created(client, payload(101), {"X-Webhook-Secret": SECRET},
                                           secret=SECRET, callback=fields)
        skipped = await handle_order_created(client, payload(102),
                                             {"X-Webhook-Secret": SECRET}, secret=SECRET,
                                             callback=skip)
    assert guest.outcome == "skipped" and skipped.outcome == "skipped"


async def test_expired_window_fails_fast_without_sending(client: B2BClient) -> None:
    with aioresponses() as m:
        result = await handle_order_created(
            client, payload(created_at=int(time.time()) - 60), {"X-Webhook-Secret": SECRET},
            secret=SECRET, callback=fields)
        assert result.outcome == "deadline_missed"
        assert not m.requests


async def test_deadline_stops_retry_backoff() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=5.0, max_delay=5.0)
    async with B2BClient("abc", "tok", b2b_rate_limit=None, v2_rate_limit=None,
                         retry_policy=policy) as c:
        with aioresponses() as m:
            m.get(re.compile(r".*/orders/5$"), status=503, repeat=True)
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError) as info:
                await c.orders.get(5, deadline=1.0)
            assert time.monotonic() - started < 1.0  # gave up instead of sleeping 2.5 s+
            assert info.value.__cause__ is not None
        assert c.stats.b2b.requests == 1


# -- replays, concurrent deliveries and late deliveries (issue 14.9, issue 16.1) -------------

HEADERS = {"X-Webhook-Secret": SECRET}
ALREADY_EXISTS = {"code": 400, "data": {}, "meta": {"message": "The order already exists."}}


def count(m: aioresponses, method: str | None = None) -> int:
    """Requests the mock saw (of one method, or all)."""
    return sum(len(calls) for (meth, _url), calls in m.requests.items()
               if method is None or meth == method)


def mock_order(m: aioresponses, order_id: int = 101, *, repeat: bool = True) -> None:
    m.get(f"{V2}/orders/{order_id}", payload={"id": order_id, "customer_id": 9},
          repeat=repeat)
    m.post(f"{B2B}/orders", payload={"code": 200, "data": {"bcOrderId": order_id}},
           repeat=repeat)


async def test_replay_of_a_created_order_is_duplicate_without_requests(
        client: B2BClient) -> None:
    with aioresponses() as m:
        mock_order(m)
        first = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields)
        assert first.outcome == "created"
        assert (count(m, "GET"), count(m, "POST")) == (1, 1)
        replay = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                            callback=fields)
        assert replay.outcome == "duplicate"
        assert replay.order_id == 101
        assert (count(m, "GET"), count(m, "POST")) == (1, 1)  # no V2 GET, no POST


async def test_late_replay_of_a_created_order_is_duplicate(client: B2BClient) -> None:
    now = [time.time()]
    with aioresponses() as m:
        mock_order(m)
        first = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields, clock=lambda: now[0])
        now[0] += 600  # BigCommerce's retry comes minutes later
        replay = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                            callback=fields, clock=lambda: now[0])
        assert (first.outcome, replay.outcome) == ("created", "duplicate")
        assert count(m) == 2


async def test_already_exists_answer_is_duplicate_and_remembered(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 9}, repeat=True)
        m.post(f"{B2B}/orders", status=400, payload=ALREADY_EXISTS, repeat=True)
        result = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                            callback=fields)
        assert result.outcome == "duplicate"
        assert "already exists" in result.message
        assert count(m, "POST") == 1
        again = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields)
        assert again.outcome == "duplicate"
        assert (count(m, "GET"), count(m, "POST")) == (1, 1)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"code": 400, "data": {"errMsg": {"customerId": "Not a valid integer."}},
               "meta": {"message": "Invalid field values"}}),
        (400, {"code": 400, "data": {}, "meta": {"message": "Missing required fields"}}),
        (422, {"code": 422, "data": {"errMsg": "The order already exists."},
               "meta": {"message": "Invalid field values"}}),
        (404, {"code": 404, "data": {}, "meta": {"message": "Order Does Not Exist."}}),
    ],
)
async def test_other_create_errors_stay_api_errors(client: B2BClient, status: int,
                                                   body: dict[str, Any]) -> None:
    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 9}, repeat=True)
        m.post(f"{B2B}/orders", status=status, payload=body, repeat=True)
        result = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                            callback=fields)
        assert result.outcome == "api_error"
        # not remembered as created: a later delivery tries again
        again = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields)
        assert again.outcome == "api_error"
        assert count(m, "POST") == 2


@pytest.mark.timeout(10)
async def test_concurrent_deliveries_make_one_post(client: B2BClient) -> None:
    import asyncio

    release = asyncio.Event()
    calls = 0

    async def slow_fields(order: V2Order) -> B2BFields | None:
        nonlocal calls
        calls += 1
        await release.wait()
        return await fields(order)

    with aioresponses() as m:
        mock_order(m)
        tasks = [asyncio.create_task(handle_order_created(
            client, payload(), HEADERS, secret=SECRET, callback=slow_fields))
            for _ in range(3)]
        for _ in range(20):  # let every delivery reach its wait
            await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*tasks)
        assert sorted(r.outcome for r in results) == ["created", "duplicate", "duplicate"]
        assert (count(m, "GET"), count(m, "POST")) == (1, 1)
        assert calls == 1


async def test_late_delivery_sends_nothing_even_with_limiters() -> None:
    # The default client has limiters; an idle limiter used to grant a slot although the
    # deadline had passed, so a delivery 60 s late was created with latency 60.3 s.
    async with B2BClient("abc", "tok") as c:
        with aioresponses() as m:
            mock_order(m)
            result = await handle_order_created(
                c, payload(created_at=int(time.time()) - 60), HEADERS, secret=SECRET,
                callback=fields)
            assert result.outcome == "deadline_missed"
            assert count(m) == 0
        assert c.stats.requests == 0


async def test_deadline_passing_before_the_post_sends_no_post() -> None:
    now = [time.time()]

    async def slow_callback(order: V2Order) -> B2BFields | None:
        now[0] += 11.0  # the callback took longer than the window
        return await fields(order)

    async with B2BClient("abc", "tok") as c:
        with aioresponses() as m:
            mock_order(m)
            result = await handle_order_created(
                c, payload(created_at=int(now[0])), HEADERS, secret=SECRET,
                callback=slow_callback, clock=lambda: now[0])
            assert result.outcome == "deadline_missed"
            assert (count(m, "GET"), count(m, "POST")) == (1, 0)


async def test_pipeline_deadline_error_maps_to_deadline_missed(
        client: B2BClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(**kwargs: Any) -> Any:
        raise DeadlineExceededError("POST /orders: deadline passed")

    monkeypatch.setattr(client.orders, "create", refuse)
    with aioresponses() as m:
        mock_order(m)
        result = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                            callback=fields)
    assert result.outcome == "deadline_missed"
    assert isinstance(result.error, DeadlineExceededError)
    # not remembered: nothing was created
    with aioresponses() as m:
        mock_order(m)
        again = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields)
    assert again.outcome == "deadline_missed"


# -- ReplayGuard -------------------------------------------------------------------------


def test_replay_guard_forgets_after_ttl() -> None:
    now = [1000.0]
    guard = ReplayGuard(max_orders=10, ttl=60.0, clock=lambda: now[0])
    guard.remember("abc", 1)
    now[0] += 59.9
    assert guard.was_created("abc", 1)
    assert not guard.was_created("other", 1)  # ids are per store
    assert not guard.was_created("abc", 2)
    now[0] += 0.2
    assert not guard.was_created("abc", 1)
    assert len(guard) == 0


def test_replay_guard_is_bounded_oldest_first() -> None:
    now = [0.0]
    guard = ReplayGuard(max_orders=3, ttl=3600.0, clock=lambda: now[0])
    for oid in range(1, 6):
        guard.remember("abc", oid)
        now[0] += 1.0
    assert len(guard) == 3
    assert [guard.was_created("abc", i) for i in range(1, 6)] == [False, False, True, True,
                                                                  True]


def test_replay_guard_expires_in_bulk_without_lookups() -> None:
    now = [0.0]
    guard = ReplayGuard(max_orders=100_000, ttl=10.0, clock=lambda: now[0])
    for oid in range(1, 20_001):
        guard.remember("abc", oid)
    now[0] = 11.0
    guard.remember("abc", 999_999)  # remembering drops the expired ones
    assert len(guard._created) == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"max_orders": 0}, {"max_orders": True}, {"max_orders": 1.5}, {"ttl": 0},
     {"ttl": -1.0}, {"ttl": float("inf")}, {"ttl": float("nan")}, {"ttl": "60"},
     {"ttl": True}],
)
def test_replay_guard_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        ReplayGuard(**kwargs)


def test_default_guard_values() -> None:
    guard = ReplayGuard()
    assert (guard.max_orders, guard.ttl) == (DEFAULT_REPLAY_MAX_ORDERS, DEFAULT_REPLAY_TTL)
    assert (DEFAULT_REPLAY_MAX_ORDERS, DEFAULT_REPLAY_TTL) == (10_000, 3600.0)
    assert "max_orders=10000" in repr(guard)


async def test_guard_passed_in_is_used_and_shared_between_clients(client: B2BClient) -> None:
    guard = ReplayGuard()
    with aioresponses() as m:
        mock_order(m)
        first = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields, replay_guard=guard)
        assert first.outcome == "created"
        assert guard.was_created("abc", 101)
        # Another client of the same store (e.g. rebuilt after a restart of the pool)
        async with B2BClient("abc", "tok", b2b_rate_limit=None, v2_rate_limit=None) as c2:
            replay = await handle_order_created(c2, payload(), HEADERS, secret=SECRET,
                                                callback=fields, replay_guard=guard)
        assert replay.outcome == "duplicate"
        # A fresh guard knows nothing: the default guard of each client is its own.
        async with B2BClient("abc", "tok", b2b_rate_limit=None, v2_rate_limit=None) as c3:
            other = await handle_order_created(c3, payload(), HEADERS, secret=SECRET,
                                               callback=fields)
        assert other.outcome == "created"
        assert count(m, "POST") == 2


async def test_already_exists_read_from_a_body_that_is_not_the_envelope(
        client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 9})
        m.post(f"{B2B}/orders", status=400,
               payload={"code": 400, "message": "The Order ALREADY  exists"})
        result = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                            callback=fields)
    assert result.outcome == "duplicate"
    assert isinstance(result.error, BadRequestError)


@pytest.mark.timeout(10)
async def test_concurrent_delivery_shares_a_failed_outcome(client: B2BClient) -> None:
    import asyncio

    release = asyncio.Event()

    async def slow_fields(order: V2Order) -> B2BFields | None:
        await release.wait()
        return await fields(order)

    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 9}, repeat=True)
        m.post(f"{B2B}/orders", status=422, payload={
            "code": 422, "data": {"errMsg": {"extraFields": "Fintech ID is required"}},
            "meta": {"message": "Invalid field values"}}, repeat=True)
        tasks = [asyncio.create_task(handle_order_created(
            client, payload(), HEADERS, secret=SECRET, callback=slow_fields))
            for _ in range(2)]
        for _ in range(20):
            await asyncio.sleep(0)
        release.set()
        first, second = await asyncio.gather(*tasks)
        assert (first.outcome, second.outcome) == ("api_error", "api_error")
        assert second.message.startswith("concurrent delivery")
        assert count(m, "POST") == 1


@pytest.mark.timeout(10)
async def test_cancelled_first_delivery_lets_the_waiting_one_proceed(
        client: B2BClient) -> None:
    import asyncio

    started = asyncio.Event()
    calls = 0

    async def hang_first(order: V2Order) -> B2BFields | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            await asyncio.sleep(30)
        return await fields(order)

    with aioresponses() as m:
        mock_order(m)
        first = asyncio.create_task(handle_order_created(
            client, payload(), HEADERS, secret=SECRET, callback=hang_first))
        await asyncio.wait_for(started.wait(), 5)
        second = asyncio.create_task(handle_order_created(
            client, payload(), HEADERS, secret=SECRET, callback=hang_first))
        for _ in range(10):
            await asyncio.sleep(0)
        assert not second.done()  # waiting for the first
        first.cancel()
        result = await asyncio.wait_for(second, 5)
        assert result.outcome == "created"
        assert count(m, "POST") == 1
        with pytest.raises(asyncio.CancelledError):
            await first


@pytest.mark.timeout(10)
async def test_cancelling_a_waiting_delivery_does_not_cancel_the_first(
        client: B2BClient) -> None:
    import asyncio

    release = asyncio.Event()

    async def slow_fields(order: V2Order) -> B2BFields | None:
        await release.wait()
        return await fields(order)

    with aioresponses() as m:
        mock_order(m)
        first = asyncio.create_task(handle_order_created(
            client, payload(), HEADERS, secret=SECRET, callback=slow_fields))
        for _ in range(10):
            await asyncio.sleep(0)
        waiter = asyncio.create_task(handle_order_created(
            client, payload(), HEADERS, secret=SECRET, callback=slow_fields))
        for _ in range(10):
            await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        assert (await asyncio.wait_for(first, 5)).outcome == "created"
        assert count(m, "POST") == 1


async def test_skipped_and_missed_orders_are_not_remembered(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(f"{V2}/orders/101", payload={"id": 101, "customer_id": 0}, repeat=True)
        for _ in range(2):
            r = await handle_order_created(client, payload(), HEADERS, secret=SECRET,
                                           callback=fields)
            assert r.outcome == "skipped"
        assert count(m, "GET") == 2


async def test_handler_answers_duplicate_with_200(client: B2BClient) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    results: list[str] = []
    app = web.Application()
    app.router.add_post("/hooks", make_handler(client, secret=SECRET, callback=fields,
                                               on_result=lambda r: results.append(r.outcome)))
    body = json.dumps(payload()).encode()
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        with aioresponses(passthrough=[str(http.make_url(""))]) as m:
            mock_order(m)
            answers = []
            for _ in range(2):
                resp = await http.post("/hooks", data=body, headers=HEADERS)
                answers.append((resp.status, (await resp.json())["outcome"]))
            # (passed-through requests to the hook are not recorded)
            assert (count(m, "GET"), count(m, "POST")) == (1, 1)
    assert answers == [(200, "created"), (200, "duplicate")]
    assert results == ["created", "duplicate"]
