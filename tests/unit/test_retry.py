"""Retry decisions per status and method, waits, and the pipeline's retry loop."""

from __future__ import annotations

import random
import re

import pytest
from aioresponses import aioresponses

from bcb2b_async import (
    APIConnectionError,
    APITimeoutError,
    B2BClient,
    DecodeError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from bcb2b_async.errors import BadRequestError, error_for_status

URL = "https://api-b2b.bigcommerce.com/api/v3/io/orders/7"


def status_error(status: int, retry_after: float | None = None) -> Exception:
    return error_for_status(status, method="GET", url="u", body=b"", retry_after=retry_after)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_idempotent_retry_statuses(status: int, method: str) -> None:
    assert RetryPolicy().should_retry(status_error(status), method)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501, 507])
def test_non_retryable_statuses(status: int) -> None:
    assert not RetryPolicy().should_retry(status_error(status), "GET")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_not_retried_on_5xx(status: int) -> None:
    assert not RetryPolicy().should_retry(status_error(status), "POST")


def test_post_retried_on_429_and_unsent_connect_errors_only() -> None:
    p = RetryPolicy()
    assert p.should_retry(status_error(429), "POST")
    assert p.should_retry(APIConnectionError("refused", sent=False), "POST")
    assert not p.should_retry(APIConnectionError("reset", sent=True), "POST")
    assert not p.should_retry(APITimeoutError("slow", sent=True), "POST")
    assert not p.should_retry(
        DecodeError("cut", method="POST", url="u", status=200, body=b"{"), "POST"
    )


def test_get_retried_on_transport_and_decode_errors() -> None:
    p = RetryPolicy()
    assert p.should_retry(APIConnectionError("reset", sent=True), "GET")
    assert p.should_retry(APITimeoutError("slow"), "GET")
    assert p.should_retry(DecodeError("cut", method="GET", url="u", status=200, body=b"{"), "GET")


def test_429_waits_for_the_reset_hint_uncapped_by_the_policy_itself() -> None:
    # The policy reports what the server asked for; the pipeline compares it with
    # max_wait and raises ServerWaitTooLongError instead of retrying early (test_pipeline).
    p = RetryPolicy(max_wait=10.0)
    rng = random.Random(1)
    d = p.delay(status_error(429, retry_after=3.0), 1, "GET", rng)
    assert d is not None and 3.0 <= d <= 3.1
    long = p.delay(status_error(429, retry_after=500.0), 1, "GET", rng)
    assert long is not None and 500.0 <= long <= 500.1


def test_429_without_headers_backs_off_exponentially_with_jitter() -> None:
    p = RetryPolicy(base_delay=1.0, max_delay=100.0)
    rng = random.Random(2)
    delays = [p.delay(status_error(429), n, "GET", rng) for n in range(1, 6)]
    assert all(d is not None for d in delays)
    for n, d in enumerate(delays, start=1):
        assert d is not None
        assert 0.5 * 2 ** (n - 1) <= d <= 2 ** (n - 1)


def test_attempts_are_bounded() -> None:
    p = RetryPolicy(max_retries=2)
    assert p.delay(status_error(500), 2, "GET") is not None
    assert p.delay(status_error(500), 3, "GET") is None


# -- the pipeline -------------------------------------------------------------------------
@pytest.fixture
def fast_client() -> B2BClient:
    return B2BClient(
        "abc", "tok", b2b_rate_limit=None, v2_rate_limit=None,
        retry_policy=RetryPolicy(max_retries=3, base_delay=0.0),
    )


ORDER = {"code": 200, "data": [{"bcOrderId": 7}], "meta": {"message": "SUCCESS"}}


async def test_retries_then_succeeds(fast_client: B2BClient) -> None:
    async with fast_client as client:
        with aioresponses() as m:
            m.get(URL, status=503)
            m.get(URL, status=502)
            m.get(URL, payload=ORDER)
            order = await client.orders.get(7)
        assert order.bc_order_id == 7
        assert client.stats.b2b.requests == 3
        assert client.stats.b2b.retries == 2


async def test_gives_up_with_last_error_and_attempt_count(fast_client: B2BClient) -> None:
    async with fast_client as client:
        with aioresponses() as m:
            for _ in range(4):
                m.get(URL, status=500, payload={"code": 500, "meta": {"message": "boom"}})
            with pytest.raises(ServerError) as info:
                await client.orders.get(7)
        assert info.value.attempts == 4
        assert "after 4 attempts" in str(info.value)
        assert client.stats.b2b.requests == 4


async def test_not_found_is_not_retried(fast_client: B2BClient) -> None:
    async with fast_client as client:
        with aioresponses() as m:
            m.get(URL, status=404, payload={"code": 404, "data": {},
                                            "meta": {"message": "Order Does Not Exist."}})
            with pytest.raises(NotFoundError, match="Order Does Not Exist"):
                await client.orders.get(7)
        assert client.stats.b2b.requests == 1


async def test_truncated_2xx_is_retried_for_get(fast_client: B2BClient) -> None:
    async with fast_client as client:
        with aioresponses() as m:
            m.get(URL, status=200, body=b'{"code": 200, "data": [{"bcOrd')
            m.get(URL, payload=ORDER)
            order = await client.orders.get(7)
        assert order.bc_order_id == 7
        assert client.stats.b2b.requests == 2


async def test_post_not_retried_after_reaching_server(fast_client: B2BClient) -> None:
    post_url = "https://api-b2b.bigcommerce.com/api/v3/io/orders"
    async with fast_client as client:
        with aioresponses() as m:
            m.post(post_url, status=502)
            m.post(post_url, payload={"code": 200, "data": {"bcOrderId": 7}})
            with pytest.raises(ServerError):
                await client.orders.create(bc_order_id=7, customer_id=3)
        assert client.stats.b2b.requests == 1


async def test_post_retried_on_429(fast_client: B2BClient) -> None:
    post_url = "https://api-b2b.bigcommerce.com/api/v3/io/orders"
    async with fast_client as client:
        with aioresponses() as m:
            m.post(post_url, status=429, headers={"X-Requests-Remaining": "0 times",
                                                  "X-Request-Window-Resets-After": "0.01 s"})
            m.post(post_url, payload={"code": 200, "data": {"bcOrderId": 7}})
            order = await client.orders.create(bc_order_id=7, customer_id=3)
        assert order.bc_order_id == 7
        assert client.stats.b2b.rate_limited == 1


async def test_post_retried_on_connect_error(fast_client: B2BClient) -> None:
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    post_url = "https://api-b2b.bigcommerce.com/api/v3/io/orders"
    key = ConnectionKey("api-b2b.bigcommerce.com", 443, True, True, None, None, None)
    async with fast_client as client:
        with aioresponses() as m:
            m.post(post_url, exception=aiohttp.ClientConnectorError(key, OSError(111, "refused")))
            m.post(post_url, payload={"code": 200, "data": {"bcOrderId": 7}})
            order = await client.orders.create(bc_order_id=7, customer_id=3)
        assert order.bc_order_id == 7
        assert client.stats.b2b.requests == 2


async def test_post_not_retried_on_reset(fast_client: B2BClient) -> None:
    import aiohttp

    post_url = "https://api-b2b.bigcommerce.com/api/v3/io/orders"
    async with fast_client as client:
        with aioresponses() as m:
            m.post(post_url, exception=aiohttp.ServerDisconnectedError())
            m.post(post_url, payload={"code": 200, "data": {"bcOrderId": 7}})
            with pytest.raises(APIConnectionError):
                await client.orders.create(bc_order_id=7, customer_id=3)
        assert client.stats.b2b.requests == 1


async def test_bad_request_not_retried(fast_client: B2BClient) -> None:
    async with fast_client as client:
        with aioresponses() as m:
            m.get(re.compile(r".*/orders/7$"), status=400, payload={"code": 400, "meta": {}})
            with pytest.raises(BadRequestError):
                await client.orders.get(7)


async def test_rate_limit_error_after_exhausting(fast_client: B2BClient) -> None:
    async with fast_client as client:
        with aioresponses() as m:
            for _ in range(4):
                m.get(URL, status=429)
            with pytest.raises(RateLimitError):
                await client.orders.get(7)
        assert client.stats.b2b.rate_limited == 4
