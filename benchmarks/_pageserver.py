"""A minimal B2B orders server serving pre-encoded bytes, so the server is never the
bottleneck of a raw-speed benchmark.

``python -m benchmarks._pageserver --orders 100000 [--details N] [--port 0]`` prints
``PAGES http://127.0.0.1:PORT`` once listening and serves until SIGTERM/SIGINT:

- ``GET /api/v3/io/orders?limit=200&offset=K``: a B2B list envelope with
  ``meta.pagination.totalCount`` (pages of 200 are encoded at start-up; any other
  limit/offset is joined from pre-encoded records: one ``bytes.join``, no JSON work);
- ``GET /api/v3/io/orders/{bcOrderId}``: the detail envelope, ``data`` a one-item list
  (details are encoded for the first ``--details`` orders only, default all; a later id
  is a 404);
- ``GET /__bench__/ping``.

The records have the shape of B2B Edition list items (as the sandbox serves them), are
generated deterministically from a seed, and no rate limit or rate headers are applied.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import uuid

import msgspec
from aiohttp import web

PREFIX = "/api/v3/io"
ID_BASE = 100
PAGE = 200
STATUSES = (
    (1, "Pending"), (2, "Shipped"), (7, "Awaiting Payment"), (9, "Awaiting Shipment"),
    (10, "Completed"), (11, "Awaiting Fulfillment"),
)
CHANNELS = ((1, "B2B Store"), (2, "Retail Storefront"), (3, "Wholesale"))
MONEY = [{"currencyLocation": "left", "currencyToken": "$", "decimalToken": ".",
          "decimalPlaces": 2, "thousandsToken": ","}]


def make_record(i: int, rng: random.Random, *, detail: bool = False) -> dict[str, object]:
    """One B2B list item (or detail) for the order at position ``i``."""
    bc = ID_BASE + i
    code, name = STATUSES[rng.randrange(len(STATUSES))]
    ch, ch_name = CHANNELS[0] if rng.random() < 0.6 else CHANNELS[rng.randrange(3)]
    total = round(rng.uniform(5, 20_000), 2)
    created = 1_600_000_000 + i * 60
    company = rng.randrange(21)
    rec: dict[str, object] = {
        "id": 50_000 + bc,
        "bcOrderId": bc,
        "totalIncTax": total,
        "poNumber": f"{rng.randrange(10**7):07d}-{rng.randrange(10**4):04d}"
        if rng.random() < 0.7 else "",
        "status": name,
        "customStatus": name,
        "cartId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "items": rng.randrange(1, 40),
        "usdIncTax": total,
        "companyId": company,
        "currencyCode": "USD",
        "money": MONEY,
        "statusCode": code,
        "isArchived": False,
        "channelId": ch,
        "channelName": ch_name,
        "createdAt": created,
        "updatedAt": created + rng.randrange(0, 86_400 * 30),
    }
    if detail:
        rec.update({
            "isInvoiceOrder": 0, "invoiceId": None, "invoiceNumber": None,
            "invoiceStatus": None, "extraFields": [
                {"fieldName": "Fintech ID", "fieldValue": f"FT-{bc}"}],
            "extraInfo": [{"billingAddressId": 1, "shippingAddressId": 2}],
        })
    return rec


class Pages:
    """Every response body, encoded once."""

    def __init__(self, orders: int, seed: int = 1, details: int | None = None) -> None:
        enc = msgspec.json.Encoder()
        rng = random.Random(seed)
        self.total = orders
        self.records = [enc.encode(make_record(i, rng)) for i in range(orders)]
        rng = random.Random(seed + 1)
        n_details = orders if details is None else min(orders, details)
        self.details = [enc.encode(make_record(i, rng, detail=True))
                        for i in range(n_details)]
        self.pages = [self.list_body(off, PAGE) for off in range(0, orders, PAGE)]

    def list_body(self, offset: int, limit: int) -> bytes:
        """The list envelope for ``limit``/``offset`` (joined from encoded records)."""
        chunk = self.records[offset:offset + limit]
        meta = (b'"meta":{"message":"SUCCESS","pagination":{"totalCount":%d,"limit":%d,'
                b'"offset":%d}}' % (self.total, limit, offset))
        return b'{"code":200,"data":[' + b",".join(chunk) + b"]," + meta + b"}"

    def list_response(self, limit: int, offset: int) -> bytes:
        if limit == PAGE and offset % PAGE == 0 and offset // PAGE < len(self.pages):
            return self.pages[offset // PAGE]
        return self.list_body(offset, limit)

    def detail(self, bc_id: int) -> bytes | None:
        i = bc_id - ID_BASE
        if not 0 <= i < len(self.details):
            return None
        return (b'{"code":200,"data":[' + self.details[i]
                + b'],"meta":{"message":"SUCCESS"}}')


NOT_FOUND = b'{"code":404,"data":{},"meta":{"message":"Order Does Not Exist."}}'


def make_app(pages: Pages) -> web.Application:
    """The aiohttp application."""

    async def list_orders(request: web.Request) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", "10"))
            offset = int(q.get("offset", "0"))
        except ValueError:
            return web.Response(status=400, body=b"{}", content_type="application/json")
        return web.Response(body=pages.list_response(limit, offset),
                            content_type="application/json")

    async def get_order(request: web.Request) -> web.Response:
        try:
            body = pages.detail(int(request.match_info["bc_id"]))
        except ValueError:
            body = None
        if body is None:
            return web.Response(status=404, body=NOT_FOUND, content_type="application/json")
        return web.Response(body=body, content_type="application/json")

    async def ping(request: web.Request) -> web.Response:
        return web.Response(body=b"ok")

    app = web.Application()
    app.router.add_get(f"{PREFIX}/orders", list_orders)
    app.router.add_get(f"{PREFIX}/orders/{{bc_id}}", get_order)
    app.router.add_get("/__bench__/ping", ping)
    return app


async def serve(orders: int, host: str, port: int, details: int | None = None) -> None:
    """Encode everything, listen, announce, and wait for SIGTERM/SIGINT."""
    pages = Pages(orders, details=details)
    runner = web.AppRunner(make_app(pages), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    addr = runner.addresses[0]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"PAGES http://{host}:{addr[1]}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks._pageserver")
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--details", type=int, default=None,
                   help="encode order details for the first N orders only (default: all)")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    asyncio.run(serve(args.orders, args.host, args.port, args.details))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
