"""Every example response in the specs decodes into our models without losing a field we
expose (compared value by value after encoding back with the API's names)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from bcb2b_async import (
    ExtraFieldConfig,
    Order,
    OrderProduct,
    Shipment,
    V2Order,
    V2OrderProduct,
    V2ShippingAddress,
)
from bcb2b_async._decode import envelope_decoder
from bcb2b_async.models.v2_orders import (
    V2Consignments,
    V2DigitalConsignment,
    V2GiftCertificateConsignment,
    V2OrdersCount,
    V2PickupConsignment,
    V2ShippingConsignment,
)

from .spec import load


def examples(spec: dict[str, Any], path: str, method: str) -> list[Any]:
    op = spec["paths"][path][method]
    out = []
    for resp in op.get("responses", {}).values():
        content = resp.get("content", {}).get("application/json", {})
        if "example" in content:
            out.append(content["example"])
        for ex in content.get("examples", {}).values():
            if "value" in ex:
                out.append(ex["value"])
    return out


#: Keys of the V2 spec's examples that are typos of the schema's own names (deviations of
#: the spec, not of our models): ``cost_exc_tax`` (schema: ``cost_ex_tax``) in the fee
#: examples, ``currency_code"`` and ``option id`` elsewhere.
SPEC_TYPOS = frozenset({"cost_exc_tax", 'currency_code"', "option id"})


def without_typos(value: Any) -> Any:
    """The example minus spec typos and nulls (our models leave absent/null fields out)."""
    if isinstance(value, dict):
        return {k: without_typos(v) for k, v in value.items()
                if k not in SPEC_TYPOS and v is not None}
    if isinstance(value, list):
        return [without_typos(v) for v in value]
    return value


def assert_kept(model: Any, example: dict[str, Any], skip: frozenset[str] = frozenset()) -> None:
    """Every key of the example that the model exposes comes back with the same value."""
    back = msgspec.to_builtins(model)
    example = without_typos(example)
    for key, value in example.items():
        if key in skip or key not in back:
            continue
        if isinstance(value, float | int) and not isinstance(value, bool):
            assert float(back[key]) == pytest.approx(float(value)), key
        else:
            assert back[key] == value, key


B2B = load("b2b-orders.yaml")


def test_b2b_list_examples() -> None:
    found = examples(B2B, "/orders", "get")
    assert found
    for ex in found:
        env = envelope_decoder(list[Order] | None).decode(msgspec.json.encode(ex))
        assert env.meta.total == ex["meta"]["totalCount"]
        for model, raw in zip(env.data, ex["data"], strict=True):
            assert_kept(model, raw)
            # Fields we model must not be dropped: every key of the example is known
            # (legacy extra* included), except documented extras.
            assert set(raw) - set(msgspec.to_builtins(model)) <= {
                k for k, v in raw.items() if v is None}


def test_b2b_order_model_file_examples() -> None:
    doc = load("b2b-models-order.yaml")
    for ex in doc["x-examples"].values():
        order = msgspec.convert(ex, Order)
        assert_kept(order, ex)
        assert order.money and order.money[0].currency_token == "$"  # JSON-string money


def test_b2b_order_product_model_file_example() -> None:
    doc = load("b2b-models-order-product.yaml")
    for ex in doc["x-examples"].values():
        product = msgspec.convert(ex, OrderProduct)
        assert product.variant_sku == ex["variantSKU"]
        assert product.options and product.options[0].display_name == "Gauge"


def test_b2b_extra_field_schema_fields_are_modelled() -> None:
    props = B2B["components"]["schemas"]["orderExtraFields"]["properties"]
    example = {k: v["example"] for k, v in props.items() if "example" in v}
    cfg = msgspec.convert(example, ExtraFieldConfig)
    assert_kept(cfg, example)


V2 = load("v2-orders.yml")


@pytest.mark.parametrize(
    ("path", "tp"),
    [
        ("/orders/{order_id}", V2Order),
        ("/orders/{order_id}/products", list[V2OrderProduct]),
        ("/orders/{order_id}/shipping_addresses", list[V2ShippingAddress]),
        ("/orders/{order_id}/shipments", list[Shipment]),
    ],
)
def test_v2_examples(path: str, tp: Any) -> None:
    found = examples(V2, path, "get")
    refs = V2["paths"][path]["get"]["responses"]
    if not found:  # examples live in components/responses
        for resp in refs.values():
            ref = resp.get("$ref")
            if ref:
                comp = V2["components"]["responses"][ref.rsplit("/", 1)[1]]
                content = comp.get("content", {}).get("application/json", {})
                found += [e["value"] for e in content.get("examples", {}).values()
                          if "value" in e]
                if "example" in content:
                    found.append(content["example"])
    assert found, path
    for ex in found:
        model = msgspec.convert(ex, tp, strict=False)
        items = model if isinstance(model, list) else [model]
        raws = ex if isinstance(ex, list) else [ex]
        for m, raw in zip(items, raws, strict=True):
            assert_kept(m, raw)


def without_empty_lists(value: Any) -> Any:
    """The example minus empty lists (our models leave empty lists out when encoding)."""
    if isinstance(value, dict):
        return {k: without_empty_lists(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [without_empty_lists(v) for v in value]
    return value


def test_v2_consignment_examples() -> None:
    """orderConsignment_Get (object structure) and each consignment kind decode with every
    field kept; the line items there are links (no include of line items)."""
    schemas = V2["components"]["schemas"]
    found = list(schemas["orderConsignment_Get"]["x-examples"].values())
    found += examples(V2, "/orders/{order_id}/consignments", "get")
    assert len(found) >= 5
    for ex in found:
        cons = msgspec.convert(ex, V2Consignments, strict=False)
        assert cons.embedded and not cons.truncated
        for kind, model in (("shipping", cons.shipping), ("pickups", cons.pickups),
                            ("downloads", cons.downloads)):
            for m, raw in zip(model, ex.get(kind, []), strict=True):
                assert_kept(m, raw, skip=frozenset({"line_items"}))
        gifts = ex.get("email", {}).get("gift_certificates", [])
        got = cons.email.gift_certificates if cons.email is not None else []
        for m, raw in zip(got, gifts, strict=True):
            assert_kept(m, raw, skip=frozenset({"line_items"}))
    for name, tp in (("shippingConsignment_Get", V2ShippingConsignment),
                     ("pickupConsignment_Get", V2PickupConsignment),
                     ("digitalConsignment_Get", V2DigitalConsignment),
                     ("giftCertificateConsignment_Get", V2GiftCertificateConsignment)):
        for ex in schemas[name].get("x-examples", {}).values():
            assert_kept(msgspec.convert(ex, tp, strict=False), ex,
                        skip=frozenset({"line_items"}))


def test_v2_orders_list_and_count_examples() -> None:
    for path, tp in (("/orders", list[V2Order]), ("/orders/count", V2OrdersCount)):
        ref = V2["paths"][path]["get"]["responses"]["200"]["$ref"]
        content = V2["components"]["responses"][ref.rsplit("/", 1)[1]]["content"][
            "application/json"]
        found = [e["value"] for e in content["examples"].values()]
        assert found, path
        for ex in found:
            model = msgspec.convert(ex, tp, strict=False)
            if isinstance(model, list):
                for m, raw in zip(model, ex, strict=True):
                    assert_kept(m, without_empty_lists(raw))
            else:
                assert model.total == ex["count"]
