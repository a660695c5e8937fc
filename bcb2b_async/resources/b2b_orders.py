"""``client.orders``: the B2B Edition Orders endpoints (``/api/v3/io/orders…``)."""

from __future__ import annotations

import builtins
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import msgspec

from .._batch import (
    DEFAULT_CONCURRENCY,
    BatchResult,
    Progress,
    run_batch,
    stream_batch,
)
from .._config import Priority
from .._decode import envelope_decoder, one
from .._pagination import AsyncPaginator
from .._pipeline import Deadline, Pipeline
from .._validate import (
    batch_ids,
    choice,
    int_range,
    invalid_items,
    optional_positive_id,
    optional_priority,
    positive_id,
    unix_seconds,
)
from .._validate import (
    channel_ids as check_channel_ids,
)
from .._validate import (
    concurrency as check_concurrency,
)
from .._validate import (
    extra_fields as check_extra_fields,
)
from .._validate import (
    po_number as check_po_number,
)
from .._validate import (
    priority as check_priority,
)
from ..errors import BigCommerceError, DecodeError, InvalidArgumentError
from ..models.b2b_orders import ExtraField, ExtraFieldConfig, Order, OrderProduct, OrderUpdate
from ..models.channels import DEFAULT_CHANNEL_ID
from ..models.common import Envelope, Page
from .channels import Channels

__all__ = ["B2BOrders", "OrderQuery", "SeenIds"]

log = logging.getLogger("bcb2b_async")

V = TypeVar("V")

MAX_PAGE_SIZE = 200
SORT_FIELDS = ("createdAt", "updatedAt")
ORDER_DIRECTIONS = ("ASC", "DESC")


#: ``channel_ids="all"``: every enabled channel of the store (``client.channels``).
ALL_CHANNELS = "all"


class OrderQuery:
    """The validated filters of an orders list, as the query parameters the spec defines.

    ``all_channels`` is True for ``channel_ids="all"``: the channel ids are looked up
    (:meth:`Channels.enabled_ids <bcb2b_async.resources.channels.Channels.enabled_ids>`)
    and added with :meth:`with_channels` before the first request.
    """

    __slots__ = ("all_channels", "page_size", "params")

    def __init__(
        self, params: list[tuple[str, str]], page_size: int, *, all_channels: bool = False
    ) -> None:
        self.params = params
        self.page_size = page_size
        self.all_channels = all_channels

    def with_channels(self, channel_ids: Sequence[int]) -> OrderQuery:
        """This query for exactly ``channel_ids`` (replacing any channel filter)."""
        ids = check_channel_ids(channel_ids) or []
        params = [p for p in self.params if p[0] != "channelIds[]"]
        params.extend(("channelIds[]", str(c)) for c in ids)
        return OrderQuery(params, self.page_size)

    @classmethod
    def build(
        cls,
        *,
        company_id: object = None,
        bc_order_id: object = None,
        channel_ids: object = None,
        min_modified: object = None,
        max_modified: object = None,
        min_created: object = None,
        max_created: object = None,
        show_extra: object = False,
        sort_by: object = "updatedAt",
        order_by: object = "DESC",
        page_size: object = MAX_PAGE_SIZE,
    ) -> OrderQuery:
        """Validate every filter (raising :class:`InvalidArgumentError`) and encode it."""
        params: list[tuple[str, str]] = []
        cid = optional_positive_id("company_id", company_id)
        oid = optional_positive_id("bc_order_id", bc_order_id)
        every = channel_ids == ALL_CHANNELS
        channels = None if every else check_channel_ids(channel_ids)
        bounds = {
            "minModified": unix_seconds("min_modified", min_modified),
            "maxModified": unix_seconds("max_modified", max_modified),
            "minCreated": unix_seconds("min_created", min_created),
            "maxCreated": unix_seconds("max_created", max_created),
        }
        if not isinstance(show_extra, bool):
            raise InvalidArgumentError("show_extra must be a bool")
        sort = choice("sort_by", sort_by, SORT_FIELDS)
        order = choice("order_by", order_by, ORDER_DIRECTIONS)
        size = int_range("page_size", page_size, 1, MAX_PAGE_SIZE)
        for lo, hi in (("minModified", "maxModified"), ("minCreated", "maxCreated")):
            lo_v, hi_v = bounds[lo], bounds[hi]
            if lo_v is not None and hi_v is not None and lo_v > hi_v:
                raise InvalidArgumentError(f"{_snake(lo)} must not be after {_snake(hi)}")
        if cid is not None:
            params.append(("companyId", str(cid)))
        if oid is not None:
            params.append(("bcOrderId", str(oid)))
        for key, value in bounds.items():
            if value is not None:
                params.append((key, str(value)))
        if show_extra:
            params.append(("showExtra", "true"))
        params.append(("sortBy", sort))
        params.append(("orderBy", order))
        if channels is not None:
            params.extend(("channelIds[]", str(c)) for c in channels)
        return cls(params, size, all_channels=every)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class B2BOrders:
    """B2B Edition orders of one store: ``client.orders``.

    Identify orders by their **BigCommerce** order id (``bc_order_id``), not the B2B
    Edition ``id`` some responses also carry. Single calls (``get``, ``create``, ``update``,
    ``products``, ...), lists (``list``, ``paginate``, ``page``) and batches (``get_many``,
    ``products_many``, ``update_many``, ``iter_products``: each item through the same
    pipeline, ``bulk`` priority by default, at most ``concurrency`` in flight, results per
    item in a :class:`~bcb2b_async.BatchResult`).
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipe = pipeline
        self._channels = Channels(pipeline)
        self._extra_cache: tuple[float, list[ExtraFieldConfig]] | None = None
        #: Seconds :meth:`extra_field_configs` keeps its result (the docs recommend caching).
        self.extra_field_cache_ttl = 300.0

    # -- single orders -----------------------------------------------------------------
    async def get(
        self, bc_order_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> Order:
        """``GET /orders/{bcOrderId}``: one order, with B2B detail fields.

        >>> order = await client.orders.get(123)
        >>> order.po_number, order.company_id, order.extra_fields
        """
        oid = positive_id("bc_order_id", bc_order_id)
        return await self._one_order("GET", f"/orders/{oid}", priority, deadline)

    async def create(
        self,
        *,
        bc_order_id: int,
        customer_id: int,
        po_number: str | None = None,
        extra_fields: Sequence[ExtraField | dict[str, Any]] | None = None,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> Order:
        """``POST /orders``: attach B2B data (PO number, extra fields) to a new store order.

        It does not create a store order, and BigCommerce accepts it only within 10 seconds
        of the store order's creation: call it from a ``store/order/created`` webhook (see
        :mod:`bcb2b_async.webhooks`), ideally with ``priority="interactive"`` and a
        deadline. Being a POST, it is retried only when it certainly did not reach the
        server (connection refused) or was refused with 429.
        """
        oid = positive_id("bc_order_id", bc_order_id)
        cust = positive_id("customer_id", customer_id)
        body: dict[str, Any] = {"bcOrderId": oid, "customerId": cust}
        po = check_po_number(po_number)
        if po is not None:
            body["poNumber"] = po
        fields = check_extra_fields(extra_fields)
        if fields is not None:
            body["extraFields"] = fields
        return await self._one_order("POST", "/orders", priority, deadline, json=body)

    async def update(
        self,
        bc_order_id: int,
        *,
        po_number: str | None = None,
        extra_fields: Sequence[ExtraField | dict[str, Any]] | None = None,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> Order:
        """``PUT /orders/{bcOrderId}``: set the PO number and/or extra field values.

        At least one of ``po_number`` and ``extra_fields`` is required (the API's rule);
        if the store has required order extra fields, ``extra_fields`` must include them
        (otherwise the server answers 422, raised as ``UnprocessableEntityError``).
        """
        oid, body = build_update_body(bc_order_id, po_number, extra_fields)
        return await self._one_order("PUT", f"/orders/{oid}", priority, deadline, json=body)

    async def products(
        self, bc_order_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> list[OrderProduct]:
        """``GET /orders/{bcOrderId}/products``: the order's product lines."""
        oid = positive_id("bc_order_id", bc_order_id)
        env = await self._pipe.request(
            "b2b",
            "GET",
            f"/orders/{oid}/products",
            decoder=envelope_decoder(_PRODUCTS_T),
            priority=priority,
            deadline=deadline,
        )
        return list(env.data)

    async def extra_field_configs(
        self, *, refresh: bool = False, priority: Priority | None = None
    ) -> list[ExtraFieldConfig]:
        """``GET /orders/extra-fields``: every extra field configuration (all pages).

        Cached per client for :attr:`extra_field_cache_ttl` seconds, as the docs
        recommend; ``refresh=True`` bypasses the cache.
        """
        if not isinstance(refresh, bool):
            raise InvalidArgumentError("refresh must be a bool")
        now = time.monotonic()
        cached = self._extra_cache
        if not refresh and cached is not None and now - cached[0] < self.extra_field_cache_ttl:
            return list(cached[1])
        prio = optional_priority(priority)
        decoder = envelope_decoder(list[ExtraFieldConfig])
        limit = MAX_PAGE_SIZE

        async def fetch(index: int) -> Page[ExtraFieldConfig]:
            offset = index * limit
            env = await self._pipe.request(
                "b2b",
                "GET",
                "/orders/extra-fields",
                params=[("limit", str(limit)), ("offset", str(offset))],
                decoder=decoder,
                priority=prio,
            )
            return Page(list(env.data), _total(env), offset, limit)

        configs = await AsyncPaginator(
            fetch, page_size=limit, concurrency=1, description="GET /orders/extra-fields"
        ).to_list()
        self._extra_cache = (time.monotonic(), configs)
        return list(configs)

    async def reassign_customer_orders(
        self,
        customer_id: int,
        *,
        bc_group_id: int,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> int:
        """``PUT /customers/{customerId}/orders/company``: move a Company user's orders to
        the Company of customer group ``bc_group_id`` (legacy Dependent Companies only).

        Returns how many orders were moved (``data.total``).
        """
        cust = positive_id("customer_id", customer_id)
        group = positive_id("bc_group_id", bc_group_id)
        return await self._total_call(
            f"/customers/{cust}/orders/company", {"bcGroupId": group}, priority, deadline
        )

    async def assign_customer_orders(
        self, customer_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> int:
        """``PUT /customers/{customerId}/orders/b2b``: attach a buyer's earlier orders to
        their Company account. Returns how many orders were assigned (``data.total``)."""
        cust = positive_id("customer_id", customer_id)
        return await self._total_call(f"/customers/{cust}/orders/b2b", None, priority, deadline)

    # -- lists ---------------------------------------------------------------------------
    def list(
        self,
        *,
        company_id: int | None = None,
        bc_order_id: int | None = None,
        channel_ids: Sequence[int] | Literal["all"] | None = None,
        min_modified: Any = None,
        max_modified: Any = None,
        min_created: Any = None,
        max_created: Any = None,
        show_extra: bool = False,
        sort_by: str = "updatedAt",
        order_by: str = "DESC",
        page_size: int = 200,
        concurrency: int = 4,
        priority: Priority = "bulk",
    ) -> AsyncPaginator[Order]:
        """``GET /orders``: a paginator over orders (nothing is sent until you iterate).

        Timestamps are int Unix seconds or aware datetimes. ``channel_ids`` is sent as
        repeated ``channelIds[]``; ``channel_ids="all"`` looks up every enabled channel of
        the store first (one ``GET /channels``; channel 1 on a single-storefront store).
        Mind the API's defaults: without ``channel_ids`` only
        channel 1 is listed, and without any of the four date filters only orders created
        or updated in the last year are. Pass ``min_created=0`` (or any date filter) and
        your channels to see everything; :func:`bcb2b_async.export.export_orders` does
        that for you and stays exact while the store changes.

        >>> async for order in client.orders.list(company_id=12, show_extra=True): ...
        >>> async for page in client.orders.list().pages(): page.total
        >>> orders = await client.orders.list(min_created=0).to_list()
        """
        query = OrderQuery.build(
            company_id=company_id,
            bc_order_id=bc_order_id,
            channel_ids=channel_ids,
            min_modified=min_modified,
            max_modified=max_modified,
            min_created=min_created,
            max_created=max_created,
            show_extra=show_extra,
            sort_by=sort_by,
            order_by=order_by,
            page_size=page_size,
        )
        check_concurrency(concurrency)
        return self.paginate(query, concurrency=concurrency, priority=check_priority(priority))

    def paginate(
        self, query: OrderQuery, *, concurrency: int = 4, priority: Priority = "bulk"
    ) -> AsyncPaginator[Order]:
        """A paginator over an already-validated :class:`OrderQuery` (used by exports)."""
        size = query.page_size
        resolved: list[OrderQuery] = [] if query.all_channels else [query]

        async def fetch(index: int) -> Page[Order]:
            if not resolved:
                resolved.append(await self.resolve_channels(query, priority=priority))
            return await self.page(resolved[0], offset=index * size, priority=priority)

        async def prefetch(index: int) -> Callable[[], Page[Order]]:
            # Read now, decode at the page's turn (see AsyncPaginator). Pages after the
            # first: the channels are resolved by then.
            offset = index * size
            params = _list_params(resolved[0], offset, size)
            raw = await self._pipe.request("b2b", "GET", "/orders", params=params,
                                           priority=priority)

            def finish() -> Page[Order]:
                env = self._pipe.decode(raw, _ORDERS, api="b2b", method="GET",
                                        path="/orders", params=params)
                return _orders_page(env, offset, size)

            return finish

        return AsyncPaginator(
            fetch, page_size=size, concurrency=concurrency, description="GET /orders",
            prefetch=prefetch,
        )

    async def resolve_channels(
        self, query: OrderQuery, *, priority: Priority | None = "bulk"
    ) -> OrderQuery:
        """``query`` with ``channel_ids="all"`` replaced by the store's enabled channel ids."""
        if not query.all_channels:
            return query
        ids = await self._channels.enabled_ids(priority=priority)
        if not ids:
            # A store listing no enabled channel: the API's own default is channel 1.
            log.warning("GET /channels lists no enabled channel; listing channel 1's orders")
            ids = [DEFAULT_CHANNEL_ID]
        return query.with_channels(ids)

    async def page(
        self,
        query: OrderQuery,
        *,
        offset: int = 0,
        limit: int | None = None,
        priority: Priority | None = "bulk",
        deadline: Deadline = None,
    ) -> Page[Order]:
        """``GET /orders``: one page of an :class:`OrderQuery` at ``offset``.

        ``limit`` defaults to the query's page size. ``data`` missing or null in a 2xx is a
        :class:`~bcb2b_async.DecodeError` (retried like a body cut short), never an empty
        page: a walk never ends early on it.
        """
        if query.all_channels:
            raise InvalidArgumentError(
                "resolve channel_ids='all' first (B2BOrders.resolve_channels)"
            )
        size = query.page_size if limit is None else int_range("limit", limit, 1, MAX_PAGE_SIZE)
        int_range("offset", offset, 0)
        env = await self._pipe.request(
            "b2b", "GET", "/orders", params=_list_params(query, offset, size),
            decoder=_ORDERS, priority=priority, deadline=deadline,
        )
        return _orders_page(env, offset, size)

    # -- batches -----------------------------------------------------------------------
    async def get_many(
        self,
        bc_order_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
    ) -> BatchResult[Order]:
        """``get()`` for many orders: ``BatchResult[Order]`` keyed by bc_order_id."""
        return await _many(self.get, bc_order_ids, concurrency, fail_fast, progress, priority)

    async def products_many(
        self,
        bc_order_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
    ) -> BatchResult[builtins.list[OrderProduct]]:
        """``products()`` for many orders."""
        return await _many(self.products, bc_order_ids, concurrency, fail_fast, progress,
                           priority)

    async def update_many(
        self,
        updates: Mapping[int, OrderUpdate | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
    ) -> BatchResult[Order]:
        """``update()`` for many orders: ``{bc_order_id: OrderUpdate | {"po_number": ...,
        "extra_fields": [...]}}``. Every body is validated before any request; all
        problems are reported by id in one :class:`InvalidArgumentError`."""
        if not isinstance(updates, Mapping):
            raise InvalidArgumentError("updates must be a mapping of bc_order_id to update")
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        kwargs: dict[int, dict[str, Any]] = {}
        problems: list[str] = []
        for oid, upd in updates.items():
            try:
                positive_id("bc_order_id", oid)
                kw = _update_kwargs(upd)
                build_update_body(oid, kw["po_number"], kw["extra_fields"])
                kwargs[oid] = kw
            except InvalidArgumentError as err:
                problems.append(f"{oid!r}: {err.message}")
        if problems:
            raise invalid_items("updates", problems)
        return await run_batch(
            list(kwargs),
            lambda oid: self.update(oid, priority=prio, **kwargs[oid]),
            concurrency=conc, fail_fast=fail_fast, progress=progress,
        )

    async def iter_products(
        self,
        bc_order_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        priority: Priority = "bulk",
    ) -> AsyncIterator[tuple[int, builtins.list[OrderProduct] | BigCommerceError]]:
        """Stream ``(bc_order_id, products_or_error)`` as they complete.

        For id sets too large to hold: ``bc_order_ids`` is read lazily and memory stays
        bounded by ``concurrency``, plus a compact record of the ids seen (to report
        repeats; about one bit per id for runs of order ids). An invalid or repeated id
        yields an :class:`InvalidArgumentError` for that id instead of a request.
        """
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        seen = SeenIds()

        async def one(oid: Any) -> builtins.list[OrderProduct]:
            positive_id("bc_order_id", oid)
            if not seen.add(oid):
                raise InvalidArgumentError(f"bc_order_id {oid} appears twice")
            return await self.products(oid, priority=prio)

        # Closed explicitly: closing this generator must stop the workers now, not
        # whenever the garbage collector finalizes the inner one.
        async with contextlib.aclosing(stream_batch(bc_order_ids, one, concurrency=conc)) as items:
            async for item in items:
                yield item

    # -- helpers -------------------------------------------------------------------------
    async def _one_order(
        self,
        method: str,
        path: str,
        priority: Priority | None,
        deadline: Deadline,
        json: Any = None,
    ) -> Order:
        env = await self._pipe.request(
            "b2b",
            method,
            path,
            json=json,
            decoder=envelope_decoder(_ONE_ORDER_T),
            priority=priority,
            deadline=deadline,
        )
        data = env.data
        # The raw body is gone once decoded; for an error, show what was decoded instead.
        shown = (self._pipe.redact(msgspec.json.encode(env))
                 if isinstance(data, list) and len(data) != 1 else b"")
        order: Order = one(data, method=method, url=self._pipe.url("b2b", path), status=200,
                           body=shown)
        return order

    async def _total_call(
        self, path: str, body: Any, priority: Priority | None, deadline: Deadline
    ) -> int:
        env = await self._pipe.request(
            "b2b",
            "PUT",
            path,
            json=body,  # the assign endpoint declares no body: send none
            decoder=envelope_decoder(_TotalData),
            priority=priority,
            deadline=deadline,
        )
        total = env.data.total
        if total is None:
            raise DecodeError(
                "response has no data.total",
                method="PUT",
                url=self._pipe.url("b2b", path),
                status=200,
                body=self._pipe.redact(msgspec.json.encode(env)),
            )
        return int(total)


def build_update_body(
    bc_order_id: object, po_number: object, extra_fields: object
) -> tuple[int, dict[str, Any]]:
    """Validate the arguments of :meth:`B2BOrders.update` and build its JSON body."""
    oid = positive_id("bc_order_id", bc_order_id)
    po = check_po_number(po_number)
    fields = check_extra_fields(extra_fields)
    if po is None and fields is None:
        raise InvalidArgumentError(
            "update() needs po_number or extra_fields (the API requires at least one)"
        )
    body: dict[str, Any] = {}
    if po is not None:
        body["poNumber"] = po
    if fields is not None:
        body["extraFields"] = fields
    return oid, body


class _TotalData(msgspec.Struct):
    total: int | None = None


_ORDERS = envelope_decoder(list[Order])
# The ``data`` types of the per-order calls, built once (the decoders are cached by type).
_ONE_ORDER_T: Any = Order | list[Order]
_PRODUCTS_T: Any = list[OrderProduct]


def _total(env: Envelope[Any]) -> int | None:
    return env.meta.total if env.meta is not None else None


def _list_params(query: OrderQuery, offset: int, size: int) -> list[tuple[str, str]]:
    """The query string of one ``GET /orders`` page."""
    return [("limit", str(size)), ("offset", str(offset)), *query.params]


def _orders_page(env: Envelope[list[Order]], offset: int, size: int) -> Page[Order]:
    return Page(env.data, _total(env), offset, size)


async def _many(
    call: Callable[..., Awaitable[V]],
    bc_order_ids: object,
    concurrency: object,
    fail_fast: bool,
    progress: Progress | None,
    priority: object,
) -> BatchResult[V]:
    """``call(bc_order_id, priority=...)`` for every id, validated first, as a batch."""
    ids = _ids("bc_order_ids", bc_order_ids)
    conc = check_concurrency(concurrency)
    prio = check_priority(priority)
    return await run_batch(ids, lambda oid: call(oid, priority=prio), concurrency=conc,
                           fail_fast=fail_fast, progress=progress)


def _ids(name: str, ids: object) -> list[int]:
    return batch_ids(name, ids, lambda v: positive_id("bc_order_id", v))


def _update_kwargs(value: object) -> dict[str, Any]:
    if isinstance(value, OrderUpdate):
        return {"po_number": value.po_number, "extra_fields": value.extra_fields}
    if isinstance(value, Mapping):
        unknown = set(value) - {"po_number", "extra_fields"}
        if unknown:
            raise InvalidArgumentError(
                f"unknown update keys {sorted(map(str, unknown))}; expected po_number, "
                "extra_fields"
            )
        return {"po_number": value.get("po_number"), "extra_fields": value.get("extra_fields")}
    raise InvalidArgumentError(
        f"an update must be an OrderUpdate or a mapping, got {type(value).__name__}"
    )


class SeenIds:
    """The set of positive int ids seen so far, small for the usual runs of order ids.

    A plain ``set`` of a million ids takes tens of MB, which would defeat streaming.
    Ids are grouped in blocks of 4,096 consecutive values: a block holds one id as an
    int, a few as a set, and from 64 ids on a 512-byte bitmap. Consecutive ids cost
    about one bit each; scattered ids cost about what a set costs.
    """

    __slots__ = ("_blocks",)

    _SHIFT = 12
    _MASK = (1 << _SHIFT) - 1
    _SMALL = 64

    def __init__(self) -> None:
        self._blocks: dict[int, int | set[int] | bytearray] = {}

    def add(self, value: int) -> bool:
        """Record ``value``; return False if it had been recorded before."""
        key, low = value >> self._SHIFT, value & self._MASK
        block = self._blocks.get(key)
        if block is None:
            self._blocks[key] = low
            return True
        if isinstance(block, int):
            if block == low:
                return False
            self._blocks[key] = {block, low}
            return True
        if isinstance(block, set):
            if low in block:
                return False
            block.add(low)
            if len(block) >= self._SMALL:
                bits = bytearray((self._MASK + 1) >> 3)
                for v in block:
                    bits[v >> 3] |= 1 << (v & 7)
                self._blocks[key] = bits
            return True
        byte, bit = low >> 3, 1 << (low & 7)
        if block[byte] & bit:
            return False
        block[byte] |= bit
        return True

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return False
        block = self._blocks.get(value >> self._SHIFT)
        low = value & self._MASK
        if block is None:
            return False
        if isinstance(block, int):
            return block == low
        if isinstance(block, set):
            return low in block
        return bool(block[low >> 3] & (1 << (low & 7)))
