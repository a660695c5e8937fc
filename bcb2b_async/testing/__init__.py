"""The sandbox store: a seeded, deterministic BigCommerce look-alike for tests and benchmarks.

A real ``aiohttp.web`` server on 127.0.0.1 serving the B2B Edition Orders and Channels
API (``/api/v3/io``) and the V2 order endpoints (``/stores/{store_hash}/v2``: the orders
list with its filters, sorts and side-loaded consignments, the count, one order and its
products, shipping addresses, consignments and shipments) with BigCommerce's envelopes,
validation, pagination, fixed-window rate limits and headers, plus switchable faults and
live mutations::

    from bcb2b_async.testing import SandboxStore, RateWindow

    async with SandboxStore(orders=5000, b2b_rate=RateWindow(150, 60.0)) as store:
        ...  # point a client at store.base_url with store.access_token / store.store_hash

``SandboxStore(..., realistic=True)`` switches the documented platform quirks on: B2B
``createdAt`` lagging the V2 ``date_created``, orders whose embedded consignment line items
come back empty, orders of more than 50 lines (capped with a ``__warning__``).
``b2b_share=0.1`` makes a consumer store where only a tenth of the orders are B2B orders.

Run one from a shell with ``python -m bcb2b_async.testing --orders 100000 --port 8765``,
or use the pytest fixture in :mod:`bcb2b_async.testing.pytest_plugin`.
"""

from ._faults import FAULT_KINDS, FaultPlan, FaultRule
from ._ratelimit import RateWindow
from ._store import ApiStats, RequestRecord, SandboxStats, SandboxStore

__all__ = [
    "FAULT_KINDS",
    "ApiStats",
    "FaultPlan",
    "FaultRule",
    "RateWindow",
    "RequestRecord",
    "SandboxStats",
    "SandboxStore",
]
