"""Bulk export and incremental sync: exact while the store changes.

Why a plain offset walk is not enough
    ``GET /orders`` defaults to ``sortBy=updatedAt&orderBy=DESC``: every update moves an
    order to the front, shifting the offsets of everything behind it, so an offset walk of
    a live store skips and repeats orders. And without a date filter the API only returns
    orders created or updated in the last year.

The walk used here: a keyset walk on a timestamp, anchored on an order already read
    Orders are read sorted by ``createdAt`` (export) or ``updatedAt`` (sync) ascending,
    between explicit bounds (so the one-year default window is off). Each page asks for the
    orders at or after the second the walk stands in, offset past the ones of that second
    already read; ties inside one second keep a stable order (BigCommerce and the sandbox
    order them by id). An order that leaves the range (an update moves its ``updatedAt``
    past the end, a reassignment takes it out of the filters) shifts every later order of
    its second down one place, so the offset asks for one order already read as an anchor:
    an answer that starts with it cannot have skipped anything. An answer that does not
    means orders read before it left; the walk steps back by as many orders as left the
    query, which the drop of ``meta.pagination.totalCount`` between two answers of the same
    query tells (doubling the step if the total cannot tell), and re-reads, dropping the ids
    it already has. With bounds the probe proved (below), every extra request is caused by
    an order that left; in any case every anchored answer advances and every step back goes
    further back, so no request is repeated without progress. Memory: one page and the ids
    of the current second.

Export invariant
    :func:`export_orders` yields every order whose ``createdAt`` is within its bounds
    (``created_to`` at most the start of the export) and that matches the filters from the
    start of the export to its end, exactly once. Updates do not move ``createdAt``; orders
    created during the export may or may not come, never twice.

Sync invariant
    The state's ``watermark`` is the first second not delivered yet (less the orders listed
    in ``ids_at_watermark``, which were). A run of :func:`sync_orders` covers ``updatedAt``
    from the watermark to ``hi = now - margin``, a settled second: updates and creates
    stamp the current second, so while the run walks, orders can only leave its range (and
    only to after ``hi``), never enter it. Therefore:

    1. every order whose ``updatedAt`` stays in the range while the run walks is delivered
       by that run, once (ids are deduplicated within the run);
    2. an order changed during the run now has ``updatedAt > hi``: it left this run's range
       and lies in a later run's; a complete run moves the watermark to ``hi + 1``, so
       the ranges of consecutive runs tile time with neither gap nor overlap;
    3. so an order last changed at ``u`` is delivered, in that version, by the first complete
       run whose ``hi`` reaches ``u`` (a run started ``margin`` seconds after ``u``); no
       version of an order (its id and ``updatedAt``) is delivered by two runs, and an order
       comes again only with a newer ``updatedAt``. No order that exists before a run ends
       is missed by that run and the next one started ``margin`` seconds later, unless it
       changes again meanwhile (then a later run delivers its newer version).

    A run interrupted mid-walk keeps the checkpoints it made (``on_checkpoint``): the state
    then says "every order before second ``watermark``, and those listed at it, delivered";
    resuming from it re-delivers at most the orders read after the last checkpoint (one
    page). With ``overlap``, a run also re-reads the ``overlap`` seconds before the
    watermark and delivers a change found there (one stamped late, behind the watermark)
    unless that exact version was delivered before: the state keeps ``(id, updatedAt)`` of
    what it delivered in that window.

    Assumptions: the store's clock is not behind this machine's by ``margin`` or more;
    ties in one second keep a stable order; a page and its total come from one snapshot
    (otherwise only the number of re-reads suffers, not exactness).

Bounds that may or may not include themselves
    The docs say "after" and "before" without saying whether the bound itself is included.
    Each walk probes it with two one-order queries and then sends bounds that are exact
    under what it found; results are also filtered client-side.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import tempfile
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import msgspec

from ._batch import fan_in, run_batch
from ._client import B2BClient
from ._config import Priority
from ._joined import JoinPlan, plan_join, v2_orders_for
from ._validate import (
    channel_ids as check_channel_ids,
)
from ._validate import (
    choice,
    int_range,
    optional_positive_id,
    positive_id,
    unix_seconds,
)
from ._validate import (
    priority as check_priority,
)
from .errors import BigCommerceError, InvalidArgumentError
from .models.b2b_orders import Order, OrderProduct, OrderProductOption
from .models.v2_orders import (
    V2Consignments,
    V2Order,
    V2OrderProduct,
    V2ShippingAddress,
    V2ShippingConsignment,
)
from .resources.b2b_orders import OrderQuery

__all__ = [
    "ALL_CHANNELS",
    "DEFAULT_MARGIN",
    "JOIN_GROUP",
    "BoundSemantics",
    "ExportedOrder",
    "SyncState",
    "b2b_product_from_v2",
    "enrich_orders",
    "export_orders",
    "probe_bounds",
    "sync_orders",
]

PAGE_SIZE = 200
#: The fewest full pages an export slice is cut to hold (when the total is known).
SLICE_PAGES = 8
#: ``channel_ids="all"``: every enabled channel of the store.
ALL_CHANNELS = "all"
#: Seconds before "now" where a sync run ends its range (see the module docstring).
DEFAULT_MARGIN = 5
#: The largest Unix second a timestamp or watermark may hold (as the validators use).
MAX_SECONDS = 2**40
TimeField = Literal["createdAt", "updatedAt"]
_PARAMS = {"createdAt": ("minCreated", "maxCreated"), "updatedAt": ("minModified", "maxModified")}


@dataclass(frozen=True, slots=True)
class BoundSemantics:
    """Whether the server's ``min*`` and ``max*`` filters include the bound itself."""

    min_inclusive: bool
    max_inclusive: bool

    def raw(self, lo: int, hi: int) -> tuple[int, int]:
        """The ``min*``/``max*`` values that select exactly ``lo <= t <= hi``."""
        return (lo if self.min_inclusive else lo - 1), (hi if self.max_inclusive else hi + 1)

    def params(self, field_name: TimeField, lo: int, hi: int) -> list[tuple[str, str]]:
        """Query parameters selecting exactly ``lo <= t <= hi``."""
        pmin, pmax = _PARAMS[field_name]
        low, high = self.raw(lo, hi)
        return [(pmin, str(max(0, low))), (pmax, str(high))]


#: How many times a bound is probed again on an order that an update moved meanwhile.
_PROBE_ATTEMPTS = 4
#: A maximum beyond any timestamp of the store (2100-01-01), for "from here on" probes.
_FAR = 4_102_444_800

#: Bounds widened by one second on both sides: a superset of ``[lo, hi]`` whatever the
#: server's semantics (what the widening lets in is filtered client-side).
_WIDE = BoundSemantics(min_inclusive=False, max_inclusive=False)


class _ListCall(NamedTuple):
    """One ``GET /orders`` of export or sync: the resource's query and the offset."""

    query: OrderQuery
    offset: int


def _list_params(
    field_name: TimeField,
    raw_min: int,
    raw_max: int,
    base: Sequence[tuple[str, str]],
    *,
    limit: int,
    offset: int = 0,
    descending: bool = False,
) -> _ListCall:
    """The one builder of B2B ``GET /orders`` queries used by export and sync: an
    :class:`~bcb2b_async.resources.b2b_orders.OrderQuery` for the resource's page fetch.

    ``raw_min``/``raw_max`` go to the wire as they are (see :meth:`BoundSemantics.raw`);
    ``base`` holds the filters (:func:`_base_params`).
    """
    pmin, pmax = _PARAMS[field_name]
    params = [
        ("sortBy", field_name),
        ("orderBy", "DESC" if descending else "ASC"),
        (pmin, str(max(0, raw_min))),
        (pmax, str(raw_max)),
        *base,
    ]
    return _ListCall(OrderQuery(params, limit), offset)


def _base_params(
    channels: Sequence[int] | None, company_id: int | None, *, show_extra: bool
) -> list[tuple[str, str]]:
    """The filters every list query of one export or sync carries."""
    base: list[tuple[str, str]] = []
    if company_id is not None:
        base.append(("companyId", str(company_id)))
    if channels is not None:
        base.extend(("channelIds[]", str(c)) for c in channels)
    if show_extra:
        base.append(("showExtra", "true"))
    return base


def _check_priority(value: object) -> Priority | None:
    """``None`` (the client's default) or a valid priority."""
    return None if value is None else check_priority(value)


def _check_callback(name: str, value: object) -> None:
    if value is not None and not callable(value):
        raise InvalidArgumentError(f"{name} must be callable or None, got {type(value).__name__}")


class ExportedOrder(msgspec.Struct, kw_only=True):
    """One exported order: the B2B order, plus its products and V2 details when asked for.

    ``products`` are B2B order products (``None`` without ``with_products``). Lines read
    from the V2 API (the V2 orders list's embedded lines, or ``/v2/orders/{id}/products``)
    are mapped onto the same B2B shape (see :func:`b2b_product_from_v2`), so every row
    looks alike. ``details`` (with ``with_details``) is the V2 store order — billing
    address, totals, tax, discounts, payment, currency, notes, ``items_total`` /
    ``items_shipped``, dates — and ``shipping_addresses`` its shipping addresses.
    """

    order: Order
    products: list[OrderProduct] | None = None
    details: V2Order | None = None
    shipping_addresses: list[V2ShippingAddress] | None = None

    @property
    def bc_order_id(self) -> int:
        """The BigCommerce order id."""
        return self.order.bc_order_id

    def to_json_dict(self) -> dict[str, Any]:
        """The order with the API's own field names, plus ``products`` when present and
        ``details`` (V2 field names, with ``shipping_addresses``) when present."""
        doc: dict[str, Any] = msgspec.to_builtins(self.order)
        if self.products is not None:
            doc["products"] = msgspec.to_builtins(self.products)
        if self.details is not None:
            details: dict[str, Any] = msgspec.to_builtins(self.details)
            details["shipping_addresses"] = msgspec.to_builtins(self.shipping_addresses or [])
            doc["details"] = details
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
    call: _ListCall,
    priority: Priority | None,
) -> tuple[list[Order], int | None]:
    """One list answer through the resource's page fetch: its orders and ``totalCount``.

    ``data`` must be a list: a 2xx whose ``data`` is missing or null is a
    :class:`~bcb2b_async.DecodeError` (retried as a malformed answer), never an empty page
    that would end a walk early.
    """
    page = await client.orders.page(call.query, offset=call.offset, priority=priority)
    return page.items, page.total


async def probe_bounds(
    client: B2BClient,
    field_name: TimeField,
    anchor: int,
    base: Sequence[tuple[str, str]],
    *,
    priority: Priority | None = "bulk",
    order_id: int | None = None,
) -> BoundSemantics:
    """Find out whether ``min*``/``max*`` include the bound, around an order at ``anchor``.

    ``anchor`` is the timestamp of an order known to match ``base``. Without ``order_id``:
    two one-order queries; ``[anchor, anchor + 1]`` sorted ascending starts with that
    order only if the minimum is inclusive, ``[anchor - 1, anchor]`` sorted descending
    only if the maximum is. A "no" there may only mean the order was updated away
    meanwhile; it is the safe answer (bounds are then widened and the walk filters
    client-side), but a costlier one.

    With ``order_id`` (the anchor order's id), each bound is probed on that order alone
    (``bcOrderId``), and its answer says where the order is: an update only moves an
    order forward to the present, so an order found still at ``anchor`` after a "no" was
    there during it (the "no" is proven), and an order that moved is probed again at its
    new second (a few times at most).
    """
    if order_id is None:
        lo_items, _ = await _page(
            client, _list_params(field_name, anchor, anchor + 1, base, limit=1), priority
        )
        hi_items, _ = await _page(
            client,
            _list_params(field_name, anchor - 1, anchor, base, limit=1, descending=True),
            priority,
        )
        return BoundSemantics(
            bool(lo_items) and _ts(lo_items[0], field_name) == anchor,
            bool(hi_items) and _ts(hi_items[0], field_name) == anchor,
        )
    one = [*base, ("bcOrderId", str(order_id))]

    async def where(raw_min: int, raw_max: int) -> int | None:
        """The order's second if the server counts it within the raw bounds, else None."""
        items, _ = await _page(client, _list_params(field_name, raw_min, raw_max, one,
                                                    limit=1), priority)
        return _ts(items[0], field_name) if items else None

    min_incl = False
    a = anchor
    for _ in range(_PROBE_ATTEMPTS):
        t = await where(a, _FAR)  # the order is at ``a`` or later
        if t is None or t == a:
            min_incl = t == a  # hidden although at or after ``a``: the minimum excludes
            break
        a = t  # it moved on: probe again where it is now
    max_incl = False
    a = anchor
    for _ in range(_PROBE_ATTEMPTS):
        if await where(0, a) == a:
            max_incl = True
            break
        t = await where(a - 1, _FAR)  # where is it now (found whatever the semantics)?
        if t is None or t == a:
            break  # still at ``a`` now, so it was during the probe: the maximum excludes
        a = t
    return BoundSemantics(min_incl, max_incl)


@dataclass(slots=True)
class _Cursor:
    """Where a keyset walk stands (read it between pages).

    ``second``: the second being read; ``seen``: ids read at that second; ``read_to``: the
    position (in the query ``[second, hi]``) just past the last order read, as of the last
    anchored answer; ``total``: that query's ``totalCount`` in that answer.
    """

    second: int
    seen: set[int] = field(default_factory=set)
    read_to: int = 0
    total: int | None = None


def _anchored(items: list[Order], offset: int, cursor: _Cursor, field_name: TimeField) -> bool:
    """Whether an answer at ``offset`` cannot have skipped an order of the current second.

    Offset 0 starts the second itself. Otherwise the answer must start with an order read
    before (the read ones are the first positions of the second): then every order not
    read yet is at or after it.
    """
    if offset == 0:
        return True
    head = items[0] if items else None
    return (head is not None and head.bc_order_id in cursor.seen
            and _ts(head, field_name) == cursor.second)


async def _keyset_pages(
    client: B2BClient,
    field_name: TimeField,
    lo: int,
    hi: int,
    base: Sequence[tuple[str, str]],
    semantics: BoundSemantics,
    *,
    priority: Priority | None,
    cursor: _Cursor | None = None,
    page_size: int = PAGE_SIZE,
    max_requests: int = 10_000_000,
) -> AsyncGenerator[list[Order], None]:
    """Every order with ``lo <= t <= hi`` on ``field_name``, once, ascending, page by page.

    Yields the orders of each answer not read before (possibly none). See the module
    docstring for the anchor and the step back; ``cursor`` (given) shows the progress.
    """
    if page_size < 2:
        raise InvalidArgumentError("page_size must be at least 2 (one order is the anchor)")
    cur = cursor if cursor is not None else _Cursor(lo)
    step = 0  # how far the current run of unanchored answers has stepped back
    for _ in range(max_requests):
        if cur.second > hi:
            return
        offset = max(0, cur.read_to - 1 - step)
        raw_min, raw_max = semantics.raw(cur.second, hi)
        items, total = await _page(
            client,
            _list_params(field_name, raw_min, raw_max, base, limit=page_size, offset=offset),
            priority,
        )
        if not _anchored(items, offset, cur, field_name):
            # Orders read before ``offset`` left the query and the rest shifted down: step
            # back by as many as left (the total's drop), at least twice the last step.
            left = cur.total - total if cur.total is not None and total is not None else 0
            step = max(left, 2 * step, 1)
            continue
        step = 0
        fresh: list[Order] = []
        first_of_last = -1  # index of the first order of a later second on this page
        for i, order in enumerate(items):
            t = _ts(order, field_name)
            if t < cur.second or t > hi:
                continue  # outside the bounds asked for: filtered defensively
            if t > cur.second:
                cur.second = t
                cur.seen = set()
                first_of_last = i
            if order.bc_order_id in cur.seen:
                continue  # read before (the anchor, or a re-read after a step back)
            cur.seen.add(order.bc_order_id)
            fresh.append(order)
        if first_of_last < 0:
            cur.read_to = offset + len(items)
            cur.total = total
        else:
            # The query moves on to ``[second, hi]``: its positions start at the first
            # order of that second on this page, and its total lacks everything before.
            cur.read_to = len(items) - first_of_last
            cur.total = None if total is None else total - (offset + first_of_last)
        yield fresh
        if len(items) < page_size:
            return
    raise BigCommerceError(f"walk of {field_name} did not finish within {max_requests} requests")


async def _balanced_slices(
    client: B2BClient,
    lo: int,
    hi: int,
    base: Sequence[tuple[str, str]],
    parts: int,
    total: int,
    priority: Priority | None,
) -> list[tuple[int, int]]:
    """``[lo, hi]`` cut into up to ``parts`` contiguous ranges holding about as many
    orders each: the ``createdAt`` of the orders at offsets ``total * k / parts`` (one
    one-order request each, sent together). The cuts only balance the work; each range
    is walked exactly, whatever changed since."""
    if parts <= 1 or total <= PAGE_SIZE:
        return [(lo, hi)]
    # All probes finish (or fail) before anything is raised: none is left running.
    answers = await asyncio.gather(*(
        _page(client, _list_params("createdAt", *_WIDE.raw(lo, hi), base, limit=1,
                                   offset=total * k // parts), priority)
        for k in range(1, parts)
    ), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    cuts = sorted({
        _ts(items[0], "createdAt")
        for items, _ in (a for a in answers if not isinstance(a, BaseException))
        if items and lo < _ts(items[0], "createdAt") <= hi
    })
    bounds = [lo, *cuts, hi + 1]
    return [(a, b - 1) for a, b in itertools.pairwise(bounds) if a <= b - 1]


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
    channel_ids: Sequence[int] | Literal["all"] | None = None,
    company_id: int | None = None,
    created_from: int | datetime | None = None,
    created_to: int | datetime | None = None,
    with_products: bool = False,
    with_details: bool = False,
    concurrency: int = 4,
    priority: Priority | None = "bulk",
    products_source: Literal["both", "b2b", "v2"] = "both",
    plan: Literal["auto", "per_order"] = "auto",
    on_total: Callable[[int], object] | None = None,
    show_extra: bool = True,
) -> AsyncIterator[ExportedOrder]:
    """Every order that exists when the export starts, exactly once.

    Stays exact while orders are updated, created or reassigned during the walk (see the
    module docstring for the invariant), and includes orders older than the API's one-year
    default window (explicit ``createdAt`` bounds switch it off). ``channel_ids`` default
    to the API's default, channel 1: pass every channel you use. ``created_to`` defaults to
    the start of the export. The range is split into time slices walked by ``concurrency``
    (1..64) workers; orders come out in no particular global order.

    ``channel_ids="all"`` exports every enabled channel of the store (one
    ``GET /channels``; channel 1 on a store without multi-storefront).

    ``with_products=True`` attaches each order's products and ``with_details=True`` its
    V2 store order (:attr:`ExportedOrder.details`, :attr:`ExportedOrder.shipping_addresses`).
    With ``plan="auto"`` (default) they come from the V2 orders list at list speed: each
    group of B2B orders (up to :data:`JOIN_GROUP`) is joined by id with the V2 list over
    the same time span, lines embedded (``include=consignments.line_items``), 250 orders a
    request; an order not found there, or whose embedded lines cannot be trusted (a
    consignment over 50 lines, lines missing, quantities not adding up to ``items_total``),
    is fetched on its own. One ``GET /v2/orders/count`` over the export's span decides, per
    group, whether the V2 walk costs fewer requests than one call per order (on a store
    where B2B orders are a small share it may not); see :mod:`bcb2b_async._joined`.
    ``plan="per_order"`` fetches every order's products and details on its own.
    Per-order calls run concurrently through both quotas (B2B ``/orders/{id}/products``
    and V2 ``/orders/{id}/products`` are limited separately; ``products_source`` can pin
    one). ``on_total`` is called once with the number of orders in range, for progress
    bars. ``show_extra`` (default True) includes each order's extra field values.

    Any failure (a 403, a 5xx after its retries, a malformed answer) ends the export with
    that typed error; the other walks and enrichment calls are cancelled at once. Bad
    arguments raise :class:`~bcb2b_async.InvalidArgumentError` before any request.
    """
    every_channel = channel_ids == ALL_CHANNELS
    channels = None if every_channel else check_channel_ids(channel_ids)
    cid = optional_positive_id("company_id", company_id)
    prio = _check_priority(priority)
    start = int(time.time())
    lo = unix_seconds("created_from", created_from) or 0
    hi_arg = unix_seconds("created_to", created_to)
    hi = start if hi_arg is None else min(hi_arg, start)
    if lo > hi:
        raise InvalidArgumentError("created_from must not be after created_to")
    int_range("concurrency", concurrency, 1, 64)
    if not isinstance(with_products, bool):
        raise InvalidArgumentError("with_products must be a bool")
    if not isinstance(with_details, bool):
        raise InvalidArgumentError("with_details must be a bool")
    source = choice("products_source", products_source, ("both", "b2b", "v2"))
    how = choice("plan", plan, ("auto", "per_order"))
    if not isinstance(show_extra, bool):
        raise InvalidArgumentError("show_extra must be a bool")
    _check_callback("on_total", on_total)
    if every_channel:
        channels = await client.channels.enabled_ids(priority=prio) or [1]
    base = _base_params(channels, cid, show_extra=show_extra)

    # First order in range (bounds widened: exact whatever the semantics; the walk filters
    # what the widening lets in) and the range's size.
    first, total = await _page(
        client, _list_params("createdAt", *_WIDE.raw(lo, hi), base, limit=1), prio
    )
    if on_total is not None and total is not None:
        with contextlib.suppress(Exception):
            on_total(total)
    if not first:
        return
    semantics = await probe_bounds(client, "createdAt", _ts(first[0], "createdAt"), base,
                                   priority=prio, order_id=first[0].bc_order_id)
    # Slice from the first order in range, not from 1970: otherwise nearly every order
    # falls in the last slice and one worker walks them all.
    lo = max(lo, _ts(first[0], "createdAt"))
    # Enough slices to keep the workers busy, each worth at least SLICE_PAGES pages: every
    # slice ends on a partial page, so a small slice wastes a larger share of a request.
    parts = concurrency * 4 if total is None else max(
        1, min(concurrency * 4, -(-total // (PAGE_SIZE * SLICE_PAGES))))
    per_order = _PerOrder(client, prio, source)
    if (with_products or with_details) and how == "auto":
        join = await plan_join(client.v2.orders, lo, hi, total or 0, priority=prio) \
            if total is not None else JoinPlan(None)
        # Groups of JOIN_GROUP bound the memory; slices only spread the work. The B2B
        # quota carries the list pages; a line or detail the V2 list could not give is
        # fetched on V2 (on BigCommerce its quota is at least B2B's and its list needs
        # fewer pages), unless products_source pins one.
        fallback = _PerOrder(client, prio, "v2" if source == "both" else source)
        # One slice a worker, cut where the orders are (not evenly in time: a store's
        # orders are not spread evenly, and a long last slice would leave one worker
        # walking alone); each worker keeps a join in flight beside its walk.
        slices = (await _balanced_slices(client, lo, hi, base, min(parts, concurrency),
                                         total, prio)
                  if total is not None else _slices(lo, hi, min(parts, concurrency * 2)))
        async with contextlib.aclosing(_joined_slices(
            client, slices, base, semantics, concurrency, prio, join,
            fallback, with_products=with_products, with_details=with_details,
        )) as joined:
            async for item in joined:
                yield item
        return
    async with contextlib.aclosing(
        _walk_slices(client, lo, hi, base, semantics, concurrency, prio, parts)
    ) as orders:
        if not (with_products or with_details):
            async for order in orders:
                yield ExportedOrder(order=order)
            return
        async with contextlib.aclosing(
            _enrich(orders, per_order, concurrency, with_products=with_products,
                    with_details=with_details)
        ) as enriched:
            async for item in enriched:
                yield item


async def _walk_slices(
    client: B2BClient,
    lo: int,
    hi: int,
    base: Sequence[tuple[str, str]],
    semantics: BoundSemantics,
    concurrency: int,
    priority: Priority | None,
    parts: int,
) -> AsyncGenerator[Order, None]:
    if concurrency == 1 or parts == 1:
        async with contextlib.aclosing(_keyset_pages(
            client, "createdAt", lo, hi, base, semantics, priority=priority
        )) as pages:
            async for page in pages:
                for order in page:
                    yield order
        return
    slices = iter(_slices(lo, hi, parts))

    async def worker(put: Callable[[Order], Awaitable[None]]) -> None:
        for s_lo, s_hi in slices:
            async with contextlib.aclosing(_keyset_pages(
                client, "createdAt", s_lo, s_hi, base, semantics, priority=priority
            )) as pages:
                async for page in pages:
                    for order in page:
                        await put(order)

    async with contextlib.aclosing(fan_in(worker, workers=concurrency,
                                          buffer=PAGE_SIZE * concurrency)) as orders:
        async for order in orders:
            yield order


class _PerOrder:
    """Per-order calls for products and details, spread over the B2B and V2 quotas.

    Each products call goes to the API whose limiter has a slot soonest (by pending calls
    weighted by each quota's rate), so per-order enrichment runs near the sum of both
    quotas; details (the V2 order and its shipping addresses) only exist on V2.
    """

    def __init__(self, client: B2BClient, priority: Priority | None, source: str) -> None:
        self._client = client
        self._priority = priority
        self._source = source
        b2b_rate = client.config.b2b_rate_limit
        v2_rate = client.config.v2_rate_limit
        self._speed = {
            "b2b": b2b_rate.requests / b2b_rate.seconds if b2b_rate else 1e9,
            "v2": v2_rate.requests / v2_rate.seconds if v2_rate else 1e9,
        }
        self._pending = {"b2b": 0, "v2": 0}

    def _queued(self, api: str) -> int:
        """Calls ahead in ``api``'s queue: ours in flight, plus whatever else waits for its
        limiter (the list pages of the walk, when the limiter can tell)."""
        limiter = self._client.limiter("b2b" if api == "b2b" else "v2")
        waiting = getattr(limiter, "waiting", None)
        others = waiting() if callable(waiting) else 0
        return self._pending[api] + int(others)

    def _pick(self) -> str:
        if self._source != "both":
            return self._source
        # Expected time to drain each API's queue if this call joins it.
        b2b_cost = (self._queued("b2b") + 1) / self._speed["b2b"]
        v2_cost = (self._queued("v2") + 1) / self._speed["v2"]
        return "b2b" if b2b_cost <= v2_cost else "v2"

    async def products(self, order: Order) -> list[OrderProduct]:
        """The order's products, from whichever quota has room soonest."""
        api = self._pick()
        self._pending[api] += 1
        try:
            if api == "b2b":
                return await self._client.orders.products(order.bc_order_id,
                                                          priority=self._priority)
            lines = await self._client.v2.orders.products(order.bc_order_id,
                                                          priority=self._priority)
            return [b2b_product_from_v2(p, order) for p in lines]
        finally:
            self._pending[api] -= 1

    async def details(self, order: Order) -> tuple[V2Order, list[V2ShippingAddress]]:
        """The V2 order and its shipping addresses (two V2 requests)."""
        self._pending["v2"] += 2
        try:
            v2 = self._client.v2.orders
            got = await v2.get(order.bc_order_id, priority=self._priority)
            addresses = await v2.shipping_addresses(order.bc_order_id, priority=self._priority)
            return got, list(addresses)
        finally:
            self._pending["v2"] -= 2

    async def fill(self, item: ExportedOrder, *, with_products: bool,
                   with_details: bool) -> None:
        """Fetch what ``item`` still lacks."""
        if with_products and item.products is None:
            item.products = await self.products(item.order)
        if with_details and item.details is None:
            item.details, item.shipping_addresses = await self.details(item.order)


async def _enrich(
    orders: AsyncIterator[Order],
    per_order: _PerOrder,
    concurrency: int,
    *,
    with_products: bool,
    with_details: bool,
) -> AsyncGenerator[ExportedOrder, None]:
    """Attach products and/or details with one call per order (``plan="per_order"``)."""
    by_id: dict[int, ExportedOrder] = {}

    async def fetch(oid: int) -> None:
        await per_order.fill(by_id[oid], with_products=with_products,
                             with_details=with_details)

    async def ids() -> AsyncIterator[int]:
        async for order in orders:
            by_id[order.bc_order_id] = ExportedOrder(order=order)
            yield order.bc_order_id

    width = max(2, concurrency * 4)
    # Closed on the way out whatever happens: a failed call cancels the calls in flight.
    async with contextlib.aclosing(_stream_async(ids(), fetch, width)) as results:
        async for oid, result in results:
            item = by_id.pop(oid)
            if isinstance(result, BaseException):
                raise result
            yield item


async def enrich_orders(
    client: B2BClient,
    orders: AsyncIterable[Order],
    *,
    with_products: bool = True,
    with_details: bool = False,
    concurrency: int = 4,
    priority: Priority | None = "bulk",
    products_source: Literal["both", "b2b", "v2"] = "both",
) -> AsyncIterator[ExportedOrder]:
    """Attach products (and/or V2 details) to a stream of orders, one call per order.

    For orders that do not come from :func:`export_orders` (e.g. :func:`sync_orders`):
    up to ``concurrency * 4`` calls in flight, spread over both quotas. Items come out as
    their calls complete; the first failure ends the stream with its typed error and
    cancels the calls in flight.
    """
    if not isinstance(with_products, bool) or not isinstance(with_details, bool):
        raise InvalidArgumentError("with_products and with_details must be bools")
    int_range("concurrency", concurrency, 1, 64)
    prio = _check_priority(priority)
    source = choice("products_source", products_source, ("both", "b2b", "v2"))

    async def stream() -> AsyncIterator[Order]:
        async for order in orders:
            yield order

    async with contextlib.aclosing(_enrich(
        stream(), _PerOrder(client, prio, source), concurrency,
        with_products=with_products, with_details=with_details,
    )) as items:
        async for item in items:
            yield item


#: Most B2B orders joined with the V2 list at once (memory: one group per worker).
JOIN_GROUP = 2000


#: The fields a shipping consignment shares with a shipping address.
_ADDRESS_FIELDS = tuple(
    name for name in (f.name for f in msgspec.structs.fields(V2ShippingAddress))
    if name != "order_id"
    and name in {f.name for f in msgspec.structs.fields(V2ShippingConsignment)}
)


def _shipping_address(consignment: V2ShippingConsignment, order_id: int | None
                      ) -> V2ShippingAddress:
    """The ``/shipping_addresses`` view of a shipping consignment (its lines left out)."""
    fields = {name: getattr(consignment, name) for name in _ADDRESS_FIELDS}
    return V2ShippingAddress(order_id=order_id, **fields)


def _joined_item(order: Order, v2: V2Order | None, *, with_products: bool,
                 with_details: bool) -> ExportedOrder:
    """``order`` with what ``v2`` (its V2 list entry, lines embedded) can be trusted for."""
    item = ExportedOrder(order=order)
    if v2 is None:
        return item
    if with_products and v2.lines_complete:
        item.products = [b2b_product_from_v2(line, order) for line in v2.line_items]
    if with_details:
        cons = v2.consignments
        shipping = cons.shipping if isinstance(cons, V2Consignments) and cons.embedded \
            else None
        if shipping is not None:
            item.details = msgspec.structs.replace(v2, consignments=None)
            item.shipping_addresses = [_shipping_address(c, v2.id) for c in shipping]
    return item


async def _join_group(
    client: B2BClient,
    group: list[Order],
    priority: Priority | None,
    join: JoinPlan,
    per_order: _PerOrder,
    width: int,
    *,
    with_products: bool,
    with_details: bool,
) -> list[ExportedOrder]:
    """Products/details for a group of B2B orders: the V2 list when it pays, else (and for
    what the list cannot give) one call per order."""
    found: dict[int, V2Order] = {}
    if join.v2_walk_pays(len(group)):
        created = [_ts(o, "createdAt") for o in group]
        found = await v2_orders_for(
            client.v2.orders, {o.bc_order_id for o in group}, min(created), max(created),
            include_lines=True, priority=priority,
        )
    items = {o.bc_order_id: _joined_item(o, found.get(o.bc_order_id),
                                         with_products=with_products,
                                         with_details=with_details)
             for o in group}
    missing = [oid for oid, item in items.items()
               if (with_products and item.products is None)
               or (with_details and item.details is None)]
    if missing:
        await run_batch(
            missing,
            lambda oid: per_order.fill(items[oid], with_products=with_products,
                                       with_details=with_details),
            concurrency=width, fail_fast=True,
        )
    return list(items.values())


async def _joined_slices(
    client: B2BClient,
    slices: list[tuple[int, int]],
    base: Sequence[tuple[str, str]],
    semantics: BoundSemantics,
    concurrency: int,
    priority: Priority | None,
    join: JoinPlan,
    per_order: _PerOrder,
    *,
    with_products: bool,
    with_details: bool,
) -> AsyncGenerator[ExportedOrder, None]:
    """Walk the slices (``concurrency`` workers), joining each group of B2B orders with
    the V2 list; every order of every slice comes out once, with what was asked for."""
    todo = iter(slices)
    width = max(2, concurrency * 4)

    async def flush(group: list[Order], put: Callable[[ExportedOrder], Awaitable[None]]
                    ) -> None:
        for item in await _join_group(client, group, priority, join, per_order, width,
                                      with_products=with_products,
                                      with_details=with_details):
            await put(item)

    async def worker(put: Callable[[ExportedOrder], Awaitable[None]]) -> None:
        # The B2B walk goes on while a group is being joined (one join in flight per
        # worker): the B2B quota, which carries the list pages, never idles while V2 works.
        joining: asyncio.Task[None] | None = None
        try:
            for s_lo, s_hi in todo:
                group: list[Order] = []
                async with contextlib.aclosing(_keyset_pages(
                    client, "createdAt", s_lo, s_hi, base, semantics, priority=priority
                )) as pages:
                    async for page in pages:
                        group.extend(page)
                        if len(group) >= JOIN_GROUP:
                            if joining is not None:
                                await joining
                            joining = asyncio.ensure_future(flush(group, put))
                            group = []
                if group:
                    if joining is not None:
                        await joining
                    joining = asyncio.ensure_future(flush(group, put))
            if joining is not None:
                await joining
        finally:
            if joining is not None and not joining.done():
                joining.cancel()
                await asyncio.gather(joining, return_exceptions=True)

    async with contextlib.aclosing(fan_in(worker, workers=concurrency,
                                          buffer=PAGE_SIZE * concurrency)) as items:
        async for item in items:
            yield item


async def _stream_async(
    keys: AsyncIterator[int],
    call: Callable[[int], Any],
    width: int,
) -> AsyncGenerator[tuple[int, Any], None]:
    """Run ``call`` over an async key stream with ``width`` calls in flight.

    A call's :class:`BigCommerceError` is yielded as its result; closing this generator
    cancels and awaits the calls in flight, then closes ``keys``.
    """
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
    """Where incremental sync stands; JSON-compatible, validated when built or loaded.

    ``watermark``: every order with ``updatedAt`` before this second has been delivered;
    ``ids_at_watermark``: the orders at that second delivered too (only after a checkpoint
    in the middle of a run; a complete run leaves it empty, its watermark one second past
    its range); ``runs``: how many runs used this state; ``recent``: ``(id, updatedAt)`` of
    the orders delivered in the last ``overlap`` seconds before the watermark (only with
    ``overlap``), so re-reading them does not deliver them again.

    Files written by earlier versions (``watermark``, ``ids_at_watermark``, ``runs``) load
    as they are. Save it with :meth:`save` (atomic: temp file and rename).
    """

    watermark: int = 0
    ids_at_watermark: list[int] = field(default_factory=list)
    runs: int = 0
    recent: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Validate (and normalise) every field; :class:`InvalidArgumentError` if one is bad."""
        int_range("watermark", self.watermark, 0, MAX_SECONDS)
        int_range("runs", self.runs, 0)
        ids: object = self.ids_at_watermark
        if not isinstance(ids, list | tuple):
            raise InvalidArgumentError(
                f"ids_at_watermark must be a list of order ids, got {type(ids).__name__}"
            )
        self.ids_at_watermark = [positive_id("ids_at_watermark[]", i) for i in ids]
        pairs: object = self.recent
        if not isinstance(pairs, list | tuple):
            raise InvalidArgumentError(
                f"recent must be a list of [id, updatedAt] pairs, got {type(pairs).__name__}"
            )
        out: list[tuple[int, int]] = []
        for pair in pairs:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise InvalidArgumentError(f"recent items must be [id, updatedAt], got {pair!r}")
            out.append((positive_id("recent[].id", pair[0]),
                        int_range("recent[].updatedAt", pair[1], 0, MAX_SECONDS)))
        self.recent = out

    def to_json(self) -> str:
        """The state as a JSON document (what :meth:`save` writes)."""
        return json.dumps({
            "watermark": self.watermark,
            "ids_at_watermark": self.ids_at_watermark,
            "runs": self.runs,
            "recent": [list(p) for p in self.recent],
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncState:
        """Parse :meth:`to_json`'s output (or an older file); bad input is refused."""
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise InvalidArgumentError(f"not a JSON sync state: {err}") from None
        if not isinstance(doc, dict):
            raise InvalidArgumentError("a sync state must be a JSON object")
        return cls(
            watermark=doc.get("watermark", 0),
            ids_at_watermark=doc.get("ids_at_watermark", []),
            runs=doc.get("runs", 0),
            recent=doc.get("recent", []),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SyncState:
        """Read a state file (a missing file is a fresh state)."""
        p = Path(path)
        if not p.exists():
            return cls()
        try:
            return cls.from_json(p.read_bytes())
        except InvalidArgumentError as err:
            raise InvalidArgumentError(
                f"state file {p} is not a valid sync state: {err.message}"
            ) from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a reader sees the old or the new state, never half of one."""
        atomic_write_text(Path(path), self.to_json())


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename.

    A new file gets the mode the umask gives; a replaced file keeps its mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=str(path.parent))
    try:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
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
    channel_ids: Sequence[int] | Literal["all"] | None = None,
    company_id: int | None = None,
    overlap: int = 0,
    margin: int = DEFAULT_MARGIN,
    on_checkpoint: Callable[[SyncState], object] | None = None,
    priority: Priority | None = "bulk",
    on_total: Callable[[int], object] | None = None,
    show_extra: bool = True,
) -> AsyncIterator[Order]:
    """Orders changed since ``state.watermark`` (the first run: every order), each once.

    One run covers ``updatedAt`` in ``(watermark, now - margin]`` and leaves the
    watermark at the end of that range; see the module docstring for what that guarantees
    across runs. ``margin`` (1..3600 seconds, default 5) keeps the run off the seconds the
    store may still stamp: a change made in the last ``margin`` seconds comes with the next
    run. ``overlap`` (0..86400 seconds, default 0) re-reads that many seconds before the
    watermark for changes stamped late; what was delivered there before is not delivered
    again (``state.recent``).

    ``state`` is advanced as the run goes; ``on_checkpoint(state)`` is called after every
    page that delivered orders (once you have handled them) and at the end: save the state
    there to resume an interrupted run. Orders come in ascending ``updatedAt``.
    ``on_total`` is called once with the number of orders in the run's range (an upper
    bound of what the run delivers: orders already delivered at the watermark or in the
    overlap are counted too), for progress bars.

    ``channel_ids="all"`` covers every enabled channel (one ``GET /channels``);
    ``show_extra`` (default True) includes each order's extra field values, as the export
    does.

    Any failure ends the run with its typed error (the state keeps the last checkpoint);
    bad arguments or a bad ``state`` raise :class:`~bcb2b_async.InvalidArgumentError`
    before any request.
    """
    if not isinstance(state, SyncState):
        raise InvalidArgumentError(f"state must be a SyncState, got {type(state).__name__}")
    state.check()
    every_channel = channel_ids == ALL_CHANNELS
    channels = None if every_channel else check_channel_ids(channel_ids)
    if not isinstance(show_extra, bool):
        raise InvalidArgumentError("show_extra must be a bool")
    cid = optional_positive_id("company_id", company_id)
    int_range("overlap", overlap, 0, 86_400)
    int_range("margin", margin, 1, 3600)
    prio = _check_priority(priority)
    _check_callback("on_checkpoint", on_checkpoint)
    _check_callback("on_total", on_total)
    if every_channel:
        channels = await client.channels.enabled_ids(priority=prio) or [1]
    base = _base_params(channels, cid, show_extra=show_extra)
    hi = int(time.time()) - margin
    mark = state.watermark
    done_at_mark = set(state.ids_at_watermark)
    lo = max(0, mark - overlap)
    # (id → updatedAt) delivered in the overlap window: a re-read of one of these is
    # skipped; pruned as the walk moves on (the window trails the walk).
    recent: dict[int, int] = dict(state.recent) if overlap else {}
    state.runs += 1

    def checkpoint(second: int, seen: set[int]) -> None:
        if second > mark:
            state.watermark, state.ids_at_watermark = second, sorted(seen)
        elif second == mark:
            state.ids_at_watermark = sorted(done_at_mark | seen)
        floor = state.watermark - overlap
        for oid in [o for o, t in recent.items() if t < floor]:
            del recent[oid]
        state.recent = sorted(recent.items())
        if on_checkpoint is not None:
            on_checkpoint(state)

    first: list[Order] = []
    in_range = 0
    if lo <= hi:
        first, total = await _page(
            client, _list_params("updatedAt", *_WIDE.raw(lo, hi), base, limit=1), prio
        )
        in_range = total if total is not None else len(first)
    if on_total is not None:
        with contextlib.suppress(Exception):
            on_total(in_range)
    if first:
        semantics = await probe_bounds(client, "updatedAt", _ts(first[0], "updatedAt"),
                                       base, priority=prio,
                                       order_id=first[0].bc_order_id)
        if not semantics.max_inclusive:
            # The query's maximum is sent as ``hi + 1``: should the server count it
            # after all, that second must be settled too.
            hi -= 1
        cursor = _Cursor(lo)
        async with contextlib.aclosing(_keyset_pages(
            client, "updatedAt", lo, hi, base, semantics, priority=prio, cursor=cursor
        )) as pages:
            async for page in pages:
                delivered = 0
                for order in page:
                    oid, t = order.bc_order_id, _ts(order, "updatedAt")
                    if (t == mark and oid in done_at_mark) or recent.get(oid) == t:
                        continue  # delivered by an earlier run, unchanged since
                    yield order
                    delivered += 1
                    if overlap:
                        recent[oid] = t
                if delivered:
                    checkpoint(cursor.second, cursor.seen)
    # The range is complete: everything up to ``hi`` is delivered.
    if hi + 1 > state.watermark:
        state.watermark, state.ids_at_watermark = hi + 1, []
    checkpoint(state.watermark, set())
