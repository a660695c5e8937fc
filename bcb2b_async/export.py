"""Bulk export and incremental sync: exact while the store changes.

Why a plain offset walk is not enough
    ``GET /orders`` defaults to ``sortBy=updatedAt&orderBy=DESC``: every update moves an
    order to the front, shifting the offsets of everything behind it, so an offset walk of
    a live store skips and repeats orders. And without a date filter the API only returns
    orders created or updated in the last year.

The walk used here (a keyset walk on a timestamp)
    Orders are read sorted by ``createdAt`` ascending (``updatedAt`` for sync), which an
    update does not change, between explicit bounds (so the one-year default window is
    off). Each page asks for the orders at or after the last timestamp seen, skipping the
    ones of that same second already seen; a new or deleted order elsewhere cannot shift
    what is still to come. Ties inside one second are assumed to keep a stable order
    (BigCommerce and the sandbox order them by id).

Bounds that may or may not include themselves
    The docs say "after" and "before" without saying whether the bound itself is included.
    The first export of a run probes it with two one-order queries and then sends bounds
    that are exact under what it found; results are also filtered client-side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from ._batch import fan_in
from ._client import B2BClient
from ._config import Priority
from ._decode import envelope_decoder
from ._validate import (
    channel_ids as check_channel_ids,
)
from ._validate import (
    int_range,
    optional_positive_id,
    unix_seconds,
)
from .errors import BigCommerceError, InvalidArgumentError
from .models.b2b_orders import Order, OrderProduct, OrderProductOption
from .models.v2_orders import V2OrderProduct

__all__ = [
    "BoundSemantics",
    "ExportedOrder",
    "SyncState",
    "b2b_product_from_v2",
    "export_orders",
    "probe_bounds",
    "sync_orders",
]

PAGE_SIZE = 200
TimeField = Literal["createdAt", "updatedAt"]
_PARAMS = {"createdAt": ("minCreated", "maxCreated"), "updatedAt": ("minModified", "maxModified")}


@dataclass(frozen=True, slots=True)
class BoundSemantics:
    """Whether the server's ``min*`` and ``max*`` filters include the bound itself."""

    min_inclusive: bool
    max_inclusive: bool

    def params(self, field_name: TimeField, lo: int, hi: int) -> list[tuple[str, str]]:
        """Query parameters selecting exactly ``lo <= t <= hi``."""
        pmin, pmax = _PARAMS[field_name]
        low = lo if self.min_inclusive else lo - 1
        high = hi if self.max_inclusive else hi + 1
        return [(pmin, str(max(0, low))), (pmax, str(high))]


class ExportedOrder(msgspec.Struct, kw_only=True):
    """One exported order: the B2B order, plus its products when asked for.

    ``products`` are B2B order products (``None`` without ``with_products``). Orders
    enriched through the V2 quota have their V2 order products mapped onto the same B2B
    shape (see :func:`b2b_product_from_v2`), so every row looks alike.
    """

    order: Order
    products: list[OrderProduct] | None = None

    @property
    def bc_order_id(self) -> int:
        """The BigCommerce order id."""
        return self.order.bc_order_id

    def to_json_dict(self) -> dict[str, Any]:
        """The order with the API's own field names, plus ``products`` when present."""
        doc: dict[str, Any] = msgspec.to_builtins(self.order)
        if self.products is not None:
            doc["products"] = msgspec.to_builtins(self.products)
        return doc


def b2b_product_from_v2(product: V2OrderProduct, order: Order) -> OrderProduct:
    """The B2B ``orderProducts`` view of a V2 order product.

    ``id`` ← ``id`` (the order product id), ``productId`` ← ``product_id``,
    ``productName`` ← ``name``, ``variantSku`` ← ``sku``, ``variantId`` ← ``variant_id``,
    ``productBrandName`` ← ``brand``, ``quantity``, ``options`` ← ``product_options``;
    ``createdAt``/``updatedAt`` are, per the B2B spec, the order's own timestamps.
    """
    options = [
        OrderProductOption(
            id=o.id,
            option_id=o.option_id,
            product_option_id=o.product_option_id,
            order_product_id=o.order_product_id,
            display_name=o.display_name,
            display_name_customer=o.display_name_customer,
            display_name_merchant=o.display_name_merchant,
            display_value=o.display_value,
            display_value_customer=o.display_value_customer,
            display_value_merchant=o.display_value_merchant,
            value=int(o.value) if isinstance(o.value, str) and o.value.isdigit() else o.value,
            type=o.type,
            name=o.name,
            display_style=o.display_style,
        )
        for o in product.product_options
    ]
    return OrderProduct(
        id=product.id,
        product_id=product.product_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        product_name=product.name,
        variant_sku_raw=product.sku,
        variant_id=product.variant_id,
        product_brand_name=product.brand,
        quantity=product.quantity,
        options_raw=options,
    )


def _ts(order: Order, field_name: TimeField) -> int:
    value = order.created_at if field_name == "createdAt" else order.updated_at
    return int(value) if value is not None else 0


async def _page(
    client: B2BClient,
    params: list[tuple[str, str]],
    priority: Priority,
) -> tuple[list[Order], int | None]:
    env = await client.request(
        "b2b", "GET", "/orders", params=params, decoder=envelope_decoder(list[Order] | None),
        priority=priority,
    )
    total = env.meta.total if env.meta is not None else None
    return list(env.data or []), total


async def probe_bounds(
    client: B2BClient,
    field_name: TimeField,
    anchor: int,
    base: Sequence[tuple[str, str]],
    *,
    priority: Priority = "bulk",
) -> BoundSemantics:
    """Find out whether ``min*``/``max*`` include the bound, around an order at ``anchor``.

    ``anchor`` is the timestamp of an order known to match ``base``. Two one-order
    queries: ``[anchor, anchor + 1]`` sorted ascending starts with that order only if the
    minimum is inclusive; ``[anchor - 1, anchor]`` sorted descending starts with it only if
    the maximum is inclusive.
    """
    pmin, pmax = _PARAMS[field_name]
    common = [("limit", "1"), ("offset", "0"), ("sortBy", field_name), *base]
    lo_items, _ = await _page(
        client,
        [*common, ("orderBy", "ASC"), (pmin, str(anchor)), (pmax, str(anchor + 1))],
        priority,
    )
    hi_items, _ = await _page(
        client,
        [*common, ("orderBy", "DESC"), (pmin, str(max(0, anchor - 1))), (pmax, str(anchor))],
        priority,
    )
    min_incl = bool(lo_items) and _ts(lo_items[0], field_name) == anchor
    max_incl = bool(hi_items) and _ts(hi_items[0], field_name) == anchor
    return BoundSemantics(min_incl, max_incl)


async def _keyset_walk(
    client: B2BClient,
    field_name: TimeField,
    lo: int,
    hi: int,
    base: Sequence[tuple[str, str]],
    semantics: BoundSemantics,
    *,
    priority: Priority,
    page_size: int = PAGE_SIZE,
    max_pages: int = 10_000_000,
) -> AsyncIterator[Order]:
    """Every order with ``lo <= t <= hi`` on ``field_name``, once, in ascending ``t``.

    Memory: one page plus the ids of the current second.
    """
    cursor = lo
    group_ts = -1
    group_ids: set[int] = set()
    for _ in range(max_pages):
        if cursor > hi:
            return
        skip = len(group_ids) if group_ts == cursor else 0
        params = [
            ("limit", str(page_size)),
            ("offset", str(skip)),
            ("sortBy", field_name),
            ("orderBy", "ASC"),
            *semantics.params(field_name, cursor, hi),
            *base,
        ]
        items, _total = await _page(client, params, priority)
        for order in items:
            t = _ts(order, field_name)
            if t < cursor or t > hi:
                continue  # outside the bounds asked for: filtered defensively
            if t == group_ts:
                if order.bc_order_id in group_ids:
                    continue
                group_ids.add(order.bc_order_id)
            elif t > group_ts:
                group_ts = t
                group_ids = {order.bc_order_id}
            else:  # pragma: no cover - the server broke its own sort order
                continue
            yield order
        if len(items) < page_size:
            return
        cursor = max(cursor, group_ts)
    raise BigCommerceError(f"export walk did not finish within {max_pages} pages")


def _slices(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    """Split ``[lo, hi]`` into up to ``parts`` contiguous, disjoint ranges."""
    span = hi - lo + 1
    parts = max(1, min(parts, span))
    step = span // parts
    out = []
    start = lo
    for i in range(parts):
        end = hi if i == parts - 1 else start + step - 1
        out.append((start, end))
        start = end + 1
    return out


async def export_orders(
    client: B2BClient,
    *,
    channel_ids: Sequence[int] | None = None,
    company_id: int | None = None,
    created_from: int | datetime | None = None,
    created_to: int | datetime | None = None,
    with_products: bool = False,
    concurrency: int = 4,
    priority: Priority = "bulk",
    products_source: Literal["both", "b2b", "v2"] = "both",
    on_total: Callable[[int], object] | None = None,
    show_extra: bool = True,
) -> AsyncIterator[ExportedOrder]:
    """Every order that exists when the export starts, exactly once.

    Stays exact while orders are updated or created during the walk, and includes orders
    older than the API's one-year default window (explicit ``createdAt`` bounds switch it
    off). ``channel_ids`` default to the API's default, channel 1: pass every channel you
    use. ``created_to`` defaults to the start of the export. The range is split into
    time slices walked by ``concurrency`` workers (each slice a keyset walk, see the
    module docstring); orders come out in no particular global order.

    ``with_products=True`` attaches each order's products, fetched concurrently through
    both quotas (B2B ``/orders/{id}/products`` and V2 ``/orders/{id}/products`` are
    limited separately), so enrichment runs near the sum of the two quotas.
    ``on_total`` is called once with the number of orders in range, for progress bars.
    ``show_extra`` (default True) includes each order's extra field values.
    """
    channels = check_channel_ids(channel_ids)
    cid = optional_positive_id("company_id", company_id)
    start = int(time.time())
    lo = unix_seconds("created_from", created_from) or 0
    hi_arg = unix_seconds("created_to", created_to)
    hi = start if hi_arg is None else min(hi_arg, start)
    if lo > hi:
        raise InvalidArgumentError("created_from must not be after created_to")
    int_range("concurrency", concurrency, 1, 64)
    if not isinstance(with_products, bool):
        raise InvalidArgumentError("with_products must be a bool")
    if products_source not in ("both", "b2b", "v2"):
        raise InvalidArgumentError("products_source must be 'both', 'b2b' or 'v2'")
    if not isinstance(show_extra, bool):
        raise InvalidArgumentError("show_extra must be a bool")
    base: list[tuple[str, str]] = []
    if cid is not None:
        base.append(("companyId", str(cid)))
    if channels is not None:
        base.extend(("channelIds[]", str(c)) for c in channels)
    if show_extra:
        base.append(("showExtra", "true"))

    # First order in range (bounds widened by one second: exact whatever the semantics,
    # the client-side filter below drops what the widening let in) and the range's size.
    first, total = await _page(
        client,
        [("limit", "1"), ("offset", "0"), ("sortBy", "createdAt"), ("orderBy", "ASC"),
         ("minCreated", str(max(0, lo - 1))), ("maxCreated", str(hi + 1)), *base],
        priority,
    )
    if on_total is not None and total is not None:
        with contextlib.suppress(Exception):
            on_total(total)
    if not first:
        return
    semantics = await probe_bounds(
        client, "createdAt", _ts(first[0], "createdAt"), base, priority=priority
    )
    # Slice from the first order in range, not from 1970: otherwise nearly every order
    # falls in the last slice and one worker walks them all.
    lo = max(lo, _ts(first[0], "createdAt"))
    orders = _walk_slices(client, lo, hi, base, semantics, concurrency, priority)
    if not with_products:
        async for order in orders:
            yield ExportedOrder(order=order)
        return
    async for item in _enrich(client, orders, concurrency, priority, products_source):
        yield item


async def _walk_slices(
    client: B2BClient,
    lo: int,
    hi: int,
    base: Sequence[tuple[str, str]],
    semantics: BoundSemantics,
    concurrency: int,
    priority: Priority,
) -> AsyncIterator[Order]:
    if concurrency == 1:
        async for order in _keyset_walk(client, "createdAt", lo, hi, base, semantics,
                                         priority=priority):
            yield order
        return
    slices = iter(_slices(lo, hi, concurrency * 4))

    async def worker(put: Callable[[Order], Awaitable[None]]) -> None:
        for s_lo, s_hi in slices:
            async for order in _keyset_walk(client, "createdAt", s_lo, s_hi, base, semantics,
                                             priority=priority):
                await put(order)

    async with contextlib.aclosing(fan_in(worker, workers=concurrency,
                                          buffer=PAGE_SIZE * concurrency)) as orders:
        async for order in orders:
            yield order


async def _enrich(
    client: B2BClient,
    orders: AsyncIterator[Order],
    concurrency: int,
    priority: Priority,
    source: str,
) -> AsyncIterator[ExportedOrder]:
    """Attach products, spreading the calls over the B2B and V2 quotas.

    Each call goes to the API whose limiter has a slot soonest (by pending calls weighted
    by each quota's rate), so enrichment runs near the sum of both quotas.
    """
    b2b_rate = client.config.b2b_rate_limit
    v2_rate = client.config.v2_rate_limit
    b2b_speed = b2b_rate.requests / b2b_rate.seconds if b2b_rate else 1e9
    v2_speed = v2_rate.requests / v2_rate.seconds if v2_rate else 1e9
    pending = {"b2b": 0, "v2": 0}
    by_id: dict[int, Order] = {}

    def pick() -> str:
        if source != "both":
            return source
        # Expected time to drain each API's queue if this call joins it.
        b2b_cost = (pending["b2b"] + 1) / b2b_speed
        v2_cost = (pending["v2"] + 1) / v2_speed
        return "b2b" if b2b_cost <= v2_cost else "v2"

    async def fetch(oid: int) -> list[OrderProduct]:
        api = pick()
        pending[api] += 1
        try:
            if api == "b2b":
                return await client.orders.products(oid, priority=priority)
            order = by_id[oid]
            return [b2b_product_from_v2(p, order)
                    for p in await client.v2.orders.products(oid, priority=priority)]
        finally:
            pending[api] -= 1

    async def ids() -> AsyncIterator[int]:
        async for order in orders:
            by_id[order.bc_order_id] = order
            yield order.bc_order_id

    width = max(2, concurrency * 4)
    async for oid, result in _stream_async(ids(), fetch, width):
        order = by_id.pop(oid)
        if isinstance(result, BaseException):
            raise result
        yield ExportedOrder(order=order, products=result)


async def _stream_async(
    keys: AsyncIterator[int],
    call: Callable[[int], Any],
    width: int,
) -> AsyncIterator[tuple[int, Any]]:
    """Run ``call`` over an async key stream with ``width`` calls in flight."""
    in_flight: set[asyncio.Task[tuple[int, Any]]] = set()

    async def run(key: int) -> tuple[int, Any]:
        try:
            return key, await call(key)
        except BigCommerceError as err:
            return key, err

    exhausted = False
    try:
        while True:
            while not exhausted and len(in_flight) < width:
                try:
                    key = await keys.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                in_flight.add(asyncio.ensure_future(run(key)))
            if not in_flight:
                return
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                in_flight.discard(task)
                yield task.result()
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        aclose = getattr(keys, "aclose", None)
        if aclose is not None:
            await aclose()


# -- incremental sync ---------------------------------------------------------------------
@dataclass(slots=True)
class SyncState:
    """What the last sync saw: the highest ``updatedAt`` and the ids at that second.

    Saved as JSON, written atomically (temp file + rename) after every page of progress,
    so a crash or Ctrl-C resumes without loss; the ids at the watermark make the resume
    free of duplicates.
    """

    watermark: int = 0
    ids_at_watermark: list[int] = field(default_factory=list)
    runs: int = 0

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SyncState:
        """Read a state file (a missing file is a fresh state)."""
        p = Path(path)
        if not p.exists():
            return cls()
        try:
            doc = json.loads(p.read_text("utf-8"))
            return cls(
                watermark=int(doc.get("watermark", 0)),
                ids_at_watermark=[int(i) for i in doc.get("ids_at_watermark", [])],
                runs=int(doc.get("runs", 0)),
            )
        except (ValueError, TypeError, AttributeError) as err:
            raise InvalidArgumentError(f"state file {p} is not a valid sync state: {err}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a reader sees the old or the new state, never half of one."""
        atomic_write_text(
            Path(path),
            json.dumps({"watermark": self.watermark, "ids_at_watermark": self.ids_at_watermark,
                        "runs": self.runs}),
        )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


async def sync_orders(
    client: B2BClient,
    state: SyncState,
    *,
    channel_ids: Sequence[int] | None = None,
    company_id: int | None = None,
    overlap: int = 60,
    on_checkpoint: Callable[[SyncState], object] | None = None,
    priority: Priority = "bulk",
) -> AsyncIterator[Order]:
    """Orders changed since ``state.watermark`` (the first run: every order), each once.

    Walks ``updatedAt`` ascending from ``watermark - overlap`` seconds (the overlap catches
    same-second and slightly out-of-order updates), skips what the state says was already
    synced at the watermark, and advances ``state`` as it goes; ``on_checkpoint(state)`` is
    called after every page-worth of progress (save the state there). An order updated
    again during the walk may come twice, the later version last.
    """
    channels = check_channel_ids(channel_ids)
    cid = optional_positive_id("company_id", company_id)
    int_range("overlap", overlap, 0, 86_400)
    base: list[tuple[str, str]] = []
    if cid is not None:
        base.append(("companyId", str(cid)))
    if channels is not None:
        base.extend(("channelIds[]", str(c)) for c in channels)
    hi = int(time.time()) + 86_400  # "until now", with room for clock skew
    lo = max(0, state.watermark - overlap) if state.watermark else 0
    first, _ = await _page(
        client,
        [("limit", "1"), ("offset", "0"), ("sortBy", "updatedAt"), ("orderBy", "ASC"),
         ("minModified", str(max(0, lo - 1))), ("maxModified", str(hi + 1)), *base],
        priority,
    )
    state.runs += 1
    if not first:
        if on_checkpoint is not None:
            on_checkpoint(state)
        return
    semantics = await probe_bounds(
        client, "updatedAt", _ts(first[0], "updatedAt"), base, priority=priority
    )
    already = set(state.ids_at_watermark)
    old_mark = state.watermark
    since_checkpoint = 0
    async for order in _keyset_walk(client, "updatedAt", lo, hi, base, semantics,
                                    priority=priority):
        t = _ts(order, "updatedAt")
        if t < old_mark or (t == old_mark and order.bc_order_id in already):
            continue  # synced by an earlier run, unchanged since
        yield order
        if t > state.watermark:
            state.watermark = t
            state.ids_at_watermark = [order.bc_order_id]
        elif t == state.watermark:
            state.ids_at_watermark.append(order.bc_order_id)
        since_checkpoint += 1
        if on_checkpoint is not None and since_checkpoint >= PAGE_SIZE:
            since_checkpoint = 0
            on_checkpoint(state)
    if on_checkpoint is not None:
        on_checkpoint(state)
