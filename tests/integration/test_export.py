"""Exactness of export_orders and sync_orders against the sandbox store: ids are counted."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest

from bcb2b_async.errors import (
    DecodeError,
    InvalidArgumentError,
    PermissionDeniedError,
    ServerError,
)
from bcb2b_async.export import (
    BoundSemantics,
    SyncState,
    export_orders,
    probe_bounds,
    sync_orders,
)
from bcb2b_async.testing import SandboxStore

from .conftest import ClientFactory
from .scripted import Clock, ScriptedStore, b2b_error, null_data

ALL_CHANNELS = [1, 2, 3]


def assert_exact(ids: list[int], expected: list[int]) -> None:
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicated: {dupes[:10]}"
    missing = set(expected) - set(ids)
    extra = set(ids) - set(expected)
    assert not missing, f"lost {len(missing)} orders, e.g. {sorted(missing)[:10]}"
    assert not extra, f"{len(extra)} unexpected orders, e.g. {sorted(extra)[:10]}"


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_export_is_exact_whatever_the_bound_semantics(
    make_client: ClientFactory, inclusive: bool, concurrency: int
) -> None:
    async with SandboxStore(orders=6000, b2b_rate=None, v2_rate=None,
                            bounds_inclusive=inclusive) as store:
        client = make_client(store)
        ids = [e.bc_order_id async for e in export_orders(
            client, channel_ids=ALL_CHANNELS, concurrency=concurrency)]
        expected = store.order_ids(channel_ids=ALL_CHANNELS)
        assert_exact(ids, expected)
        # Orders older than the API's one-year default window are included.
        year_ago = store.built_at - 366 * 86400
        old = [o for o in expected if store.b2b_order(o)["updatedAt"] < year_ago]
        assert old and set(old) <= set(ids)


async def test_export_filters_by_channel_company_and_dates(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=3000, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        all_ids = store.order_ids(channel_ids=ALL_CHANNELS)
        mid = store.b2b_order(all_ids[len(all_ids) // 2])["createdAt"]
        lo = store.b2b_order(all_ids[len(all_ids) // 4])["createdAt"]
        ids = [e.bc_order_id async for e in export_orders(
            client, channel_ids=[2], company_id=3, created_from=lo, created_to=mid)]
        expected = store.order_ids(channel_ids=[2], company_id=3, created_from=lo,
                                   created_to=mid)
        assert expected
        assert_exact(ids, expected)


async def test_export_exact_with_faults(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=5000, b2b_rate=None, v2_rate=None) as store:
        store.faults.random(rate=0.15, kinds=("500", "502", "503", "504", "drop", "truncate",
                                              "429_no_headers"), seed=7)
        client = make_client(store, timeout=5.0)
        ids = [e.bc_order_id async for e in export_orders(client, channel_ids=ALL_CHANNELS)]
        assert_exact(ids, store.order_ids(channel_ids=ALL_CHANNELS))
        assert client.stats.b2b.retries > 0


async def test_export_exact_while_orders_change(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=8000, b2b_rate=None, v2_rate=None) as store:
        expected = store.order_ids(channel_ids=ALL_CHANNELS)
        # After every list request: 5 random orders updated (seen and unseen), 2 created.
        store.mutate_every(1, updates=5, creates=2)
        client = make_client(store)
        # Let the clock pass the second of creation of the last seeded order.
        await asyncio.sleep(1.05)
        ids = [e.bc_order_id async for e in export_orders(client, channel_ids=ALL_CHANNELS)]
        store.stop_mutations()
        created_during = set(store.order_ids(channel_ids=ALL_CHANNELS)) - set(expected)
        assert created_during, "the test must create orders during the walk"
        # Every order that existed at the start, exactly once; new ones may not appear.
        assert_exact([i for i in ids if i not in created_during], expected)
        assert len(ids) == len(set(ids))


async def test_export_with_products_uses_both_quotas(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=400, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        got = {e.bc_order_id: e async for e in export_orders(
            client, channel_ids=ALL_CHANNELS, with_products=True, plan="per_order")}
        assert_exact(list(got), store.order_ids(channel_ids=ALL_CHANNELS))
        assert all(e.products for e in got.values())
        assert client.stats.b2b.requests > 100 and client.stats.v2.requests > 100


async def test_export_cancellation_leaves_nothing_running(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=5000, b2b_rate=None, v2_rate=None, latency=0.01) as store:
        client = make_client(store)
        def client_tasks() -> int:
            # The sandbox's own keep-alive connection handlers run in this loop too.
            return sum(1 for t in asyncio.all_tasks()
                       if "RequestHandler" not in t.get_coro().__qualname__)

        before = client_tasks()
        gen = export_orders(client, channel_ids=ALL_CHANNELS, concurrency=4)
        n = 0
        async for _ in gen:
            n += 1
            if n == 500:
                break
        await gen.aclose()
        await asyncio.sleep(0.05)
        assert client_tasks() == before


async def test_incremental_sync_twice_with_changes(make_client: ClientFactory, tmp_path) -> None:
    async with SandboxStore(orders=2000, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        path = tmp_path / "state.json"
        state = SyncState.load(path)
        await asyncio.sleep(1.05)  # the seeded orders' last second is settled (margin 1)
        first = [o.bc_order_id async for o in sync_orders(
            client, state, channel_ids=ALL_CHANNELS, margin=1,
            on_checkpoint=lambda s: s.save(path))]
        assert_exact(first, store.order_ids(channel_ids=ALL_CHANNELS))
        saved = json.loads(path.read_text())
        assert saved["watermark"] == state.watermark > 0
        await asyncio.sleep(1.05)  # the next updates land in a later second
        changed = first[:5] + first[-5:]
        for oid in changed:
            store.update_order(oid, po_number=f"PO-{oid}")
        new = store.create_order(channel_id=2)
        await asyncio.sleep(1.1)  # a run covers changes made at least `margin` seconds ago
        state2 = SyncState.load(path)
        second = [o.bc_order_id async for o in sync_orders(
            client, state2, channel_ids=ALL_CHANNELS, margin=1,
            on_checkpoint=lambda s: s.save(path))]
        assert_exact(second, [*changed, new])
        # A third run with no change yields nothing.
        state3 = SyncState.load(path)
        third = [o async for o in sync_orders(client, state3, channel_ids=ALL_CHANNELS,
                                              margin=1)]
        assert third == []


async def test_sync_resumes_after_interruption(make_client: ClientFactory, tmp_path) -> None:
    async with SandboxStore(orders=3000, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        path = tmp_path / "state.json"
        state = SyncState.load(path)
        got: list[int] = []
        await asyncio.sleep(1.05)
        gen = sync_orders(client, state, channel_ids=ALL_CHANNELS, margin=1,
                          on_checkpoint=lambda s: s.save(path))
        async for order in gen:
            got.append(order.bc_order_id)
            if len(got) == 1234:  # "Ctrl-C" mid-walk, after some checkpoints
                break
        await gen.aclose()
        # The consumer processed 1234 orders, but only what was checkpointed counts as
        # synced: resuming from the saved state must cover the rest without loss.
        resumed = SyncState.load(path)
        rest = [o.bc_order_id async for o in sync_orders(
            client, resumed, channel_ids=ALL_CHANNELS, margin=1,
            on_checkpoint=lambda s: s.save(path))]
        combined = set(got) | set(rest)
        assert combined == set(store.order_ids(channel_ids=ALL_CHANNELS))
        # Re-delivered orders are only those after the last checkpoint (at most a page).
        assert len(got) + len(rest) - len(combined) <= 200


async def test_products_look_alike_whichever_quota_served_them(
    make_client: ClientFactory,
) -> None:
    async with SandboxStore(orders=120, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        by_b2b = {e.bc_order_id: e for e in [x async for x in export_orders(
            client, channel_ids=ALL_CHANNELS, with_products=True, products_source="b2b",
            plan="per_order")]}
        by_v2 = {e.bc_order_id: e for e in [x async for x in export_orders(
            client, channel_ids=ALL_CHANNELS, with_products=True, products_source="v2",
            plan="per_order")]}
        assert by_b2b.keys() == by_v2.keys()
        for oid, item in by_b2b.items():
            assert item.to_json_dict()["products"] == by_v2[oid].to_json_dict()["products"]


# -- failures mid-walk end the export with the typed error, in bounded time ----------------

def client_tasks() -> set[asyncio.Task[object]]:
    """Tasks of this loop other than the test's and the sandbox's connection handlers."""
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks()
            if t is not me and "RequestHandler" not in t.get_coro().__qualname__}


async def export_ids(client, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.bc_order_id async for e in export_orders(client, channel_ids=ALL_CHANNELS,
                                                       **kwargs)]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("concurrency", [1, 2, 4])
@pytest.mark.parametrize(("status", "error"), [(403, PermissionDeniedError),
                                               (500, ServerError)])
async def test_a_failure_mid_walk_raises_its_typed_error(
    make_client: ClientFactory, concurrency: int, status: int, error: type[Exception]
) -> None:
    """A 403, or a 5xx that exhausts its retries, after a few pages: raised, not a hang."""
    async with ScriptedStore(orders=6000, b2b_rate=None, v2_rate=None) as store:
        # Probes and the first pages answer; from the 8th list request on, every answer fails.
        store.answer = lambda n, _req: b2b_error(status, "Forbidden") if n >= 8 else None
        client = make_client(store)
        before = client_tasks()
        got: list[int] = []
        with pytest.raises(error) as info:
            async with asyncio.timeout(10):
                async for item in export_orders(client, channel_ids=ALL_CHANNELS,
                                                concurrency=concurrency):
                    got.append(item.bc_order_id)
        assert info.value.status == status  # type: ignore[attr-defined]
        assert len(got) == len(set(got)) < 6000
        await asyncio.sleep(0.05)
        assert client_tasks() == before
        # Nothing keeps sending after the error was raised.
        sent = store.list_requests
        await asyncio.sleep(0.2)
        assert store.list_requests == sent


@pytest.mark.timeout(20)
async def test_a_failure_in_products_enrichment_raises_and_stops_everything(
    make_client: ClientFactory,
) -> None:
    async with ScriptedStore(orders=2000, b2b_rate=None, v2_rate=None) as store:
        store.answer_products = lambda n: b2b_error(403, "Forbidden") if n == 40 else None
        client = make_client(store)
        before = client_tasks()
        with pytest.raises(PermissionDeniedError):
            async with asyncio.timeout(10):
                async for _ in export_orders(client, channel_ids=ALL_CHANNELS,
                                             with_products=True, products_source="b2b",
                                             plan="per_order"):
                    pass
        await asyncio.sleep(0.05)
        assert client_tasks() == before
        sent = store.list_requests + store.products_requests
        await asyncio.sleep(0.2)
        assert store.list_requests + store.products_requests == sent


# -- a 2xx with "data": null is a malformed answer, never the last page ---------------------

@pytest.mark.timeout(20)
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_null_data_once_is_retried_and_the_export_is_whole(
    make_client: ClientFactory, concurrency: int
) -> None:
    async with ScriptedStore(orders=3000, b2b_rate=None, v2_rate=None) as store:
        # The 6th list request (a page of the walk, after the probes) answers data: null once.
        store.answer = lambda n, _req: null_data(n) if n == 6 else None
        client = make_client(store)
        ids = await export_ids(client, concurrency=concurrency)
        assert_exact(ids, store.order_ids(channel_ids=ALL_CHANNELS))
        assert len(ids) == 3000
        assert client.stats.b2b.retries >= 1


@pytest.mark.timeout(20)
async def test_null_data_always_is_a_decode_error_not_a_short_export(
    make_client: ClientFactory,
) -> None:
    async with ScriptedStore(orders=3000, b2b_rate=None, v2_rate=None) as store:
        store.answer = lambda n, _req: null_data(n) if n >= 6 else None
        client = make_client(store)
        got: list[int] = []
        with pytest.raises(DecodeError):
            async with asyncio.timeout(10):
                async for item in export_orders(client, channel_ids=ALL_CHANNELS):
                    got.append(item.bc_order_id)
        assert len(got) < 3000


# -- same-second paging stays exact when an order leaves the filtered range ------------------

@pytest.mark.timeout(20)
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_export_exact_when_a_read_order_leaves_a_crowded_second(
    make_client: ClientFactory, concurrency: int
) -> None:
    """450 orders created in one second; after 200 were read one of them moves to another
    company: the rest of that second shifts down one place and must not lose an order."""
    clock = Clock()
    async with ScriptedStore(orders=500, b2b_rate=None, v2_rate=None, now=clock) as store:
        clock.fixed = float(int(time.time()) - 5)
        crowd = [store.create_order(channel_id=2, company_id=5) for _ in range(450)]
        clock.fixed = None
        second = store.created_at(crowd[0])
        assert all(store.created_at(o) == second for o in crowd)
        expected = store.order_ids(channel_ids=ALL_CHANNELS, company_id=5)
        served: list[int] = []
        moved: list[int] = []

        def after(_n: int, _req: object, doc: dict[str, Any]) -> None:
            served.extend(o["bcOrderId"] for o in doc["data"] if o["createdAt"] == second)
            if len(served) >= 200 and not moved:
                moved.append(served[0])
                store.update_order(served[0], company_id=6)

        store.after = after
        client = make_client(store)
        ids = await export_ids(client, company_id=5, concurrency=concurrency)
        assert moved
        assert_exact(ids, expected)


# -- bad arguments: typed errors before any request ------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"priority": "urgent"},
    {"priority": 3},
    {"concurrency": 0},
    {"concurrency": 65},
    {"concurrency": "4"},
    {"products_source": "both "},
    {"created_from": float("nan")},
    {"on_total": 5},
])
async def test_export_bad_arguments_raise_before_any_request(
    make_client: ClientFactory, kwargs: dict[str, Any]
) -> None:
    async with ScriptedStore(orders=10, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        with pytest.raises(InvalidArgumentError):
            await export_ids(client, **kwargs)
        assert store.list_requests == 0 and client.stats.b2b.requests == 0


# -- the bound probe: proven answers although its anchor order moves -------------------------

@pytest.mark.timeout(20)
@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("moves", [0, 1, 2, 100])
async def test_probe_is_right_or_safe_when_the_anchor_order_moves(
    make_client: ClientFactory, inclusive: bool, moves: int
) -> None:
    clock = Clock()
    async with ScriptedStore(orders=300, b2b_rate=None, v2_rate=None, now=clock,
                             bounds_inclusive=inclusive) as store:
        anchor_id = 150
        anchor = store.updated_at(anchor_id)
        later = int(time.time()) - 100

        def after(n: int, _req: object, _doc: dict[str, Any]) -> None:
            if n <= moves:  # the anchor is updated after each of the first `moves` answers
                clock.fixed = float(later + n)
                store.update_order(anchor_id, po_number=f"MOVE-{n}")
                clock.fixed = None

        store.after = after
        client = make_client(store)
        base = [("channelIds[]", str(c)) for c in ALL_CHANNELS]
        got = await probe_bounds(client, "updatedAt", anchor, base, order_id=anchor_id)
        # Never "inclusive" when the server is not (that would lose orders at the bounds);
        # proven right whenever the anchor settles within the probe's attempts.
        if not inclusive:
            assert got == BoundSemantics(False, False)
        elif moves <= 2:
            assert got == BoundSemantics(True, True)
        assert store.list_requests <= 12
