"""Rows 3 and 5: exports against the sandbox with accelerated fixed windows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bcb2b_async import B2BClient, RateLimit
from bcb2b_async.export import export_orders

from ._common import STORE_HASH, TOKEN

#: The sandbox's channels: every order is on one of them.
CHANNELS = [1, 2, 3]


async def export_run(
    url: str, *, quota: int | None, window: float, with_products: bool, budget: float,
    v2_quota: int | None = None, plan: str = "auto",
) -> dict[str, Any]:
    """One export through a client limited to ``quota``/``window`` on B2B and
    ``v2_quota`` (default: ``quota``) on V2 (no client-side limit when ``quota`` is None);
    ``plan`` is ``export_orders``' plan for products.

    Returns wall seconds (first request to last order), orders and the client's counters.
    """
    rate = RateLimit(quota, window) if quota is not None else None
    v2_rate = RateLimit(v2_quota or quota, window) if quota is not None else None
    client = B2BClient(STORE_HASH, TOKEN, b2b_base_url=url, v2_base_url=url,
                       b2b_rate_limit=rate, v2_rate_limit=v2_rate)
    n = 0
    enriched = 0
    async with client:
        t0 = time.perf_counter()
        async with asyncio.timeout(budget):
            async for item in export_orders(client, channel_ids=CHANNELS,
                                            with_products=with_products, plan=plan):
                n += 1
                if item.products is not None:
                    enriched += 1
        seconds = time.perf_counter() - t0
    s = client.stats
    return {
        "seconds": seconds,
        "orders": n,
        "enriched": enriched,
        "requests": s.requests,
        "b2b_requests": s.b2b.requests,
        "v2_requests": s.v2.requests,
        "rate_limited": s.rate_limited,
        "retries": s.retries,
    }


def theoretical_min(requests: int, quota: int, window: float) -> float:
    """The brief's bound: the first window's ``quota`` requests go at once, the rest at
    ``quota/window`` per second: ``(requests - quota) / quota * window``."""
    if requests <= quota:
        return 0.0
    return (requests - quota) / quota * window


def fixed_window_min(requests: int, quota: int, window: float) -> float:
    """The exact bound under a fixed window: the last request cannot leave before the
    start of window number ``ceil(requests / quota)``."""
    return max(0, -(-requests // quota) - 1) * window


def achievable_min(requests: int, quota: int, window: float, per_request: float) -> float:
    """The fixed-window bound plus the time the server needs to answer the requests of
    the last window (``per_request``: seconds per request of the same export with no limit,
    measured against an identical store)."""
    windows = -(-requests // quota)
    last = requests - (windows - 1) * quota
    return fixed_window_min(requests, quota, window) + last * per_request
