"""msgspec models of the B2B Edition Orders API (``/api/v3/io/orders``).

Attribute names are the API's camelCase names in snake_case (``bcOrderId`` →
``bc_order_id``). Documented variants are all accepted: ``cartId`` as an int or a UUID
string; ``money`` and product ``options`` as arrays or as JSON-encoded strings (older
models); legacy ``extra*`` fields as ``null``. Unknown fields are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from .common import unix_to_datetime

__all__ = [
    "ExtraField",
    "ExtraFieldConfig",
    "ExtraInfo",
    "Money",
    "Order",
    "OrderProduct",
    "OrderProductOption",
    "OrderUpdate",
]


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {(_camel(k) if isinstance(k, str) else k): v for k, v in value.items()}
    return value


def _decode_embedded_list(raw: Any, item_type: type[Any]) -> list[Any]:
    """Normalise a field given as a list, a single object or a JSON string of either."""
    if raw is None:
        return []
    if isinstance(raw, str):
        if not raw.strip():
            return []
        try:
            raw = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return []
    if isinstance(raw, dict | item_type):
        raw = [raw]  # a single object (decoded, or still a dict from a JSON string)
    if not isinstance(raw, list):
        return []
    out: list[Any] = []
    for item in raw:
        if isinstance(item, item_type):
            out.append(item)
            continue
        try:
            out.append(msgspec.convert(_camel_keys(item), item_type, strict=False))
        except (msgspec.ValidationError, TypeError):
            continue
    return out


class ExtraField(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """An order extra field value: ``{"fieldName": ..., "fieldValue": ...}``."""

    field_name: str
    field_value: str | int | float | None = None


class ExtraInfo(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """Company billing/shipping address ids attached to an order."""

    billing_address_id: int | None = None
    shipping_address_id: int | None = None


class Money(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """Price display settings of an order's currency."""

    currency_location: str | None = None
    currency_token: str | None = None
    decimal_token: str | None = None
    decimal_places: int | None = None
    thousands_token: str | None = None
    currency_exchange_rate: str | float | None = None


class Order(
    msgspec.Struct,
    rename="camel",
    kw_only=True,
    omit_defaults=True,
    repr_omit_defaults=True,
    gc=False,  # decoded API data never forms cycles: keep it out of the GC's way
):
    """A B2B Edition order (list item, or the detail of ``GET /orders/{bcOrderId}``).

    ``money`` and ``created_at_dt`` / ``updated_at_dt`` are derived accessors; the raw
    ``money`` value as sent is kept in ``money_raw``.
    """

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

    @property
    def money(self) -> list[Money]:
        """Currency display settings, whichever form the server used."""
        return _decode_embedded_list(self.money_raw, Money)

    @property
    def created_at_dt(self) -> datetime | None:
        """``created_at`` as an aware UTC datetime."""
        return unix_to_datetime(self.created_at)

    @property
    def updated_at_dt(self) -> datetime | None:
        """``updated_at`` as an aware UTC datetime."""
        return unix_to_datetime(self.updated_at)


class OrderProductOption(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """A selected option of an order product."""

    id: int | None = None
    option_id: int | None = None
    product_option_id: int | None = None
    order_product_id: int | None = None
    display_name: str | None = None
    display_name_customer: str | None = None
    display_name_merchant: str | None = None
    display_value: str | None = None
    display_value_customer: str | None = None
    display_value_merchant: str | None = None
    value: int | str | None = None
    type: str | None = None
    name: str | None = None
    display_style: str | None = None


class OrderProduct(
    msgspec.Struct,
    rename="camel",
    kw_only=True,
    omit_defaults=True,
    repr_omit_defaults=True,
    gc=False,
):
    """A product line of a B2B order (``GET /orders/{bcOrderId}/products``).

    The spec spells the SKU ``variantSku``; an older model spells it ``variantSKU``: both
    land in ``variant_sku``. ``options`` is normalised from an array or a JSON string.
    """

    id: int | None = None
    product_id: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    product_name: str | None = None
    variant_sku_raw: str | None = msgspec.field(default=None, name="variantSku")
    variant_sku_legacy: str | None = msgspec.field(default=None, name="variantSKU")
    variant_id: int | None = None
    product_brand_name: str | None = None
    quantity: int | None = None
    options_raw: list[OrderProductOption] | str | None = msgspec.field(
        default=None, name="options"
    )

    @property
    def variant_sku(self) -> str | None:
        """The SKU, whichever spelling the server used."""
        return self.variant_sku_raw if self.variant_sku_raw is not None else self.variant_sku_legacy

    @property
    def options(self) -> list[OrderProductOption]:
        """Selected options, whichever form the server used."""
        return _decode_embedded_list(self.options_raw, OrderProductOption)


class ExtraFieldConfig(
    msgspec.Struct, rename="camel", kw_only=True, repr_omit_defaults=True
):
    """An order extra field configuration (``GET /orders/extra-fields``)."""

    id: int | None = None
    uuid: int | str | None = None
    field_name: str | None = None
    field_type: int | None = None
    is_required: bool | None = None
    is_unique: bool | None = None
    visible_to_enduser: bool | None = None
    config_type: int | None = None
    default_value: str | None = None
    label_name: str | None = None
    maximum_length: int | float | str | None = None
    number_of_rows: int | float | str | None = None
    maximum_value: int | float | str | None = None
    list_of_values: list[str] | None = None
    list_of_value: list[str] | None = None

    @property
    def values(self) -> list[str]:
        """Dropdown choices (``listOfValues``, or the older ``listOfValue``)."""
        return list(self.list_of_values or self.list_of_value or [])


class OrderUpdate(msgspec.Struct, kw_only=True, frozen=True):
    """The B2B fields one update sets (see ``client.orders.update``)."""

    po_number: str | None = None
    extra_fields: list[ExtraField] | list[dict[str, Any]] | None = None
