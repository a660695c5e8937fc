"""``client.orders``: the B2B Edition Orders endpoints (``/api/v3/io/orders…``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._config import Priority
from .._decode import envelope_decoder, one
from .._pagination import AsyncPaginator
from .._validate import (
    channel_ids as check_channel_ids,
)
from .._validate import (
    choice,
    int_range,
    optional_positive_id,
    positive_id,
    unix_seconds,
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
from ..errors import DecodeError, InvalidArgumentError
from ..models.b2b_orders import ExtraField, ExtraFieldConfig, Order, OrderProduct
from ..models.common import Envelope, Page
from ._b2b_batch import B2BOrdersBatch

if TYPE_CHECKING:
    from .._client import B2BClient, Deadline

__all__ = ["B2BOrders", "OrderQuery"]

MAX_PAGE_SIZE = 200
SORT_FIELDS = ("createdAt", "updatedAt")
ORDER_DIRECTIONS = ("ASC", "DESC")


class _Total(Envelope[Any]):
    pass


class OrderQuery:
    """The validated filters of an orders list, as the query parameters the spec defines."""

    __slots__ = ("page_size", "params")

    def __init__(self, params: list[tuple[str, str]], page_size: int) -> None:
        self.params = params
        self.page_size = page_size

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
        channels = check_channel_ids(channel_ids)
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
        return cls(params, size)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class B2BOrders(B2BOrdersBatch):
    """B2B Edition orders of one store: ``client.orders``.

    Identify orders by their **BigCommerce** order id (``bc_order_id``), not the B2B
    Edition ``id`` some responses also carry.
    """

    def __init__(self, client: B2BClient) -> None:
        self._client = client
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
        env = await self._client.request(
            "b2b",
            "GET",
            f"/orders/{oid}/products",
            decoder=envelope_decoder(list[OrderProduct] | None),
            priority=_prio(priority),
            deadline=_deadline(deadline),
        )
        return list(env.data or [])

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
        prio = _prio(priority)
        decoder = envelope_decoder(list[ExtraFieldConfig] | None)
        limit = MAX_PAGE_SIZE

        async def fetch(index: int) -> Page[ExtraFieldConfig]:
            offset = index * limit
            env = await self._client.request(
                "b2b",
                "GET",
                "/orders/extra-fields",
                params=[("limit", str(limit)), ("offset", str(offset))],
                decoder=decoder,
                priority=prio,
            )
            return Page(list(env.data or []), _total(env), offset, limit)

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
        channel_ids: Sequence[int] | None = None,
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
        repeated ``channelIds[]``. Mind the API's defaults: without ``channel_ids`` only
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
        int_range("concurrency", concurrency, 1, 64)
        return self.paginate(query, concurrency=concurrency, priority=check_priority(priority))

    def paginate(
        self, query: OrderQuery, *, concurrency: int = 4, priority: Priority = "bulk"
    ) -> AsyncPaginator[Order]:
        """A paginator over an already-validated :class:`OrderQuery` (used by exports)."""
        client = self._client
        decoder = envelope_decoder(list[Order] | None)
        size = query.page_size
        base = query.params

        async def fetch(index: int) -> Page[Order]:
            offset = index * size
            params = [("limit", str(size)), ("offset", str(offset)), *base]
            env = await client.request(
                "b2b", "GET", "/orders", params=params, decoder=decoder, priority=priority
            )
            return Page(list(env.data or []), _total(env), offset, size)

        return AsyncPaginator(
            fetch, page_size=size, concurrency=concurrency, description="GET /orders"
        )

    # -- helpers -------------------------------------------------------------------------
    async def _one_order(
        self,
        method: str,
        path: str,
        priority: Priority | None,
        deadline: Deadline,
        json: Any = None,
    ) -> Order:
        client = self._client
        env = await client.request(
            "b2b",
            method,
            path,
            json=json,
            decoder=envelope_decoder(Order | list[Order]),
            priority=_prio(priority),
            deadline=_deadline(deadline),
        )
        data = env.data
        # The raw body is gone once decoded; for an error, show what was decoded instead.
        shown = msgspec.json.encode(env) if isinstance(data, list) and len(data) != 1 else b""
        order: Order = one(data, method=method, url=client._url("b2b", path), status=200,
                           body=shown)
        return order

    async def _total_call(
        self, path: str, body: Any, priority: Priority | None, deadline: Deadline
    ) -> int:
        env = await self._client.request(
            "b2b",
            "PUT",
            path,
            json=body,  # the assign endpoint declares no body: send none
            decoder=envelope_decoder(_TotalData),
            priority=_prio(priority),
            deadline=_deadline(deadline),
        )
        total = env.data.total
        if total is None:
            raise DecodeError(
                "response has no data.total",
                method="PUT",
                url=self._client._url("b2b", path),
                status=200,
                body=msgspec.json.encode(env),
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


import msgspec  # noqa: E402


class _TotalData(msgspec.Struct):
    total: int | None = None


def _total(env: Envelope[Any]) -> int | None:
    return env.meta.total if env.meta is not None else None


def _prio(priority: Priority | None) -> Priority | None:
    return None if priority is None else check_priority(priority)


def _deadline(deadline: Deadline) -> float | None:
    if deadline is None:
        return None
    from .._client import resolve_deadline

    return resolve_deadline(deadline)
