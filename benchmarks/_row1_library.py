"""Row 1, library side: the same walk with ``bcb2b_async``.

``python -m benchmarks._row1_library URL CONCURRENCY [--no-limit]`` walks every order with
``client.orders.list(min_created=0, page_size=200, concurrency=CONCURRENCY)`` item by
item, touches every order, and prints one line ``ROW1 orders id_sum setup_s walk_s``.

The client keeps its default limiter machinery (the ``Limiter`` class the constructor
builds from ``b2b_rate_limit``) with a quota far above the walk's rate,
``RateLimit(1_000_000, 1.0)``: the cost of a limiter that never binds is part of what is
measured. ``--no-limit`` (``b2b_rate_limit=None``) is the suite's information-only side
that shows what that costs.

Timed by the suite as a whole process, exactly like ``benchmarks._row1_handwritten``; it
imports nothing from the rest of the suite.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import asyncio  # noqa: E402
import sys  # noqa: E402

from bcb2b_async import B2BClient, RateLimit  # noqa: E402

_T1 = time.perf_counter()

#: The suite's store (``benchmarks._common``; not imported here, to keep start-up honest).
STORE_HASH = "sandbox"
TOKEN = "sandbox-token"


async def walk(url: str, concurrency: int, limited: bool) -> tuple[int, int]:
    """Every order: (count, sum of bc_order_id)."""
    rate = RateLimit(1_000_000, 1.0) if limited else None
    n = ids = 0
    async with B2BClient(STORE_HASH, TOKEN, b2b_base_url=url, v2_base_url=url,
                         b2b_rate_limit=rate) as client:
        async for order in client.orders.list(min_created=0, page_size=200,
                                               concurrency=concurrency):
            n += 1
            ids += order.bc_order_id
    return n, ids


def main() -> int:
    url, concurrency = sys.argv[1], int(sys.argv[2])
    limited = "--no-limit" not in sys.argv[3:]
    t = time.perf_counter()
    n, ids = asyncio.run(walk(url, concurrency, limited))
    print(f"ROW1 {n} {ids} {_T1 - _T0:.6f} {time.perf_counter() - t:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
