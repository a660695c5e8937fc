"""No silent resend (issue 14.6): every request that reaches the server went through the
rate limiter, also when a kept-alive connection is dropped.

A raw asyncio HTTP/1.1 server on 127.0.0.1 answers keep-alive requests with a B2B order,
but reads the ``DROP_AT``-th request of every connection in full and then closes the
socket without answering. The server counts the requests that arrive (request lines read);
the client counts its permits (``client.stats.b2b.requests`` and a LimiterBackend wrapper
counting ``acquire()``). With the pipeline's own retry they are equal. With aiohttp's
default session (its silent resend of an idempotent request re-enabled) the server sees
more requests than the limiter granted: the difference is exactly the resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest

from bcb2b_async import B2BClient, Limiter, Permit, RateLimit, RetryPolicy
from bcb2b_async._config import Priority

TOKEN = "tok-SECRET-1234"
STORE = "abc123"
CALLS = 50
DROP_AT = 3  # the 3rd request on every connection is read, then the socket is closed

ORDER = {"code": 200, "meta": {"message": "SUCCESS"},
         "data": {"id": 1, "bcOrderId": 123, "poNumber": "PO-1", "status": "Completed",
                  "companyId": 7, "createdAt": 1744735719, "updatedAt": 1744735734}}
BODY = json.dumps(ORDER).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    + f"Content-Length: {len(BODY)}\r\n".encode()
    + b"Connection: keep-alive\r\n\r\n" + BODY
)


class DroppingServer:
    """HTTP/1.1 keep-alive server that drops the ``drop_at``-th request of each connection."""

    def __init__(self, drop_at: int) -> None:
        self.drop_at = drop_at
        self.arrivals = 0  # request lines read
        self.answered = 0
        self.dropped = 0
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        on_this_connection = 0
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break  # EOF (or a stray blank line): the client closed
                self.arrivals += 1
                on_this_connection += 1
                length = 0
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                if on_this_connection == self.drop_at:
                    self.dropped += 1
                    break  # read in full, never answered
                writer.write(RESPONSE)
                await writer.drain()
                self.answered += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class CountingLimiter:
    """A LimiterBackend around a real :class:`Limiter` that counts grants and hand-backs."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner
        self.acquired = 0
        self.observed = 0

    async def acquire(self, priority: Priority = "bulk", deadline: float | None = None, *,
                      max_wait: float | None = None) -> Permit:
        permit = await self.inner.acquire(priority, deadline, max_wait=max_wait)
        self.acquired += 1
        return permit

    def observe(self, permit: Permit, headers: Mapping[str, str] | None,
                status: int | None = None) -> None:
        self.observed += 1
        self.inner.observe(permit, headers, status)


@pytest.fixture
async def server() -> AsyncIterator[DroppingServer]:
    srv = DroppingServer(DROP_AT)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def build(server: DroppingServer, session: aiohttp.ClientSession | None = None
          ) -> tuple[B2BClient, CountingLimiter]:
    limiter = CountingLimiter(Limiter(RateLimit(1000, 60.0), name="b2b"))
    base = f"http://127.0.0.1:{server.port}"
    kwargs: dict[str, Any] = {}
    if session is not None:
        kwargs["session"] = session
    client = B2BClient(
        STORE, TOKEN, b2b_base_url=base, v2_base_url=base, b2b_limiter=limiter,
        v2_rate_limit=None, connection_limit=1, timeout=5.0,
        retry_policy=RetryPolicy(max_retries=3, base_delay=0.0), **kwargs,
    )
    return client, limiter


async def run_calls(client: B2BClient) -> list[int]:
    async with asyncio.timeout(30):
        return [(await client.orders.get(i + 1)).bc_order_id for i in range(CALLS)]


@pytest.mark.timeout(60)
async def test_every_request_on_the_wire_passed_the_limiter(server: DroppingServer) -> None:
    client, limiter = build(server)
    try:
        ids = await run_calls(client)
    finally:
        await client.aclose()
    assert ids == [123] * CALLS  # every call succeeded
    assert server.dropped >= 5, vars(server)  # several connections were dropped
    assert server.answered == CALLS
    assert server.arrivals == CALLS + server.dropped
    # The point: what reached the server == what the limiter granted == what stats count.
    assert server.arrivals == limiter.acquired == limiter.observed
    assert server.arrivals == client.stats.b2b.requests
    assert client.stats.b2b.retries == server.dropped
    assert client.stats.b2b.errors == 0


@pytest.mark.timeout(60)
async def test_the_count_detects_aiohttps_silent_resend(server: DroppingServer) -> None:
    # Control: a session passed in gets the resend switched off by the client; switching it
    # back on (aiohttp's default) lets aiohttp resend a dropped GET behind the limiter.
    connector = aiohttp.TCPConnector(limit=1)
    session = aiohttp.ClientSession(connector=connector)
    try:
        client, limiter = build(server, session)
        assert session._retry_connection is False  # the client turned it off
        session._retry_connection = True
        ids = await run_calls(client)
        await client.aclose()
    finally:
        await session.close()
    assert ids == [123] * CALLS
    assert server.dropped >= 5, vars(server)
    assert limiter.acquired == client.stats.b2b.requests == CALLS  # no retry was ours
    assert server.arrivals == CALLS + server.dropped > limiter.acquired
