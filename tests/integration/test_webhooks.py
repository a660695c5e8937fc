"""Webhook deliveries against the sandbox: replays, concurrent deliveries, late deliveries.

The webhook endpoint is a real aiohttp server (``make_handler``) on 127.0.0.1 and the
client has its rate limiters on, as in production; the sandbox's request log counts what
reached the store.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bcb2b_async import B2BClient, RateLimit, V2Order
from bcb2b_async.testing import SandboxStore
from bcb2b_async.webhooks import (
    B2BFields,
    CreateOrderResult,
    ReplayGuard,
    handle_order_created,
    make_handler,
)

from .conftest import ClientFactory

SECRET = "hook-secret"
HEADERS = {"X-Webhook-Secret": SECRET}


def delivery(oid: int, created_at: int) -> bytes:
    return json.dumps({"scope": "store/order/created", "store_id": "1",
                       "data": {"type": "order", "id": oid}, "created_at": created_at,
                       "producer": "stores/sandbox"}).encode()


def requests_to(store: SandboxStore, method: str, path_end: str) -> int:
    return sum(1 for r in store.log if r.method == method and r.path.endswith(path_end))


def limited(make_client: ClientFactory, store: SandboxStore) -> B2BClient:
    return make_client(store, b2b_rate_limit=RateLimit(150, 60.0),
                       v2_rate_limit=RateLimit(150, 30.0))


async def po_for(order: V2Order) -> B2BFields:
    await asyncio.sleep(0.2)  # an ERP lookup: long enough for deliveries to overlap
    return B2BFields(po_number=f"PO-{order.id}")


class Endpoint:
    """The webhook destination URL, served by ``make_handler``."""

    def __init__(self, http: TestClient[Any, Any], results: list[CreateOrderResult]) -> None:
        self.http = http
        self.results = results

    async def deliver(self, body: bytes) -> tuple[int, str]:
        resp = await self.http.post("/hooks/orders", data=body, headers=HEADERS)
        return resp.status, (await resp.json())["outcome"]


@asynccontextmanager
async def serve(client: B2BClient, **kwargs: Any) -> AsyncIterator[Endpoint]:
    results: list[CreateOrderResult] = []
    app = web.Application()
    app.router.add_post("/hooks/orders", make_handler(client, secret=SECRET, callback=po_for,
                                                      on_result=results.append, **kwargs))
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        yield Endpoint(http, results)


@pytest.mark.timeout(30)
async def test_replays_and_concurrent_deliveries_make_one_create(
        make_client: ClientFactory) -> None:
    async with SandboxStore(orders=200) as store:
        client = limited(make_client, store)
        oid = store.create_order(channel_id=1, company_id=3)
        body = delivery(oid, store.created_at(oid))
        async with serve(client) as hook:
            # BigCommerce retried while the first delivery was still being handled...
            concurrent = await asyncio.gather(*(hook.deliver(body) for _ in range(3)))
            # ...and again afterwards.
            later = [await hook.deliver(body) for _ in range(2)]
        outcomes = sorted(o for _, o in concurrent + later)
        assert outcomes == ["created"] + ["duplicate"] * 4
        assert {status for status, _ in concurrent + later} == {200}
        assert requests_to(store, "POST", "/orders") == 1
        assert requests_to(store, "GET", f"/orders/{oid}") == 1  # the V2 lookup
        assert store.b2b_order(oid)["poNumber"] == f"PO-{oid}"
        assert client.stats.b2b.requests == 1 and client.stats.v2.requests == 1


@pytest.mark.timeout(30)
async def test_late_delivery_makes_no_request(make_client: ClientFactory) -> None:
    offset = [-120.0]  # the store is built and the order placed two minutes ago
    async with SandboxStore(orders=200, now=lambda: time.time() + offset[0]) as store:
        oid = store.create_order(channel_id=1, company_id=3)
        offset[0] = 0.0
        client = limited(make_client, store)
        async with serve(client) as hook:
            status, outcome = await hook.deliver(delivery(oid, store.created_at(oid)))
        assert (status, outcome) == (200, "deadline_missed")
        assert hook.results[0].latency is not None and hook.results[0].latency >= 110
        assert store.log == []
        assert client.stats.requests == 0


@pytest.mark.timeout(30)
async def test_window_closing_during_the_callback_sends_no_create(
        make_client: ClientFactory) -> None:
    offset = [0.0]

    def clock() -> float:  # one clock for the store and the handler
        return time.time() + offset[0]

    async def slow_erp(order: V2Order) -> B2BFields:
        offset[0] += 11.0  # the ERP took longer than the window
        return B2BFields(po_number=f"PO-{order.id}")

    async with SandboxStore(orders=200, now=clock) as store:
        client = limited(make_client, store)
        oid = store.create_order(channel_id=1, company_id=3)
        result = await handle_order_created(client, delivery(oid, store.created_at(oid)),
                                            HEADERS, secret=SECRET, callback=slow_erp,
                                            clock=clock)
        assert result.outcome == "deadline_missed"
        assert requests_to(store, "GET", f"/orders/{oid}") == 1
        assert requests_to(store, "POST", "/orders") == 0


@pytest.mark.timeout(30)
async def test_each_worker_process_remembers_its_own_orders(
        make_client: ClientFactory) -> None:
    """Two workers (two guards): each recognises its own replays; a delivery of another
    worker's order goes to the API, where Create Order decides."""
    async with SandboxStore(orders=200) as store:
        guards = [ReplayGuard(max_orders=100, ttl=60.0) for _ in range(2)]
        clients = [limited(make_client, store) for _ in range(2)]
        a = store.create_order(channel_id=1, company_id=3)
        b = store.create_order(channel_id=1, company_id=4)

        async def deliver(worker: int, oid: int) -> str:
            result = await handle_order_created(
                clients[worker], delivery(oid, store.created_at(oid)), HEADERS,
                secret=SECRET, callback=po_for, replay_guard=guards[worker])
            return result.outcome

        assert [await deliver(0, a), await deliver(1, b)] == ["created", "created"]
        assert [await deliver(0, a), await deliver(1, b)] == ["duplicate", "duplicate"]
        assert requests_to(store, "POST", "/orders") == 2
        assert guards[0].was_created(store.store_hash, a)
        assert not guards[0].was_created(store.store_hash, b)
