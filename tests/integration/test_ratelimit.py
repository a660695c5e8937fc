"""The limiter against a real local server enforcing a fixed window with the real headers.

Sleep-bound tests: their duration is set by the rate-limit windows, with margin.
"""

from __future__ import annotations

import time

from bcb2b_async import RateLimit
from bcb2b_async.testing import RateWindow, SandboxStore

from .conftest import ClientFactory

CHANNELS = [1, 2, 3]


async def test_walk_at_the_ceiling_without_429(make_client: ClientFactory) -> None:
    quota, window, pages = 40, 1.0, 600
    async with SandboxStore(orders=pages * 10, b2b_rate=RateWindow(quota, window),
                            v2_rate=None) as store:
        # The server shares this loop and stamps arrivals late when the loop is busy: the
        # guarantee must hold anyway (a slot is held from grant to response + window).
        client = make_client(store, b2b_rate_limit=RateLimit(quota, window))
        started = time.monotonic()
        ids = [o.bc_order_id async for o in client.orders.list(
            min_created=0, channel_ids=CHANNELS, page_size=10, sort_by="createdAt",
            order_by="ASC", concurrency=4)]
        elapsed = time.monotonic() - started
        assert sorted(ids) == store.order_ids(channel_ids=CHANNELS)
        sent = client.stats.b2b.requests
        assert sent == pages
        assert client.stats.b2b.rate_limited == 0
        assert store.stats["b2b"].throttled == 0
        assert store.max_requests_in_any_window("b2b") <= quota
        # Theoretical minimum: the first window's burst, then one quota per window.
        minimum = (sent - quota) / quota * window
        ratio = elapsed / minimum
        print(f"\n600-request walk: {elapsed:.2f} s, minimum {minimum:.2f} s, ratio {ratio:.3f}")
        assert ratio <= 1.1


async def test_second_consumer_eats_half_the_quota(make_client: ClientFactory) -> None:
    quota, window, pages = 40, 1.0, 300
    async with SandboxStore(orders=pages * 10, b2b_rate=RateWindow(quota, window),
                            v2_rate=None) as store:
        store.start_neighbour("b2b", fraction=0.5)
        try:
            client = make_client(store, b2b_rate_limit=RateLimit(quota, window))
            started = time.monotonic()
            ids = [o.bc_order_id async for o in client.orders.list(
                min_created=0, channel_ids=CHANNELS, page_size=10, sort_by="createdAt",
                order_by="ASC", concurrency=4)]
            elapsed = time.monotonic() - started
        finally:
            store.stop_neighbour("b2b")
        assert sorted(ids) == store.order_ids(channel_ids=CHANNELS)
        got_429 = client.stats.b2b.rate_limited
        print(f"\nwith a neighbour eating half: {elapsed:.2f} s, 429s received: {got_429}, "
              f"requests {client.stats.b2b.requests}")
        assert got_429 <= 3
        # Half the quota is left for us: about pages / (quota / 2) windows.
        assert elapsed >= (pages / (quota / 2) - 2) * window


async def test_v2_headers_drive_the_v2_limiter(make_client: ClientFactory) -> None:
    quota = 20
    async with SandboxStore(orders=50, b2b_rate=None, v2_rate=RateWindow(quota, 1.0)) as store:
        client = make_client(store, v2_rate_limit=RateLimit(quota, 1.0))
        ids = store.order_ids(channel_ids=CHANNELS)[:60]
        result = await client.orders.get_many(ids[:1])  # B2B: unlimited here
        assert result.ok
        for oid in ids[:50]:
            await client.v2.orders.get(oid)
        assert client.stats.v2.rate_limited == 0
        assert store.max_requests_in_any_window("v2") <= quota
