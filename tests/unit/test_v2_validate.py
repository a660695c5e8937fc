"""Request-body checks for V2 order updates and shipments (pure, no server)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcb2b_async._v2_validate import (
    ORDER_PAIRED_FIELDS,
    ORDER_READ_ONLY_FIELDS,
    ORDER_WRITABLE_FIELDS,
    billing_from_flat,
    build_order_update,
    build_shipment,
    shipment_items,
    shipment_options,
)
from bcb2b_async.errors import InvalidArgumentError
from bcb2b_async.models.v2_orders import SHIPPING_PROVIDERS, OrderStatus


def reject(fields: dict[str, Any], *needles: str) -> str:
    """Assert build_order_update refuses ``fields`` with every needle in the message."""
    with pytest.raises(InvalidArgumentError) as info:
        build_order_update(fields)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# --- the writable set --------------------------------------------------------------------


def test_writable_and_read_only_sets_are_disjoint() -> None:
    assert ORDER_WRITABLE_FIELDS.isdisjoint(ORDER_READ_ONLY_FIELDS)
    for first, second in ORDER_PAIRED_FIELDS:
        assert {first, second} <= ORDER_WRITABLE_FIELDS


def test_writable_set_is_order_put_minus_read_only() -> None:
    """Checked against the pinned copy of the official spec (tests/specs)."""
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "specs" / "v2-orders.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    put = spec["components"]["schemas"]["order_Put"]
    props: set[str] = set()
    for part in put["allOf"]:
        props |= set(part.get("properties", {}))
    excluded = {"external_id", "external_merchant_id", "default_currency_code", "tax_provider_id"}
    assert (props - excluded) | {"is_deleted"} == ORDER_WRITABLE_FIELDS
    assert excluded <= set(ORDER_READ_ONLY_FIELDS)


@pytest.mark.parametrize(
    "field",
    [
        "external_id",
        "external_merchant_id",
        "date_modified",
        "date_shipped",
        "id",
        "status",
        "custom_status",
        "cart_id",
        "subtotal_tax",
        "total_tax",
        "payment_status",
        "currency_code",
        "default_currency_code",
        "tax_provider_id",
        "coupon_discount",
        "store_credit_amount",
        "is_email_opt_in",
        "shipping_address_count",
    ],
)
def test_read_only_fields_rejected(field: str) -> None:
    message = reject({field: "x"}, f"'{field}'", "read-only")
    assert message.startswith("update(): ")


def test_external_id_message() -> None:
    reject({"external_id": "AMZ-1", "staff_notes": "x"}, "update(): 'external_id' is read-only")


def test_unknown_field_rejected_with_hint() -> None:
    reject({"foo": 1}, "unknown field 'foo'")
    reject({"staf_notes": "x"}, "unknown field 'staf_notes'", "did you mean 'staff_notes'")


def test_non_string_key_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown field"):
        build_order_update({1: "x"})  # type: ignore[dict-item]


def test_empty_update_rejected() -> None:
    reject({}, "no fields")


def test_not_a_mapping_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="mapping"):
        build_order_update([("status_id", 1)])  # type: ignore[arg-type]


# --- pairs -------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), ORDER_PAIRED_FIELDS)
def test_pairs_need_both_halves(first: str, second: str) -> None:
    reject({first: "1.00"}, first, second)
    reject({second: "1.00"}, first, second)
    body = build_order_update({first: "10", second: "11.5"})
    assert body == {first: "10", second: "11.5"}


def test_pairs_are_the_documented_ones() -> None:
    assert set(ORDER_PAIRED_FIELDS) == {
        ("subtotal_ex_tax", "subtotal_inc_tax"),
        ("total_ex_tax", "total_inc_tax"),
        ("shipping_cost_ex_tax", "shipping_cost_inc_tax"),
    }


@pytest.mark.parametrize(
    "field",
    [
        "handling_cost_ex_tax",
        "handling_cost_inc_tax",
        "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax",
        "base_shipping_cost",
    ],
)
def test_unpaired_money_fields_alone_are_fine(field: str) -> None:
    assert build_order_update({field: 2}) == {field: "2"}


# --- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (12, "12"),
        (0, "0"),
        (12.5, "12.5"),
        (0.1, "0.1"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+2"), "100"),
        ("12.50", "12.50"),
        ("7", "7"),
        (".5", "0.5"),
        ("-0", "0"),
        (-0.0, "0.0"),
    ],
)
def test_money_accepted_and_sent_as_string(value: object, sent: str) -> None:
    body = build_order_update({"discount_amount": value})
    assert body == {"discount_amount": sent}
    assert Decimal(sent) == Decimal(str(value)) or Decimal(sent) == 0


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (-1, "negative"),
        (-0.01, "negative"),
        ("-3.5", "negative"),
        (Decimal("-1"), "negative"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        (-math.inf, "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (True, "amount"),
        (False, "amount"),
        ("abc", "decimal"),
        ("", "decimal"),
        ("12,50", "decimal"),
        ("1e3", "decimal"),
        (" 12", "decimal"),
        ("NaN", "decimal"),
        (None, "amount"),
        ([1], "amount"),
        (1e300, "too large"),
    ],
)
def test_bad_money_rejected(value: object, needle: str) -> None:
    reject({"refunded_amount": value}, "refunded_amount", needle)


def test_bad_money_in_pair_names_the_field() -> None:
    reject({"total_ex_tax": "10", "total_inc_tax": -1}, "total_inc_tax", "negative")


# --- status ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(range(15)))
def test_every_status_accepted(status: int) -> None:
    assert build_order_update({"status_id": status}) == {"status_id": status}


def test_status_enum_member_sent_as_plain_int() -> None:
    body = build_order_update({"status_id": OrderStatus.SHIPPED})
    assert body == {"status_id": 2}
    assert type(body["status_id"]) is int
    assert json.dumps(body) == '{"status_id": 2}'


@pytest.mark.parametrize("value", [-1, 15, 100, True, False, "2", 2.0, None])
def test_bad_status_rejected(value: object) -> None:
    reject({"status_id": value}, "status_id")


# --- notes -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["staff_notes", "customer_message"])
def test_notes_limits(field: str) -> None:
    assert build_order_update({field: "x" * 65_535}) == {field: "x" * 65_535}
    assert build_order_update({field: ""}) == {field: ""}
    reject({field: "x" * 65_536}, field, "65535")
    reject({field: 5}, field, "string")
    reject({field: None}, field, "string")


# --- scalars -----------------------------------------------------------------------------


def test_is_deleted_must_be_bool() -> None:
    assert build_order_update({"is_deleted": True}) == {"is_deleted": True}
    reject({"is_deleted": 1}, "is_deleted")
    reject({"is_deleted": "true"}, "is_deleted")


def test_other_scalars() -> None:
    body = build_order_update(
        {
            "customer_id": 0,
            "channel_id": 1,
            "items_total": 3,
            "order_is_digital": False,
            "payment_method": "Cash",
            "payment_provider_id": "tx-1",
            "customer_locale": "es-419",
            "external_source": None,
            "external_order_id": "EXT-1",
            "ip_address": "12.34.56.78",
            "date_created": "Tue, 20 Nov 2012 00:00:00 +0000",
            "order_source": "external",
            "ebay_order_id": "0",
            "geoip_country_iso2": "US",
        }
    )
    assert body["customer_id"] == 0
    assert body["external_source"] is None
    assert body["date_created"] == "Tue, 20 Nov 2012 00:00:00 +0000"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"customer_id": -1}, "customer_id"),
        ({"customer_id": True}, "customer_id"),
        ({"channel_id": 0}, "channel_id"),
        ({"items_shipped": 1.5}, "items_shipped"),
        ({"customer_locale": "english"}, "customer_locale"),
        ({"customer_locale": "EN"}, "customer_locale"),
        ({"date_created": "2012-11-20"}, "date_created"),
        ({"date_created": 1353369600}, "date_created"),
        ({"ip_address": "1" * 31}, "ip_address"),
        ({"ip_address_v6": "f" * 40}, "ip_address_v6"),
        ({"ip_address": "1.2.3.4", "ip_address_v6": "::1"}, "ip_address_v6"),
        ({"payment_provider_id": None}, "payment_provider_id"),
        ({"payment_provider_id": True}, "payment_provider_id"),
        ({"order_is_digital": "no"}, "order_is_digital"),
        ({"external_order_id": 5}, "external_order_id"),
    ],
)
def test_bad_scalars_rejected(fields: dict[str, Any], needle: str) -> None:
    reject(fields, needle)


# --- billing address ---------------------------------------------------------------------


def test_billing_address_happy_path() -> None:
    address = {
        "first_name": "Jane",
        "last_name": "Doe",
        "street_1": "123 Main Street",
        "city": "Austin",
        "state": "Texas",
        "zip": "78751",
        "country": "United States",
        "country_iso2": "US",
        "email": "janedoe@example.com",
        "form_fields": [{"name": "Wholesale ID", "value": "123"}, {"name": "n", "value": 1.5}],
    }
    body = build_order_update({"billing_address": address})
    assert body == {"billing_address": address}
    assert body["billing_address"] is not address  # a fresh copy


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("Jane Doe", "billing_address must be a mapping"),
        ({"first_name": "Jane", "street": "x"}, "billing_address.'street'"),
        ({"zip": "1"}, "billing_address.zip"),
        ({"city": 5}, "billing_address.city"),
        ({"country_iso2": "USA"}, "billing_address.country_iso2"),
        ({}, "billing_address"),
        ({"form_fields": "x"}, "billing_address.form_fields"),
        ({"form_fields": [{"value": "x"}]}, "billing_address.form_fields[0].name"),
        ({"form_fields": [{"name": "a", "value": {"x": 1}}]}, "form_fields[0].value"),
        ({"id": 3}, "billing_address.'id'"),
    ],
)
def test_bad_billing_address(value: object, needle: str) -> None:
    reject({"billing_address": value}, needle)


def test_billing_address_unknown_key_hint() -> None:
    reject({"billing_address": {"street1": "x"}}, "'street1'", "did you mean 'street_1'")


# --- shipping addresses --------------------------------------------------------------------


def test_shipping_addresses_happy_path() -> None:
    body = build_order_update(
        {
            "shipping_addresses": [
                {"id": 12, "street_1": "666 Sussex St", "shipping_method": "Free Shipping"},
                {"first_name": "Trish", "zip": "78751"},
            ]
        }
    )
    assert body["shipping_addresses"] == [
        {"id": 12, "street_1": "666 Sussex St", "shipping_method": "Free Shipping"},
        {"first_name": "Trish", "zip": "78751"},
    ]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"id": 1}, "shipping_addresses must be a list"),
        (["x"], "shipping_addresses[0] must be a mapping"),
        ([{"id": 0, "city": "x"}], "shipping_addresses[0].id"),
        ([{"id": True, "city": "x"}], "shipping_addresses[0].id"),
        ([{"id": 1, "cty": "x"}], "shipping_addresses[0].'cty'"),
        ([{"id": 1, "city": "a"}, {"id": 1, "city": "b"}], "shipping_addresses[1].id"),
        ([{}], "shipping_addresses[0]"),
        ([{"id": 1, "shipping_method": 3}], "shipping_addresses[0].shipping_method"),
    ],
)
def test_bad_shipping_addresses(value: object, needle: str) -> None:
    reject({"shipping_addresses": value}, needle)


# --- products ------------------------------------------------------------------------------


def test_products_examples_from_the_spec() -> None:
    """The request examples of PUT /orders/{order_id} pass (option values given as ints)."""
    body = build_order_update(
        {
            "products": [
                {
                    "name": "BigCommerce Poster",
                    "quantity": 1,
                    "price_inc_tax": 10.98,
                    "price_ex_tax": 10,
                },
                {
                    "product_id": 184,
                    "quantity": 1,
                    "product_options": [{"id": 200, "value": "180"}, {"id": 230, "value": "192"}],
                },
                {
                    "product_id": 123,
                    "quantity": 5,
                    "product_options": [{"id": 56, "value": 12}],
                    "price_inc_tax": 12.45,
                    "price_ex_tax": 10.12,
                },
                {
                    "name": "BigCommerce Coffee Mug",
                    "quantity": 1,
                    "price_inc_tax": "12.45",
                    "price_ex_tax": Decimal("10.12"),
                    "sku": "MUG-GRY",
                },
                {
                    "id": 117,
                    "product_id": 123,
                    "quantity": 1,
                    "product_options": [{"id": 56, "value": 12}],
                    "price_inc_tax": 12.45,
                    "price_ex_tax": 10.12,
                },
            ]
        }
    )
    products = body["products"]
    assert isinstance(products, list)
    # Prices are `type: number` in the product schemas: sent as numbers.
    assert products[0]["price_inc_tax"] == 10.98
    assert products[0]["price_ex_tax"] == 10
    assert products[3]["price_inc_tax"] == 12.45
    assert products[3]["price_ex_tax"] == 10.12
    assert isinstance(products[3]["price_ex_tax"], float)
    # Option values are `type: string`.
    assert products[2]["product_options"] == [{"id": 56, "value": "12"}]


def test_product_remove_with_quantity_zero() -> None:
    body = build_order_update({"products": [{"id": 117, "quantity": 0}]})
    assert body == {"products": [{"id": 117, "quantity": 0}]}


def test_product_partial_update() -> None:
    body = build_order_update({"products": [{"id": 5, "name_merchant": "Towel Type 1"}]})
    assert body == {"products": [{"id": 5, "name_merchant": "Towel Type 1"}]}


def test_product_wrapping() -> None:
    body = build_order_update(
        {
            "products": [
                {
                    "id": 5,
                    "wrapping_id": 2,
                    "wrapping_cost_ex_tax": "1.50",
                    "wrapping_cost_inc_tax": 2,
                    "wrapping_message": "Happy birthday",
                }
            ]
        }
    )
    assert body["products"] == [
        {
            "id": 5,
            "wrapping_id": 2,
            "wrapping_cost_ex_tax": 1.5,
            "wrapping_cost_inc_tax": 2,
            "wrapping_message": "Happy birthday",
        }
    ]
    assert build_order_update({"products": [{"id": 5, "wrapping_id": 0}]})["products"] == [
        {"id": 5, "wrapping_id": 0}
    ]


def test_custom_product_with_only_name_merchant() -> None:
    product = {"name_merchant": "Mug", "quantity": 2, "price_ex_tax": 1, "price_inc_tax": 1}
    assert build_order_update({"products": [product]}) == {"products": [product]}


@pytest.mark.parametrize(
    ("product", "needle"),
    [
        ("mug", "products[0] must be a mapping"),
        ({"product_id": 5, "quantity": 0}, "products[0].quantity"),
        ({"product_id": 5}, "products[0].quantity is required"),
        ({"product_id": 5, "quantity": -1}, "products[0].quantity"),
        ({"product_id": 5, "quantity": 1.5}, "products[0].quantity"),
        ({"product_id": 5, "quantity": True}, "products[0].quantity"),
        ({"id": 5, "quantity": -1}, "products[0].quantity"),
        ({"id": 0, "quantity": 1}, "products[0].id"),
        ({"id": -3, "quantity": 1}, "products[0].id"),
        ({"id": "5", "quantity": 1}, "products[0].id"),
        ({"id": True, "quantity": 1}, "products[0].id"),
        ({"product_id": 0, "quantity": 1}, "products[0].product_id"),
        ({"product_id": 5, "quantity": 1, "variant_id": -1}, "products[0].variant_id"),
        ({"id": 5}, "products[0]"),
        ({"quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1}, "name"),
        ({"name": "Mug", "quantity": 1, "price_ex_tax": 1}, "products[0].price_inc_tax"),
        ({"name": "Mug", "quantity": 1, "price_inc_tax": 1}, "products[0].price_ex_tax"),
        (
            {"name": "", "quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1},
            "products[0].name",
        ),
        (
            {"name": None, "quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1},
            "products[0].name",
        ),
        (
            {"name": "x" * 251, "quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1},
            "products[0].name",
        ),
        (
            {"name": "Mug", "quantity": 1, "price_ex_tax": -1, "price_inc_tax": 1},
            "products[0].price_ex_tax",
        ),
        (
            {"name": "Mug", "quantity": 1, "price_ex_tax": "x", "price_inc_tax": 1},
            "products[0].price_ex_tax",
        ),
        (
            {
                "name": "A",
                "name_customer": "B",
                "quantity": 1,
                "price_ex_tax": 1,
                "price_inc_tax": 1,
            },
            "products[0].name_customer",
        ),
        # Custom add: catalog-only keys are unknown.
        (
            {"name": "Mug", "quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1, "variant_id": 3},
            "products[0].'variant_id'",
        ),
        # Catalog add: sku is not in orderCatalogProduct_Post.
        ({"product_id": 5, "quantity": 1, "sku": "X"}, "products[0].'sku'"),
        ({"id": 5, "quantity": 1, "colour": "red"}, "products[0].'colour'"),
        ({"id": 5, "wrapping_id": 3}, "products[0].wrapping_cost_ex_tax"),
        (
            {"id": 5, "wrapping_id": 3, "wrapping_cost_ex_tax": 1},
            "products[0].wrapping_cost_inc_tax",
        ),
        ({"id": 5, "wrapping_id": -1}, "products[0].wrapping_id"),
        ({"id": 5, "upc": "1" * 256}, "products[0].upc"),
        ({"id": 5, "sku": 5}, "products[0].sku"),
        ({"id": 5, "product_options": {"id": 1}}, "products[0].product_options"),
        ({"id": 5, "product_options": [{"value": "1"}]}, "products[0].product_options[0].id"),
        ({"id": 5, "product_options": [{"id": 0, "value": "1"}]}, "product_options[0].id"),
        (
            {"id": 5, "product_options": [{"id": 1, "value": 1.5}]},
            "products[0].product_options[0].value",
        ),
        (
            {"id": 5, "product_options": [{"id": 1, "display_name": ""}]},
            "product_options[0].display_name",
        ),
        (
            {"id": 5, "product_options": [{"id": 1, "price": "1"}]},
            "product_options[0].'price'",
        ),
        (
            {"id": 5, "product_options": [{"id": 1}, {"id": 1}]},
            "product_options[1].id",
        ),
    ],
)
def test_bad_products(product: object, needle: str) -> None:
    reject({"products": [product]}, needle)


def test_products_must_be_a_list_and_ids_unique() -> None:
    reject({"products": {"id": 1, "quantity": 0}}, "products must be a list")
    reject({"products": "abc"}, "products must be a list")
    reject({"products": [{"id": 1, "quantity": 0}, {"id": 1, "quantity": 2}]}, "products[1].id")


def test_error_names_the_failing_index() -> None:
    good = {"id": 1, "quantity": 1}
    reject({"products": [good, {"id": 2, "quantity": 1}, {"product_id": 3}]}, "products[2]")


# --- fees and consignments -----------------------------------------------------------------


def test_fees_happy_path_and_empty_list() -> None:
    body = build_order_update(
        {
            "fees": [
                {
                    "type": "custom_fee",
                    "display_name_customer": "C Fee",
                    "source": "AA",
                    "cost_ex_tax": "22.5000",
                    "cost_inc_tax": 25,
                },
                {
                    "id": 2,
                    "type": "custom_fee",
                    "display_name_merchant": "B Fee",
                    "cost_ex_tax": 4.0,
                    "cost_tax": "8.0000",
                    "tax_class_id": None,
                },
            ]
        }
    )
    fees = body["fees"]
    assert isinstance(fees, list)
    assert fees[0]["cost_inc_tax"] == "25"
    assert fees[1]["cost_ex_tax"] == "4.0"
    assert fees[1]["tax_class_id"] is None
    # [] deletes every fee: a meaningful update.
    assert build_order_update({"fees": []}) == {"fees": []}


@pytest.mark.parametrize(
    ("fee", "needle"),
    [
        ({"display_name_customer": "A", "cost_exc_tax": "1", "cost_inc_tax": "1"}, "cost_exc_tax"),
        ({"cost_ex_tax": "1", "cost_inc_tax": "1"}, "fees[0] needs display_name"),
        ({"display_name_customer": "A", "cost_ex_tax": "1"}, "fees[0] needs at least two"),
        (
            {"display_name_customer": "A", "cost_ex_tax": -1, "cost_inc_tax": "1"},
            "fees[0].cost_ex_tax",
        ),
        (
            {"type": "tip", "display_name_customer": "A", "cost_ex_tax": 1, "cost_tax": 0},
            "fees[0].type",
        ),
        (
            {"id": 0, "display_name_customer": "A", "cost_ex_tax": 1, "cost_tax": 0},
            "fees[0].id",
        ),
        (
            {"display_name_customer": "A", "cost_ex_tax": 1, "cost_tax": 0, "tax_class_id": -2},
            "fees[0].tax_class_id",
        ),
    ],
)
def test_bad_fees(fee: object, needle: str) -> None:
    reject({"fees": [fee]}, needle)


def test_consignments() -> None:
    body = build_order_update(
        {
            "consignments": {
                "pickups": [
                    {
                        "id": 99,
                        "pickup_method_id": 1,
                        "collection_instructions": "Bring your ID",
                        "location": {"name": "Location 1", "country_alpha2": "US"},
                        "line_items": [{"id": 12, "quantity": 3}],
                    }
                ]
            }
        }
    )
    assert body["consignments"] == {
        "pickups": [
            {
                "id": 99,
                "pickup_method_id": 1,
                "collection_instructions": "Bring your ID",
                "location": {"name": "Location 1", "country_alpha2": "US"},
                "line_items": [{"id": 12, "quantity": 3}],
            }
        ]
    }
    reject({"consignments": {"pickups": [{"pickup_method_id": 1}]}}, "consignments.pickups[0].id")
    reject({"consignments": {"shipping": []}}, "consignments.'shipping'")
    reject(
        {"consignments": {"pickups": [{"id": 1, "location": {"country_alpha2": "USA"}}]}},
        "location.country_alpha2",
    )
    reject(
        {"consignments": {"pickups": [{"id": 1, "line_items": [{"id": 1, "quantity": -1}]}]}},
        "consignments.pickups[0].line_items[0].quantity",
    )


# --- whole bodies ----------------------------------------------------------------------------


def test_seed_004_examples() -> None:
    assert build_order_update({"status_id": 2}) == {"status_id": 2}
    assert build_order_update({"staff_notes": "VIP customer - High priority"}) == {
        "staff_notes": "VIP customer - High priority"
    }


def test_body_is_json_serialisable_and_input_untouched() -> None:
    fields: dict[str, Any] = {
        "status_id": 11,
        "subtotal_ex_tax": Decimal("225.0000"),
        "subtotal_inc_tax": 247.5,
        "billing_address": {"first_name": "Jane", "zip": "78751"},
        "products": [{"id": 1, "quantity": 2, "price_ex_tax": Decimal("3.25")}],
    }
    snapshot = json.dumps(fields, default=str)
    body = build_order_update(fields)
    assert json.loads(json.dumps(body)) == {
        "status_id": 11,
        "subtotal_ex_tax": "225.0000",
        "subtotal_inc_tax": "247.5",
        "billing_address": {"first_name": "Jane", "zip": "78751"},
        "products": [{"id": 1, "quantity": 2, "price_ex_tax": 3.25}],
    }
    assert json.dumps(fields, default=str) == snapshot


# --- hypothesis: only InvalidArgumentError, ever ------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["id", "product_id", "quantity", "name", "value", "zip", "price_ex_tax", "pickups"]
            )
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
_field_names = st.sampled_from(
    sorted(ORDER_WRITABLE_FIELDS | set(ORDER_READ_ONLY_FIELDS))
) | st.text(max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_field_names, _json_values, max_size=5))
def test_build_order_update_raises_only_invalid_argument(fields: dict[str, Any]) -> None:
    try:
        body = build_order_update(fields)
    except InvalidArgumentError as err:
        assert str(err).startswith("update(): ")
    else:
        assert set(body) == set(fields)
        json.dumps(body, allow_nan=False)  # what was accepted can be sent


_product_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=300),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.dictionaries(st.sampled_from(["id", "value", "display_name"]), _json_scalars)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                sorted(
                    {
                        "id",
                        "product_id",
                        "variant_id",
                        "quantity",
                        "name",
                        "name_customer",
                        "name_merchant",
                        "price_ex_tax",
                        "price_inc_tax",
                        "sku",
                        "upc",
                        "wrapping_id",
                        "wrapping_cost_ex_tax",
                        "wrapping_cost_inc_tax",
                        "product_options",
                    }
                )
            ),
            _product_values,
            max_size=6,
        ),
        max_size=3,
    )
)
def test_products_raise_only_invalid_argument(products: list[dict[str, Any]]) -> None:
    try:
        body = build_order_update({"products": products})
    except InvalidArgumentError as err:
        assert "products" in str(err)
    else:
        json.dumps(body, allow_nan=False)


# --- shipments -------------------------------------------------------------------------------


def _shipment(**overrides: Any) -> dict[str, object]:
    args: dict[str, Any] = {
        "order_address_id": 131,
        "items": [{"order_product_id": 194, "quantity": 1}],
        "tracking_number": "EJ958083578US",
        "shipping_provider": "usps",
        "tracking_carrier": None,
        "shipping_method": None,
        "comments": None,
    }
    args.update(overrides)
    return build_shipment(**args)


def test_shipment_happy_path_omits_none() -> None:
    assert _shipment() == {
        "order_address_id": 131,
        "items": [{"order_product_id": 194, "quantity": 1}],
        "tracking_number": "EJ958083578US",
        "shipping_provider": "usps",
    }


def test_shipment_all_fields() -> None:
    body = _shipment(
        items=[{"order_product_id": 194, "quantity": 1}, {"order_product_id": 195, "quantity": 2}],
        tracking_carrier="ups",
        shipping_method="Ship by Weight",
        comments="Ready to go...",
        tracking_link="https://example.com/t/1",
        merchant_shipping_cost=Decimal("1.00"),
    )
    assert body["comments"] == "Ready to go..."
    assert body["tracking_link"] == "https://example.com/t/1"
    assert body["merchant_shipping_cost"] == "1.00"
    assert len(body["items"]) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", [*sorted(SHIPPING_PROVIDERS), "carrier_1234567", "carrier_1"])
def test_shipment_providers_accepted(provider: str) -> None:
    assert _shipment(shipping_provider=provider)["shipping_provider"] == provider


def test_seed_004_shipment() -> None:
    body = _shipment(
        tracking_number="1Z999AA10123456784", shipping_provider="ups", tracking_carrier="UPS"
    )
    assert body["tracking_carrier"] == "UPS"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"order_address_id": 0}, "order_address_id"),
        ({"order_address_id": True}, "order_address_id"),
        ({"order_address_id": "131"}, "order_address_id"),
        ({"order_address_id": None}, "order_address_id"),
        ({"items": []}, "items"),
        ({"items": None}, "items"),
        ({"items": {"order_product_id": 1, "quantity": 1}}, "items"),
        ({"items": ["x"]}, "items[0]"),
        ({"items": [{"quantity": 1}]}, "items[0].order_product_id"),
        ({"items": [{"order_product_id": 1}]}, "items[0].quantity"),
        ({"items": [{"order_product_id": 0, "quantity": 1}]}, "items[0].order_product_id"),
        ({"items": [{"order_product_id": 1, "quantity": 0}]}, "items[0].quantity"),
        ({"items": [{"order_product_id": 1, "quantity": True}]}, "items[0].quantity"),
        ({"items": [{"order_product_id": 1, "quantity": 1.0}]}, "items[0].quantity"),
        (
            {"items": [{"order_product_id": 1, "quantity": 1, "product_id": 5}]},
            "items[0].product_id",
        ),
        ({"items": [{"order_product_id": 1, "quantity": 1, "sku": "x"}]}, "items[0].'sku'"),
        (
            {
                "items": [
                    {"order_product_id": 7, "quantity": 1},
                    {"order_product_id": 7, "quantity": 2},
                ]
            },
            "items[1].order_product_id",
        ),
        ({"tracking_number": "x" * 51}, "tracking_number"),
        ({"tracking_number": 123}, "tracking_number"),
        ({"shipping_provider": "dhl"}, "shipping_provider"),
        ({"shipping_provider": "UPS"}, "shipping_provider"),
        ({"shipping_provider": "carrier_"}, "shipping_provider"),
        ({"shipping_provider": "carrier_12a"}, "shipping_provider"),
        ({"shipping_provider": 5}, "shipping_provider"),
        ({"tracking_carrier": 5}, "tracking_carrier"),
        ({"shipping_method": 5}, "shipping_method"),
        ({"comments": "x" * 65_536}, "comments"),
        ({"tracking_link": "x" * 501}, "tracking_link"),
        ({"merchant_shipping_cost": -1}, "merchant_shipping_cost"),
    ],
)
def test_bad_shipments(overrides: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        _shipment(**overrides)
    assert needle in str(info.value)


def test_shipment_limits_inclusive() -> None:
    assert _shipment(tracking_number="x" * 50)["tracking_number"] == "x" * 50
    assert _shipment(comments="x" * 65_535)["comments"] == "x" * 65_535
    assert _shipment(shipping_provider="")["shipping_provider"] == ""


def test_shipment_items_accept_tuples() -> None:
    body = _shipment(items=({"order_product_id": 1, "quantity": 3},))
    assert body["items"] == [{"order_product_id": 1, "quantity": 3}]


# --- billing_from_flat -------------------------------------------------------------------------


def test_billing_from_flat_seed_004() -> None:
    assert billing_from_flat(
        {
            "first_name": "Juan",
            "last_name": "Perez",
            "street": "Calle Nueva 456",
            "street2": "Piso 2",
            "city": "Madrid",
            "state": "Madrid",
            "zip": "28002",
            "country": "Spain",
            "email": "juan@example.com",
            "phone": "+34 600 000 000",
        }
    ) == {
        "first_name": "Juan",
        "last_name": "Perez",
        "street_1": "Calle Nueva 456",
        "street_2": "Piso 2",
        "city": "Madrid",
        "state": "Madrid",
        "zip": "28002",
        "country": "Spain",
        "email": "juan@example.com",
        "phone": "+34 600 000 000",
    }


def test_billing_from_flat_prefixed_and_v2_names() -> None:
    assert billing_from_flat(
        {"billing_street": "Calle Nueva 456", "billing_city": "Madrid", "country_iso2": "ES"}
    ) == {"street_1": "Calle Nueva 456", "city": "Madrid", "country_iso2": "ES"}
    assert billing_from_flat({"street_1": "a", "company": "Acme"}) == {
        "street_1": "a",
        "company": "Acme",
    }


def test_billing_from_flat_drops_none_and_feeds_update() -> None:
    flat = billing_from_flat({"first_name": "Juan", "street2": None, "zip": None})
    assert flat == {"first_name": "Juan"}
    assert billing_from_flat({"city": None}) == {}
    assert build_order_update({"billing_address": flat}) == {"billing_address": flat}


@pytest.mark.parametrize(
    ("billing", "needle"),
    [
        ({"nickname": "J"}, "'nickname'"),
        ({"billing_nickname": "J"}, "'billing_nickname'"),
        ({"streeet": "x"}, "did you mean 'street'"),
        ({"street": "a", "street_1": "b"}, "street_1"),
        ({"street": "a", "billing_street": "b"}, "billing_street"),
        ({"city": 5}, "city"),
        ({"zip": "1"}, "zip"),
    ],
)
def test_billing_from_flat_rejects(billing: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        billing_from_flat(billing)
    assert needle in str(info.value)


def test_billing_from_flat_not_a_mapping() -> None:
    with pytest.raises(InvalidArgumentError, match="billing"):
        billing_from_flat("Juan Perez")  # type: ignore[arg-type]


def test_non_ascii_digits_rejected() -> None:
    reject({"discount_amount": "\u0663"}, "discount_amount")
    reject({"customer_locale": "es-\u0664\u0661\u0669"}, "customer_locale")
    with pytest.raises(InvalidArgumentError, match="shipping_provider"):
        _shipment(shipping_provider="carrier_\u0663")


def test_short_zip_only_refused_for_billing() -> None:
    body = build_order_update({"shipping_addresses": [{"id": 1, "zip": "1"}]})
    assert body == {"shipping_addresses": [{"id": 1, "zip": "1"}]}


# --- shipment parts: checked on their own, no placeholder arguments (issue 15) -----------------


def test_shipment_options_alone() -> None:
    assert shipment_options() == {}
    assert shipment_options(tracking_number="1Z", shipping_provider="ups",
                            merchant_shipping_cost=Decimal("1.50")) == {
        "tracking_number": "1Z", "shipping_provider": "ups", "merchant_shipping_cost": "1.50"}
    with pytest.raises(InvalidArgumentError, match=r"^create_shipment\(\): tracking_number"):
        shipment_options(tracking_number="x" * 51)
    with pytest.raises(InvalidArgumentError, match="shipping_provider"):
        shipment_options(shipping_provider="dhl")


def test_shipment_items_alone() -> None:
    items = [{"order_product_id": 5, "quantity": 2}]
    out = shipment_items(items)
    assert out == items and out[0] is not items[0]  # fresh dicts
    with pytest.raises(InvalidArgumentError,
                       match=r"^create_shipment\(\): items\[1\]\.order_product_id 5 is given "
                             r"twice; add the quantities$"):
        shipment_items([*items, {"order_product_id": 5, "quantity": 1}])
    with pytest.raises(InvalidArgumentError, match="at least one"):
        shipment_items([])


def test_build_shipment_is_address_plus_items_plus_options() -> None:
    body = _shipment(comments="c")
    assert body == {
        "order_address_id": 131,
        "items": shipment_items([{"order_product_id": 194, "quantity": 1}]),
        **shipment_options(tracking_number="EJ958083578US", shipping_provider="usps",
                           comments="c"),
    }


def test_errors_name_the_call_once() -> None:
    """The ``update():`` prefix is added once, however deep the failing check."""
    message = reject({"products": [{"id": 1, "product_options": [{"id": 0}]}]},
                     "products[0].product_options[0].id")
    assert message.count("update():") == 1 and message.startswith("update(): ")
