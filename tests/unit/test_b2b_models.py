"""B2B Edition models: every documented variant decodes (one test each), and every example
response of the official spec decodes with the type its endpoint uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from bcb2b_async import (
    DecodeError,
    ExtraField,
    ExtraFieldConfig,
    ExtraInfo,
    Money,
    Order,
    OrderProduct,
    OrderProductOption,
    RequestTooLargeError,
)
from bcb2b_async._decode import decode, envelope_decoder, one
from bcb2b_async.errors import APIStatusError, error_for_status
from bcb2b_async.models.common import Meta
from bcb2b_async.resources.b2b_orders import _TotalData

SPECS = Path(__file__).resolve().parents[1] / "specs"
UUID = "095a15a6-8a27-4c20-b357-36b82e9d5929"

# The decoders the resources use, per endpoint.
ORDER_LIST = envelope_decoder(list[Order] | None)
ONE_ORDER = envelope_decoder(Order | list[Order])
PRODUCTS = envelope_decoder(list[OrderProduct] | None)
CONFIGS = envelope_decoder(list[ExtraFieldConfig] | None)
TOTAL = envelope_decoder(_TotalData)


def total_count(env: Any) -> int | None:
    """``totalCount`` from the envelope's meta (nested or flat), if present."""
    return env.meta.total if env.meta is not None else None


def enc(doc: Any) -> bytes:
    return msgspec.json.encode(doc)


def dec(decoder: msgspec.json.Decoder[Any], doc: Any) -> Any:
    return decode(decoder, enc(doc), method="GET", url="https://x/orders/1", status=200)


def single(doc: Any) -> Order:
    env = dec(ONE_ORDER, doc)
    order: Order = one(env.data, method="GET", url="u", status=200, body=b"")
    return order


def order(**fields: Any) -> Order:
    return single({"code": 200, "data": {"bcOrderId": 1, **fields}})


def product(**fields: Any) -> OrderProduct:
    env = dec(PRODUCTS, {"code": 200, "data": [fields]})
    (line,) = env.data
    assert isinstance(line, OrderProduct)
    return line


# -- the envelope ------------------------------------------------------------------------
def test_data_as_object() -> None:
    assert single({"code": 200, "data": {"bcOrderId": 5}}).bc_order_id == 5


def test_data_as_one_item_list() -> None:
    assert single({"code": 200, "data": [{"bcOrderId": 5}]}).bc_order_id == 5


@pytest.mark.parametrize("data", [[], [{"bcOrderId": 1}, {"bcOrderId": 2}]])
def test_data_as_empty_or_longer_list_is_decode_error(data: list[Any]) -> None:
    with pytest.raises(DecodeError, match=f"expected one item in 'data', got {len(data)}"):
        single({"code": 200, "data": data})


def test_list_data_null_is_empty() -> None:
    assert dec(ORDER_LIST, {"code": 200, "data": None}).data is None


def test_message_at_top_level() -> None:
    env = dec(ONE_ORDER, {"code": 200, "message": "SUCCESS", "data": {"bcOrderId": 1}})
    assert env.message == "SUCCESS" and env.meta is None


def test_message_in_meta() -> None:
    env = dec(ONE_ORDER, {"code": 200, "meta": {"message": "SUCCESS"}, "data": {"bcOrderId": 1}})
    assert env.meta.message == "SUCCESS" and env.message is None


def test_total_count_in_meta_pagination() -> None:
    env = dec(ORDER_LIST, {"data": [], "meta": {"message": "SUCCESS", "pagination": {
        "totalCount": 9, "limit": 1, "offset": 0}}})
    assert total_count(env) == 9 and env.meta.pagination.limit == 1


def test_total_count_flat_in_meta() -> None:
    env = dec(ORDER_LIST, {"data": [], "meta": {"message": "SUCCESS", "totalCount": 9,
                                                "limit": 1, "offset": 0}})
    assert total_count(env) == 9 and env.meta.limit == 1 and env.meta.offset == 0


def test_total_count_absent() -> None:
    assert total_count(dec(ORDER_LIST, {"data": []})) is None
    assert total_count(dec(ORDER_LIST, {"data": [], "meta": {"message": "SUCCESS"}})) is None


def test_total_count_nested_wins_over_flat() -> None:
    env = dec(ORDER_LIST, {"data": [], "meta": {"totalCount": 1,
                                                "pagination": {"totalCount": 2}}})
    assert total_count(env) == 2


@pytest.mark.parametrize("doc", [{"code": 200, "message": "SUCCESS"},
                                 {"code": 200, "data": None, "meta": {"message": "SUCCESS"}}])
def test_missing_or_null_data_is_a_malformed_decode_error(doc: dict[str, Any]) -> None:
    # A 2xx without data is never an empty result; it is retried like a body cut short.
    with pytest.raises(DecodeError) as info:
        dec(ONE_ORDER, doc)
    assert info.value.malformed and "'data' is missing or null" in str(info.value)


# -- order fields --------------------------------------------------------------------------
def test_cart_id_as_int() -> None:
    assert order(cartId=42).cart_id == 42


def test_cart_id_as_uuid_string() -> None:
    assert order(cartId=UUID).cart_id == UUID


MONEY = Money(currency_location="left", currency_token="$", decimal_token=".",
              decimal_places=2, thousands_token=",")


def test_money_as_array() -> None:
    o = order(money=[{"currencyLocation": "left", "currencyToken": "$", "decimalToken": ".",
                      "decimalPlaces": 2, "thousandsToken": ","}])
    assert o.money == [MONEY]


def test_money_as_json_string_with_snake_case_keys() -> None:
    # As in the older order model (b2b-models-order.yaml): one object, snake_case keys.
    raw = ('{"currency_location": "left", "currency_token": "$", "decimal_token": ".", '
           '"decimal_places": 2, "thousands_token": ","}')
    o = order(money=raw)
    assert o.money == [MONEY]
    assert o.money_raw == raw  # kept as sent
    assert msgspec.to_builtins(o)["money"] == raw


def test_money_as_json_string_of_an_array() -> None:
    raw = '[{"currency_location": "right", "currency_token": "€", "decimal_places": "2"}]'
    (m,) = order(money=raw).money
    assert (m.currency_location, m.currency_token, m.decimal_places) == ("right", "€", 2)


def test_money_as_json_string_with_camel_case_keys() -> None:
    assert order(money='[{"currencyToken": "$"}]').money[0].currency_token == "$"


def test_money_as_single_object() -> None:
    o = order(money={"currencyLocation": "left", "currencyToken": "$", "decimalToken": ".",
                     "decimalPlaces": 2, "thousandsToken": ","})
    assert o.money == [MONEY]


@pytest.mark.parametrize("raw", [None, "", "  ", "not json", "[]", "42"])
def test_money_absent_or_unusable_is_empty(raw: Any) -> None:
    assert order(money=raw).money == []
    assert order().money == []


def test_options_as_array() -> None:
    line = product(options=[{"id": 129, "optionId": 4243, "productOptionId": 258,
                             "orderProductId": 3773, "displayName": "Color",
                             "displayValue": "Slate", "value": 18836,
                             "type": "Multiple choice", "displayStyle": "Rectangle"}])
    (opt,) = line.options
    assert opt == OrderProductOption(
        id=129, option_id=4243, product_option_id=258, order_product_id=3773,
        display_name="Color", display_value="Slate", value=18836, type="Multiple choice",
        display_style="Rectangle")
    # msgspec.convert (from Python objects, not JSON) gives the same line.
    assert msgspec.convert({"options": [{"id": 129, "optionId": 4243}]},
                           OrderProduct).options[0].option_id == 4243


def test_options_as_json_string_with_snake_case_keys() -> None:
    raw = ('[{"id": 715, "option_id": 41, "order_product_id": 670, "product_option_id": 121, '
           '"display_name": "Gauge", "display_value": "12", "value": "123", '
           '"type": "Multiple choice", "name": "Gauge1576218034-477", '
           '"display_style": "Dropdown"}]')
    line = product(options=raw)
    (opt,) = line.options
    assert (opt.id, opt.option_id, opt.order_product_id, opt.product_option_id) == (
        715, 41, 670, 121)
    assert (opt.display_name, opt.display_value, opt.value) == ("Gauge", "12", "123")
    assert opt.display_style == "Dropdown" and line.options_raw == raw
    assert msgspec.convert({"options": raw}, OrderProduct).options == line.options


@pytest.mark.parametrize("raw", [None, "", "[]"])
def test_options_empty(raw: Any) -> None:
    assert product(options=raw).options == []
    assert product().options == []


def test_variant_sku_both_spellings() -> None:
    assert product(variantSku="A").variant_sku == "A"
    assert product(variantSKU="B").variant_sku == "B"
    assert product().variant_sku is None
    assert msgspec.convert({"variantSKU": "C"}, OrderProduct).variant_sku == "C"


def test_extra_text_null() -> None:
    o = order(extraText=None)
    assert o.extra_text is None


def test_legacy_extra_fields_null_or_set() -> None:
    nulls = {f"extraInt{i}": None for i in range(1, 6)} | {
        f"extraStr{i}": None for i in range(1, 6)} | {"extraText": None}
    o = order(**nulls)
    assert all(getattr(o, f"extra_int{i}") is None for i in range(1, 6))
    assert all(getattr(o, f"extra_str{i}") is None for i in range(1, 6))
    set_ = order(extraInt1=12345, extraStr1="Great Buys Incorporated", extraText="t")
    assert (set_.extra_int1, set_.extra_str1, set_.extra_text) == (
        12345, "Great Buys Incorporated", "t")


def test_timestamps_are_int_unix_seconds_with_datetime_accessors() -> None:
    o = order(createdAt=1744735719, updatedAt=1744735734)
    assert o.created_at == 1744735719 and isinstance(o.created_at, int)
    assert o.created_at_dt == datetime(2025, 4, 15, 16, 48, 39, tzinfo=UTC)
    assert o.updated_at_dt == datetime(2025, 4, 15, 16, 48, 54, tzinfo=UTC)
    assert o.created_at_dt is not None and o.created_at_dt.tzinfo is not None


def test_timestamps_absent() -> None:
    o = order()
    assert o.created_at is None and o.created_at_dt is None and o.updated_at_dt is None


def test_product_timestamps() -> None:
    assert product(createdAt=1744735719).created_at == 1744735719


def test_extra_fields_and_extra_info() -> None:
    o = order(extraFields=[{"fieldName": "Fintech ID", "fieldValue": "1234567890"}],
              extraInfo=[{"billingAddressId": 1, "shippingAddressId": 2}])
    assert o.extra_fields == [ExtraField("Fintech ID", "1234567890")]
    assert o.extra_info == [ExtraInfo(billing_address_id=1, shipping_address_id=2)]


def test_invoice_fields() -> None:
    o = order(isInvoiceOrder=0, invoiceId=None, invoiceNumber=12345678, invoiceStatus=2)
    assert (o.is_invoice_order, o.invoice_id, o.invoice_number, o.invoice_status) == (
        0, None, 12345678, 2)


def test_unknown_fields_ignored() -> None:
    assert order(brandNewField={"x": [1]}).bc_order_id == 1


def test_missing_bc_order_id_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="bcOrderId") as info:
        dec(ORDER_LIST, {"data": [{"poNumber": "x"}]})
    assert not info.value.malformed


def test_truncated_json_is_malformed() -> None:
    body = b'{"code": 200, "data": [{"bcOrderId": 1, "poNum'
    with pytest.raises(DecodeError) as info:
        decode(ORDER_LIST, body, method="GET", url="https://x/orders", status=200)
    assert info.value.malformed


def test_truncated_json_of_the_wrong_shape_is_still_malformed() -> None:
    # msgspec meets the list before the cut: still not JSON, so a retry may help.
    body = b'{"code": 200, "data": [{"total": 1'
    with pytest.raises(DecodeError) as info:
        decode(TOTAL, body, method="PUT", url="https://x/customers/1/orders/b2b", status=200)
    assert info.value.malformed


def test_extra_field_config_variants() -> None:
    env = dec(CONFIGS, {"data": [
        {"id": 1, "uuid": 123456, "listOfValues": ["A"], "maximumLength": 100},
        {"id": 2, "uuid": "u-2", "listOfValue": ["B"], "maximumLength": "100",
         "numberOfRows": "5", "maximumValue": "1000"},
        {"id": 3},
    ]})
    a, b, c = env.data
    assert (a.uuid, a.values, a.maximum_length) == (123456, ["A"], 100)
    assert (b.uuid, b.values, b.maximum_length, b.number_of_rows) == ("u-2", ["B"], "100", "5")
    assert c.values == []
    assert msgspec.convert({"listOfValue": ["B"]}, ExtraFieldConfig).values == ["B"]


def test_total_data() -> None:
    assert dec(TOTAL, {"code": 200, "message": "SUCCESS", "data": {"total": 3}}).data.total == 3
    assert dec(TOTAL, {"code": 200, "data": {}}).data.total is None


# -- every example in the official spec ---------------------------------------------------
def load(name: str) -> Any:
    with (SPECS / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


SPEC = load("b2b-orders.yaml")

#: The decoder each orders endpoint uses for a 2xx body.
DECODERS: dict[tuple[str, str], msgspec.json.Decoder[Any]] = {
    ("/orders", "get"): ORDER_LIST,
    ("/orders", "post"): ONE_ORDER,
    ("/orders/{bcOrderId}", "get"): ONE_ORDER,
    ("/orders/{bcOrderId}", "put"): ONE_ORDER,
    ("/orders/{bcOrderId}/products", "get"): PRODUCTS,
    ("/orders/extra-fields", "get"): CONFIGS,
    ("/customers/{customerId}/orders/company", "put"): TOTAL,
    ("/customers/{customerId}/orders/b2b", "put"): TOTAL,
}
METHODS = ("get", "put", "post", "delete", "patch")


def responses() -> list[tuple[str, str, int, dict[str, Any]]]:
    """(path, method, status, the application/json content) of every orders response."""
    out = []
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for status, resp in op["responses"].items():
                resp = resolve(resp)
                content = (resp.get("content") or {}).get("application/json")
                if content is not None:
                    out.append((path, method, int(status), content))
    return out


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = SPEC
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def documented_examples() -> list[tuple[str, Any]]:
    """Every ``example`` and ``examples.*.value`` of every orders response."""
    out = []
    for path, method, status, content in responses():
        where = f"{method.upper()} {path} {status}"
        if "example" in content:
            out.append((f"{where} example", (path, method, status, content["example"])))
        for name, ex in (content.get("examples") or {}).items():
            ex = resolve(ex)
            if "value" in ex:
                out.append((f"{where} {name}", (path, method, status, ex["value"])))
    return out


EXAMPLES = documented_examples()


def check_success(path: str, method: str, value: Any) -> Any:
    assert (path, method) in DECODERS, f"no decoder for {method} {path}"
    env = dec(DECODERS[(path, method)], value)
    if DECODERS[(path, method)] is ONE_ORDER:
        return one(env.data, method=method, url=path, status=200, body=b"")
    return env


def test_the_spec_has_examples() -> None:
    assert {p for p, m in DECODERS} == set(SPEC["paths"])
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("example", [e for _, e in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_documented_example_decodes(example: tuple[str, str, int, Any]) -> None:
    path, method, status, value = example
    if status < 300:
        env = check_success(path, method, value)
        assert env.data, "an example with no data"
        if path == "/orders":
            (o,) = env.data
            assert o.bc_order_id == 123 and o.cart_id == UUID
            assert o.money == [MONEY] and o.created_at_dt == datetime.fromtimestamp(
                1574999690, tz=UTC)
            assert total_count(env) == 9  # flat in meta, unlike the schema
            if "extraFields" in value["data"][0]:
                assert o.extra_fields == [ExtraField("Fintech ID", "1234567890")]
                assert o.extra_text is None
    else:
        err = error_for_status(status, method=method.upper(), url=path, body=enc(value))
        assert err.status == status and err.server_message


def _fits(value: Any, type_: Any) -> bool:
    kinds: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,),
                                          "number": (int, float), "boolean": (bool,)}
    if type_ not in kinds or (isinstance(value, bool) and type_ != "boolean"):
        return False
    return isinstance(value, kinds[type_])


def build(schema: Any) -> Any:
    """An instance assembled from the ``example`` values of a schema (``None``: nothing)."""
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return None
    if "example" in schema:
        return schema["example"]
    if "default" in schema and _fits(schema["default"], schema.get("type")):
        return schema["default"]  # (``code: {type: integer, default: '200'}`` does not fit)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = build(part)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    if schema.get("type") == "array" and "items" in schema:
        items = resolve(schema["items"])
        item = build(items)
        if item is None:
            return None
        # The spec hangs a whole list example on a string item (listOfValues): use it.
        if isinstance(item, list) and items.get("type") != "array":
            return item
        return [item]
    if "properties" in schema:
        out = {}
        for key, sub in schema["properties"].items():
            value = build(sub)
            if value is not None:
                out[key] = value
        return out
    return None


SCHEMA_EXAMPLES = [(f"{m.upper()} {p} {s}", (p, m, s, build(c["schema"])))
                   for p, m, s, c in responses() if "schema" in c]


@pytest.mark.parametrize("example", [e for _, e in SCHEMA_EXAMPLES],
                         ids=[n for n, _ in SCHEMA_EXAMPLES])
def test_response_assembled_from_schema_examples_decodes(
        example: tuple[str, str, int, Any]) -> None:
    path, method, status, value = example
    assert isinstance(value, dict)
    if status >= 300:
        err = error_for_status(status, method=method.upper(), url=path, body=enc(value))
        assert err.server_message and err.server_message in str(err)
        return
    result = check_success(path, method, value)
    if isinstance(result, Order):
        # The schema says integer, its example is a UUID: both are decoded.
        assert result.cart_id == UUID and result.bc_order_id == 123
        assert result.money[0].currency_token == "$"
        assert result.created_at_dt == datetime.fromtimestamp(1744735719, tz=UTC)
        if path == "/orders/{bcOrderId}":
            assert result.is_invoice_order == 0 and result.invoice_number == 12345678
    elif path.endswith("/products"):
        (line,) = result.data
        assert line.variant_sku == "CER-POT-2-SL" and line.options[0].value == 18836
    elif path == "/orders/extra-fields":
        (cfg,) = result.data
        assert cfg.field_name == "Fintech ID" and cfg.values == [
            "Retail", "Automotive", "Manufacturing"]
        assert total_count(result) == 100
    elif path.startswith("/customers/"):
        assert result.data.total == 1
    else:
        assert result.data


def test_every_orders_response_was_assembled() -> None:
    assert {(p, m) for _, (p, m, s, _) in SCHEMA_EXAMPLES if s < 300} == set(DECODERS)


# -- the model files' examples (older models: camel keys, JSON strings inside) --------------
def x_examples(name: str) -> list[Any]:
    return list((load(name).get("x-examples") or {}).values())


@pytest.mark.parametrize("value", x_examples("b2b-models-order.yaml"))
def test_old_order_model_examples_decode(value: dict[str, Any]) -> None:
    o = single({"code": 200, "data": value})
    assert o.bc_order_id == 11 and o.cart_id == 1 and o.po_number == "bj256"
    assert o.money == [MONEY] and isinstance(o.money_raw, str)
    assert o.created_at_dt == datetime.fromtimestamp(1574999690, tz=UTC)


@pytest.mark.parametrize("value", x_examples("b2b-models-order-product.yaml"))
def test_old_order_product_model_examples_decode(value: dict[str, Any]) -> None:
    line = product(**value)
    assert line.variant_sku == "7.41 Ounce (Pack of 12)" and line.quantity == 10
    assert [o.id for o in line.options] == [715, 716]
    assert [o.option_id for o in line.options] == [41, 42]
    assert line.options[1].display_name == "Leg 1 (inches)"


def test_pagination_model_example_decodes() -> None:
    meta = msgspec.convert(load("b2b-models-pagination.yaml")["example"], Meta)
    assert meta.total == 1 and meta.pagination is not None and meta.pagination.limit == 10


@pytest.mark.parametrize("value", x_examples("b2b-models-response-413.yaml"))
def test_413_model_example_is_request_too_large(value: dict[str, Any]) -> None:
    err = error_for_status(413, method="GET", url="u", body=enc(value))
    assert isinstance(err, RequestTooLargeError) and isinstance(err, APIStatusError)
    assert "Request Entity Too Large" in str(err)
