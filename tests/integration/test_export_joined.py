"""The joined export (issue 17): B2B orders with their V2 lines and details at list speed.

Against the sandbox store with the documented quirks on (B2B createdAt lagging the V2
date_created, consignments cut at 50 lines with a ``__warning__``, orders whose embedded
lines come back empty): ids, lines and quantities are counted against the store, and
requests against the per-order path.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from bcb2b_async import RateLimit
from bcb2b_async.errors import InvalidArgumentError, ServerError
from bcb2b_async.export import ExportedOrder, export_orders
from bcb2b_async.testing import RateWindow, SandboxStore

from .conftest import ClientFactory

CHANNELS = [1, 2, 3]


def assert_exact(ids: list[int], expected: list[int]) -> None:
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicated: {dupes[:10]}"
    lost, extra = set(expected) - set(ids), set(ids) - set(expected)
    assert not lost and not extra, f"lost {sorted(lost)[:10]}, extra {sorted(extra)[:10]}"


def lines_of(store: SandboxStore, oid: int) -> list[tuple[Any, Any]]:
    return sorted((p["id"], p["quantity"]) for p in store.v2_products(oid))


def assert_lines_exact(store: SandboxStore, items: list[ExportedOrder]) -> None:
    wrong = [
        i.bc_order_id for i in items
        if i.products is None
        or sorted((p.id, p.quantity) for p in i.products) != lines_of(store, i.bc_order_id)
    ]
    assert not wrong, f"{len(wrong)} orders with wrong lines, e.g. {wrong[:10]}"


async def export_all(client: Any, **kwargs: Any) -> list[ExportedOrder]:
    async with asyncio.timeout(60):
        return [i async for i in export_orders(client, **kwargs)]


@pytest.mark.timeout(90)
async def test_mostly_b2b_store_exports_every_line_with_a_tenth_of_the_requests(
    make_client: ClientFactory,
) -> None:
    async with SandboxStore(orders=3000, seed=5, realistic=True,
                            b2b_rate=RateWindow(60, 1.0), v2_rate=RateWindow(60, 1.0)) as store:
        long_order = store.create_order(lines=60)        # a consignment over 50 lines
        emptied = store.order_ids(channel_ids=CHANNELS)[100:110]
        for oid in emptied:                               # embedded lines come back empty
            store.set_empty_line_items(oid, True)
        expected = store.order_ids(channel_ids=CHANNELS)
        client = make_client(store, b2b_rate_limit=RateLimit(60, 1.0),
                             v2_rate_limit=RateLimit(60, 1.0))
        items = await export_all(client, channel_ids=CHANNELS, with_products=True)

        assert_exact([i.bc_order_id for i in items], expected)
        assert_lines_exact(store, items)
        by_id = {i.bc_order_id: i for i in items}
        assert len(by_id[long_order].products or []) == 60
        assert all(by_id[oid].products for oid in emptied)
        assert len(store.empty_line_item_orders()) > len(emptied)  # realistic mode adds more
        requests = client.stats.requests
        assert requests <= len(items) / 10, f"{requests} requests for {len(items)} orders"
        assert store.stats["b2b"].rate_limited == 0 and store.stats["v2"].rate_limited == 0


@pytest.mark.timeout(90)
@pytest.mark.parametrize("share", [0.1, 0.01])
async def test_sparse_store_never_costs_more_than_the_per_order_path(
    make_client: ClientFactory, share: float
) -> None:
    async with SandboxStore(orders=6000, seed=9, realistic=True, b2b_share=share,
                            b2b_rate=None, v2_rate=None) as store:
        expected = store.order_ids(channel_ids=CHANNELS)
        counts = {}
        for plan in ("per_order", "auto"):
            client = make_client(store)
            items = await export_all(client, channel_ids=CHANNELS, with_products=True,
                                     plan=plan)
            assert_exact([i.bc_order_id for i in items], expected)
            assert_lines_exact(store, items)
            counts[plan] = client.stats.requests
        # One request (the V2 count that decides) is the most the plan can add; on these
        # stores it saves many.
        assert counts["auto"] <= counts["per_order"], counts


async def test_with_details_adds_no_per_order_requests(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=1500, seed=11, b2b_rate=None, v2_rate=None) as store:
        expected = store.order_ids(channel_ids=CHANNELS)
        plain = make_client(store)
        await export_all(plain, channel_ids=CHANNELS, with_products=True)
        detailed = make_client(store)
        items = await export_all(detailed, channel_ids=CHANNELS, with_products=True,
                                 with_details=True)
        assert_exact([i.bc_order_id for i in items], expected)
        assert detailed.stats.requests == plain.stats.requests
        for item in items:
            v2 = store.v2_order(item.bc_order_id)
            assert item.details is not None and item.details.id == item.bc_order_id
            assert item.details.total_inc_tax == v2["total_inc_tax"]
            assert item.details.items_total == v2["items_total"]
            assert item.details.billing_address is not None
            assert item.details.billing_address.email == v2["billing_address"]["email"]
            assert item.details.consignments is None  # lines are in products, once
            want = sorted(a["id"] for a in store.shipping_addresses(item.bc_order_id))
            assert sorted(a.id for a in item.shipping_addresses or []) == want
        row = items[0].to_json_dict()
        assert row["bcOrderId"] == items[0].bc_order_id and "products" in row
        assert row["details"]["id"] == items[0].bc_order_id
        assert row["details"]["shipping_addresses"]


async def test_details_of_orders_outside_the_v2_window_are_fetched_one_by_one(
    make_client: ClientFactory,
) -> None:
    # realistic: ~1% of company orders got their B2B record long after the store order.
    async with SandboxStore(orders=2000, seed=13, realistic=True, b2b_rate=None,
                            v2_rate=None) as store:
        expected = store.order_ids(channel_ids=CHANNELS)
        lagged = [oid for oid in expected
                  if store.created_at(oid) - store.v2_created_at(oid) > 60]
        assert lagged, "the store must hold orders assigned to a company later"
        client = make_client(store)
        items = await export_all(client, channel_ids=CHANNELS, with_products=True,
                                 with_details=True)
        assert_exact([i.bc_order_id for i in items], expected)
        assert_lines_exact(store, items)
        assert all(i.details is not None and i.details.id == i.bc_order_id for i in items)


@pytest.mark.timeout(90)
async def test_joined_export_exact_under_faults_and_live_changes(
    make_client: ClientFactory,
) -> None:
    async with SandboxStore(orders=4000, seed=17, realistic=True, b2b_rate=None,
                            v2_rate=None) as store:
        expected = store.order_ids(channel_ids=CHANNELS)
        store.faults.random(rate=0.1, kinds=("500", "503", "drop", "truncate"), seed=3)
        store.mutate_every(1, updates=5, creates=2)
        client = make_client(store, timeout=5.0)
        await asyncio.sleep(1.05)  # past the second of the last seeded order
        items = await export_all(client, channel_ids=CHANNELS, with_products=True)
        store.stop_mutations()
        created = set(store.order_ids(channel_ids=CHANNELS)) - set(expected)
        assert_exact([i.bc_order_id for i in items if i.bc_order_id not in created], expected)
        assert len(items) == len({i.bc_order_id for i in items})
        assert_lines_exact(store, items)
        assert client.stats.retries > 0


async def test_channel_ids_all_exports_every_channel(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=900, seed=2, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        items = await export_all(client, channel_ids="all")
        assert_exact([i.bc_order_id for i in items], store.order_ids(channel_ids=CHANNELS))
        assert {i.order.channel_id for i in items} == set(CHANNELS)
    async with SandboxStore(orders=300, seed=2, multi_storefront=False, b2b_rate=None,
                            v2_rate=None) as single:
        client = make_client(single)
        items = await export_all(client, channel_ids="all", with_products=True)
        assert_exact([i.bc_order_id for i in items], single.order_ids(channel_ids=[1]))


@pytest.mark.timeout(30)
async def test_a_v2_list_failure_raises_its_typed_error_and_stops(
    make_client: ClientFactory,
) -> None:
    async with SandboxStore(orders=3000, seed=4, b2b_rate=None, v2_rate=None) as store:
        store.faults.add("503", api="v2", count=None)
        client = make_client(store)
        with pytest.raises(ServerError):
            await export_all(client, channel_ids=CHANNELS, with_products=True)
        await asyncio.sleep(0.05)
        sent = client.stats.requests
        await asyncio.sleep(0.3)
        assert client.stats.requests == sent  # nothing keeps running


@pytest.mark.parametrize("kwargs", [{"plan": "joined"}, {"with_details": "yes"},
                                    {"channel_ids": "every"}])
async def test_bad_arguments_raise_before_any_request(
    make_client: ClientFactory, kwargs: dict[str, Any]
) -> None:
    async with SandboxStore(orders=10, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        with pytest.raises(InvalidArgumentError):
            await export_all(client, **kwargs)
        assert client.stats.requests == 0


@pytest.mark.timeout(30)
async def test_leaving_a_joined_export_early_leaves_nothing_running(
    make_client: ClientFactory,
) -> None:
    async with SandboxStore(orders=6000, seed=6, b2b_rate=None, v2_rate=None) as store:
        # A slow V2 quota: joins are still in flight when the consumer leaves.
        client = make_client(store, v2_rate_limit=RateLimit(8, 1.0))

        def others() -> set[asyncio.Task[object]]:
            me = asyncio.current_task()
            return {t for t in asyncio.all_tasks()
                    if t is not me and "RequestHandler" not in t.get_coro().__qualname__}

        before = others()
        got = []
        async with asyncio.timeout(20):
            # One worker: it walks on while its previous group is joined.
            gen = export_orders(client, channel_ids=CHANNELS, with_products=True,
                                with_details=True, concurrency=1)
            async for item in gen:
                got.append(item.bc_order_id)
                if len(got) == 500:  # the first group coming out, other joins in flight
                    break
            await gen.aclose()
        await asyncio.sleep(0.05)
        assert others() - before == set()
        sent = client.stats.requests
        await asyncio.sleep(0.3)
        assert client.stats.requests == sent
        assert len(got) == len(set(got)) == 500
