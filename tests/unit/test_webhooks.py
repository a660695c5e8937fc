"""Webhook helper: secret verification, payload parsing, outcomes; deadlines in retries."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from aioresponses import aioresponses

from bcb2b_async import B2BClient, DeadlineExceededError, RetryPolicy, V2Order
from bcb2b_async.webhooks import (
    B2BFields,
    WebhookError,
    handle_order_created,
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
