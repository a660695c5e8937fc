"""Batches against the sandbox: per-item results, the store's final state, the quota's pace."""

from __future__ import annotations

import time

from bcb2b_async import NotFoundError, RateLimit
from bcb2b_async.testing import RateWindow, SandboxStore

from .conftest import ClientFactory

CHANNELS = [1, 2, 3]


async def test_update_many_with_missing_ids(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=200, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        existing = store.order_ids(channel_ids=CHANNELS)[:45]
        missing = [900_001, 900_002, 900_003, 900_004, 900_005]
        updates = {oid: {"po_number": f"BATCH-{oid}"} for oid in existing}
        updates.update({oid: {"po_number": "nope"} for oid in missing})
        result = await client.orders.update_many(updates, concurrency=8)
        assert len(result) == 50
        assert set(result.succeeded) == set(existing)
        assert set(result.failed) == set(missing)
        assert all(isinstance(e, NotFoundError) for e in result.failed.values())
        assert not result.ok
        assert [k for k, _ in result] == list(updates)
        for oid in existing:
            assert store.b2b_order(oid)["poNumber"] == f"BATCH-{oid}"
            assert result.succeeded[oid].po_number == f"BATCH-{oid}"


async def test_get_many_at_the_quota_pace(make_client: ClientFactory) -> None:
    quota, window, n = 100, 1.0, 2000
    async with SandboxStore(orders=n, b2b_rate=RateWindow(quota, window),
                            v2_rate=None) as store:
        # The server shares this test's event loop and stamps arrivals late when the loop
        # is busy: the guarantee holds anyway (slots are held until response + window).
        client = make_client(store, b2b_rate_limit=RateLimit(quota, window))
        ids = store.order_ids(channel_ids=CHANNELS)
        progress: list[tuple[int, int]] = []
        started = time.monotonic()
        result = await client.orders.get_many(ids, concurrency=16,
                                              progress=lambda d, t: progress.append((d, t)))
        elapsed = time.monotonic() - started
        assert result.ok and len(result.succeeded) == n
        assert all(result.succeeded[i].bc_order_id == i for i in ids)
        assert progress[-1] == (n, n)
        assert client.stats.b2b.rate_limited == 0
        assert store.max_requests_in_any_window("b2b") <= quota
        minimum = (n - quota) / quota * window
        print(f"\nget_many of {n}: {elapsed:.2f} s, minimum {minimum:.2f} s, "
              f"ratio {elapsed / minimum:.3f}")
        assert elapsed <= 1.1 * minimum


async def test_apply_update_many_against_the_store(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=60, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        ids = store.order_ids(channel_ids=CHANNELS)[:10]
        updates = {oid: {"status_id": 11, "staff_notes": f"note {oid}"} for oid in ids}
        result = await client.v2.orders.apply_update_many(updates)
        assert result.ok
        for oid in ids:
            assert store.v2_order(oid)["staff_notes"] == f"note {oid}"
            assert result.succeeded[oid].status_id == 11
