"""The 10-second Create Order window holds while a bulk export saturates the quota.

A bulk export with products (concurrency 8) keeps both quotas busy at BigCommerce's real
rates (B2B 2.5 requests/s, V2 5/s, in 6-second windows) while 50 store/order/created
webhooks arrive. With priorities, every create lands inside its window; with priorities
off (one FIFO queue), the same load makes creates miss it. Sleep-bound: about a minute.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bcb2b_async import Limiter, RateLimit, V2Order
from bcb2b_async.export import export_orders
from bcb2b_async.testing import RateWindow, SandboxStore
from bcb2b_async.webhooks import B2BFields, handle_order_created

from .conftest import ClientFactory

CHANNELS = [1, 2, 3]
SECRET = "hook-secret"
DELIVERIES = 50
SPACING = 0.6


async def po_for(order: V2Order) -> B2BFields:
    return B2BFields(po_number=f"PO-{order.id}")


async def scenario(make_client: ClientFactory, *, priorities: bool) -> dict[str, object]:
    async with SandboxStore(orders=3000, b2b_rate=RateWindow(15, 6.0),
                            v2_rate=RateWindow(30, 6.0)) as store:
        reserve = 0.1 if priorities else 0.0
        # Priorities off: one FIFO per limiter, the comparison the test is about.
        client = make_client(
            store,
            b2b_limiter=Limiter(RateLimit(15, 6.0, reserve=reserve, margin=0.2), name="b2b",
                                priorities=priorities),
            v2_limiter=Limiter(RateLimit(30, 6.0, reserve=reserve, margin=0.2), name="v2",
                               priorities=priorities),
        )
        exported: list[int] = []
        expected = store.order_ids(channel_ids=CHANNELS)

        async def bulk() -> None:
            # One call per order: a load that saturates both quotas for the whole test.
            async for item in export_orders(client, channel_ids=CHANNELS, with_products=True,
                                            plan="per_order", concurrency=8,
                                            created_to=store.built_at):
                exported.append(item.bc_order_id)

        latencies: list[float] = []
        outcomes: list[str] = []

        async def deliver() -> None:
            oid = store.create_order(channel_id=1, company_id=3)
            created_at = store.b2b_order(oid)["createdAt"]
            payload = {"scope": "store/order/created", "store_id": "1",
                       "data": {"type": "order", "id": oid}, "created_at": created_at,
                       "producer": "stores/sandbox"}
            result = await handle_order_created(client, payload, {"X-Webhook-Secret": SECRET},
                                                secret=SECRET, callback=po_for)
            outcomes.append(result.outcome)
            if result.outcome == "created":
                assert store.b2b_order(oid)["poNumber"] == f"PO-{oid}"
                latencies.append(time.time() - created_at)

        bulk_task = asyncio.create_task(bulk())
        await asyncio.sleep(8.0)  # let the bulk load build up its queues
        hooks = []
        for _ in range(DELIVERIES):
            hooks.append(asyncio.create_task(deliver()))
            await asyncio.sleep(SPACING)
        await asyncio.wait_for(asyncio.gather(*hooks), 60)
        bulk_task.cancel()
        await asyncio.gather(bulk_task, return_exceptions=True)
        # The export's part that ran is exact so far: no duplicates, nothing foreign.
        assert len(exported) == len(set(exported))
        assert set(exported) <= set(expected)
        return {"outcomes": outcomes, "latencies": sorted(latencies)}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


async def test_creates_hold_their_window_with_priorities(make_client: ClientFactory) -> None:
    on = await scenario(make_client, priorities=True)
    off = await scenario(make_client, priorities=False)
    on_lat: list[float] = on["latencies"]  # type: ignore[assignment]
    off_out: list[str] = off["outcomes"]  # type: ignore[assignment]
    on_out: list[str] = on["outcomes"]  # type: ignore[assignment]
    print(
        f"\npriorities on : {on_out.count('created')}/{DELIVERIES} created, "
        f"p50 {statistics.median(on_lat):.2f} s, p99 {pct(on_lat, 0.99):.2f} s"
        f"\npriorities off: {off_out.count('created')}/{DELIVERIES} created, "
        f"{off_out.count('deadline_missed')} deadline missed, "
        f"{off_out.count('api_error')} API errors"
    )
    assert on_out.count("created") == DELIVERIES
    assert pct(on_lat, 0.99) < 10.0
    # The same load without priorities loses B2B data: that is what priorities prevent.
    assert off_out.count("created") < DELIVERIES
