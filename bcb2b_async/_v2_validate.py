"""Request bodies for V2 order updates and shipments, checked before anything is sent.

Pure functions, no I/O. Each one either returns a JSON-ready ``dict`` (fresh objects, never
the caller's own mappings) or raises :class:`~bcb2b_async.errors.InvalidArgumentError` whose
message names the offending field, e.g. ``update(): 'external_id' is read-only`` or
``update(): products[1].quantity must be an integer >= 1 ...``.

The rules come from ``specs/v2-orders.yml`` (schemas ``order_Put``, ``order_Shared``,
``billingAddress_Put``, ``shippingAddress_Put``, ``orderCatalogProduct_Put``,
``orderCustomProduct_Put``, ``orderRemoveProduct_Put``, ``orderFees_Put``,
``orderConsignment_Put``, ``orderShipment_Post``) and the PUT /orders/{order_id} reference
page. Where the spec contradicts itself the comment next to the rule says which reading
was taken.

Money on the wire
    Order-level money fields are ``type: string`` "(Float, Float-As-String, Integer)" in
    ``order_Put``: they are sent as plain decimal strings (``"12.5"``; no exponent, value
    kept exactly, not padded). Product prices and wrapping costs are ``type: number`` in the
    product schemas: they are sent as JSON numbers (int when integral, float otherwise).
    Fee costs are ``string | number``: sent as strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from email.utils import parsedate_to_datetime

from ._validate import (
    boolean,
    check_keys,
    did_you_mean,
    int_range,
    is_int,
    mapping,
    non_empty_string,
    positive_id,
    sequence,
    string,
    type_name,
    unique,
)
from .errors import InvalidArgumentError
from .models.v2_orders import SHIPPING_PROVIDERS, OrderStatus

__all__ = [
    "ORDER_PAIRED_FIELDS",
    "ORDER_READ_ONLY_FIELDS",
    "ORDER_WRITABLE_FIELDS",
    "billing_from_flat",
    "build_order_update",
    "build_shipment",
    "shipment_items",
    "shipment_options",
]

_UPDATE = "update()"
_SHIPMENT = "create_shipment()"

#: Longest ``staff_notes`` / ``customer_message`` / shipment ``comments`` (``maxLength``).
MAX_TEXT = 65_535
#: Longest shipment ``tracking_number`` (``orderShipment_Post.maxLength``).
MAX_TRACKING_NUMBER = 50
#: Longest shipment ``tracking_link`` (``orderShipment_Post.maxLength``).
MAX_TRACKING_LINK = 500

# --- order_Put: which fields a PUT may carry --------------------------------------------

_ORDER_MONEY = frozenset(
    {
        "base_handling_cost",
        "base_shipping_cost",
        "base_wrapping_cost",
        "discount_amount",
        "handling_cost_ex_tax",
        "handling_cost_inc_tax",
        "refunded_amount",
        "shipping_cost_ex_tax",
        "shipping_cost_inc_tax",
        "subtotal_ex_tax",
        "subtotal_inc_tax",
        "total_ex_tax",
        "total_inc_tax",
        "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax",
    }
)

# Plain strings of order_Put, with their maxLength where the spec gives one (None: no limit).
_ORDER_STRINGS: dict[str, int | None] = {
    "customer_message": MAX_TEXT,  # the spec gives no maxLength; staff_notes' 65,535 assumed
    "staff_notes": MAX_TEXT,
    "ip_address": 30,
    "ip_address_v6": 39,
    "geoip_country": None,
    "geoip_country_iso2": None,
    "payment_method": None,
    # order_Put lists order_source without a read-only note; the older reference page
    # (002) calls it read-only in responses. Allowed: the server has the last word.
    "order_source": None,
    "ebay_order_id": None,
}
# Strings the spec marks nullable: None is sent as JSON null (clears the value).
_ORDER_NULLABLE_STRINGS = frozenset({"external_source", "external_order_id"})

#: Every field ``update()`` accepts: the properties of ``order_Put`` minus those it marks
#: read-only (``external_id``, ``default_currency_code``, ``tax_provider_id``) or that the
#: description says a PUT rejects (``external_merchant_id``), plus ``is_deleted``
#: (``order_RespOnly``: "When set to true in a PUT request, it has the same result as the
#: DELETE an order request").
ORDER_WRITABLE_FIELDS: frozenset[str] = frozenset(
    _ORDER_MONEY
    | _ORDER_STRINGS.keys()
    | _ORDER_NULLABLE_STRINGS
    | {
        "billing_address",
        "channel_id",
        "consignments",
        "customer_id",
        "customer_locale",
        # order_Put lists date_created ("You set this attribute on Order creation (POST) to
        # support the migration of historical orders"); it is not marked read-only, so it
        # is accepted and must be an RFC 2822 date. Doubtful: the text speaks of POST.
        "date_created",
        "fees",
        "is_deleted",
        "items_shipped",
        "items_total",
        "order_is_digital",
        "payment_provider_id",
        "products",
        "shipping_addresses",
        "status_id",
    }
)

#: Fields of the order response that a PUT must not carry, with the reason given in the
#: error message. Anything neither writable nor listed here is reported as unknown.
ORDER_READ_ONLY_FIELDS: Mapping[str, str] = {
    # order_Put: "readOnly: true"; 002: "using a /PUT to update the order will return a 400".
    "external_id": "read-only (it can be set only when the order is created)",
    # order_Put: "After setting it, you cannot write to or update ... a PUT request ...
    # will return a 400 error."
    "external_merchant_id": "read-only (a PUT that carries it is refused with 400)",
    # order_Put: readOnly: true (order_Post makes it writable on creation only).
    "default_currency_code": "read-only (it can be set only when the order is created)",
    # order_Put: "Read-only." (002 says it can be set when creating with POST).
    "tax_provider_id": "read-only (it can be set only when the order is created)",
    # order_RespOnly: all "read-only ... Do not attempt to modify or set this value".
    "id": "read-only",
    "date_modified": "read-only",
    "date_shipped": "read-only",
    "cart_id": "read-only",
    "status": "read-only (set status_id instead)",
    "custom_status": "read-only (set status_id instead)",
    "subtotal_tax": "read-only",
    "shipping_cost_tax": "read-only",
    "shipping_cost_tax_class_id": "read-only",
    "handling_cost_tax": "read-only",
    "handling_cost_tax_class_id": "read-only",
    "wrapping_cost_tax": "read-only",
    "wrapping_cost_tax_class_id": "read-only",
    "total_tax": "read-only",
    "payment_status": "read-only",
    "store_credit_amount": "read-only",
    "gift_certificate_amount": "read-only",
    "coupon_discount": "read-only",
    "currency_id": "read-only",
    "currency_code": "read-only",
    "currency_exchange_rate": "read-only",
    "default_currency_id": "read-only",
    "store_default_currency_code": "read-only",
    "store_default_to_transactional_exchange_rate": "read-only",
    "shipping_address_count": "read-only",
    "is_tax_inclusive_pricing": "read-only",
    "is_email_opt_in": "read-only",
    "credit_card_type": "read-only",
    "coupons": "read-only",
}

#: Override fields that must be sent together (order_Shared / order_Put descriptions):
#: subtotal_* and total_* "If specified, the field ... is also required"; shipping_cost_*
#: "When specified in a POST or PUT request, the field ... is also required". The spec
#: states no such rule for handling_cost_* or wrapping_cost_*, so those are not paired.
ORDER_PAIRED_FIELDS: tuple[tuple[str, str], ...] = (
    ("subtotal_ex_tax", "subtotal_inc_tax"),
    ("total_ex_tax", "total_inc_tax"),
    ("shipping_cost_ex_tax", "shipping_cost_inc_tax"),
)

# --- addresses ---------------------------------------------------------------------------

_ADDRESS_STRINGS = frozenset(
    {
        "first_name",
        "last_name",
        "company",
        "street_1",
        "street_2",
        "city",
        "state",
        "zip",
        "country",
        "country_iso2",
        "phone",
        "email",
    }
)
# billingAddress_Put = billingAddress_Base + form_fields.
_BILLING_KEYS = _ADDRESS_STRINGS | {"form_fields"}
# order_Put.shipping_addresses items = {id} + shippingAddress_Base + shipping_method + form_fields.
_SHIPPING_KEYS = _ADDRESS_STRINGS | {"id", "shipping_method", "form_fields"}

# Flat names of the automation module (seed 004) -> V2 billing_address names.
_FLAT_BILLING_ALIASES: Mapping[str, str] = {
    "street": "street_1",
    "street2": "street_2",
}

# --- products ----------------------------------------------------------------------------

_OPTION_KEYS = frozenset(
    {
        "id",
        "value",
        "display_name",
        "display_name_customer",
        "display_name_merchant",
        "display_value",
        "display_value_customer",
        "display_value_merchant",
    }
)
# orderCatalogProduct_Post (and orderCatalogProduct_Put without id).
_CATALOG_ADD_KEYS = frozenset(
    {
        "product_id",
        "name",
        "name_customer",
        "name_merchant",
        "product_options",
        "quantity",
        "price_inc_tax",
        "price_ex_tax",
        "upc",
        "variant_id",
        "wrapping_id",
        "wrapping_name",
        "wrapping_message",
        "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax",
    }
)
# orderCustomProduct_Put without id.
_CUSTOM_ADD_KEYS = frozenset(
    {
        "name",
        "name_customer",
        "name_merchant",
        "quantity",
        "price_ex_tax",
        "price_inc_tax",
        "sku",
        "upc",
    }
)
# With id the line may be a catalog line, a custom line or a removal: the union of the
# three PUT schemas (orderRemoveProduct_Put adds nothing beyond id/product_id/quantity/
# product_options).
_PRODUCT_UPDATE_KEYS = _CATALOG_ADD_KEYS | _CUSTOM_ADD_KEYS | {"id"}
_PRODUCT_NAMES = ("name", "name_customer", "name_merchant")
_PRODUCT_PRICES = ("price_ex_tax", "price_inc_tax")
_WRAPPING_COSTS = ("wrapping_cost_ex_tax", "wrapping_cost_inc_tax")
_MAX_PRODUCT_NAME = 250  # orderCustomProduct_Post.name.maxLength
_MAX_UPC = 255  # orderProducts.upc.maxLength

# --- fees and consignments ---------------------------------------------------------------

_FEE_KEYS = frozenset(
    {
        "id",
        "type",
        "display_name_customer",
        "display_name_merchant",
        "source",
        "cost_ex_tax",
        "cost_inc_tax",
        "cost_tax",
        "tax_class_id",
    }
)
_FEE_TYPES = frozenset({"custom_fee"})
_FEE_COSTS = ("cost_ex_tax", "cost_inc_tax", "cost_tax")

_PICKUP_KEYS = frozenset(
    {
        "id",
        "pickup_method_id",
        "pickup_method_display_name",
        "collection_instructions",
        "collection_time_description",
        "location",
        "line_items",
    }
)
_PICKUP_STRINGS: dict[str, int | None] = {
    "pickup_method_display_name": 250,
    "collection_instructions": None,
    "collection_time_description": 250,
}
_LOCATION_STRINGS: dict[str, int | None] = {
    "name": 255,
    "code": 50,
    "address_line_1": 255,
    "address_line_2": 255,
    "city": 255,
    "state": 255,
    "postal_code": 50,
    "country_alpha2": 2,
    "email": 255,
    "phone": 125,
}

# --- small checks ------------------------------------------------------------------------

# Not from the spec: a guard so absurd amounts (1e308, Decimal("1E+999999")) are refused
# here instead of being expanded into huge strings. Far above any real order.
_MAX_AMOUNT = Decimal(10) ** 15
# ASCII digits only: "\d" would also let through other scripts' digits.
_DECIMAL_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CARRIER = re.compile(r"carrier_[0-9]+")
# order_Put.customer_locale: "en", "asa", "en-US", "es-419".
_LOCALE = re.compile(r"[a-z]{2,3}|[a-z]{2}-[A-Z]{2}|[a-z]{2}-[0-9]{3}")


@contextmanager
def _context(where: str) -> Iterator[None]:
    """Prefix the message of any InvalidArgumentError raised inside with ``where``
    (``update(): products[1].quantity must be ...``)."""
    try:
        yield
    except InvalidArgumentError as err:
        raise InvalidArgumentError(f"{where}: {err.message}") from None


def _decimal(name: str, value: object) -> Decimal:
    """A non-negative, finite money amount from an int, float, Decimal or decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidArgumentError(
            f"{name} must be a non-negative amount (number or decimal string), "
            f"got {type_name(value)}"
        )
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise InvalidArgumentError(f"{name} must be a decimal number, got {value!r:.80}")
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(f"{name} must be a finite amount, got {value!r}")
        amount = Decimal(repr(value))
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        amount = value
    if not amount.is_finite():
        raise InvalidArgumentError(f"{name} must be a finite amount, got {value!r}")
    if amount < 0:
        raise InvalidArgumentError(f"{name} must not be negative, got {value!r:.80}")
    if amount >= _MAX_AMOUNT:
        raise InvalidArgumentError(f"{name} is too large, got {value!r:.80}")
    return abs(amount)  # abs() turns -0 into 0


def _money_string(name: str, value: object) -> str:
    """Money for a ``type: string`` field: exact plain decimal text, no exponent."""
    return format(_decimal(name, value), "f")


def _money_number(name: str, value: object) -> int | float:
    """Money for a ``type: number`` field: an int when integral, else a float."""
    amount = _decimal(name, value)
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


def _rfc2822(name: str, value: object) -> str:
    text = string(name, value)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        raise InvalidArgumentError(
            f"{name} must be an RFC 2822 date like 'Tue, 20 Nov 2012 00:00:00 +0000'"
        )
    return text


def _form_fields(name: str, value: object) -> list[dict[str, object]]:
    result: list[dict[str, object]] = []
    for index, raw in enumerate(sequence(name, value)):
        here = f"{name}[{index}]"
        item = mapping(here, raw)
        check_keys(f"{here}.", item, frozenset({"name", "value"}))
        if "name" not in item:
            raise InvalidArgumentError(f"{here}.name is required")
        field_name = non_empty_string(f"{here}.name", item["name"])
        field_value = item.get("value")
        if isinstance(field_value, str) or is_int(field_value):
            pass
        elif isinstance(field_value, float):
            if not math.isfinite(field_value):
                raise InvalidArgumentError(f"{here}.value must be a finite number")
        elif isinstance(field_value, Sequence) and not isinstance(
            field_value, bytes | bytearray | Mapping
        ):
            if not all(isinstance(v, str) for v in field_value):
                raise InvalidArgumentError(f"{here}.value list must hold strings only")
            field_value = list(field_value)
        else:
            raise InvalidArgumentError(
                f"{here}.value must be a string, a number or a list of strings, "
                f"got {type_name(field_value)}"
            )
        result.append({"name": field_name, "value": field_value})
    return result


def _address(name: str, value: object, *, billing: bool) -> dict[str, object]:
    allowed = _BILLING_KEYS if billing else _SHIPPING_KEYS
    data = mapping(name, value)
    check_keys(f"{name}.", data, allowed)
    result: dict[str, object] = {}
    for key, raw in data.items():
        assert isinstance(key, str)
        here = f"{name}.{key}"
        if key == "form_fields":
            result[key] = _form_fields(here, raw)
        elif key == "id":
            result[key] = positive_id(here, raw)
        else:
            text = string(here, raw)
            if billing and key == "zip" and len(text.strip()) < 2:
                # billingAddress_Base: "The ZIP code must be two or more characters."
                raise InvalidArgumentError(f"{here} must be at least two characters")
            if key == "country_iso2" and text and not re.fullmatch(r"[A-Za-z]{2}", text):
                raise InvalidArgumentError(
                    f"{here} must be a two-letter ISO 3166 code, got {text!r:.20}"
                )
            result[key] = text
    return result


# --- products ----------------------------------------------------------------------------


def _product_options(name: str, value: object) -> list[dict[str, object]]:
    result: list[dict[str, object]] = []
    seen: set[int] = set()
    for index, raw in enumerate(sequence(name, value)):
        here = f"{name}[{index}]"
        option = mapping(here, raw)
        check_keys(f"{here}.", option, _OPTION_KEYS)
        if "id" not in option:
            raise InvalidArgumentError(f"{here}.id is required (the product_option_id)")
        option_id = unique(seen, f"{here}.id", positive_id(f"{here}.id", option["id"]))
        out: dict[str, object] = {"id": option_id}
        for key, raw_value in option.items():
            assert isinstance(key, str)
            if key == "id":
                continue
            if key == "value":
                # The schema says string; the spec's own examples send integers (value: 12):
                # both are accepted and sent as the string the schema names.
                if is_int(raw_value):
                    out[key] = str(raw_value)
                else:
                    out[key] = string(f"{here}.value", raw_value)
            else:
                # display_* have minLength 1; '' and null are invalid.
                out[key] = non_empty_string(f"{here}.{key}", raw_value)
        result.append(out)
    return result


def _product(here: str, raw: object) -> dict[str, object]:
    item = mapping(here, raw)
    has_id = "id" in item
    if has_id:
        allowed = _PRODUCT_UPDATE_KEYS
    elif "product_id" in item:
        allowed = _CATALOG_ADD_KEYS
    else:
        allowed = _CUSTOM_ADD_KEYS
    check_keys(f"{here}.", item, allowed)

    out: dict[str, object] = {}
    for key, value in item.items():
        assert isinstance(key, str)
        name = f"{here}.{key}"
        if key in ("id", "product_id", "variant_id"):
            out[key] = positive_id(name, value)
        elif key == "quantity":
            # quantity 0 removes a line (PUT /orders/{id}), so it needs an existing line.
            minimum = 0 if has_id else 1
            out[key] = int_range(name, value, minimum)
        elif key in _PRODUCT_NAMES:
            # "Empty strings '' and null are invalid for xxx, xxx_customer, xxx_merchant."
            out[key] = non_empty_string(name, value, _MAX_PRODUCT_NAME)
        elif key in _PRODUCT_PRICES or key in _WRAPPING_COSTS:
            out[key] = _money_number(name, value)
        elif key == "product_options":
            out[key] = _product_options(name, value)
        elif key == "wrapping_id":
            out[key] = int_range(name, value, 0)
        elif key == "upc":
            out[key] = string(name, value, _MAX_UPC)
        else:  # sku, wrapping_name, wrapping_message
            out[key] = string(name, value)

    if "name" in out and "name_customer" in out and out["name"] != out["name_customer"]:
        raise InvalidArgumentError(
            f"{here}.name and {here}.name_customer must be equal when both are given"
        )
    wrapping_id = out.get("wrapping_id")
    if isinstance(wrapping_id, int) and wrapping_id > 0:
        # orderCatalogProduct_Post.wrapping_id: "If provided, then wrapping_cost_ex_tax and
        # wrapping_cost_inc_tax are required." (0 removes the wrapping.)
        missing = [k for k in _WRAPPING_COSTS if k not in out]
        if missing:
            raise InvalidArgumentError(f"{here}.{missing[0]} is required when wrapping_id is set")

    if not has_id:
        if "quantity" not in out:
            # Required for custom products by orderCustomProduct_Put; the catalog schema
            # lists no required fields, but a new line without a quantity is meaningless.
            raise InvalidArgumentError(f"{here}.quantity is required to add a product")
        if "product_id" not in out:
            # A custom product: orderCustomProduct_Put requires a name and both prices
            # (the usage notes accept name, name_customer or name_merchant).
            if not any(k in out for k in _PRODUCT_NAMES):
                raise InvalidArgumentError(
                    f"{here}: a custom product (no product_id) needs name, name_customer "
                    "or name_merchant"
                )
            for key in _PRODUCT_PRICES:
                if key not in out:
                    raise InvalidArgumentError(f"{here}.{key} is required for a custom product")
    elif len(out) == 1:
        raise InvalidArgumentError(f"{here} has an id but nothing to change")
    return out


def _listed(
    name: str, value: object, parse: Callable[[str, object], dict[str, object]]
) -> list[dict[str, object]]:
    """Every item of the list ``name`` parsed by ``parse(path, item)``; an ``id`` given
    twice is refused."""
    result: list[dict[str, object]] = []
    seen: set[int] = set()
    for index, raw in enumerate(sequence(name, value)):
        here = f"{name}[{index}]"
        item = parse(here, raw)
        item_id = item.get("id")
        if isinstance(item_id, int):
            unique(seen, f"{here}.id", item_id)
        result.append(item)
    return result


def _products(value: object) -> list[dict[str, object]]:
    return _listed("products", value, _product)


def _shipping_address(here: str, raw: object) -> dict[str, object]:
    address = _address(here, raw, billing=False)
    if not address:
        raise InvalidArgumentError(f"{here} is empty")
    return address


def _shipping_addresses(value: object) -> list[dict[str, object]]:
    return _listed("shipping_addresses", value, _shipping_address)


def _fees(value: object) -> list[dict[str, object]]:
    # Fees follow full PUT semantics: the list replaces the order's fees ([] deletes all).
    return _listed("fees", value, _fee)


def _fee(here: str, raw: object) -> dict[str, object]:
    fee = mapping(here, raw)
    # The spec's own examples spell one key "cost_exc_tax"; the schema says cost_ex_tax,
    # so the misspelling is refused (with a hint) rather than silently dropped.
    check_keys(f"{here}.", fee, _FEE_KEYS)
    out: dict[str, object] = {}
    for key, raw_value in fee.items():
        assert isinstance(key, str)
        name = f"{here}.{key}"
        if key == "id":
            out[key] = positive_id(name, raw_value)
        elif key == "type":
            if raw_value not in _FEE_TYPES:
                raise InvalidArgumentError(
                    f"{name} must be 'custom_fee', got {raw_value!r:.40}"
                )
            out[key] = raw_value
        elif key in _FEE_COSTS:
            out[key] = _money_string(name, raw_value)
        elif key == "tax_class_id":
            # nullable: null means the store's default fee tax class.
            out[key] = None if raw_value is None else int_range(name, raw_value, 0)
        else:  # display_name_customer, display_name_merchant, source
            out[key] = string(name, raw_value)
    if not out.get("display_name_customer") and not out.get("display_name_merchant"):
        raise InvalidArgumentError(
            f"{here} needs display_name_customer or display_name_merchant"
        )
    if sum(k in out for k in _FEE_COSTS) < 2:
        raise InvalidArgumentError(
            f"{here} needs at least two of cost_ex_tax, cost_inc_tax, cost_tax"
        )
    return out


def _consignments(value: object) -> dict[str, object]:
    data = mapping("consignments", value)
    check_keys("consignments.", data, frozenset({"pickups"}))
    pickups: list[dict[str, object]] = []
    for index, raw in enumerate(sequence("consignments.pickups", data.get("pickups", []))):
        here = f"consignments.pickups[{index}]"
        pickup = mapping(here, raw)
        check_keys(f"{here}.", pickup, _PICKUP_KEYS)
        if "id" not in pickup:
            raise InvalidArgumentError(f"{here}.id is required")  # pickupConsignment_Put: required
        out: dict[str, object] = {}
        for key, raw_value in pickup.items():
            assert isinstance(key, str)
            name = f"{here}.{key}"
            if key in ("id", "pickup_method_id"):
                out[key] = positive_id(name, raw_value)
            elif key == "location":
                location = mapping(name, raw_value)
                check_keys(f"{name}.", location, frozenset(_LOCATION_STRINGS))
                out[key] = {
                    str(k): string(f"{name}.{k}", v, _LOCATION_STRINGS[str(k)])
                    for k, v in location.items()
                }
            elif key == "line_items":
                out[key] = [
                    _product(f"{name}[{i}]", item)
                    for i, item in enumerate(sequence(name, raw_value))
                ]
            else:
                out[key] = string(name, raw_value, _PICKUP_STRINGS[key])
        pickups.append(out)
    return {"pickups": pickups}


# --- the order body ----------------------------------------------------------------------


def _order_field(key: str, value: object) -> object:
    if key in _ORDER_MONEY:
        return _money_string(key, value)
    if key in _ORDER_STRINGS:
        return string(key, value, _ORDER_STRINGS[key])
    if key in _ORDER_NULLABLE_STRINGS:
        return None if value is None else string(key, value)
    if key == "status_id":
        return int_range(key, value, min(OrderStatus), max(OrderStatus))
    if key in ("is_deleted", "order_is_digital"):
        return boolean(key, value)
    if key == "channel_id":
        return positive_id(key, value)
    if key in ("customer_id", "items_total", "items_shipped"):
        # customer_id 0 is a guest order.
        return int_range(key, value, 0)
    if key == "customer_locale":
        locale = string(key, value)
        if not _LOCALE.fullmatch(locale):
            raise InvalidArgumentError(
                f"customer_locale must look like en, asa, en-US or es-419, got {locale!r:.20}"
            )
        return locale
    if key == "date_created":
        return _rfc2822(key, value)
    if key == "payment_provider_id":
        # oneOf string | number.
        if isinstance(value, str) or is_int(value):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        raise InvalidArgumentError(
            f"payment_provider_id must be a string or a number, got {type_name(value)}"
        )
    if key == "billing_address":
        address = _address(key, value, billing=True)
        if not address:
            raise InvalidArgumentError("billing_address is empty")
        return address
    if key == "shipping_addresses":
        return _shipping_addresses(value)
    if key == "products":
        return _products(value)
    if key == "fees":
        return _fees(value)
    if key == "consignments":
        return _consignments(value)
    raise AssertionError(f"writable field without a rule: {key}")  # pragma: no cover


def build_order_update(fields: Mapping[str, object]) -> dict[str, object]:
    """Check the fields given to ``client.v2.orders.update(order_id, ...)`` and return the
    JSON body for ``PUT /v2/orders/{order_id}``.

    Only the fields of ``order_Put`` are accepted (see :data:`ORDER_WRITABLE_FIELDS`);
    read-only response fields and unknown names are refused, as are override pairs given
    by halves (:data:`ORDER_PAIRED_FIELDS`), negative or non-numeric money, an unknown
    ``status_id``, oversized notes, malformed addresses, products, fees and consignments.

    Products: with ``id`` a line is updated (``quantity: 0`` removes it); without ``id`` a
    line is added, from the catalog when ``product_id`` is given, else as a custom product
    that needs a name and both prices.

    Raises:
        InvalidArgumentError: naming the first offending field (``update(): ...``).
    """
    with _context(_UPDATE):
        if not isinstance(fields, Mapping):
            raise InvalidArgumentError(f"fields must be a mapping, got {type_name(fields)}")
        if not fields:
            raise InvalidArgumentError("no fields to update")
        for key in fields:
            if isinstance(key, str) and key in ORDER_READ_ONLY_FIELDS:
                raise InvalidArgumentError(f"{key!r} is {ORDER_READ_ONLY_FIELDS[key]}")
        check_keys("", fields, ORDER_WRITABLE_FIELDS)
        for first, second in ORDER_PAIRED_FIELDS:
            if (first in fields) != (second in fields):
                given, missing = (first, second) if first in fields else (second, first)
                raise InvalidArgumentError(f"{given!r} must be sent together with {missing!r}")
        if "ip_address" in fields and "ip_address_v6" in fields:
            # "You can set either ip_address or ip_address_v6. Setting the ip_address value
            # will reset the ip_address_v6 value and vice versa."
            raise InvalidArgumentError("give 'ip_address' or 'ip_address_v6', not both")
        return {key: _order_field(key, value) for key, value in fields.items()}


# --- shipments -----------------------------------------------------------------------------


def _optional_string(name: str, value: object, max_len: int | None = None) -> str | None:
    return None if value is None else string(name, value, max_len)


def shipment_items(items: object) -> list[dict[str, object]]:
    """Check the ``items`` of a shipment: a non-empty list of ``{"order_product_id": int,
    "quantity": int}`` naming every order product once. Returns fresh dicts.

    Raises:
        InvalidArgumentError: naming the first offending item (``create_shipment(): ...``).
    """
    with _context(_SHIPMENT):
        lines = sequence("items", items)
        if not lines:
            raise InvalidArgumentError("items must name at least one order product")
        out: list[dict[str, object]] = []
        seen: set[int] = set()
        for index, raw in enumerate(lines):
            here = f"items[{index}]"
            item = mapping(here, raw)
            if "product_id" in item:
                raise InvalidArgumentError(f"{here}.product_id is read-only; use order_product_id")
            check_keys(f"{here}.", item, ("order_product_id", "quantity"))
            for key in ("order_product_id", "quantity"):
                if key not in item:
                    raise InvalidArgumentError(f"{here}.{key} is required")
            name = f"{here}.order_product_id"
            product_id = unique(seen, name, positive_id(name, item["order_product_id"]),
                                hint="; add the quantities")
            quantity = int_range(f"{here}.quantity", item["quantity"], 1)
            out.append({"order_product_id": product_id, "quantity": quantity})
        return out


def shipment_options(
    *,
    tracking_number: object = None,
    shipping_provider: object = None,
    tracking_carrier: object = None,
    shipping_method: object = None,
    comments: object = None,
    tracking_link: object = None,
    merchant_shipping_cost: object = None,
) -> dict[str, object]:
    """Check the optional fields of a shipment and return those given (``None`` left out).

    ``shipping_provider`` is one of :data:`~bcb2b_async.models.v2_orders.SHIPPING_PROVIDERS`
    (``""`` included) or a third-party ``carrier_{id}``. ``tracking_number`` has at most
    50 characters, ``tracking_link`` 500, ``comments`` 65,535; ``merchant_shipping_cost``
    is money, sent as a decimal string.

    Raises:
        InvalidArgumentError: naming the first offending argument (``create_shipment(): ...``).
    """
    with _context(_SHIPMENT):
        provider = _optional_string("shipping_provider", shipping_provider)
        if (
            provider is not None
            and provider not in SHIPPING_PROVIDERS
            and not _CARRIER.fullmatch(provider)
        ):
            raise InvalidArgumentError(
                f"shipping_provider {provider!r:.40} is not one of "
                f"{', '.join(sorted(p for p in SHIPPING_PROVIDERS if p))}, '' or carrier_<id>"
            )
        options: dict[str, object | None] = {
            "tracking_number": _optional_string(
                "tracking_number", tracking_number, MAX_TRACKING_NUMBER
            ),
            "shipping_provider": provider,
            "tracking_carrier": _optional_string("tracking_carrier", tracking_carrier),
            "shipping_method": _optional_string("shipping_method", shipping_method),
            "comments": _optional_string("comments", comments, MAX_TEXT),
            "tracking_link": _optional_string("tracking_link", tracking_link, MAX_TRACKING_LINK),
            "merchant_shipping_cost": (
                None
                if merchant_shipping_cost is None
                else _money_string("merchant_shipping_cost", merchant_shipping_cost)
            ),
        }
        return {key: value for key, value in options.items() if value is not None}


def build_shipment(
    *,
    order_address_id: object,
    items: object,
    tracking_number: object = None,
    shipping_provider: object = None,
    tracking_carrier: object = None,
    shipping_method: object = None,
    comments: object = None,
    tracking_link: object = None,
    merchant_shipping_cost: object = None,
) -> dict[str, object]:
    """Check the arguments of a shipment and return the body for
    ``POST /v2/orders/{order_id}/shipments`` (``orderShipment_Post``), ``None`` values left
    out: ``order_address_id``, :func:`shipment_items` and :func:`shipment_options`.

    The server also requires the products to belong to ``order_address_id``; that needs the
    order's products and is checked by the caller, not here.

    Raises:
        InvalidArgumentError: naming the first offending argument.
    """
    with _context(_SHIPMENT):
        address = positive_id("order_address_id", order_address_id)
    body: dict[str, object] = {"order_address_id": address, "items": shipment_items(items)}
    body.update(
        shipment_options(
            tracking_number=tracking_number,
            shipping_provider=shipping_provider,
            tracking_carrier=tracking_carrier,
            shipping_method=shipping_method,
            comments=comments,
            tracking_link=tracking_link,
            merchant_shipping_cost=merchant_shipping_cost,
        )
    )
    return body


# --- flat billing names --------------------------------------------------------------------


def billing_from_flat(billing: Mapping[str, object]) -> dict[str, object]:
    """Turn the flat billing names of the "update order" automation module into a V2
    ``billing_address`` object.

    Accepted names: ``first_name``, ``last_name``, ``street`` (-> ``street_1``), ``street2``
    (-> ``street_2``), ``city``, ``state``, ``zip``, ``country``, ``email``, ``phone``; the
    V2 names themselves (``street_1``, ``company``, ``country_iso2``, ``form_fields`` ...);
    and any of these with the module's ``billing_`` prefix (``billing_street``). ``None``
    values are left out (a form field that was not filled in); the result can be ``{}``.

    Raises:
        InvalidArgumentError: for an unknown name, a name given twice under two spellings
            (``street`` and ``street_1``) or a value that is not valid for the V2 field.
    """
    with _context("billing_from_flat()"):
        data = mapping("billing", billing)
        result: dict[str, object] = {}
        source: dict[str, str] = {}
        allowed = frozenset(_BILLING_KEYS | _FLAT_BILLING_ALIASES.keys())
        for key, value in data.items():
            bare = key.removeprefix("billing_") if isinstance(key, str) else key
            if not isinstance(key, str) or bare not in allowed:
                raise InvalidArgumentError(
                    f"unknown billing field {key!r}{did_you_mean(bare, allowed)}"
                )
            assert isinstance(bare, str)
            target = _FLAT_BILLING_ALIASES.get(bare, bare)
            if target in source:
                raise InvalidArgumentError(
                    f"{key!r} and {source[target]!r} both set billing {target!r}"
                )
            source[target] = key
            if value is not None:
                result[target] = value
        if not result:
            return {}
        return _address("billing_address", result, billing=True)
