"""The documented variants of B2B responses, each decoded (one test per variant)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from bcb2b_async import DecodeError, ExtraFieldConfig, Order, OrderProduct
from bcb2b_async._decode import decode, envelope_decoder, one

ORDERS = envelope_decoder(list[Order] | None)
ONE = envelope_decoder(Order | list[Order])


def total_count(env: Any) -> int | None:
    """``totalCount`` from the envelope's meta (nested or flat), if present."""
    return env.meta.total if env.meta is not None else None


def enc(doc: Any) -> bytes:
    return msgspec.json.encode(doc)


def single(doc: Any) -> Order:
    env = decode(ONE, enc(doc), method="GET", url="u", status=200)
    order: Order = one(env.data, method="GET", url="u", status=200, body=b"")
    return order


def test_data_as_object() -> None:
    assert single({"code": 200, "data": {"bcOrderId": 5}}).bc_order_id == 5


def test_data_as_one_item_list() -> None:
    assert single({"code": 200, "data": [{"bcOrderId": 5}]}).bc_order_id == 5


def test_data_as_empty_or_longer_list_is_an_error() -> None:
    for data in ([], [{"bcOrderId": 1}, {"bcOrderId": 2}]):
        with pytest.raises(DecodeError):
            single({"code": 200, "data": data})


def test_message_at_top_level_or_in_meta() -> None:
    top = decode(ONE, enc({"code": 200, "message": "SUCCESS", "data": {"bcOrderId": 1}}),
                 method="GET", url="u", status=200)
    meta = decode(ONE, enc({"code": 200, "meta": {"message": "SUCCESS"},
                            "data": {"bcOrderId": 1}}), method="GET", url="u", status=200)
    assert top.message == "SUCCESS" and meta.meta.message == "SUCCESS"


def test_total_count_nested_or_flat() -> None:
    nested = ORDERS.decode(enc({"data": [], "meta": {"pagination": {"totalCount": 9}}}))
    flat = ORDERS.decode(enc({"data": [], "meta": {"message": "SUCCESS", "totalCount": 9,
                                                   "limit": 1, "offset": 0}}))
    assert total_count(nested) == total_count(flat) == 9


@pytest.mark.parametrize("cart", [1, "095a15a6-8a27-4c20-b357-36b82e9d5929"])
def test_cart_id_int_or_uuid(cart: Any) -> None:
    assert single({"data": {"bcOrderId": 1, "cartId": cart}}).cart_id == cart


def test_money_as_array() -> None:
    o = single({"data": {"bcOrderId": 1, "money": [
        {"currencyLocation": "left", "currencyToken": "$", "decimalPlaces": 2}]}})
    assert o.money[0].currency_token == "$" and o.money[0].decimal_places == 2


def test_money_as_json_string_with_snake_keys() -> None:
    raw = ('{"currency_location": "left", "currency_token": "$", "decimal_token": ".", '
           '"decimal_places": 2, "thousands_token": ","}')
    o = single({"data": {"bcOrderId": 1, "money": raw}})
    assert o.money[0].currency_location == "left" and o.money[0].thousands_token == ","
    # The raw value is kept as sent, so an export writes what the API said.
    assert msgspec.to_builtins(o)["money"] == raw


def test_options_as_array_or_json_string() -> None:
    as_list = msgspec.convert({"options": [{"id": 715, "optionId": 41, "displayName": "Gauge"}]},
                              OrderProduct)
    as_str = msgspec.convert({"options": '[{"id": 715, "option_id": 41, '
                                         '"display_name": "Gauge"}]'}, OrderProduct)
    for p in (as_list, as_str):
        assert p.options[0].id == 715 and p.options[0].option_id == 41
        assert p.options[0].display_name == "Gauge"


def test_variant_sku_both_spellings() -> None:
    assert msgspec.convert({"variantSku": "A"}, OrderProduct).variant_sku == "A"
    assert msgspec.convert({"variantSKU": "B"}, OrderProduct).variant_sku == "B"


def test_extra_text_null_and_legacy_fields() -> None:
    o = single({"data": {"bcOrderId": 1, "extraText": None, "extraInt1": None,
                         "extraStr1": "Great Buys"}})
    assert o.extra_text is None and o.extra_str1 == "Great Buys"


def test_timestamps_unix_seconds_with_datetime_accessor() -> None:
    o = single({"data": {"bcOrderId": 1, "createdAt": 1574999690, "updatedAt": 1574999691}})
    assert o.created_at == 1574999690
    assert o.created_at_dt == datetime(2019, 11, 29, 3, 54, 50, tzinfo=UTC)
    assert o.updated_at_dt is not None and o.updated_at_dt.second == 51


def test_unknown_fields_are_ignored() -> None:
    assert single({"data": {"bcOrderId": 1, "brandNewField": {"x": 1}}}).bc_order_id == 1


def test_extra_field_config_list_of_values_spellings() -> None:
    a = msgspec.convert({"listOfValues": ["A"]}, ExtraFieldConfig)
    b = msgspec.convert({"listOfValue": ["B"]}, ExtraFieldConfig)
    assert a.values == ["A"] and b.values == ["B"]


def test_missing_bc_order_id_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode(ORDERS, enc({"data": [{"poNumber": "x"}]}), method="GET", url="u", status=200)
