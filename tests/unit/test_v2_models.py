"""The V2 order Structs against the official spec: every example decodes, no field is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from bcb2b_async.models.v2_orders import (
    SHIPPING_PROVIDERS,
    OrderStatus,
    OrderUpdateResult,
    Shipment,
    ShipmentItem,
    V2BillingAddress,
    V2Consignments,
    V2ConsignmentWarning,
    V2Order,
    V2OrderFee,
    V2OrderProduct,
    V2OrderProductOption,
    V2OrdersCount,
    V2PickupLocation,
    V2ResourceRef,
    V2ShippingAddress,
    V2ShippingConsignment,
    parse_rfc2822,
    to_decimal,
)

#: The pinned copy of the official V2 spec (tests/specs, checked against SHA256SUMS).
SPEC_PATH = Path(__file__).resolve().parents[1] / "specs" / "v2-orders.yml"

# Keys in the spec's examples that are typos of real fields ("currency_code\"" in the
# "Multiple Items" order, "option id" in a product option, "cost_exc_tax" in a fee).
EXAMPLE_TYPOS = {'currency_code"', "option id", "cost_exc_tax"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def _examples(spec: dict[str, Any], response: str) -> list[tuple[str, Any]]:
    content = spec["components"]["responses"][response]["content"]["application/json"]
    return [(name, ex["value"]) for name, ex in content["examples"].items()]


def _as_json(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """All property names of a schema, following $ref and allOf."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _properties(spec, spec["components"]["schemas"][name])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _properties(spec, part)
    return names


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def _fields(cls: type[msgspec.Struct]) -> set[str]:
    return set(cls.__struct_fields__)


def _money_to_numbers(obj: Any) -> Any:
    """Replace every decimal string by the JSON number it spells (what V2 sometimes sends)."""
    if isinstance(obj, dict):
        return {k: _money_to_numbers(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_money_to_numbers(v) for v in obj]
    if isinstance(obj, str):
        try:
            number = Decimal(obj)
        except ArithmeticError:
            return obj
        if number.is_finite() and "." in obj:
            return float(number)
    return obj


# --- every schema property has a field -----------------------------------------------------


@pytest.mark.parametrize(
    ("schemas", "cls"),
    [
        (["order_Shared", "order_RespOnly"], V2Order),
        (["orderProducts"], V2OrderProduct),
        (["orderProductOptions"], V2OrderProductOption),
        (["orderShippingAddress"], V2ShippingAddress),
        (["orderShipment"], Shipment),
        (["billingAddress_Resp"], V2BillingAddress),
        (["orderFees_Resp"], V2OrderFee),
        (["products_Resource"], V2ResourceRef),
    ],
)
def test_struct_covers_schema(
    spec: dict[str, Any], schemas: list[str], cls: type[msgspec.Struct]
) -> None:
    wanted: set[str] = set()
    for name in schemas:
        wanted |= _properties(spec, _schema(spec, name))
    assert wanted - _fields(cls) == set()


def test_shipment_item_covers_schema(spec: dict[str, Any]) -> None:
    items = _schema(spec, "orderShipment")["properties"]["items"]["items"]
    assert set(items["properties"]) <= _fields(ShipmentItem)


def test_shipping_providers_match_spec_enum(spec: dict[str, Any]) -> None:
    enum = _schema(spec, "shipping_provider_standard")["enum"]
    assert frozenset(enum) == SHIPPING_PROVIDERS
    assert "" in SHIPPING_PROVIDERS
    post = _schema(spec, "orderShipment_Post")["properties"]["shipping_provider"]
    refs = {part["$ref"].rsplit("/", 1)[-1] for part in post["anyOf"]}
    assert refs == {"shipping_provider_standard", "shipping_provider_custom"}


# --- every example decodes, no key is dropped ----------------------------------------------


def _lost_keys(example: Any, decoded: Any, path: str = "$") -> list[str]:
    """Keys of ``example`` that the matching Struct has no field for (typos aside)."""
    lost: list[str] = []
    if isinstance(example, dict) and isinstance(decoded, msgspec.Struct):
        fields = set(decoded.__struct_fields__)
        for key, value in example.items():
            if key in EXAMPLE_TYPOS:
                continue
            if key not in fields:
                lost.append(f"{path}.{key}")
            else:
                lost.extend(_lost_keys(value, getattr(decoded, key), f"{path}.{key}"))
    elif isinstance(example, list) and isinstance(decoded, list):
        assert len(example) == len(decoded)
        for index, (item, out) in enumerate(zip(example, decoded, strict=True)):
            lost.extend(_lost_keys(item, out, f"{path}[{index}]"))
    return lost


def _check_no_key_lost(example: Any, decoded: Any) -> None:
    assert _lost_keys(example, decoded) == []


def test_order_examples_decode(spec: dict[str, Any]) -> None:
    examples = _examples(spec, "order_Resp")
    assert len(examples) == 2
    for _name, example in examples:
        order = msgspec.json.decode(_as_json(example), type=V2Order)
        assert isinstance(order.id, int)
        assert isinstance(order.billing_address, V2BillingAddress)
        assert order.billing_address.form_fields[0].name == "Delivery Instructions"
        assert isinstance(order.products, V2ResourceRef)
        assert order.products.resource == f"/orders/{order.id}/products"
        assert isinstance(order.shipping_addresses, V2ResourceRef)
        assert isinstance(order.coupons, V2ResourceRef)
        assert order.status_enum is not None
        assert order.status == order.status_enum.label
        _check_no_key_lost(example, order)


def test_order_example_values(spec: dict[str, Any]) -> None:
    example = dict(_examples(spec, "order_Resp"))["Response"]
    order = msgspec.json.decode(_as_json(example), type=V2Order)
    assert order.id == 218
    assert order.status_id == OrderStatus.AWAITING_PAYMENT
    assert order.subtotal_ex_tax == "62.6793"
    assert to_decimal(order.total_inc_tax) == Decimal("69.8400")
    assert order.credit_card_type is None
    assert order.external_id is None
    assert order.date_created_dt == datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)
    assert order.date_modified_dt == datetime(2019, 3, 11, 15, 17, 25, tzinfo=UTC)
    assert order.date_shipped == ""
    assert order.date_shipped_dt is None
    assert isinstance(order.fees, list)
    assert [fee.id for fee in order.fees] == [1, 2]
    assert order.fees[1].tax_class_id is None
    assert to_decimal(order.fees[1].cost_inc_tax) == Decimal("12")


def test_order_multiple_items_example(spec: dict[str, Any]) -> None:
    example = dict(_examples(spec, "order_Resp"))["Multiple Items"]
    order = msgspec.json.decode(_as_json(example), type=V2Order)
    # credit_card_type is {} in this example and null in the other.
    assert order.credit_card_type == {}
    assert order.external_source == ""
    assert order.fees is None
    assert order.status_enum is OrderStatus.AWAITING_FULFILLMENT


def test_order_fees_as_resource_and_consignments_typed() -> None:
    raw = {
        "id": 1,
        "fees": {"url": "https://x/v2/orders/1/fees", "resource": "/orders/1/fees"},
        "consignments": {"pickups": [], "shipping": [{"id": 99}]},
    }
    order = msgspec.json.decode(_as_json(raw), type=V2Order)
    assert order.fees == V2ResourceRef(url="https://x/v2/orders/1/fees", resource="/orders/1/fees")
    assert order.consignments == V2Consignments(shipping=[V2ShippingConsignment(id=99)])


def test_consignments_link_legacy_array_and_absent() -> None:
    link = {"url": "https://x/v2/orders/1/consignments", "resource": "/orders/1/consignments"}
    order = msgspec.json.decode(_as_json({"id": 1, "consignments": link}), type=V2Order)
    assert isinstance(order.consignments, V2Consignments)
    assert not order.consignments.embedded and order.consignments.url == link["url"]
    assert order.line_items == [] and not order.lines_complete
    legacy = msgspec.json.decode(_as_json({"id": 1, "consignments": [{"shipping": []}]}),
                                 type=V2Order)
    assert legacy.consignments == [{"shipping": []}] and not legacy.lines_complete
    bare = msgspec.json.decode(b'{"id": 1}', type=V2Order)
    assert bare.consignments is None and bare.line_items == [] and not bare.lines_complete


def _line(i: int, quantity: int = 1, address: int = 7) -> dict[str, Any]:
    return {"id": i, "order_id": 1, "product_id": 100 + i, "order_address_id": address,
            "quantity": quantity, "quantity_shipped": 0, "name": f"P{i}"}


WARNING = {"message": "Not all line items of this consignment are returned with this "
                      "response, only 50 are included. Please use the "
                      "`/v2/orders/{order_id}/products` endpoint to fetch all line items."}


def test_embedded_lines_every_consignment_kind_and_completeness() -> None:
    raw = {
        "id": 1,
        "items_total": 7,
        "consignments": {
            "shipping": [
                {"id": 7, "first_name": "Ann", "street_1": "1 Main", "zip": "78701",
                 "country_iso2": "US", "shipping_method": "Ground", "items_total": 3,
                 "items_shipped": 0, "cost_inc_tax": 6.2, "shipping_zone_name": "US",
                 "shipping_quotes": {"url": "u", "resource": "/r"},
                 "form_fields": [{"name": "Dock", "value": "3"}],
                 "line_items": [_line(1, 2), _line(2)]},
                {"id": 8, "line_items": [_line(3, address=8)]},
            ],
            "pickups": [{"id": 99, "pickup_method_id": 1, "location": {"id": 1, "city": "Austin",
                                                                      "postal_code": "78726"},
                         "line_items": [_line(4, address=0)]}],
            "downloads": [{"recipient_email": "a@x", "line_items": [_line(5)]}],
            "email": {"gift_certificates": [{"recipient_email": "b@x",
                                             "line_items": [_line(6)]}]},
        },
    }
    order = msgspec.json.decode(_as_json(raw), type=V2Order)
    cons = order.consignments
    assert isinstance(cons, V2Consignments) and cons.embedded and not cons.truncated
    ship = cons.shipping[0]
    assert isinstance(ship, V2ShippingConsignment)
    assert (ship.first_name, ship.zip, ship.shipping_method, ship.cost_inc_tax) == (
        "Ann", "78701", "Ground", 6.2)
    assert ship.form_fields[0].name == "Dock" and ship.shipping_quotes is not None
    assert cons.pickups[0].location == V2PickupLocation(id=1, city="Austin", postal_code="78726")
    assert [p.id for p in order.line_items] == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(p, V2OrderProduct) for p in order.line_items)
    assert order.lines_complete  # quantities 2+1+1+1+1+1 == items_total 7


def _order(items_total: int | None, lines: Any, **shipping: Any) -> V2Order:
    raw = {"id": 1, "items_total": items_total,
           "consignments": {"shipping": [{"id": 7, "line_items": lines, **shipping}]}}
    return msgspec.json.decode(_as_json(raw), type=V2Order)


def test_more_than_50_lines_carry_the_warning_and_are_incomplete() -> None:
    """bigcommerce/docs#960: only 50 lines embedded plus a ``__warning__`` object."""
    order = _order(60, [_line(i) for i in range(1, 51)], __warning__=WARNING)
    cons = order.consignments
    assert isinstance(cons, V2Consignments)
    assert cons.truncated and cons.warnings == [WARNING["message"]]
    assert cons.shipping[0].warning == V2ConsignmentWarning(message=WARNING["message"])
    assert len(order.line_items) == 50 and not order.lines_complete
    # The warning alone decides, even if the quantities happened to add up.
    assert not _order(50, [_line(i) for i in range(1, 51)], __warning__=WARNING).lines_complete
    # Encoded back under its wire name.
    assert b'"__warning__"' in msgspec.json.encode(cons.shipping[0])


@pytest.mark.parametrize(
    ("items_total", "lines", "complete"),
    [
        (3, [_line(1, 3)], True),
        (0, [], True),  # nothing ordered, nothing embedded
        (2, [], False),  # bigcommerce/dev-docs#2052: empty line_items on an order with items
        (4, [_line(1, 3)], False),
        (None, [_line(1, 3)], False),  # nothing to check against
        (1, [{"url": "u", "resource": "/orders/1/products/1"}], False),  # links, not lines
        (1, {"url": "u", "resource": "/orders/1/products/1"}, False),  # a single link
    ],
)
def test_lines_complete_checks_quantities_against_items_total(
    items_total: int | None, lines: Any, complete: bool
) -> None:
    assert _order(items_total, lines).lines_complete is complete


def test_list_item_decodes_with_counts_and_rfc2822_dates(spec: dict[str, Any]) -> None:
    """A ``GET /v2/orders`` item: items_total/items_shipped and RFC 2822 dates."""
    examples = _examples(spec, "orderCollection_Resp")
    assert examples
    for _name, example in examples:
        orders = msgspec.json.decode(_as_json(example), type=list[V2Order])
        for order, raw in zip(orders, example, strict=True):
            assert order.id == raw["id"]
            assert order.items_total == raw["items_total"]
            assert order.items_shipped == raw["items_shipped"]
            assert order.date_created_dt is not None
            assert order.date_created_dt == parse_rfc2822(raw["date_created"])
            assert order.date_created_dt.tzinfo is not None


def test_orders_count_decodes_the_spec_example(spec: dict[str, Any]) -> None:
    [(_name, example)] = _examples(spec, "ordersCount_Resp")
    count = msgspec.json.decode(_as_json(example), type=V2OrdersCount)
    assert count.total == int(example["count"]) and isinstance(count.total, int)
    assert [s.id for s in count.statuses] == [s["id"] for s in example["statuses"]]
    assert msgspec.json.decode(b'{"count": 12.0}', type=V2OrdersCount).total == 12
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"statuses": []}', type=V2OrdersCount)  # no count: no answer


def test_order_products_collection_decodes(spec: dict[str, Any]) -> None:
    [(_name, example)] = _examples(spec, "orderProductsCollection_Resp")
    products = msgspec.json.decode(_as_json(example), type=list[V2OrderProduct])
    assert [p.id for p in products] == [65, 66]
    first, second = products
    assert first.order_address_id == 51
    assert len(first.product_options) == 5
    assert first.product_options[0].product_option_id == 120
    assert first.applied_discounts[0].code is None
    assert first.applied_discounts[0].target == "order"
    assert first.discounted_total_inc_tax == "63.6400"
    assert second.parent_order_product_id == 65
    assert second.is_bundled_product is True
    assert second.event_date is None
    _check_no_key_lost(example, products)


def test_order_product_line_item_examples_decode(spec: dict[str, Any]) -> None:
    examples = _examples(spec, "orderProductLineItem_Resp")
    assert len(examples) == 4
    by_name = {}
    for name, example in examples:
        product = msgspec.json.decode(_as_json(example), type=V2OrderProduct)
        by_name[name] = product
        _check_no_key_lost(example, product)
    assert by_name["Custom Product"].product_id == 0
    assert by_name["Product with Variants"].variant_id == 477
    assert by_name["Product with Variants"].product_options == []  # absent in the example
    upload = by_name["Product with file upload"].product_options[0]
    assert upload.type == "File Upload"
    assert upload.option_id is None  # the example spells it "option id"


def test_shipping_address_examples_decode(spec: dict[str, Any]) -> None:
    [(_n, collection)] = _examples(spec, "orderShippingAddressCollection_Resp")
    addresses = msgspec.json.decode(_as_json(collection), type=list[V2ShippingAddress])
    assert [a.id for a in addresses] == [132, 133]
    assert addresses[0].shipping_quotes is not None
    assert (
        addresses[0].shipping_quotes.resource == "/orders/229/shippingaddresses/132/shippingquotes"
    )
    _check_no_key_lost(collection, addresses)

    [(_n, single)] = _examples(spec, "orderShippingAddress_Resp")
    address = msgspec.json.decode(_as_json(single), type=V2ShippingAddress)
    assert address.id == 42
    assert address.shipping_method == "Fixed Shipping"
    assert address.form_fields[0].value == "12345566"
    assert to_decimal(address.cost_inc_tax) == Decimal("4.32")
    _check_no_key_lost(single, address)


def test_shipment_examples_decode(spec: dict[str, Any]) -> None:
    [(_n, collection)] = _examples(spec, "orderShipmentCollection_Resp")
    shipments = msgspec.json.decode(_as_json(collection), type=list[Shipment])
    assert [s.id for s in shipments] == [6, 7]
    assert shipments[0].items == [ShipmentItem(order_product_id=188, product_id=0, quantity=1)]
    _check_no_key_lost(collection, shipments)

    [(_n, single)] = _examples(spec, "orderShipment_Resp")
    shipment = msgspec.json.decode(_as_json(single), type=Shipment)
    assert shipment.id == 11
    assert shipment.shipping_provider == "usps"
    assert shipment.shipping_provider_display_name == "USPS"
    assert shipment.billing_address is not None
    assert shipment.billing_address.first_name == "Jane"
    assert shipment.shipping_address is not None
    assert shipment.shipping_address.street_1 == "666 Sussex St"
    assert [i.order_product_id for i in shipment.items] == [194, 195]
    assert shipment.date_created_dt == datetime(2019, 3, 13, 16, 35, 37, tzinfo=UTC)
    _check_no_key_lost(single, shipment)


def test_examples_convert_from_python_objects(spec: dict[str, Any]) -> None:
    """msgspec.convert (already-decoded data) accepts the same examples."""
    example = dict(_examples(spec, "order_Resp"))["Response"]
    assert msgspec.convert(example, type=V2Order).id == 218
    [(_n, products)] = _examples(spec, "orderProductsCollection_Resp")
    assert len(msgspec.convert(products, type=list[V2OrderProduct])) == 2


# --- money as strings and as numbers -------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "type_"),
    [
        ("order_Resp", V2Order),
        ("orderProductsCollection_Resp", list[V2OrderProduct]),
        ("orderProductLineItem_Resp", V2OrderProduct),
        ("orderShippingAddressCollection_Resp", list[V2ShippingAddress]),
        ("orderShippingAddress_Resp", V2ShippingAddress),
        ("orderShipmentCollection_Resp", list[Shipment]),
        ("orderShipment_Resp", Shipment),
    ],
)
def test_examples_decode_with_money_as_numbers(
    spec: dict[str, Any], response: str, type_: Any
) -> None:
    for _name, example in _examples(spec, response):
        as_numbers = _money_to_numbers(example)
        assert as_numbers != example  # the rewrite did something
        msgspec.json.decode(_as_json(as_numbers), type=type_)


def test_money_as_string_and_number_give_same_decimal() -> None:
    as_string = msgspec.json.decode(b'{"total_inc_tax": "12.5000"}', type=V2Order)
    as_float = msgspec.json.decode(b'{"total_inc_tax": 12.5}', type=V2Order)
    as_int = msgspec.json.decode(b'{"total_inc_tax": 12}', type=V2Order)
    assert as_string.total_inc_tax == "12.5000"
    assert as_float.total_inc_tax == 12.5
    assert as_int.total_inc_tax == 12
    assert to_decimal(as_string.total_inc_tax) == to_decimal(as_float.total_inc_tax)
    assert to_decimal(as_int.total_inc_tax) == Decimal(12)


def test_ids_and_counts_accept_loose_types() -> None:
    raw = (
        b'{"id": 1, "customer_id": 11.0, "items_total": 3, "payment_provider_id": 123,'
        b' "ebay_order_id": 0, "external_id": "AMZ-1", "cart_id": 42}'
    )
    order = msgspec.json.decode(raw, type=V2Order)
    assert order.customer_id == 11
    assert order.payment_provider_id == 123
    assert order.ebay_order_id == 0
    assert order.external_id == "AMZ-1"
    assert order.cart_id == 42


def test_unknown_fields_are_ignored_and_missing_default() -> None:
    order = msgspec.json.decode(b'{"id": 5, "brand_new_field": {"x": 1}}', type=V2Order)
    assert order.id == 5
    assert order.status_id is None
    assert order.billing_address is None
    product = msgspec.json.decode(b"{}", type=V2OrderProduct)
    assert product.product_options == []
    assert product.applied_discounts == []


def test_wrong_type_still_fails_loudly() -> None:
    with pytest.raises(msgspec.ValidationError, match="status_id"):
        msgspec.json.decode(b'{"status_id": "seven"}', type=V2Order)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5000", Decimal("12.5000")),
        (12.3, Decimal("12.3")),
        (7, Decimal(7)),
        (Decimal("1.10"), Decimal("1.10")),
        ("", None),
        (None, None),
        ("abc", None),
        ("NaN", None),
        (float("inf"), None),
        (True, None),
    ],
)
def test_to_decimal(value: Any, expected: Decimal | None) -> None:
    assert to_decimal(value) == expected


# --- dates ------------------------------------------------------------------------------------


def test_parse_rfc2822() -> None:
    assert parse_rfc2822("Tue, 20 Nov 2012 00:00:00 +0000") == datetime(2012, 11, 20, tzinfo=UTC)
    shifted = parse_rfc2822("Tue, 20 Nov 2012 02:00:00 +0200")
    assert shifted is not None
    assert shifted.utcoffset() == timedelta(hours=2)
    assert shifted == datetime(2012, 11, 20, tzinfo=UTC)
    naive_zone = parse_rfc2822("Tue, 20 Nov 2012 00:00:00 -0000")
    assert naive_zone is not None
    assert naive_zone.tzinfo is not None
    assert naive_zone == datetime(2012, 11, 20, tzinfo=timezone.utc)  # noqa: UP017
    assert parse_rfc2822("") is None
    assert parse_rfc2822(None) is None
    assert parse_rfc2822("not a date") is None


def test_date_created_dt_on_empty_order() -> None:
    assert V2Order().date_created_dt is None
    assert Shipment().date_created_dt is None


# --- statuses ---------------------------------------------------------------------------------


def test_order_status_values_and_labels_match_spec(spec: dict[str, Any]) -> None:
    [(_n, statuses)] = _examples(spec, "orderStatusCollection_Resp")
    assert [s["id"] for s in statuses] == list(range(15))
    assert len(OrderStatus) == 15
    for status in statuses:
        assert OrderStatus(status["id"]).label == status["name"]


@pytest.mark.parametrize(
    ("member", "value", "label"),
    [
        (OrderStatus.INCOMPLETE, 0, "Incomplete"),
        (OrderStatus.PENDING, 1, "Pending"),
        (OrderStatus.SHIPPED, 2, "Shipped"),
        (OrderStatus.PARTIALLY_SHIPPED, 3, "Partially Shipped"),
        (OrderStatus.REFUNDED, 4, "Refunded"),
        (OrderStatus.CANCELLED, 5, "Cancelled"),
        (OrderStatus.DECLINED, 6, "Declined"),
        (OrderStatus.AWAITING_PAYMENT, 7, "Awaiting Payment"),
        (OrderStatus.AWAITING_PICKUP, 8, "Awaiting Pickup"),
        (OrderStatus.AWAITING_SHIPMENT, 9, "Awaiting Shipment"),
        (OrderStatus.COMPLETED, 10, "Completed"),
        (OrderStatus.AWAITING_FULFILLMENT, 11, "Awaiting Fulfillment"),
        (OrderStatus.MANUAL_VERIFICATION_REQUIRED, 12, "Manual Verification Required"),
        (OrderStatus.DISPUTED, 13, "Disputed"),
        (OrderStatus.PARTIALLY_REFUNDED, 14, "Partially Refunded"),
    ],
)
def test_order_status_members(member: OrderStatus, value: int, label: str) -> None:
    assert member == value
    assert OrderStatus(value) is member
    assert member.label == label


def test_status_enum_unknown_id() -> None:
    assert V2Order(status_id=99).status_enum is None
    assert V2Order().status_enum is None


def test_status_decodes_into_int_field() -> None:
    order = msgspec.json.decode(b'{"status_id": 2}', type=V2Order)
    assert order.status_id == OrderStatus.SHIPPED


# --- OrderUpdateResult ---------------------------------------------------------------------


def test_order_update_result_round_trip() -> None:
    result = OrderUpdateResult(
        order_id=12345,
        status_id=2,
        status="Shipped",
        fields_updated=["status_id", "shipment_created"],
        shipment=Shipment(id=1, items=[ShipmentItem(order_product_id=5, quantity=2)]),
        order=V2Order(id=12345, status_id=2),
        message="Order 12345 updated successfully",
    )
    decoded = msgspec.json.decode(msgspec.json.encode(result), type=OrderUpdateResult)
    assert decoded == result
    minimal = OrderUpdateResult(order_id=1)
    assert minimal.fields_updated == []
    assert minimal.shipment is None
    assert minimal.order is None
    assert minimal.message == ""


def test_omit_defaults_keeps_encoded_structs_small() -> None:
    assert msgspec.json.encode(V2Order(id=1)) == b'{"id":1}'
    assert msgspec.json.encode(ShipmentItem(order_product_id=3, quantity=1)) == (
        b'{"order_product_id":3,"quantity":1}'
    )
