"""``client.v2.orders``: the V2 order endpoints that read and change an order.

Lists (products, shipping addresses, shipments) walk ``page``/``limit`` through the same
:class:`~bcb2b_async._pagination.AsyncPaginator` as the B2B lists; 204 means an empty
page. :meth:`V2Orders.apply_update` is the "update order" of the automation module this
library mirrors: status, notes, billing, and tracking → shipment, in one call, safe to
rerun.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, Never, TypeAlias, TypeVar

from .._batch import DEFAULT_CONCURRENCY, BatchResult, Progress, run_batch
from .._config import Priority
from .._decode import decoder_for
from .._pagination import AsyncPaginator
from .._pipeline import Deadline, Pipeline, resolve_deadline
from .._v2_validate import (
    billing_from_flat,
    build_order_update,
    shipment_items,
    shipment_options,
)
from .._validate import (
    choice,
    int_range,
    invalid_items,
    non_empty_string,
    optional_positive_id,
    optional_priority,
    positive_id,
    unix_seconds,
)
from .._validate import concurrency as check_concurrency
from .._validate import priority as check_priority
from ..errors import (
    APIConnectionError,
    APIStatusError,
    BigCommerceError,
    DecodeError,
    InvalidArgumentError,
    RateLimitError,
)
from ..models.common import Page
from ..models.v2_orders import (
    OrderStatus,
    OrderUpdateResult,
    Shipment,
    V2Order,
    V2OrderProduct,
    V2OrdersCount,
    V2ShippingAddress,
)

__all__ = ["UNSET", "V2", "MoneyInput", "Unset", "V2OrderQuery", "V2Orders"]

T = TypeVar("T")

class Unset(enum.Enum):
    """The type of :data:`UNSET`: "argument not given" where ``None`` is a real value."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Default of :meth:`V2Orders.update`'s fields: not sent. (``None`` is sent as JSON null
#: where the spec allows it: ``external_source``, ``external_order_id``.)
UNSET = Unset.UNSET

#: A money amount for a V2 write: a Decimal, an int, a float or a decimal string.
MoneyInput: TypeAlias = Decimal | str | int | float

#: Extra headers for a GET on which the V2 spec declares ``Content-Type`` required
#: (``GET /orders/{order_id}/products``); the pipeline adds it itself only with a body.
CONTENT_TYPE_JSON: Mapping[str, str] = {"Content-Type": "application/json"}

#: The V2 maximum page size.
V2_PAGE_SIZE = 250


#: ``sort=`` fields of ``GET /v2/orders`` (the spec's enum); ``:asc``/``:desc`` may follow.
V2_SORT_FIELDS = (
    "id", "customer_id", "date_created", "date_modified", "status_id", "channel_id",
    "external_id",
)
_SORT_DIRECTIONS = ("asc", "desc")
#: The include that embeds every consignment with its product lines, in the object
#: structure (the legacy array structure is the default without ``consignment_structure``).
_INCLUDE_LINES = (("include", "consignments.line_items"), ("consignment_structure", "object"))


class V2OrderQuery:
    """The validated filters of a V2 orders list or count, as query parameters.

    Build it with :meth:`build` (every argument checked, :class:`InvalidArgumentError`
    before anything is sent); :meth:`V2Orders.page` and :meth:`V2Orders.paginate` walk it,
    :meth:`V2Orders.count` counts it. ``filters`` holds what both endpoints take,
    ``list_params`` adds ``sort`` and the includes.
    """

    __slots__ = ("filters", "include_lines", "page_size", "sort")

    def __init__(
        self,
        filters: builtins.list[tuple[str, str]],
        *,
        sort: str | None,
        include_lines: bool,
        page_size: int,
    ) -> None:
        self.filters = filters
        self.sort = sort
        self.include_lines = include_lines
        self.page_size = page_size

    def __repr__(self) -> str:
        return (
            f"V2OrderQuery({self.filters!r}, sort={self.sort!r}, "
            f"include_lines={self.include_lines}, page_size={self.page_size})"
        )

    @property
    def list_params(self) -> builtins.list[tuple[str, str]]:
        """The query of ``GET /v2/orders`` without ``page``/``limit``."""
        params = list(self.filters)
        if self.sort is not None:
            params.append(("sort", self.sort))
        if self.include_lines:
            params.extend(_INCLUDE_LINES)
        return params

    @classmethod
    def build(
        cls,
        *,
        min_date_created: object = None,
        max_date_created: object = None,
        min_date_modified: object = None,
        max_date_modified: object = None,
        min_id: object = None,
        max_id: object = None,
        status_id: object = None,
        channel_id: object = None,
        customer_id: object = None,
        sort: object = None,
        include_lines: object = False,
        page_size: object = V2_PAGE_SIZE,
    ) -> V2OrderQuery:
        """Validate every filter and encode it (see :meth:`V2Orders.list` for the meaning)."""
        lo_id = optional_positive_id("min_id", min_id)
        hi_id = optional_positive_id("max_id", max_id)
        if lo_id is not None and hi_id is not None and lo_id > hi_id:
            raise InvalidArgumentError(f"min_id ({lo_id}) must not be above max_id ({hi_id})")
        dates: builtins.list[tuple[str, str]] = []
        for lo_name, lo_value, hi_name, hi_value in (
            ("min_date_created", min_date_created, "max_date_created", max_date_created),
            ("min_date_modified", min_date_modified, "max_date_modified", max_date_modified),
        ):
            lo = unix_seconds(lo_name, lo_value)
            hi = unix_seconds(hi_name, hi_value)
            if lo is not None and hi is not None and lo > hi:
                raise InvalidArgumentError(f"{lo_name} must not be after {hi_name}")
            for name, seconds in ((lo_name, lo), (hi_name, hi)):
                if seconds is not None:
                    # RFC 2822 in UTC ("Thu, 20 Apr 2017 15:32:00 +0000"), as documented.
                    dates.append((name, format_datetime(datetime.fromtimestamp(seconds, UTC))))
        status = None
        if status_id is not None:
            status = int_range("status_id", status_id, 0, max(OrderStatus))
        channel = optional_positive_id("channel_id", channel_id)
        customer = None
        if customer_id is not None:
            customer = int_range("customer_id", customer_id, 0)  # 0: guest orders
        sort_value = None if sort is None else _sort(sort)
        if not isinstance(include_lines, bool):
            raise InvalidArgumentError("include_lines must be a bool")
        size = int_range("page_size", page_size, 1, V2_PAGE_SIZE)

        filters: builtins.list[tuple[str, str]] = []
        if lo_id is not None:
            filters.append(("min_id", str(lo_id)))
        if hi_id is not None:
            filters.append(("max_id", str(hi_id)))
        filters.extend(dates)
        if status is not None:
            filters.append(("status_id", str(status)))
        if channel is not None:
            filters.append(("channel_id", str(channel)))
        if customer is not None:
            filters.append(("customer_id", str(customer)))
        return cls(filters, sort=sort_value, include_lines=include_lines, page_size=size)


def _sort(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"sort must be a str like 'date_created:asc', got {value!r}")
    field, sep, direction = value.partition(":")
    choice("sort field", field, V2_SORT_FIELDS)
    if sep:
        choice("sort direction", direction, _SORT_DIRECTIONS)
    return value


_ORDERS = decoder_for(list[V2Order] | None)


class V2:
    """The V2 API of the store: ``client.v2.orders``."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.orders = V2Orders(pipeline)


class V2Orders:
    """V2 orders of one store (``/stores/{store_hash}/v2/orders…``).

    Every method takes ``priority`` (``"interactive"`` or ``"bulk"``; default: the
    client's) and ``deadline`` (seconds from now or an aware datetime): nothing is sent,
    nor retried, after the deadline. For a method that makes several requests
    (``create_shipment`` with defaults, ``apply_update`` with tracking, the batches) the
    deadline covers all of them, counted from the call.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipe = pipeline

    async def get(
        self, order_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> V2Order:
        """``GET /orders/{order_id}``: the full V2 order."""
        oid = positive_id("order_id", order_id)
        result: V2Order = await self._pipe.request(
            "v2",
            "GET",
            f"/orders/{oid}",
            decoder=decoder_for(V2Order),
            priority=priority,
            deadline=deadline,
        )
        return result

    # -- the orders list -----------------------------------------------------------------
    def list(
        self,
        *,
        min_date_created: datetime | int | None = None,
        max_date_created: datetime | int | None = None,
        min_date_modified: datetime | int | None = None,
        max_date_modified: datetime | int | None = None,
        min_id: int | None = None,
        max_id: int | None = None,
        status_id: int | None = None,
        channel_id: int | None = None,
        customer_id: int | None = None,
        sort: str | None = None,
        include_lines: bool = False,
        page_size: int = V2_PAGE_SIZE,
        priority: Priority | None = "bulk",
        deadline: Deadline = None,
    ) -> AsyncPaginator[V2Order]:
        """``GET /v2/orders``: a paginator over every store order matching the filters
        (nothing is sent until you iterate). It holds B2C checkouts too; a B2B order's
        ``bcOrderId`` is its V2 ``id``.

        Dates are aware datetimes or int Unix seconds, sent as RFC 2822 in UTC; V2 dates
        are whole seconds, so a datetime is floored to its second (as in the B2B list).
        Whether the API includes the bounds themselves is not documented. ``status_id`` is
        0..14, ``channel_id`` one channel, ``customer_id`` 0 for guests. ``sort`` is a
        field of :data:`V2_SORT_FIELDS` with an optional ``:asc``/``:desc``
        (``"date_created:asc"``); the API's default is ``id`` ascending.

        With ``include_lines`` each order embeds its consignments and their product lines
        (``include=consignments.line_items&consignment_structure=object``): see
        :attr:`V2Order.line_items`, and check :attr:`V2Order.lines_complete` (a consignment
        of more than 50 lines is cut to 50; some orders come back with none).

        Pages are walked one after another (``page``/``limit``; the API gives no total)
        until a short or empty page, 204 included. ``deadline`` is counted from this call
        and covers the whole walk.

        >>> async for order in client.v2.orders.list(min_date_created=since, include_lines=True):
        ...     lines = order.line_items if order.lines_complete else (
        ...         await client.v2.orders.products(order.id))
        """
        query = V2OrderQuery.build(
            min_date_created=min_date_created,
            max_date_created=max_date_created,
            min_date_modified=min_date_modified,
            max_date_modified=max_date_modified,
            min_id=min_id,
            max_id=max_id,
            status_id=status_id,
            channel_id=channel_id,
            customer_id=customer_id,
            sort=sort,
            include_lines=include_lines,
            page_size=page_size,
        )
        return self.paginate(query, priority=priority, deadline=deadline)

    def paginate(
        self,
        query: V2OrderQuery,
        *,
        priority: Priority | None = "bulk",
        deadline: Deadline = None,
    ) -> AsyncPaginator[V2Order]:
        """A paginator over an already-built :class:`V2OrderQuery` (for exports)."""
        if not isinstance(query, V2OrderQuery):
            raise InvalidArgumentError("query must be a V2OrderQuery (V2OrderQuery.build())")
        prio = optional_priority(priority)
        until = resolve_deadline(deadline)
        size = query.page_size

        async def fetch(index: int) -> Page[V2Order]:
            items = await self.page(query, page=index + 1, priority=prio, deadline=until)
            return Page(items, None, index * size, size)

        return AsyncPaginator(fetch, page_size=size, concurrency=1, description="GET /orders")

    async def page(
        self,
        query: V2OrderQuery,
        *,
        page: int = 1,
        priority: Priority | None = "bulk",
        deadline: Deadline = None,
    ) -> builtins.list[V2Order]:
        """``GET /v2/orders``: page ``page`` (from 1) of ``query``, ``query.page_size``
        orders at most; ``[]`` past the end (204 or an empty list).

        An export walking time slices calls it directly:

        >>> q = V2OrderQuery.build(min_date_created=lo, max_date_created=hi,
        ...                        sort="date_created:asc", include_lines=True)
        >>> orders = await client.v2.orders.page(q, page=1)
        """
        if not isinstance(query, V2OrderQuery):
            raise InvalidArgumentError("query must be a V2OrderQuery (V2OrderQuery.build())")
        number = int_range("page", page, 1)
        items = await self._pipe.request(
            "v2",
            "GET",
            "/orders",
            params=[("page", str(number)), ("limit", str(query.page_size)),
                    *query.list_params],
            decoder=_ORDERS,
            priority=priority,
            deadline=deadline,
            allow_empty=True,
        )
        return list(items or [])

    async def count(
        self,
        *,
        min_date_created: datetime | int | None = None,
        max_date_created: datetime | int | None = None,
        min_date_modified: datetime | int | None = None,
        max_date_modified: datetime | int | None = None,
        min_id: int | None = None,
        max_id: int | None = None,
        status_id: int | None = None,
        channel_id: int | None = None,
        customer_id: int | None = None,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> int:
        """``GET /v2/orders/count``: how many orders match the filters (same meaning as
        in :meth:`list`). :meth:`count_query` counts a built :class:`V2OrderQuery`."""
        query = V2OrderQuery.build(
            min_date_created=min_date_created,
            max_date_created=max_date_created,
            min_date_modified=min_date_modified,
            max_date_modified=max_date_modified,
            min_id=min_id,
            max_id=max_id,
            status_id=status_id,
            channel_id=channel_id,
            customer_id=customer_id,
        )
        return await self.count_query(query, priority=priority, deadline=deadline)

    async def count_query(
        self,
        query: V2OrderQuery,
        *,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> int:
        """``GET /v2/orders/count`` for the filters of ``query`` (its sort, includes and
        page size do not apply)."""
        if not isinstance(query, V2OrderQuery):
            raise InvalidArgumentError("query must be a V2OrderQuery (V2OrderQuery.build())")
        result: V2OrdersCount = await self._pipe.request(
            "v2",
            "GET",
            "/orders/count",
            params=list(query.filters),
            decoder=decoder_for(V2OrdersCount),
            priority=priority,
            deadline=deadline,
        )
        return result.total

    # -- one order -------------------------------------------------------------------------
    async def update(
        self,
        order_id: int,
        *,
        status_id: int | Unset = UNSET,
        staff_notes: str | Unset = UNSET,
        customer_message: str | Unset = UNSET,
        billing_address: Mapping[str, Any] | Unset = UNSET,
        shipping_addresses: Sequence[Mapping[str, Any]] | Unset = UNSET,
        products: Sequence[Mapping[str, Any]] | Unset = UNSET,
        fees: Sequence[Mapping[str, Any]] | Unset = UNSET,
        consignments: Mapping[str, Any] | Unset = UNSET,
        subtotal_ex_tax: MoneyInput | Unset = UNSET,
        subtotal_inc_tax: MoneyInput | Unset = UNSET,
        total_ex_tax: MoneyInput | Unset = UNSET,
        total_inc_tax: MoneyInput | Unset = UNSET,
        base_shipping_cost: MoneyInput | Unset = UNSET,
        shipping_cost_ex_tax: MoneyInput | Unset = UNSET,
        shipping_cost_inc_tax: MoneyInput | Unset = UNSET,
        base_handling_cost: MoneyInput | Unset = UNSET,
        handling_cost_ex_tax: MoneyInput | Unset = UNSET,
        handling_cost_inc_tax: MoneyInput | Unset = UNSET,
        base_wrapping_cost: MoneyInput | Unset = UNSET,
        wrapping_cost_ex_tax: MoneyInput | Unset = UNSET,
        wrapping_cost_inc_tax: MoneyInput | Unset = UNSET,
        discount_amount: MoneyInput | Unset = UNSET,
        refunded_amount: MoneyInput | Unset = UNSET,
        customer_id: int | Unset = UNSET,
        channel_id: int | Unset = UNSET,
        customer_locale: str | Unset = UNSET,
        date_created: str | Unset = UNSET,
        is_deleted: bool | Unset = UNSET,
        order_is_digital: bool | Unset = UNSET,
        items_total: int | Unset = UNSET,
        items_shipped: int | Unset = UNSET,
        payment_method: str | Unset = UNSET,
        payment_provider_id: str | int | float | Unset = UNSET,
        ip_address: str | Unset = UNSET,
        ip_address_v6: str | Unset = UNSET,
        geoip_country: str | Unset = UNSET,
        geoip_country_iso2: str | Unset = UNSET,
        order_source: str | Unset = UNSET,
        ebay_order_id: str | Unset = UNSET,
        external_source: str | Unset | None = UNSET,
        external_order_id: str | Unset | None = UNSET,
        priority: Priority | None = None,
        deadline: Deadline = None,
        **unknown: Never,
    ) -> V2Order:
        """``PUT /orders/{order_id}``: change writable fields of an order.

        The keyword arguments are the writable fields of the spec's PUT body
        (``order_Put``); only the ones given are sent. ``billing_address`` is partial;
        ``products``: no ``id`` adds a line, with ``id`` updates it, ``quantity=0`` removes
        it; the cost overrides come in ex/inc-tax pairs (``subtotal_*``, ``total_*``,
        ``shipping_cost_*``); ``fees`` replaces the order's fees; ``external_source`` and
        ``external_order_id`` may be ``None`` (sent as null, clearing them). Money is a
        :class:`~decimal.Decimal`, an int, a float or a decimal string, never negative.

        A misspelt or read-only name (``stauts_id``, ``external_id``) is a type error for
        mypy (``**unknown`` is typed ``Never``) and raises :class:`InvalidArgumentError`
        (with a "did you mean" hint) at run time; every value is checked before anything
        is sent.

        >>> await client.v2.orders.update(101, status_id=11, staff_notes="Packed")
        >>> await client.v2.orders.update(101, products=[{"id": 5, "quantity": 0}])
        """
        oid = positive_id("order_id", order_id)
        given: dict[str, object] = {
            "status_id": status_id,
            "staff_notes": staff_notes,
            "customer_message": customer_message,
            "billing_address": billing_address,
            "shipping_addresses": shipping_addresses,
            "products": products,
            "fees": fees,
            "consignments": consignments,
            "subtotal_ex_tax": subtotal_ex_tax,
            "subtotal_inc_tax": subtotal_inc_tax,
            "total_ex_tax": total_ex_tax,
            "total_inc_tax": total_inc_tax,
            "base_shipping_cost": base_shipping_cost,
            "shipping_cost_ex_tax": shipping_cost_ex_tax,
            "shipping_cost_inc_tax": shipping_cost_inc_tax,
            "base_handling_cost": base_handling_cost,
            "handling_cost_ex_tax": handling_cost_ex_tax,
            "handling_cost_inc_tax": handling_cost_inc_tax,
            "base_wrapping_cost": base_wrapping_cost,
            "wrapping_cost_ex_tax": wrapping_cost_ex_tax,
            "wrapping_cost_inc_tax": wrapping_cost_inc_tax,
            "discount_amount": discount_amount,
            "refunded_amount": refunded_amount,
            "customer_id": customer_id,
            "channel_id": channel_id,
            "customer_locale": customer_locale,
            "date_created": date_created,
            "is_deleted": is_deleted,
            "order_is_digital": order_is_digital,
            "items_total": items_total,
            "items_shipped": items_shipped,
            "payment_method": payment_method,
            "payment_provider_id": payment_provider_id,
            "ip_address": ip_address,
            "ip_address_v6": ip_address_v6,
            "geoip_country": geoip_country,
            "geoip_country_iso2": geoip_country_iso2,
            "order_source": order_source,
            "ebay_order_id": ebay_order_id,
            "external_source": external_source,
            "external_order_id": external_order_id,
        }
        fields = {key: value for key, value in given.items() if value is not UNSET}
        # Names outside the signature reach build_order_update, which refuses them with
        # the reason (read-only) or a "did you mean" hint.
        fields.update(unknown)
        body = build_order_update(fields)
        result: V2Order = await self._pipe.request(
            "v2", "PUT", f"/orders/{oid}", json=body, decoder=decoder_for(V2Order),
            priority=priority, deadline=deadline,
        )
        return result

    async def products(
        self, order_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> builtins.list[V2OrderProduct]:
        """``GET /orders/{order_id}/products``: every product line (all pages)."""
        oid = positive_id("order_id", order_id)
        # The spec declares Content-Type required on this GET (and only this one).
        return await self._list(
            f"/orders/{oid}/products", V2OrderProduct, priority, deadline,
            headers=CONTENT_TYPE_JSON,
        )

    async def shipping_addresses(
        self, order_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> builtins.list[V2ShippingAddress]:
        """``GET /orders/{order_id}/shipping_addresses``: every shipping address."""
        oid = positive_id("order_id", order_id)
        return await self._list(
            f"/orders/{oid}/shipping_addresses", V2ShippingAddress, priority, deadline
        )

    async def shipments(
        self, order_id: int, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> builtins.list[Shipment]:
        """``GET /orders/{order_id}/shipments``: every shipment (empty list on 204)."""
        oid = positive_id("order_id", order_id)
        return await self._list(f"/orders/{oid}/shipments", Shipment, priority, deadline)

    async def create_shipment(
        self,
        order_id: int,
        *,
        order_address_id: int | None = None,
        items: builtins.list[Mapping[str, int]] | None = None,
        tracking_number: str | None = None,
        shipping_provider: str | None = None,
        tracking_carrier: str | None = None,
        shipping_method: str | None = None,
        comments: str | None = None,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> Shipment:
        """``POST /orders/{order_id}/shipments``.

        Defaults: the order's first shipping address, and every product of that address
        with its not-yet-shipped quantity (read with up to two GETs first, under the same
        ``deadline``). Nothing left to ship raises :class:`InvalidArgumentError`. Being a
        POST, a failed attempt is retried only when it certainly did not reach the server
        or was refused with 429.
        """
        oid = positive_id("order_id", order_id)
        # Everything given is checked before any request; what is not given is read first.
        options = shipment_options(
            tracking_number=tracking_number,
            shipping_provider=shipping_provider,
            tracking_carrier=tracking_carrier,
            shipping_method=shipping_method,
            comments=comments,
        )
        if order_address_id is not None:
            order_address_id = positive_id("order_address_id", order_address_id)
        lines = shipment_items(items) if items is not None else None
        prio = optional_priority(priority)
        until = resolve_deadline(deadline)
        if order_address_id is None:
            addresses = await self.shipping_addresses(oid, priority=prio, deadline=until)
            if not addresses or addresses[0].id is None:
                raise InvalidArgumentError(
                    f"create_shipment(): order {oid} has no shipping address to ship to"
                )
            order_address_id = int(addresses[0].id)
        if lines is None:
            products = await self.products(oid, priority=prio, deadline=until)
            left = unshipped_items(products, order_address_id)
            if not left:
                raise InvalidArgumentError(
                    f"create_shipment(): nothing left to ship on order {oid} "
                    f"(address {order_address_id})"
                )
            lines = shipment_items(left)
        body = {"order_address_id": order_address_id, "items": lines, **options}
        result: Shipment = await self._pipe.request(
            "v2",
            "POST",
            f"/orders/{oid}/shipments",
            json=body,
            decoder=decoder_for(Shipment),
            priority=prio,
            deadline=until,
        )
        return result

    async def apply_update(
        self,
        order_id: int,
        *,
        status_id: int | None = None,
        staff_notes: str | None = None,
        customer_message: str | None = None,
        billing: Mapping[str, Any] | None = None,
        tracking_number: str | None = None,
        shipping_provider: str | None = None,
        tracking_carrier: str | None = None,
        priority: Priority | None = None,
        deadline: Deadline = None,
    ) -> OrderUpdateResult:
        """Status, notes, billing address and tracking in one call.

        With ``tracking_number`` a shipment of every not-yet-shipped product of the order's
        first shipping address is created **before** the status changes (changing the
        status to Shipped first would email the customer without tracking). Safe to rerun:
        a shipment with the same tracking number already on the order is reused, never
        duplicated. ``billing`` takes the flat names (``first_name``, ``street``,
        ``street2``, ``zip``, ...) or the V2 billing address names.

        ``fields_updated`` lists what changed, e.g. ``["status_id", "staff_notes",
        "shipment_created"]``. ``deadline`` covers every request of the call.
        """
        oid, body = build_apply_update(
            order_id,
            status_id=status_id,
            staff_notes=staff_notes,
            customer_message=customer_message,
            billing=billing,
            tracking_number=tracking_number,
            shipping_provider=shipping_provider,
            tracking_carrier=tracking_carrier,
        )
        prio = optional_priority(priority)
        until = resolve_deadline(deadline)
        fields_updated: list[str] = []
        shipment: Shipment | None = None
        if tracking_number is not None:
            shipment, created = await self._ensure_shipment(
                oid, tracking_number, shipping_provider, tracking_carrier, prio, until
            )
            if created:
                fields_updated.append("shipment_created")
        order: V2Order
        if body:
            order = await self._pipe.request(
                "v2", "PUT", f"/orders/{oid}", json=body, decoder=decoder_for(V2Order),
                priority=prio, deadline=until,
            )
            fields_updated = [*body.keys(), *fields_updated]
        else:
            order = await self.get(oid, priority=prio, deadline=until)
        status_name = order.status
        if status_name is None and order.status_id is not None:
            status_name = _status_label(int(order.status_id))
        return OrderUpdateResult(
            order_id=oid,
            status_id=int(order.status_id) if order.status_id is not None else None,
            status=status_name,
            fields_updated=fields_updated,
            shipment=shipment,
            order=order,
            message=f"Order {oid} updated successfully",
        )

    async def apply_update_many(
        self,
        updates: Mapping[int, Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
        deadline: Deadline = None,
    ) -> BatchResult[OrderUpdateResult]:
        """:meth:`apply_update` for many orders: ``{order_id: {"status_id": 2, ...}}``.

        Every item is validated before any request (all problems reported by id in one
        :class:`InvalidArgumentError`); one failed item never stops the others.
        ``deadline`` is one for the whole batch: an item not done by then fails with
        :class:`~bcb2b_async.DeadlineExceededError` (nothing of it sent after the deadline).
        """
        if not isinstance(updates, Mapping):
            raise InvalidArgumentError("updates must be a mapping of order_id to keywords")
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        until = resolve_deadline(deadline)
        allowed = {
            "status_id", "staff_notes", "customer_message", "billing", "tracking_number",
            "shipping_provider", "tracking_carrier",
        }
        problems: list[str] = []
        for oid, kw in updates.items():
            try:
                if not isinstance(kw, Mapping):
                    raise InvalidArgumentError("must be a mapping of apply_update() keywords")
                unknown = set(kw) - allowed
                if unknown:
                    raise InvalidArgumentError(f"unknown keywords {sorted(map(str, unknown))}")
                build_apply_update(oid, **kw)
            except InvalidArgumentError as err:
                problems.append(f"{oid!r}: {err.message}")
        if problems:
            raise invalid_items("updates", problems)
        return await run_batch(
            list(updates),
            lambda oid: self.apply_update(oid, priority=prio, deadline=until, **updates[oid]),
            concurrency=conc, fail_fast=fail_fast, progress=progress,
        )

    async def _ensure_shipment(
        self,
        oid: int,
        tracking_number: str,
        shipping_provider: str | None,
        tracking_carrier: str | None,
        prio: Priority | None,
        until: float | None,
    ) -> tuple[Shipment, bool]:
        """The shipment with ``tracking_number``: an existing one, or a new one."""
        existing = await self._find_shipment(oid, tracking_number, prio, until)
        if existing is not None:
            return existing, False
        addresses = await self.shipping_addresses(oid, priority=prio, deadline=until)
        if not addresses or addresses[0].id is None:
            raise InvalidArgumentError(
                f"apply_update(): tracking_number given but order {oid} has no shipping "
                "address, so no shipment can be created; nothing was changed"
            )
        try:
            shipment = await self.create_shipment(
                oid,
                order_address_id=int(addresses[0].id),
                tracking_number=tracking_number,
                shipping_provider=shipping_provider,
                tracking_carrier=tracking_carrier,
                priority=prio,
                deadline=until,
            )
        except (APIConnectionError, DecodeError, APIStatusError) as err:
            if not _ambiguous(err):
                raise
            # The POST may have been applied: look before anyone creates another.
            try:
                found = await self._find_shipment(oid, tracking_number, prio, until)
            except BigCommerceError as check_err:
                # The POST's outcome stays unknown: that is what the caller must learn, not
                # that the look-up failed too (kept as a note). Its own cause is kept.
                err.add_note(f"checking whether the shipment was created anyway failed: "
                             f"{check_err}")
                raise err from err.__cause__
            if found is not None:
                return found, True
            raise
        return shipment, True

    async def _find_shipment(
        self, oid: int, tracking_number: str, prio: Priority | None, until: float | None
    ) -> Shipment | None:
        for shipment in await self.shipments(oid, priority=prio, deadline=until):
            if shipment.tracking_number == tracking_number:
                return shipment
        return None

    async def _list(
        self,
        path: str,
        item_type: type[T],
        priority: Priority | None,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> builtins.list[T]:
        pipe = self._pipe
        decoder = decoder_for(list[item_type] | None)  # type: ignore[valid-type]
        prio = optional_priority(priority)
        until = resolve_deadline(deadline)

        async def fetch(index: int) -> Page[T]:
            params = [("page", str(index + 1)), ("limit", str(V2_PAGE_SIZE))]
            items = await pipe.request(
                "v2", "GET", path, params=params, decoder=decoder, priority=prio,
                deadline=until, allow_empty=True, headers=headers,
            )
            return Page(list(items or []), None, index * V2_PAGE_SIZE, V2_PAGE_SIZE)

        return await AsyncPaginator(
            fetch, page_size=V2_PAGE_SIZE, concurrency=1, description=f"GET {path}"
        ).to_list()


def unshipped_items(products: list[V2OrderProduct], order_address_id: int) -> list[dict[str, int]]:
    """``[{order_product_id, quantity}]`` of what is left to ship to one address."""
    items: list[dict[str, int]] = []
    for p in products:
        if p.id is None or p.order_address_id is None:
            continue
        if int(p.order_address_id) != order_address_id:
            continue
        left = int(p.quantity or 0) - int(p.quantity_shipped or 0) - int(
            getattr(p, "quantity_refunded", 0) or 0
        )
        if left > 0:
            items.append({"order_product_id": int(p.id), "quantity": left})
    return items


def build_apply_update(
    order_id: object,
    *,
    status_id: object = None,
    staff_notes: object = None,
    customer_message: object = None,
    billing: object = None,
    tracking_number: object = None,
    shipping_provider: object = None,
    tracking_carrier: object = None,
) -> tuple[int, dict[str, Any]]:
    """Validate :meth:`V2Orders.apply_update`'s arguments; return the order id and PUT body."""
    oid = positive_id("order_id", order_id)
    fields: dict[str, object] = {}
    if status_id is not None:
        fields["status_id"] = status_id
    if staff_notes is not None:
        fields["staff_notes"] = staff_notes
    if customer_message is not None:
        fields["customer_message"] = customer_message
    if billing is not None:
        if not isinstance(billing, Mapping):
            raise InvalidArgumentError("billing must be a mapping of billing address fields")
        flat = billing_from_flat(billing)
        if flat:
            fields["billing_address"] = flat
    if tracking_number is None and (shipping_provider is not None or tracking_carrier is not None):
        raise InvalidArgumentError(
            "shipping_provider and tracking_carrier need tracking_number (they describe the "
            "shipment it creates)"
        )
    if tracking_number is not None:
        # The fields of the shipment it may create, checked before any request.
        shipment_options(
            tracking_number=tracking_number,
            shipping_provider=shipping_provider,
            tracking_carrier=tracking_carrier,
        )
        non_empty_string("tracking_number", tracking_number)
    if not fields and tracking_number is None:
        raise InvalidArgumentError(
            "apply_update(): nothing to update (give status_id, staff_notes, "
            "customer_message, billing or tracking_number)"
        )
    body = build_order_update(fields) if fields else {}
    return oid, body


def _ambiguous(err: Exception) -> bool:
    """Could a failed POST have been applied by the server anyway?"""
    if isinstance(err, RateLimitError):
        return False
    if isinstance(err, APIConnectionError):
        return err.sent
    if isinstance(err, DecodeError):
        return True
    if isinstance(err, APIStatusError):
        return err.status >= 500
    return False


def _status_label(status_id: int) -> str | None:
    try:
        return OrderStatus(status_id).label
    except ValueError:
        return None


