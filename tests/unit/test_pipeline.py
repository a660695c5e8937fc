"""The request pipeline (``_pipeline.Pipeline``) end to end, with requests counted in every
test: deadlines, server waits, envelope ``data: null``, RetryPolicy validation, the access
token kept out of everything, closed clients and foreign loops, ``with_options`` and
``from_env``, hook events, logging, and DNS versus refused connections.

aioresponses for everything except timeouts and refused connections, which use a real
aiohttp server (or a closed port) on 127.0.0.1. Retry waits go through an injected sleep,
so nothing here sleeps for a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import socket
import time
import traceback
import types
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses

from bcb2b_async import (
    APIConnectionError,
    APITimeoutError,
    B2BClient,
    BadRequestError,
    BigCommerceError,
    ClientClosedError,
    DeadlineExceededError,
    DecodeError,
    Event,
    Hooks,
    InvalidArgumentError,
    Permit,
    RateLimit,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ServerWaitTooLongError,
    WrongEventLoopError,
    _pipeline,
)
from bcb2b_async._pipeline import Secret

TOKEN = "tok-SECRET-1234"
STORE = "abc123"
B2B = "https://api-b2b.bigcommerce.com/api/v3/io"
V2 = f"https://api.bigcommerce.com/stores/{STORE}/v2"

ORDER: dict[str, Any] = {
    "id": 12345, "bcOrderId": 123, "totalIncTax": 2210.47, "poNumber": "04152025-0002",
    "status": "Awaiting Payment", "customStatus": "Invoice Sent", "items": 50,
    "companyId": 12345, "currencyCode": "USD", "statusCode": 7, "isArchived": False,
    "channelId": 1, "channelName": "B2B Store", "extraFields": [],
    "createdAt": 1744735719, "updatedAt": 1744735734,
}
OK_ORDER = {"code": 200, "meta": {"message": "SUCCESS"}, "data": ORDER}
V2_ORDER = {"id": 101, "customer_id": 9, "status_id": 11, "status": "Awaiting Fulfillment"}

Sleeps = list[float]


# -- helpers ---------------------------------------------------------------------------------
def count(m: aioresponses) -> int:
    """Requests that reached aioresponses (every attempt of every call)."""
    return sum(len(calls) for calls in m.requests.values())


def url(path: str) -> re.Pattern[str]:
    """``B2B + path`` exactly, with or without a query string."""
    return re.compile(re.escape(B2B + path) + r"(\?.*)?$")


def recorder(client: B2BClient) -> Sleeps:
    """Replace the pipeline's sleep with one that records the waits and returns at once."""
    sleeps: Sleeps = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    client._pipeline._sleep = fake_sleep
    return sleeps


def make(**kwargs: Any) -> B2BClient:
    """A client like the shared fixture's (no rate limit, 2 retries, no backoff delay)."""
    kwargs.setdefault("b2b_rate_limit", None)
    kwargs.setdefault("v2_rate_limit", None)
    kwargs.setdefault("retry_policy", RetryPolicy(max_retries=2, base_delay=0.0))
    return B2BClient(STORE, TOKEN, **kwargs)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                ) -> tuple[web.AppRunner, str]:
    """An aiohttp server on 127.0.0.1 answering every path with ``handler``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


class FakeLimiter:
    """A LimiterBackend that grants at once but reports ``waited`` seconds per permit."""

    def __init__(self, waited: float) -> None:
        self.waited = waited
        self.acquired = 0
        self.observed = 0

    async def acquire(self, priority: str = "bulk", deadline: float | None = None, *,
                      max_wait: float | None = None) -> Permit:
        self.acquired += 1
        return Permit(self.acquired, priority, 0.0, self.waited)  # type: ignore[arg-type]

    def observe(self, permit: Permit, headers: Mapping[str, str] | None,
                status: int | None = None) -> None:
        self.observed += 1


# -- 1. deadlines (issue 16.1) ------------------------------------------------------------------
@pytest.mark.parametrize("deadline", [
    -5, -0.001, 0, datetime.now(UTC) - timedelta(seconds=60),
], ids=["-5", "-0.001", "0", "datetime-60s-ago"])
async def test_past_deadline_sends_nothing(client: B2BClient, deadline: Any) -> None:
    if isinstance(deadline, datetime):  # parametrised at import: recompute relative to now
        deadline = datetime.now(UTC) - timedelta(seconds=60)
    with aioresponses() as m:
        m.get(url("/orders/123"), payload=OK_ORDER, repeat=True)
        with pytest.raises(DeadlineExceededError) as info:
            await client.orders.get(123, deadline=deadline)
        assert count(m) == 0
    assert "nothing was sent" in str(info.value)
    assert isinstance(info.value, TimeoutError)
    assert client.stats.b2b.requests == 0


async def test_past_deadline_v2_sends_nothing(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(re.compile(re.escape(V2) + r"/.*"), payload=V2_ORDER, repeat=True)
        with pytest.raises(DeadlineExceededError):
            await client.v2.orders.get(101, deadline=-1)
        assert count(m) == 0
    assert client.stats.v2.requests == 0


async def test_naive_datetime_deadline_is_invalid_argument(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError):
            await client.orders.get(123, deadline=datetime.now() + timedelta(seconds=5))
        assert count(m) == 0


@pytest.mark.timeout(10)
async def test_deadline_passing_while_waiting_for_the_limiter_sends_nothing() -> None:
    client = make(b2b_rate_limit=RateLimit(1, 1.0))
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            m.get(url("/orders/2"), payload=OK_ORDER, repeat=True)
            await client.orders.get(1)
            async with asyncio.timeout(5):
                with pytest.raises(DeadlineExceededError):
                    await client.orders.get(2, deadline=0.2)
            assert count(m) == 1
            assert [str(u) for (_, u) in m.requests] == [B2B + "/orders/1"]
        assert client.stats.b2b.requests == 1
    finally:
        await client.aclose()


async def test_deadline_before_the_next_retry_raises_chained_from_the_last_error() -> None:
    client = make(retry_policy=RetryPolicy(max_retries=5, base_delay=5.0, max_delay=5.0))
    sleeps = recorder(client)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), status=503, body=b"busy", repeat=True)
            with pytest.raises(DeadlineExceededError) as info:
                await client.orders.get(1, deadline=1.0)  # the backoff is 2.5..5 s
            assert count(m) == 1
        assert sleeps == []
        assert isinstance(info.value.__cause__, ServerError)
        assert info.value.__cause__.status == 503
        assert "deadline" in str(info.value) and "503" in str(info.value)
    finally:
        await client.aclose()


async def test_deadline_before_a_server_hinted_retry(client: B2BClient) -> None:
    sleeps = recorder(client)
    with aioresponses() as m:
        m.get(url("/orders/1"), status=429, payload={"code": 429},
              headers={"X-Requests-Remaining": "0", "X-Request-Window-Resets-After": "2 s"},
              repeat=True)
        with pytest.raises(DeadlineExceededError) as info:
            await client.orders.get(1, deadline=1.0)
        assert count(m) == 1
    assert sleeps == []
    assert isinstance(info.value.__cause__, RateLimitError)


async def test_deadline_after_one_retry_stops_before_the_second() -> None:
    # First retry fits (0.5..1 s before a 3 s deadline, sleep faked); the clock is then
    # moved past the deadline by the fake sleep: the next attempt is refused unsent.
    client = make(retry_policy=RetryPolicy(max_retries=5, base_delay=1.0, max_delay=1.0))
    real = time.monotonic
    shift = [0.0]
    clock = types.SimpleNamespace(monotonic=lambda: real() + shift[0], time=time.time)

    async def sleep(delay: float) -> None:
        shift[0] += 10.0

    client._pipeline._sleep = sleep
    try:
        with aioresponses() as m, pytest.MonkeyPatch.context() as mp:
            mp.setattr(_pipeline, "time", clock)
            m.get(url("/orders/1"), status=503, repeat=True)
            with pytest.raises(DeadlineExceededError) as info:
                await client.orders.get(1, deadline=3.0)
            assert count(m) == 1
        assert "attempt 2" in str(info.value)
    finally:
        await client.aclose()


class SlowGrantLimiter(FakeLimiter):
    """Grants only after ``delay`` seconds, whatever the deadline (a backend that ignores it)."""

    def __init__(self, delay: float) -> None:
        super().__init__(waited=delay)
        self.delay = delay

    async def acquire(self, priority: str = "bulk", deadline: float | None = None, *,
                      max_wait: float | None = None) -> Permit:
        await asyncio.sleep(self.delay)
        return await super().acquire(priority, deadline, max_wait=max_wait)


@pytest.mark.timeout(10)
async def test_deadline_checked_again_after_the_grant() -> None:
    slow = SlowGrantLimiter(0.3)
    client = make(b2b_limiter=slow)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            with pytest.raises(DeadlineExceededError):
                await client.orders.get(1, deadline=0.1)
            assert count(m) == 0
    finally:
        await client.aclose()
    assert slow.acquired == slow.observed == 1  # the unused permit was handed back
    assert client.stats.b2b.requests == 0


async def test_past_deadline_does_not_touch_the_limiter() -> None:
    fake = FakeLimiter(waited=0.0)
    client = make(b2b_limiter=fake)
    try:
        with aioresponses() as m:
            with pytest.raises(DeadlineExceededError):
                await client.orders.get(1, deadline=-1)
            assert count(m) == 0
    finally:
        await client.aclose()
    assert fake.acquired == fake.observed == 0


async def test_backoff_past_max_time_gives_up_with_the_last_error() -> None:
    client = make(retry_policy=RetryPolicy(max_retries=5, base_delay=10, max_delay=10,
                                           max_time=5))
    sleeps = recorder(client)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), status=503, repeat=True)
            with pytest.raises(ServerError) as info:
                await client.orders.get(1)
            assert count(m) == 1
    finally:
        await client.aclose()
    assert sleeps == [] and info.value.attempts == 1
    assert client.stats.b2b.errors == 1


async def test_backoff_past_max_time_error_is_not_its_own_cause() -> None:
    client = make(retry_policy=RetryPolicy(max_retries=5, base_delay=10, max_delay=10,
                                           max_time=5))
    recorder(client)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), status=503, repeat=True)
            with pytest.raises(ServerError) as info:
                await client.orders.get(1)
            assert count(m) == 1
    finally:
        await client.aclose()
    assert info.value.__cause__ is not info.value


# -- 2. server waits (issue 14.5) ----------------------------------------------------------------
B2B_HOUR = {"X-Requests-Remaining": "0", "X-Request-Window-Resets-After": "3600 s"}
V2_DAY = {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "86400000"}


async def test_b2b_429_asking_an_hour_raises_at_once(client: B2BClient) -> None:
    sleeps = recorder(client)
    with aioresponses() as m:
        m.get(url("/orders/1"), status=429, payload={"code": 429}, headers=B2B_HOUR,
              repeat=True)
        with pytest.raises(ServerWaitTooLongError) as info:
            await client.orders.get(1)
        assert count(m) == 1
    assert sleeps == []
    err = info.value
    assert 3600 <= err.requested <= 3600.1
    assert err.allowed == client.retry_policy.max_wait == 120
    assert "3600" in str(err) and "max_wait" in str(err)
    assert isinstance(err.__cause__, RateLimitError)
    assert client.stats.b2b.rate_limited == 1 and client.stats.b2b.errors == 1


async def test_v2_429_asking_a_day_raises_at_once(client: B2BClient) -> None:
    sleeps = recorder(client)
    with aioresponses() as m:
        m.get(f"{V2}/orders/101", status=429, payload=[{"status": 429, "message": "slow"}],
              headers=V2_DAY, repeat=True)
        with pytest.raises(ServerWaitTooLongError) as info:
            await client.v2.orders.get(101)
        assert count(m) == 1
    assert sleeps == []
    assert 86400 <= info.value.requested <= 86400.1
    assert info.value.allowed == 120
    assert "86400" in str(info.value)


async def test_429_wait_past_max_time_raises() -> None:
    client = make(retry_policy=RetryPolicy(max_retries=3, max_wait=10, max_time=5))
    sleeps = recorder(client)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), status=429, payload={"code": 429},
                  headers={"X-Requests-Remaining": "0", "X-Request-Window-Resets-After": "8 s"},
                  repeat=True)
            with pytest.raises(ServerWaitTooLongError) as info:
                await client.orders.get(1)
            assert count(m) == 1
        assert sleeps == []
        assert 8 <= info.value.requested <= 8.1
        assert 0 <= info.value.allowed <= 5
        assert "max_time" in str(info.value)
    finally:
        await client.aclose()


async def test_short_hint_is_waited_then_retried(client: B2BClient) -> None:
    sleeps = recorder(client)
    with aioresponses() as m:
        m.get(url("/orders/1"), status=429, payload={"code": 429},
              headers={"X-Requests-Remaining": "0", "X-Request-Window-Resets-After": "1 s"})
        m.get(url("/orders/1"), payload=OK_ORDER)
        order = await client.orders.get(1)
        assert count(m) == 2
    assert order.bc_order_id == 123
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 1.1
    assert client.stats.b2b.retries == 1 and client.stats.b2b.rate_limited == 1


@pytest.mark.timeout(20)
async def test_limiter_does_not_stall_an_hour_after_a_zero_remaining_200() -> None:
    client = make(b2b_rate_limit=RateLimit(150, 60))
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, headers=B2B_HOUR)
            m.get(url("/orders/2"), payload=OK_ORDER, repeat=True)
            await client.orders.get(1)
            outcome: object = None
            try:
                async with asyncio.timeout(10):
                    outcome = await client.orders.get(2)
            except BigCommerceError as err:
                outcome = err  # a typed error is an acceptable answer
            except TimeoutError:
                pytest.fail("the second call stalled on the limiter for more than 10 s")
            assert outcome is not None
            assert count(m) <= 2
    finally:
        await client.aclose()


# -- 3. envelope data null (issue 14.4) ----------------------------------------------------------
NULL_PAGE = {"code": 200, "data": None,
             "meta": {"message": "SUCCESS",
                      "pagination": {"totalCount": 1, "limit": 50, "offset": 0}}}
GOOD_PAGE = {"code": 200, "data": [ORDER],
             "meta": {"message": "SUCCESS",
                      "pagination": {"totalCount": 1, "limit": 50, "offset": 0}}}


async def test_null_page_once_is_retried(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders"), payload=NULL_PAGE)
        m.get(url("/orders"), payload=GOOD_PAGE)
        orders = await client.orders.list(page_size=50).to_list()
        assert count(m) == 2
    assert [o.bc_order_id for o in orders] == [123]
    assert client.stats.b2b.retries == 1


async def test_null_page_always_is_malformed_decode_error(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders"), payload=NULL_PAGE, repeat=True)
        with pytest.raises(DecodeError) as info:
            await client.orders.list(page_size=50).to_list()
        attempts = client.retry_policy.max_retries + 1
        assert count(m) == attempts
    assert info.value.malformed is True
    assert info.value.attempts == attempts
    assert "null" in str(info.value)


async def test_missing_data_in_a_single_get_is_malformed(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/1"), payload={"code": 200, "meta": {}}, repeat=True)
        with pytest.raises(DecodeError) as info:
            await client.orders.get(1)
        assert count(m) == 3
    assert info.value.malformed


async def test_post_with_null_data_is_not_retried(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(B2B + "/orders", payload={"code": 200, "data": None, "meta": {}}, repeat=True)
        with pytest.raises(DecodeError) as info:
            await client.orders.create(bc_order_id=5, customer_id=6)
        assert count(m) == 1
    assert info.value.malformed and info.value.attempts == 1


# -- 4. RetryPolicy validation (issue 14.7) --------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"max_retries": "5"}, {"max_retries": 5.0}, {"max_retries": True}, {"max_retries": -1},
    {"max_retries": 10**6}, {"base_delay": -1}, {"base_delay": math.inf},
    {"base_delay": "1"}, {"max_delay": math.nan}, {"max_wait": 0}, {"max_wait": -3},
    {"max_time": float("nan")}, {"max_time": 0}, {"max_time": math.inf},
    {"base_delay": 5.0, "max_delay": 1.0},
], ids=repr)
def test_retry_policy_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match="RetryPolicy"):
        RetryPolicy(**kwargs)


def test_retry_policy_accepts_edges() -> None:
    RetryPolicy(max_retries=0, base_delay=0, max_delay=0)
    RetryPolicy(max_retries=100, max_wait=0.001, max_time=0.001)


# -- 5. secrets (issue 14.8) --------------------------------------------------------------------
_LEAVES = (int, float, bool, complex, type(None), types.ModuleType, type,
           types.FunctionType, types.BuiltinFunctionType, types.MethodType,
           asyncio.AbstractEventLoop)


def token_paths(root: object, *, max_depth: int = 8, max_nodes: int = 50_000) -> list[str]:
    """Attribute paths under ``root`` (``vars()``, ``__slots__``, containers) where the token
    appears, skipping the :class:`Secret` holder itself. Breadth first, depth-limited."""
    found: list[str] = []
    seen: set[int] = set()
    todo: deque[tuple[object, str, int]] = deque([(root, "root", 0)])
    needle = TOKEN.encode()
    while todo and len(seen) < max_nodes:
        obj, path, depth = todo.popleft()
        if id(obj) in seen or isinstance(obj, Secret):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            if TOKEN in obj:
                found.append(path)
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            if needle in bytes(obj):
                found.append(path)
            continue
        if isinstance(obj, _LEAVES) or depth >= max_depth:
            continue
        children: list[tuple[object, str]] = []
        if isinstance(obj, Mapping):
            try:
                items = list(obj.items())
            except Exception:
                items = []
            for k, v in items:
                children += [(k, f"{path}[key {k!r}]"), (v, f"{path}[{k!r}]")]
        elif isinstance(obj, list | tuple | set | frozenset | deque):
            children += [(v, f"{path}[{i}]") for i, v in enumerate(list(obj))]
        try:
            attrs = dict(vars(obj))
        except TypeError:
            attrs = {}
        for klass in type(obj).__mro__:
            slots = klass.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name not in attrs and hasattr(obj, name):
                    with contextlib.suppress(Exception):
                        attrs[name] = getattr(obj, name)
        children += [(v, f"{path}.{k}") for k, v in attrs.items()]
        todo.extend((c, p, depth + 1) for c, p in children)
    return found


def assert_no_token_in_error(err: BaseException) -> None:
    assert TOKEN not in str(err)
    assert TOKEN not in repr(err)
    for name in ("body", "server_message", "message", "url"):
        value = getattr(err, name, None)
        assert value is None or TOKEN not in str(value), name
    assert TOKEN not in "".join(traceback.format_exception(err))


def assert_no_token_anywhere(client: B2BClient) -> None:
    roots: dict[str, object] = {
        "client": client, "pipeline": client._pipeline, "orders": client.orders,
        "v2": client.v2, "channels": client.channels,
        "transport": client._pipeline.transport,
    }
    for name, root in roots.items():
        assert token_paths(root) == [], name


async def test_no_token_in_client_attributes_before_and_after_calls() -> None:
    client = make()
    assert_no_token_anywhere(client)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER)
            await client.orders.get(1)
        assert_no_token_anywhere(client)
    finally:
        await client.aclose()


@pytest.mark.timeout(15)
async def test_no_token_in_client_or_aiohttp_state_after_real_calls() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Auth-Token", ""))
        return web.json_response(OK_ORDER)

    runner, base = await serve(handler)
    client = make(b2b_base_url=base, v2_base_url=base)
    try:
        async with asyncio.timeout(10):
            await client.orders.get(1)
            await client.orders.get(2)
        assert seen == [TOKEN, TOKEN]  # it was sent, and only as the header
        assert_no_token_anywhere(client)
    finally:
        await client.aclose()
        await runner.cleanup()


def test_reprs_hide_the_token() -> None:
    client = make()
    secret = client._pipeline._secret
    for text in (repr(client), str(client), repr(secret), str(secret), f"{secret}",
                 repr(client.config), repr(client._pipeline), repr(client.orders)):
        assert TOKEN not in text
    assert repr(secret) == "<secret>"
    assert secret.get() == TOKEN


@pytest.mark.parametrize("status", [400, 500])
async def test_error_bodies_echoing_the_token_are_redacted(client: B2BClient,
                                                           status: int) -> None:
    body = {"code": status, "data": {"errMsg": f"bad token {TOKEN}"},
            "meta": {"message": f"X-Auth-Token {TOKEN} rejected"}}
    with aioresponses() as m:
        m.get(url("/orders/1"), status=status, payload=body, repeat=True)
        with pytest.raises(BadRequestError if status == 400 else ServerError) as info:
            await client.orders.get(1)
        assert count(m) == (1 if status == 400 else 3)
    err = info.value
    assert_no_token_in_error(err)
    assert "[redacted]" in err.body
    assert err.server_message is not None and "[redacted]" in err.server_message


@pytest.mark.parametrize("body", [
    f'{{"code":200,"data":{{"bcOrderId":"{TOKEN}"}}}}'.encode(),  # valid JSON, wrong shape
    f"token {TOKEN} is not JSON".encode(),  # malformed: retried, then raised
], ids=["wrong-shape", "not-json"])
async def test_2xx_echoing_the_token_that_fails_to_decode(client: B2BClient,
                                                          body: bytes) -> None:
    with aioresponses() as m:
        m.get(url("/orders/1"), status=200, body=body, repeat=True)
        with pytest.raises(DecodeError) as info:
            await client.orders.get(1)
        assert count(m) in (1, 3)
    assert_no_token_in_error(info.value)
    assert "[redacted]" in info.value.body


def _chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo:
        e = todo.pop()
        if e is None or any(e is o for o in out):
            continue
        out.append(e)
        todo += [e.__cause__, e.__context__]
    return out


async def test_2xx_decode_error_chain_holds_no_token(client: B2BClient) -> None:
    body = f'{{"code":200,"data":{{"bcOrderId":"{TOKEN}"}}}}'.encode()
    with aioresponses() as m:
        m.get(url("/orders/1"), status=200, body=body)
        with pytest.raises(DecodeError) as info:
            await client.orders.get(1)
    for e in _chain(info.value):
        assert TOKEN not in str(e), type(e).__name__


async def test_2xx_with_two_orders_echoing_the_token(client: B2BClient) -> None:
    echo = {**ORDER, "poNumber": TOKEN}
    with aioresponses() as m:
        m.get(url("/orders/1"), payload={"code": 200, "data": [echo, echo]})
        with pytest.raises(DecodeError) as info:
            await client.orders.get(1)
        assert count(m) == 1
    assert_no_token_in_error(info.value)


@pytest.mark.timeout(10)
async def test_debug_logs_of_a_failing_retried_call_hold_no_token(
    client: B2BClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    client._pipeline._hooks = Hooks(on_retry=events.append, on_response=events.append)
    echo = {"code": 500, "data": {"errMsg": f"token {TOKEN}"}, "meta": {"message": TOKEN}}
    key = ConnectionKey("api-b2b.bigcommerce.com", 443, True, True, None, None, None)
    with aioresponses() as m:
        m.get(url("/orders/1"), status=500, payload=echo,
              headers={"X-Request-Id": "r-1"})
        m.get(url("/orders/1"), exception=aiohttp.ClientConnectorError(
            key, OSError(111, "Connection refused")))
        m.get(url("/orders/1"), status=500, payload=echo, repeat=True)
        with pytest.raises(ServerError) as info:
            await client.orders.get(1)
        assert count(m) == 3
    assert_no_token_in_error(info.value)
    records = [r for r in caplog.records if r.name.startswith("bcb2b_async")]
    assert any(r.levelno == logging.INFO for r in records)  # the retries were logged
    assert any(r.levelno == logging.DEBUG for r in records)
    assert TOKEN not in caplog.text
    for r in caplog.records:
        assert TOKEN not in r.getMessage()
        assert TOKEN not in (r.exc_text or "")
    assert events and all(TOKEN not in repr(e) for e in events)


@pytest.mark.parametrize("base", [
    f"http://user:{TOKEN}@127.0.0.1:1",
    f"https://user:{TOKEN}@api-b2b.bigcommerce.com",
    f"https://{TOKEN}@api-b2b.bigcommerce.com",
    f"https://user:{TOKEN}@api-b2b.bigcommerce.com/api/v3/io",
    f"http://user:{TOKEN}@example.com",  # also a non-loopback http URL
    f"ftp://user:{TOKEN}@api-b2b.bigcommerce.com",  # also a bad scheme
])
@pytest.mark.parametrize("which", ["b2b_base_url", "v2_base_url"])
def test_base_url_with_credentials_is_refused_without_echoing_them(base: str,
                                                                   which: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        kwargs: dict[str, Any] = {which: base}
        B2BClient(STORE, "other-token", **kwargs)
    assert TOKEN not in str(info.value)
    assert "credentials" in str(info.value)


# -- 6. closed client / foreign loop (issue 16.4) -------------------------------------------
async def test_call_after_aclose_is_client_closed_error() -> None:
    client = make()
    with aioresponses() as m:
        m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
        m.get(f"{V2}/orders/101", payload=V2_ORDER, repeat=True)
        await client.orders.get(1)
        await client.aclose()
        for call in (lambda: client.orders.get(1), lambda: client.v2.orders.get(101)):
            with pytest.raises(ClientClosedError) as info:
                await call()
            assert isinstance(info.value, BigCommerceError)
            assert isinstance(info.value, RuntimeError)
        assert count(m) == 1


async def test_never_used_client_closed_then_called() -> None:
    client = make()
    await client.aclose()
    with aioresponses() as m:
        with pytest.raises(ClientClosedError):
            await client.orders.get(1)
        assert count(m) == 0


async def test_async_with_block_closes() -> None:
    with aioresponses() as m:
        m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
        async with make() as client:
            await client.orders.get(1)
        with pytest.raises(ClientClosedError):
            await client.orders.get(1)
        assert count(m) == 1


@pytest.mark.timeout(15)
async def test_call_from_a_foreign_loop_is_wrong_event_loop_error(
    recwarn: pytest.WarningsRecorder,
) -> None:
    warnings.simplefilter("always")
    client = make(b2b_rate_limit=RateLimit(150, 60))  # a real limiter (aiolimiter inside)

    def coro_factory() -> Coroutine[Any, Any, object]:
        return client.orders.get(1)

    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            await client.orders.get(1)
            async with asyncio.timeout(10):
                with pytest.raises(WrongEventLoopError) as info:
                    await asyncio.to_thread(asyncio.run, coro_factory())
            assert isinstance(info.value, RuntimeError)
            assert count(m) == 1
            await client.orders.get(1)  # still fine in its own loop
            assert count(m) == 2
    finally:
        await client.aclose()
    assert [str(w.message) for w in recwarn.list] == []


@pytest.mark.timeout(15)
async def test_first_used_elsewhere_then_here_is_wrong_event_loop_error(
    recwarn: pytest.WarningsRecorder,
) -> None:
    warnings.simplefilter("always")
    client = make(b2b_rate_limit=RateLimit(150, 60))

    async def elsewhere() -> None:
        await client.orders.get(1)

    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            async with asyncio.timeout(10):
                await asyncio.to_thread(asyncio.run, elsewhere())
            with pytest.raises(WrongEventLoopError):
                await client.orders.get(1)
            assert count(m) == 1
    finally:
        await client.aclose()
    assert [str(w.message) for w in recwarn.list if "unclosed" not in str(w.message)] == []


# -- 7. with_options / from_env (issue 16.4) -----------------------------------------------
async def test_with_options_max_retries_zero(client: B2BClient) -> None:
    derived = client.with_options(max_retries=0)
    with aioresponses() as m:
        m.get(url("/orders/1"), status=503, repeat=True)
        with pytest.raises(ServerError) as info:
            await derived.orders.get(1)
        assert count(m) == 1 and info.value.attempts == 1
        with pytest.raises(ServerError) as info:
            await client.orders.get(1)
        assert count(m) == 1 + 3 and info.value.attempts == 3
    assert derived.stats is client.stats
    assert client.stats.b2b.requests == 4 and client.stats.b2b.errors == 2
    assert derived.retry_policy.max_retries == 0 and client.retry_policy.max_retries == 2
    assert derived.retry_policy.base_delay == client.retry_policy.base_delay


async def test_with_options_shares_limiters() -> None:
    client = make(b2b_rate_limit=RateLimit(150, 60), v2_rate_limit=RateLimit(150, 30))
    try:
        derived = client.with_options(max_retries=0, timeout=5, priority="bulk")
        for api in ("b2b", "v2"):
            assert derived.limiter(api) is client.limiter(api)
            assert client.limiter(api) is not None
        assert derived.store_hash == client.store_hash
    finally:
        await client.aclose()


async def test_with_options_priority() -> None:
    client = make()
    try:
        assert client.default_priority == "interactive"
        derived = client.with_options(priority="bulk")
        assert derived.default_priority == "bulk"
        assert client.default_priority == "interactive"
        assert derived.with_options(timeout=3).default_priority == "bulk"
    finally:
        await client.aclose()


@pytest.mark.parametrize("kwargs", [
    {"timeout": 0}, {"timeout": -1}, {"timeout": math.nan}, {"timeout": "5"},
    {"timeout": True}, {"max_retries": -1}, {"max_retries": 1000}, {"max_retries": "2"},
    {"priority": "urgent"}, {"priority": 3}, {"retry_policy": "x"}, {"retry_policy": 3},
], ids=repr)
async def test_with_options_rejects_bad_values(client: B2BClient,
                                               kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        client.with_options(**kwargs)


async def test_with_options_retry_policy(client: B2BClient) -> None:
    policy = RetryPolicy(max_retries=1, base_delay=0)
    derived = client.with_options(retry_policy=policy)
    assert derived.retry_policy is policy
    with aioresponses() as m:
        m.get(url("/orders/1"), status=503, repeat=True)
        with pytest.raises(ServerError):
            await derived.orders.get(1)
        assert count(m) == 2


async def test_aclose_on_a_derived_client_leaves_the_parent_usable(client: B2BClient) -> None:
    derived = client.with_options(max_retries=0)
    with aioresponses() as m:
        m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
        await derived.orders.get(1)
        await derived.aclose()
        await client.orders.get(1)
        assert count(m) == 2
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await derived.orders.get(1)  # the parent's pool is gone: so is the derived one's
        assert count(m) == 2


@pytest.mark.timeout(30)
async def test_with_options_timeout_on_a_slow_server() -> None:
    hits: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        hits.append(request.path)
        await asyncio.sleep(2.0)
        return web.json_response(OK_ORDER)

    runner, base = await serve(slow)
    client = make(b2b_base_url=base, v2_base_url=base)  # timeout 30 s
    try:
        async with asyncio.timeout(20):
            fast = client.with_options(timeout=0.2)
            with pytest.raises(APITimeoutError) as info:
                await fast.orders.get(1)
            assert info.value.kind == "timeout"
            assert info.value.attempts == 3 and len(hits) == 3
            order = await client.orders.get(1)  # the parent waits the 2 s out
            assert order.bc_order_id == 123 and len(hits) == 4
    finally:
        await client.aclose()
        await runner.cleanup()


async def test_from_env_builds_a_client() -> None:
    env = {"BCB2B_STORE_HASH": "store9", "BCB2B_ACCESS_TOKEN": TOKEN,
           "BCB2B_B2B_URL": "http://127.0.0.1:8081", "BCB2B_V2_URL": "http://127.0.0.1:8082/"}
    client = B2BClient.from_env(environ=env, max_retries=1)
    try:
        assert client.store_hash == "store9"
        assert client.config.b2b_base_url == "http://127.0.0.1:8081"
        assert client.config.v2_base_url == "http://127.0.0.1:8082"
        assert client.retry_policy.max_retries == 1
        assert TOKEN not in repr(client)
    finally:
        await client.aclose()
    client = B2BClient.from_env(environ={"BCB2B_STORE_HASH": "s1", "BCB2B_ACCESS_TOKEN": "t"})
    try:
        assert client.config.b2b_base_url == "https://api-b2b.bigcommerce.com"
    finally:
        await client.aclose()


@pytest.mark.parametrize("env, missing", [
    ({"BCB2B_STORE_HASH": "s1"}, ["BCB2B_ACCESS_TOKEN"]),
    ({"BCB2B_STORE_HASH": "s1", "BCB2B_ACCESS_TOKEN": "  "}, ["BCB2B_ACCESS_TOKEN"]),
    ({"BCB2B_ACCESS_TOKEN": TOKEN}, ["BCB2B_STORE_HASH"]),
    ({}, ["BCB2B_STORE_HASH", "BCB2B_ACCESS_TOKEN"]),
])
def test_from_env_names_the_missing_variable(env: dict[str, str], missing: list[str]) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        B2BClient.from_env(environ=env)
    text = str(info.value)
    named = re.findall(r"BCB2B_[A-Z0-9_]+", text)
    assert named == missing
    assert TOKEN not in text


def test_from_env_bad_url_is_invalid_argument() -> None:
    env = {"BCB2B_STORE_HASH": "s1", "BCB2B_ACCESS_TOKEN": "t",
           "BCB2B_B2B_URL": "http://example.com"}
    with pytest.raises(InvalidArgumentError):
        B2BClient.from_env(environ=env)


# -- 8. hook events (issue 16.4) -------------------------------------------------------------
def hooked(events: list[tuple[str, Event]], **kwargs: Any) -> B2BClient:
    def rec(name: str) -> Callable[[Event], None]:
        return lambda e: events.append((name, e))

    return make(hooks=Hooks(on_request=rec("request"), on_response=rec("response"),
                            on_retry=rec("retry"), on_rate_limit=rec("rate_limit")), **kwargs)


async def test_hook_events_carry_call_and_request_ids() -> None:
    events: list[tuple[str, Event]] = []
    client = hooked(events)
    recorder(client)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), status=429, payload={"code": 429},
                  headers={"X-Request-Id": "rid-1", "X-Requests-Remaining": "0",
                           "X-Request-Window-Resets-After": "0.5 s"})
            m.get(url("/orders/1"), status=503, headers={"X-Request-Id": "rid-2"})
            m.get(url("/orders/1"), payload=OK_ORDER, headers={"X-Request-Id": "rid-3"})
            m.get(url("/orders/2"), payload=OK_ORDER, headers={"X-Request-Id": "rid-4"})
            await client.orders.get(1)
            await client.orders.get(2)
            assert count(m) == 4
    finally:
        await client.aclose()
    names = [n for n, _ in events]
    assert names == ["request", "response", "rate_limit", "retry",
                     "request", "response", "retry",
                     "request", "response",
                     "request", "response"]
    first = [e for _, e in events[:9]]
    second = [e for _, e in events[9:]]
    assert len({e.call_id for e in first}) == 1
    assert len({e.call_id for e in second}) == 1
    assert first[0].call_id != second[0].call_id
    ids = [(n, e.request_id) for n, e in events if n != "request"]
    assert ids == [("response", "rid-1"), ("rate_limit", "rid-1"), ("retry", "rid-1"),
                   ("response", "rid-2"), ("retry", "rid-2"),
                   ("response", "rid-3"), ("response", "rid-4")]
    assert all(e.request_id is None for n, e in events if n == "request")
    assert [e.attempt for n, e in events if n == "request"] == [1, 2, 3, 1]


async def test_concurrent_calls_have_distinct_call_ids() -> None:
    events: list[tuple[str, Event]] = []
    client = hooked(events)
    try:
        with aioresponses() as m:
            for i in range(1, 6):
                m.get(url(f"/orders/{i}"), payload=OK_ORDER)
            await asyncio.gather(*(client.orders.get(i) for i in range(1, 6)))
            assert count(m) == 5
    finally:
        await client.aclose()
    by_url: dict[str, set[int]] = {}
    for _, e in events:
        by_url.setdefault(e.url, set()).add(e.call_id)
    assert all(len(ids) == 1 for ids in by_url.values())
    assert len({next(iter(ids)) for ids in by_url.values()}) == 5


async def test_call_ids_differ_between_a_client_and_its_with_options() -> None:
    events: list[tuple[str, Event]] = []
    client = hooked(events)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            await client.orders.get(1)
            await client.with_options(timeout=5).orders.get(1)
            assert count(m) == 2
    finally:
        await client.aclose()
    ids = [e.call_id for n, e in events if n == "request"]
    assert len(ids) == 2 and ids[0] != ids[1]


# -- 9. logging (issue 18) -------------------------------------------------------------------
async def test_each_retry_logs_one_info_line_with_the_whole_request_id(
    client: B2BClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bcb2b_async")
    rid = "rid-" + "0123456789abcdef" * 18 + "-end"
    rid = rid + "x" * (300 - len(rid))
    assert len(rid) == 300
    with aioresponses() as m:
        m.get(url("/orders/1"), status=503, headers={"X-Request-Id": rid})
        m.get(url("/orders/1"), status=503, headers={"X-Request-Id": rid})
        m.get(url("/orders/1"), payload=OK_ORDER)
        await client.orders.get(1)
        assert count(m) == 3
    info = [r.getMessage() for r in caplog.records
            if r.name.startswith("bcb2b_async") and r.levelno == logging.INFO]
    assert len(info) == 2, info
    for line in info:
        assert line.startswith(f"b2b GET /orders/1 -> 503 (request id {rid})"), line
    assert "attempt 1" in info[0] and "attempt 2" in info[1]


async def test_a_final_failure_is_not_logged_as_a_retry(
    client: B2BClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bcb2b_async")
    with aioresponses() as m:
        m.get(url("/orders/1"), status=503, repeat=True)
        with pytest.raises(ServerError):
            await client.orders.get(1)
        assert count(m) == 3
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2


async def test_limiter_waits_log_debug_per_request(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "WAIT_SUMMARY_EVERY", 0)
    caplog.set_level(logging.DEBUG, logger="bcb2b_async")
    fake = FakeLimiter(waited=1.5)
    client = make(b2b_limiter=fake)
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            for _ in range(4):
                await client.orders.get(1)
            assert count(m) == 4
    finally:
        await client.aclose()
    assert fake.acquired == fake.observed == 4
    ours = [r for r in caplog.records if r.name.startswith("bcb2b_async")]
    per_request = [r for r in ours if "for a send slot" in r.getMessage()
                   and "quota:" not in r.getMessage()]
    assert len(per_request) == 4
    assert all(r.levelno == logging.DEBUG for r in per_request)
    summaries = [r for r in ours if r.levelno >= logging.INFO]
    assert summaries and all("quota:" in r.getMessage() for r in summaries)
    assert client.stats.b2b.limiter_wait == pytest.approx(6.0)


async def test_limiter_wait_summary_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="bcb2b_async")
    every = _pipeline.WAIT_SUMMARY_EVERY
    real = time.monotonic
    shift = [0.0]
    monkeypatch.setattr(_pipeline, "time", types.SimpleNamespace(
        monotonic=lambda: real() + shift[0], time=time.time))
    client = make(b2b_limiter=FakeLimiter(waited=1.5))
    summaries: list[list[str]] = []
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER, repeat=True)
            for step in range(3):  # three intervals, five waiting calls in each
                shift[0] = step * (every + 1)
                caplog.clear()
                for _ in range(5):
                    await client.orders.get(1)
                summaries.append([r.getMessage() for r in caplog.records
                                  if r.levelno >= logging.INFO])
            assert count(m) == 15
    finally:
        await client.aclose()
    assert summaries[0] == []  # less than an interval since the client was made
    assert len(summaries[1]) == 1 and "6 request(s) waited 9.0 s" in summaries[1][0]
    assert len(summaries[2]) == 1 and "5 request(s) waited 7.5 s" in summaries[2][0]


# -- 10. DNS failures vs refused connections (issue 18) ----------------------------------------
def dns_error(host: str = "api-b2b.bigcommerce.com") -> aiohttp.ClientConnectorError:
    key = ConnectionKey(host, 443, True, True, None, None, None)
    return aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name or service not known"))


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_dns_failure_is_not_retried(client: B2BClient, method: str) -> None:
    with aioresponses() as m:
        if method == "GET":
            m.get(url("/orders/1"), exception=dns_error(), repeat=True)
            call = client.orders.get(1)
        else:
            m.post(B2B + "/orders", exception=dns_error(), repeat=True)
            call = client.orders.create(bc_order_id=1, customer_id=2)
        with pytest.raises(APIConnectionError) as info:
            await call
        assert count(m) == 1
    err = info.value
    assert err.kind == "dns" and err.sent is False and err.attempts == 1
    assert "does not resolve" in str(err)
    assert "Name or service not known" in str(err)
    assert client.stats.b2b.retries == 0


async def test_plain_gaierror_connector_error_is_dns_too(client: B2BClient) -> None:
    key = ConnectionKey("api-b2b.bigcommerce.com", 443, True, True, None, None, None)
    err = aiohttp.ClientConnectorError(key, socket.gaierror(-3, "Temporary failure"))
    with aioresponses() as m:
        m.get(url("/orders/1"), exception=err, repeat=True)
        with pytest.raises(APIConnectionError) as info:
            await client.orders.get(1)
        assert count(m) == 1
    assert info.value.kind == "dns"


@pytest.mark.timeout(15)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_refused_connection_is_retried(method: str) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    events: list[tuple[str, Event]] = []
    client = hooked(events, b2b_base_url=base, v2_base_url=base)
    sleeps = recorder(client)
    try:
        async with asyncio.timeout(10):
            with pytest.raises(APIConnectionError) as info:
                if method == "GET":
                    await client.orders.get(1)
                else:
                    await client.orders.create(bc_order_id=1, customer_id=2)
    finally:
        await client.aclose()
    err = info.value
    assert err.kind == "connect" and err.sent is False
    assert err.attempts == 3
    assert client.stats.b2b.requests == 3 and client.stats.b2b.retries == 2
    assert len(sleeps) == 2
    assert [n for n, _ in events].count("request") == 3
    assert "cannot connect" in str(err)


# -- the loop itself ----------------------------------------------------------------------------
async def test_hook_that_raises_does_not_break_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(event: Event) -> None:
        raise RuntimeError("hook failed")

    client = make(hooks=Hooks(on_request=boom, on_response=boom))
    try:
        with aioresponses() as m:
            m.get(url("/orders/1"), payload=OK_ORDER)
            assert (await client.orders.get(1)).bc_order_id == 123
            assert count(m) == 1
    finally:
        await client.aclose()
    assert any("hook" in r.getMessage() for r in caplog.records)


async def test_permit_handed_back_once_per_attempt(client: B2BClient) -> None:
    fake = FakeLimiter(waited=0.0)
    client._pipeline._limiters["b2b"] = fake
    with aioresponses() as m:
        m.get(url("/orders/1"), status=503)
        m.get(url("/orders/1"), exception=aiohttp.ServerDisconnectedError())
        m.get(url("/orders/1"), payload=OK_ORDER)
        await client.orders.get(1)
        assert count(m) == 3
    assert fake.acquired == fake.observed == client.stats.b2b.requests == 3


async def test_cancelled_call_hands_its_permit_back(client: B2BClient) -> None:
    fake = FakeLimiter(waited=0.0)
    client._pipeline._limiters["b2b"] = fake
    started = asyncio.Event()

    async def stall(url: Any, **kwargs: Any) -> None:
        started.set()
        await asyncio.sleep(30)

    with aioresponses() as m:
        m.get(url("/orders/1"), callback=stall)
        task = asyncio.create_task(client.orders.get(1))
        async with asyncio.timeout(5):
            await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.acquired == fake.observed == 1

