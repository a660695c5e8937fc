"""Typed views of the V2 Orders API: orders, order products, shipping addresses, shipments.

The attribute names are the API's own snake_case names, so no ``rename`` is needed. Every
field has a default, so a response that leaves one out still decodes, and fields this module
does not know are ignored (msgspec's default), so a new field on the server breaks nothing.

Money
    V2 documents money as decimal strings (``"12.5000"``) and notes "(Float, Float-As-String,
    Integer)": some endpoints and older stores send JSON numbers instead. Money fields are
    therefore typed :data:`Money` (``str | float | int``), a plain union that msgspec decodes
    without any ``dec_hook``, so a decoder built anywhere needs no extra setup. The value is
    kept as sent (no reformatting on the hot decode path); :func:`to_decimal` turns any of
    the three forms into an exact :class:`~decimal.Decimal`.

Loose numbers and ids
    Fields the spec types ``number`` (counts such as ``items_total``, ``customer_id``) are
    :data:`Number` (``int | float``), because msgspec refuses ``11.0`` for ``int``. Ids that
    the spec or the examples give as either strings or numbers (``payment_provider_id``,
    ``ebay_order_id``, ``external_id``, ``cart_id``) accept both.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, TypeAlias

import msgspec

__all__ = [
    "SHIPPING_PROVIDERS",
    "Money",
    "Number",
    "OrderStatus",
    "OrderUpdateResult",
    "Shipment",
    "ShipmentItem",
    "V2Address",
    "V2AppliedDiscount",
    "V2BillingAddress",
    "V2ConfigurableField",
    "V2ConsignmentWarning",
    "V2Consignments",
    "V2DigitalConsignment",
    "V2EmailConsignments",
    "V2FormField",
    "V2GiftCertificateConsignment",
    "V2Order",
    "V2OrderFee",
    "V2OrderProduct",
    "V2OrderProductOption",
    "V2OrderStatusCount",
    "V2OrdersCount",
    "V2PickupConsignment",
    "V2PickupLocation",
    "V2ResourceRef",
    "V2ShippingAddress",
    "V2ShippingConsignment",
    "parse_rfc2822",
    "to_decimal",
]

#: A V2 money value as sent: a decimal string (documented) or a JSON number (also seen).
Money: TypeAlias = str | float | int

#: A value the spec types ``number``: normally an integer, tolerated as a float.
Number: TypeAlias = int | float

#: The ``shipping_provider`` values the spec enumerates for POST/PUT shipments
#: (``shipping_provider_standard``). The empty string is part of the enum. Third-party
#: carriers use ``carrier_{id}`` (``shipping_provider_custom``), which no set can list.
SHIPPING_PROVIDERS: frozenset[str] = frozenset(
    {
        "auspost",
        "canadapost",
        "endicia",
        "usps",
        "fedex",
        "ups",
        "upsready",
        "upsonline",
        "shipperhq",
        "royalmail",
        "",
    }
)


def to_decimal(value: Money | Decimal | None) -> Decimal | None:
    """Return ``value`` (a money string, int, float or Decimal) as an exact Decimal.

    ``None``, the empty string, bools and anything that is not a finite number give ``None``,
    so ``to_decimal(order.total_inc_tax)`` never raises. Floats go through ``repr`` so
    ``12.3`` becomes ``Decimal("12.3")``, not the binary expansion.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def parse_rfc2822(value: str | None) -> datetime | None:
    """Parse a V2 date (RFC 2822, ``"Tue, 05 Mar 2019 21:40:11 +0000"``) to an aware datetime.

    V2 sends ``""`` for dates that are not set (``date_shipped`` of an unshipped order);
    that, ``None`` and unparsable text give ``None``. A date without a zone (``-0000``) is
    taken as UTC, which is what V2 documents for its responses.
    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class OrderStatus(enum.IntEnum):
    """The 15 built-in V2 order statuses (``status_id``), as listed by ``GET /order_statuses``.

    Stores can rename a status in the control panel (``custom_status`` on an order); the ids
    and the system labels below do not change.
    """

    INCOMPLETE = 0
    PENDING = 1
    SHIPPED = 2
    PARTIALLY_SHIPPED = 3
    REFUNDED = 4
    CANCELLED = 5
    DECLINED = 6
    AWAITING_PAYMENT = 7
    AWAITING_PICKUP = 8
    AWAITING_SHIPMENT = 9
    COMPLETED = 10
    AWAITING_FULFILLMENT = 11
    MANUAL_VERIFICATION_REQUIRED = 12
    DISPUTED = 13
    PARTIALLY_REFUNDED = 14

    @property
    def label(self) -> str:
        """The system display name, e.g. ``"Partially Shipped"`` (the API's ``status``)."""
        return self.name.replace("_", " ").title()


class V2ResourceRef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A link to a sub-resource (``{"url": ..., "resource": "/orders/1/products"}``)."""

    url: str | None = None
    resource: str | None = None


class V2FormField(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A custom address form field; ``value`` is a string, a number or a list (``formFields``)."""

    name: str | None = None
    value: str | int | float | list[Any] | None = None


class V2Address(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The address fields shared by billing and shipping addresses (``*Address_Base``)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    street_1: str | None = None
    street_2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_iso2: str | None = None
    phone: str | None = None
    email: str | None = None


class V2BillingAddress(V2Address, kw_only=True, omit_defaults=True):
    """An order's billing address (``billingAddress_Resp``)."""

    form_fields: list[V2FormField] = msgspec.field(default_factory=list)


class V2OrderFee(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An order fee (``orderFees_Resp``), present when the order is fetched with its fees."""

    id: int | None = None
    type: str | None = None
    display_name_customer: str | None = None
    display_name_merchant: str | None = None
    source: str | None = None
    base_cost: Money | None = None
    cost_ex_tax: Money | None = None
    cost_inc_tax: Money | None = None
    cost_tax: Money | None = None
    tax_class_id: int | None = None


class V2Order(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An order as returned by ``GET``/``PUT /v2/orders/{id}`` and as an item of
    ``GET /v2/orders`` (``order_Resp``).

    ``products``, ``shipping_addresses`` and ``coupons`` are links, not the lists: fetch
    them from their own endpoints. ``fees`` is a link or, with ``include=fees``, the list.
    ``consignments`` is a :class:`V2Consignments`: only its ``url``/``resource`` link by
    default, the expanded consignments with ``include=consignments`` (and their product
    lines with ``include=consignments.line_items``) and ``consignment_structure=object``;
    the legacy array structure (without ``consignment_structure``) is kept as a list.
    Dates are RFC 2822 text (``date_created_dt`` and friends parse them).
    """

    # Identity and dates.
    id: int | None = None
    customer_id: Number | None = None
    date_created: str | None = None
    date_modified: str | None = None
    date_shipped: str | None = None
    cart_id: str | int | None = None
    channel_id: int | None = None

    # Status.
    status_id: int | None = None
    status: str | None = None
    custom_status: str | None = None
    is_deleted: bool | None = None

    # Money: subtotal, shipping, handling, wrapping, totals.
    subtotal_ex_tax: Money | None = None
    subtotal_inc_tax: Money | None = None
    subtotal_tax: Money | None = None
    base_shipping_cost: Money | None = None
    shipping_cost_ex_tax: Money | None = None
    shipping_cost_inc_tax: Money | None = None
    shipping_cost_tax: Money | None = None
    shipping_cost_tax_class_id: int | None = None
    base_handling_cost: Money | None = None
    handling_cost_ex_tax: Money | None = None
    handling_cost_inc_tax: Money | None = None
    handling_cost_tax: Money | None = None
    handling_cost_tax_class_id: int | None = None
    base_wrapping_cost: Money | None = None
    wrapping_cost_ex_tax: Money | None = None
    wrapping_cost_inc_tax: Money | None = None
    wrapping_cost_tax: Money | None = None
    wrapping_cost_tax_class_id: int | None = None
    total_ex_tax: Money | None = None
    total_inc_tax: Money | None = None
    total_tax: Money | None = None
    is_tax_inclusive_pricing: bool | None = None
    discount_amount: Money | None = None
    coupon_discount: Money | None = None
    refunded_amount: Money | None = None
    store_credit_amount: Money | None = None
    gift_certificate_amount: Money | None = None

    # Items.
    items_total: Number | None = None
    items_shipped: Number | None = None
    order_is_digital: bool | None = None
    shipping_address_count: Number | None = None

    # Payment.
    payment_method: str | None = None
    payment_provider_id: str | int | float | None = None
    payment_status: str | None = None
    # null in one spec example, {} in the other: kept as sent.
    credit_card_type: str | dict[str, Any] | None = None

    # Currency.
    currency_id: int | None = None
    currency_code: str | None = None
    currency_exchange_rate: Money | None = None
    default_currency_id: int | None = None
    default_currency_code: str | None = None
    store_default_currency_code: str | None = None
    store_default_to_transactional_exchange_rate: Money | None = None

    # Notes and customer.
    staff_notes: str | None = None
    customer_message: str | None = None
    customer_locale: str | None = None
    is_email_opt_in: bool | None = None
    billing_address: V2BillingAddress | None = None
    ip_address: str | None = None
    ip_address_v6: str | None = None
    geoip_country: str | None = None
    geoip_country_iso2: str | None = None

    # Origin and external systems.
    order_source: str | None = None
    ebay_order_id: str | int | None = None
    external_source: str | None = None
    external_id: str | int | None = None
    external_merchant_id: str | int | None = None
    external_order_id: str | None = None
    tax_provider_id: str | None = None

    # Sub-resources.
    products: V2ResourceRef | None = None
    shipping_addresses: V2ResourceRef | None = None
    coupons: V2ResourceRef | None = None
    consignments: V2Consignments | list[Any] | None = None
    fees: V2ResourceRef | list[V2OrderFee] | None = None

    @property
    def status_enum(self) -> OrderStatus | None:
        """``status_id`` as an :class:`OrderStatus`, or ``None`` if absent or unknown."""
        if self.status_id is None:
            return None
        try:
            return OrderStatus(self.status_id)
        except ValueError:
            return None

    @property
    def date_created_dt(self) -> datetime | None:
        """``date_created`` as an aware datetime (``None`` when absent or unparsable)."""
        return parse_rfc2822(self.date_created)

    @property
    def date_modified_dt(self) -> datetime | None:
        """``date_modified`` as an aware datetime (``None`` when absent or unparsable)."""
        return parse_rfc2822(self.date_modified)

    @property
    def date_shipped_dt(self) -> datetime | None:
        """``date_shipped`` as an aware datetime; ``None`` until the order is fully shipped."""
        return parse_rfc2822(self.date_shipped)

    @property
    def line_items(self) -> list[V2OrderProduct]:
        """The product lines embedded in the consignments (``include=consignments.
        line_items``), consignment by consignment; ``[]`` when none were embedded.

        They may be incomplete: check :attr:`lines_complete` before trusting them.
        """
        if not isinstance(self.consignments, V2Consignments):
            return []
        return self.consignments.line_items

    @property
    def lines_complete(self) -> bool:
        """Whether :attr:`line_items` is every line of the order, as far as the response
        can tell.

        ``False`` when the consignments were not embedded, when a consignment carries a
        ``__warning__`` (more than 50 lines: only 50 are sent, bigcommerce/docs#960), or
        when the embedded quantities do not add up to ``items_total`` (orders that come
        back with empty ``line_items`` although they have items, bigcommerce/dev-docs#2052;
        also lines whose quantity was not reported). Then fetch
        ``GET /v2/orders/{id}/products`` (``client.v2.orders.products(order.id)``).
        ``True`` for an order with ``items_total`` 0 and nothing embedded.
        """
        cons = self.consignments
        if not isinstance(cons, V2Consignments) or not cons.embedded or cons.truncated:
            return False
        lines = cons.line_items
        if any(line.quantity is None for line in lines):
            return False
        quantity = sum(int(line.quantity or 0) for line in lines)
        if self.items_total is None:
            return False
        return quantity == self.items_total


class V2AppliedDiscount(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A discount applied to an order product (``orderProductAppliedDiscounts``)."""

    id: str | int | None = None
    amount: Money | None = None
    name: str | None = None
    code: str | None = None
    target: str | None = None


class V2OrderProductOption(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A chosen option or modifier of an order product (``orderProductOptions``).

    ``product_option_id`` is the id to send back as ``product_options[].id`` when adding or
    updating a product through ``PUT /orders/{id}``.
    """

    id: int | None = None
    option_id: int | None = None
    order_product_id: int | None = None
    product_option_id: int | None = None
    display_name: str | None = None
    display_name_customer: str | None = None
    display_name_merchant: str | None = None
    display_value: str | None = None
    display_value_customer: str | None = None
    display_value_merchant: str | None = None
    value: str | None = None
    type: str | None = None
    name: str | None = None
    display_style: str | None = None


class V2ConfigurableField(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A configurable field of an order product (Catalog V2 stores only)."""

    name: str | None = None
    value: str | None = None


class V2OrderProduct(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A line of ``GET /v2/orders/{id}/products`` (``orderProducts``).

    ``order_address_id`` names the shipping address the line ships to; a shipment can only
    carry lines of the address it is created for. Custom products have ``product_id`` 0.
    """

    id: int | None = None
    order_id: int | None = None
    product_id: int | None = None
    variant_id: int | None = None
    order_address_id: int | None = None
    order_pickup_method_id: int | None = None
    name: str | None = None
    name_customer: str | None = None
    name_merchant: str | None = None
    sku: str | None = None
    upc: str | None = None
    type: str | None = None
    brand: str | None = None

    base_price: Money | None = None
    price_ex_tax: Money | None = None
    price_inc_tax: Money | None = None
    price_tax: Money | None = None
    base_total: Money | None = None
    total_ex_tax: Money | None = None
    total_inc_tax: Money | None = None
    total_tax: Money | None = None
    discounted_total_inc_tax: Money | None = None
    base_cost_price: Money | None = None
    cost_price_inc_tax: Money | None = None
    cost_price_ex_tax: Money | None = None
    cost_price_tax: Money | None = None
    fixed_shipping_cost: Money | None = None

    weight: Money | None = None
    width: Money | None = None
    height: Money | None = None
    depth: Money | None = None

    quantity: int | None = None
    quantity_shipped: Number | None = None
    quantity_refunded: Number | None = None
    is_refunded: bool | None = None
    refund_amount: Money | None = None
    return_id: Number | None = None

    wrapping_id: int | None = None
    wrapping_name: str | None = None
    wrapping_message: str | None = None
    base_wrapping_cost: Money | None = None
    wrapping_cost_ex_tax: Money | None = None
    wrapping_cost_inc_tax: Money | None = None
    wrapping_cost_tax: Money | None = None

    event_name: str | None = None
    event_date: str | None = None
    ebay_item_id: str | None = None
    ebay_transaction_id: str | None = None
    option_set_id: int | None = None
    parent_order_product_id: int | None = None
    is_bundled_product: bool | None = None
    bin_picking_number: str | None = None
    external_id: str | int | None = None
    gift_certificate_id: int | None = None

    applied_discounts: list[V2AppliedDiscount] = msgspec.field(default_factory=list)
    product_options: list[V2OrderProductOption] = msgspec.field(default_factory=list)
    configurable_fields: list[V2ConfigurableField] = msgspec.field(default_factory=list)


class V2ShippingAddress(V2Address, kw_only=True, omit_defaults=True):
    """A shipping address of an order (``orderShippingAddress``); its ``id`` is the
    ``order_address_id`` of the products that ship there and of their shipments."""

    id: int | None = None
    order_id: int | None = None
    items_total: Number | None = None
    items_shipped: Number | None = None
    shipping_method: str | None = None
    base_cost: Money | None = None
    cost_ex_tax: Money | None = None
    cost_inc_tax: Money | None = None
    cost_tax: Money | None = None
    cost_tax_class_id: int | None = None
    base_handling_cost: Money | None = None
    handling_cost_ex_tax: Money | None = None
    handling_cost_inc_tax: Money | None = None
    handling_cost_tax: Money | None = None
    handling_cost_tax_class_id: int | None = None
    shipping_zone_id: Number | None = None
    shipping_zone_name: str | None = None
    shipping_quotes: V2ResourceRef | None = None
    form_fields: list[V2FormField] = msgspec.field(default_factory=list)


class ShipmentItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of a shipment; ``product_id`` is read-only (0 for custom products)."""

    order_product_id: int | None = None
    product_id: int | None = None
    quantity: int | None = None


class Shipment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A shipment of an order (``orderShipment``), as returned by the shipments endpoints."""

    id: int | None = None
    order_id: int | None = None
    customer_id: int | None = None
    order_address_id: int | None = None
    date_created: str | None = None
    tracking_number: str | None = None
    merchant_shipping_cost: Money | None = None
    shipping_method: str | None = None
    shipping_provider: str | None = None
    shipping_provider_display_name: str | None = None
    tracking_carrier: str | None = None
    tracking_link: str | None = None
    generated_tracking_link: str | None = None
    comments: str | None = None
    billing_address: V2BillingAddress | None = None
    shipping_address: V2Address | None = None
    items: list[ShipmentItem] = msgspec.field(default_factory=list)

    @property
    def date_created_dt(self) -> datetime | None:
        """``date_created`` as an aware datetime (``None`` when absent or unparsable)."""
        return parse_rfc2822(self.date_created)


class V2ConsignmentWarning(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The undocumented ``__warning__`` a consignment carries when it holds more than 50
    lines and only the first 50 were embedded (bigcommerce/docs#960): fetch the order's
    products from ``/v2/orders/{order_id}/products`` instead."""

    message: str | None = None


def _lines(value: list[V2OrderProduct] | V2ResourceRef) -> list[V2OrderProduct]:
    return value if isinstance(value, list) else []


class V2ShippingConsignment(V2Address, kw_only=True, omit_defaults=True):
    """A shipping consignment (``shippingConsignment_Get``): one shipping address of the
    order with its costs and the lines that ship there. Its ``id`` is the address id, the
    ``order_address_id`` of those lines and of their shipments."""

    id: int | None = None
    form_fields: list[V2FormField] = msgspec.field(default_factory=list)
    shipping_method: str | None = None
    line_items: list[V2OrderProduct] | V2ResourceRef = msgspec.field(default_factory=list)
    items_total: Number | None = None
    items_shipped: Number | None = None
    base_cost: Money | None = None
    cost_ex_tax: Money | None = None
    cost_inc_tax: Money | None = None
    cost_tax: Money | None = None
    cost_tax_class_id: int | None = None
    base_handling_cost: Money | None = None
    handling_cost_ex_tax: Money | None = None
    handling_cost_inc_tax: Money | None = None
    handling_cost_tax: Money | None = None
    handling_cost_tax_class_id: int | None = None
    shipping_zone_id: Number | None = None
    shipping_zone_name: str | None = None
    shipping_quotes: V2ResourceRef | None = None
    warning: V2ConsignmentWarning | None = msgspec.field(default=None, name="__warning__")


class V2PickupLocation(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where a pickup consignment is collected (``pickupConsignmentLocation_Get``)."""

    id: int | None = None
    name: str | None = None
    code: str | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country_alpha2: str | None = None
    email: str | None = None
    phone: str | None = None


class V2PickupConsignment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A pickup consignment (``pickupConsignment_Get``)."""

    id: int | None = None
    pickup_method_id: int | None = None
    pickup_method_display_name: str | None = None
    collection_instructions: str | None = None
    collection_time_description: str | None = None
    location: V2PickupLocation | None = None
    line_items: list[V2OrderProduct] | V2ResourceRef = msgspec.field(default_factory=list)
    warning: V2ConsignmentWarning | None = msgspec.field(default=None, name="__warning__")


class V2DigitalConsignment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A digital (download) consignment (``digitalConsignment_Get``)."""

    recipient_email: str | None = None
    line_items: list[V2OrderProduct] | V2ResourceRef = msgspec.field(default_factory=list)
    warning: V2ConsignmentWarning | None = msgspec.field(default=None, name="__warning__")


class V2GiftCertificateConsignment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A gift certificate sent by email (``giftCertificateConsignment_Get``)."""

    recipient_email: str | None = None
    line_items: list[V2OrderProduct] | V2ResourceRef = msgspec.field(default_factory=list)
    warning: V2ConsignmentWarning | None = msgspec.field(default=None, name="__warning__")


class V2EmailConsignments(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The email consignments of an order: gift certificates."""

    gift_certificates: list[V2GiftCertificateConsignment] = msgspec.field(default_factory=list)


class V2Consignments(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An order's ``consignments`` (``orderConsignment_Get``, object structure).

    Without ``include=consignments`` the API sends only a link (``url``, ``resource``);
    with it, the ``shipping``, ``pickups``, ``downloads`` and ``email`` consignments.
    """

    url: str | None = None
    resource: str | None = None
    pickups: list[V2PickupConsignment] = msgspec.field(default_factory=list)
    shipping: list[V2ShippingConsignment] = msgspec.field(default_factory=list)
    downloads: list[V2DigitalConsignment] = msgspec.field(default_factory=list)
    email: V2EmailConsignments | None = None

    @property
    def embedded(self) -> bool:
        """Whether the consignments themselves were sent (not only the link)."""
        return self.url is None and self.resource is None

    @property
    def truncated(self) -> bool:
        """Whether a consignment says its lines were cut short (``__warning__``)."""
        return any(c.warning is not None for c in self._all())

    @property
    def warnings(self) -> list[str]:
        """The ``__warning__`` messages of the consignments, if any."""
        return [c.warning.message or "" for c in self._all() if c.warning is not None]

    @property
    def line_items(self) -> list[V2OrderProduct]:
        """Every embedded product line, shipping consignments first, then pickups,
        downloads and gift certificates."""
        out: list[V2OrderProduct] = []
        for c in self._all():
            out.extend(_lines(c.line_items))
        return out

    def _all(
        self,
    ) -> list[
        V2ShippingConsignment
        | V2PickupConsignment
        | V2DigitalConsignment
        | V2GiftCertificateConsignment
    ]:
        gifts = self.email.gift_certificates if self.email is not None else []
        return [*self.shipping, *self.pickups, *self.downloads, *gifts]


class V2OrderStatusCount(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One status of ``GET /v2/orders/count`` (``ordersCountStatus``)."""

    id: int | None = None
    name: str | None = None
    system_label: str | None = None
    custom_label: str | None = None
    system_description: str | None = None
    count: Number | None = None
    sort_order: int | None = None


class V2OrdersCount(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``GET /v2/orders/count`` (``ordersCount_Full``): the total and the count per status."""

    count: Number
    statuses: list[V2OrderStatusCount] = msgspec.field(default_factory=list)

    @property
    def total(self) -> int:
        """``count`` as an int (the spec types it ``number``)."""
        return int(self.count)


class OrderUpdateResult(msgspec.Struct, kw_only=True):
    """What an "update order" call did: the order as the server returned it after the PUT,
    the shipment created (if tracking was given) and the names of the fields that changed.

    ``fields_updated`` holds the body's field names plus ``"shipment_created"`` when a
    shipment was created, as the automation module this mirrors reports it.
    """

    order_id: int
    status_id: int | None = None
    status: str | None = None
    fields_updated: list[str] = msgspec.field(default_factory=list)
    shipment: Shipment | None = None
    order: V2Order | None = None
    message: str = ""
