"""Row 1, baseline side: the walk a user would write by hand with aiohttp + msgspec.

``python -m benchmarks._row1_handwritten URL CONCURRENCY`` walks every order of the B2B
list at ``URL`` (200 per page: the first page gives the total, then ``CONCURRENCY``
workers pull the remaining offsets), decodes each page into typed msgspec Structs that
mirror the library's models field for field (same names, types and Struct options;
``benchmarks.__main__`` checks the mirror against ``bcb2b_async.models`` before it runs),
touches every order, and prints one line ``ROW1 orders id_sum setup_s walk_s``.

It is timed by the suite as a whole process (interpreter start, imports, Struct
definitions, the walk, exit), exactly like ``benchmarks._row1_library``. It imports
nothing from ``bcb2b_async`` or the rest of the suite, so its start-up is only Python +
aiohttp + msgspec.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import asyncio  # noqa: E402
import sys  # noqa: E402

import aiohttp  # noqa: E402
import msgspec  # noqa: E402

#: The suite's store (``benchmarks._common``; not imported here, to keep start-up honest).
STORE_HASH = "sandbox"
TOKEN = "sandbox-token"
PAGE = 200
#: What ``client.orders.list(min_created=0, page_size=200)`` sends besides limit/offset.
QUERY = [("minCreated", "0"), ("sortBy", "updatedAt"), ("orderBy", "DESC")]


class ExtraField(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    field_name: str
    field_value: str | int | float | None = None


class ExtraInfo(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    billing_address_id: int | None = None
    shipping_address_id: int | None = None


class Money(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    currency_location: str | None = None
    currency_token: str | None = None
    decimal_token: str | None = None
    decimal_places: int | None = None
    thousands_token: str | None = None
    currency_exchange_rate: str | float | None = None


class Order(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True,
            repr_omit_defaults=True, gc=False):
    bc_order_id: int
    id: int | None = None
    total_inc_tax: float | str | None = None
    po_number: str | None = None
    status: str | None = None
    custom_status: str | None = None
    cart_id: int | str | None = None
    items: int | None = None
    usd_inc_tax: float | str | None = None
    company_id: int | None = None
    currency_code: str | None = None
    money_raw: list[Money] | Money | str | None = msgspec.field(default=None, name="money")
    status_code: int | None = None
    is_archived: bool | None = None
    channel_id: int | None = None
    channel_name: str | None = None
    is_invoice_order: int | bool | None = None
    invoice_id: int | None = None
    invoice_number: int | str | None = None
    invoice_status: int | None = None
    extra_int1: int | None = None
    extra_int2: int | None = None
    extra_int3: int | None = None
    extra_int4: int | None = None
    extra_int5: int | None = None
    extra_str1: str | None = None
    extra_str2: str | None = None
    extra_str3: str | None = None
    extra_str4: str | None = None
    extra_str5: str | None = None
    extra_text: str | None = None
    extra_info: list[ExtraInfo] | None = None
    extra_fields: list[ExtraField] | None = None
    created_at: int | None = None
    updated_at: int | None = None


class Pagination(msgspec.Struct, rename="camel", gc=False):
    total_count: int | None = None
    limit: int | None = None
    offset: int | None = None


class Meta(msgspec.Struct, rename="camel", gc=False):
    message: str | None = None
    pagination: Pagination | None = None
    total_count: int | None = None
    limit: int | None = None
    offset: int | None = None


class Envelope(msgspec.Struct):
    data: list[Order]
    code: int | None = None
    meta: Meta | None = None
    message: str | None = None


DECODER = msgspec.json.Decoder(Envelope)
_T1 = time.perf_counter()


async def walk(url: str, concurrency: int) -> tuple[int, int]:
    """Every order: (count, sum of bc_order_id)."""
    endpoint = url + "/api/v3/io/orders"
    headers = {"X-Auth-Token": TOKEN, "X-Store-Hash": STORE_HASH, "Accept": "application/json"}
    totals = [0, 0]
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=32), headers=headers,
        timeout=aiohttp.ClientTimeout(total=30),
    ) as session:

        async def fetch(offset: int) -> int | None:
            params = [("limit", str(PAGE)), ("offset", str(offset)), *QUERY]
            async with session.get(endpoint, params=params) as r:
                if r.status != 200:
                    raise RuntimeError(f"GET /orders offset {offset}: HTTP {r.status}")
                env = DECODER.decode(await r.read())
            for order in env.data:
                totals[0] += 1
                totals[1] += order.bc_order_id
            pag = env.meta.pagination if env.meta is not None else None
            return pag.total_count if pag is not None else None

        total = await fetch(0)
        if total is None:
            raise RuntimeError("the first page has no totalCount")
        offsets = iter(range(PAGE, total, PAGE))

        async def worker() -> None:
            for off in offsets:
                await fetch(off)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return totals[0], totals[1]


def main() -> int:
    url, concurrency = sys.argv[1], int(sys.argv[2])
    t = time.perf_counter()
    n, ids = asyncio.run(walk(url, concurrency))
    print(f"ROW1 {n} {ids} {_T1 - _T0:.6f} {time.perf_counter() - t:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
