"""client.v2.orders with aioresponses: URLs, bodies, headers, the V2 error list, 204s,
bad input before any request, and apply_update's ordering and idempotence."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from bcb2b_async import (
    B2BClient,
    InvalidArgumentError,
    NotFoundError,
    OrderStatus,
    ServerError,
)

from ._helpers import V2, calls, client, query, sent_json

__all__ = ["client"]

ORDER = {"id": 101, "customer_id": 9, "status_id": 11, "status": "Awaiting Fulfillment",
         "staff_notes": "", "billing_address": {"first_name": "Ann"}}
ADDRESS = {"id": 7, "order_id": 101, "first_name": "Ann", "city": "Austin"}
PRODUCTS = [
    {"id": 1, "order_id": 101, "product_id": 55, "order_address_id": 7, "quantity": 3,
     "quantity_shipped": 1, "name": "Widget"},
    {"id": 2, "order_id": 101, "product_id": 56, "order_address_id": 7, "quantity": 2,
     "quantity_shipped": 2, "name": "Done"},
    {"id": 3, "order_id": 101, "product_id": 57, "order_address_id": 8, "quantity": 4,
     "quantity_shipped": 0, "name": "Other address"},
]


def url(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(V2 + path) + r"(\?.*)?$")


class Recorder:
    """Records the order of requests across mocked URLs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, label: str, payload: Any = None, status: int = 200) -> Any:
        def cb(u: Any, **kwargs: Any) -> CallbackResult:
            self.seen.append(label)
            return CallbackResult(status=status, payload=payload)

        return cb


async def test_get_update_and_headers(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101"), payload=ORDER)
        m.put(url("/orders/101"), payload={**ORDER, "status_id": 2, "status": "Shipped"})
        order = await client.v2.orders.get(101)
        updated = await client.v2.orders.update(101, status_id=OrderStatus.SHIPPED,
                                                staff_notes="Packed")
        made = calls(m)
    assert order.customer_id == 9 and updated.status == "Shipped"
    (g_method, g_url, g_kw), (p_method, p_url, p_kw) = made
    assert (g_method, str(g_url)) == ("GET", f"{V2}/orders/101")
    assert (p_method, str(p_url)) == ("PUT", f"{V2}/orders/101")
    assert sent_json(p_kw) == {"status_id": 2, "staff_notes": "Packed"}
    assert p_kw["headers"]["X-Auth-Token"] == "tok-SECRET-1234"
    assert p_kw["headers"]["Content-Type"] == "application/json"
    assert g_kw["headers"]["Accept"] == "application/json"
    assert "Content-Type" not in g_kw["headers"]


async def test_update_products_add_update_remove_and_cost_pairs(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(url("/orders/101"), payload=ORDER)
        await client.v2.orders.update(
            101,
            products=[{"product_id": 77, "quantity": 2}, {"id": 5, "quantity": 3},
                      {"id": 6, "quantity": 0}],
            subtotal_ex_tax="90.00", subtotal_inc_tax=99,
        )
        (_, _, kw), = calls(m)
    body = sent_json(kw)
    assert body["products"] == [{"product_id": 77, "quantity": 2}, {"id": 5, "quantity": 3},
                                {"id": 6, "quantity": 0}]
    assert body["subtotal_ex_tax"] == "90.00" and body["subtotal_inc_tax"] == "99"


async def test_v2_error_list_is_surfaced(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/404"), status=404,
              payload=[{"status": 404, "message": "The requested resource was not found."}])
        with pytest.raises(NotFoundError, match=r"\[404\] The requested resource was not found"):
            await client.v2.orders.get(404)


async def test_lists_walk_pages_and_204_is_empty(client: B2BClient) -> None:
    page1 = [{**PRODUCTS[0], "id": i} for i in range(1, 251)]
    with aioresponses() as m:
        m.get(url("/orders/101/products"), payload=page1)
        m.get(url("/orders/101/products"), payload=PRODUCTS[:1])
        m.get(url("/orders/101/shipments"), status=204)
        m.get(url("/orders/101/shipping_addresses"), payload=[ADDRESS])
        products = await client.v2.orders.products(101)
        shipments = await client.v2.orders.shipments(101)
        addresses = await client.v2.orders.shipping_addresses(101)
        made = calls(m)
    assert len(products) == 251 and shipments == [] and addresses[0].id == 7
    product_calls = [query(u, kw) for meth, u, kw in made if "/products" in str(u)]
    assert product_calls == [[("page", "1"), ("limit", "250")], [("page", "2"), ("limit", "250")]]


async def test_create_shipment_defaults_to_first_address_unshipped(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101/shipping_addresses"), payload=[ADDRESS, {**ADDRESS, "id": 8}])
        m.get(url("/orders/101/products"), payload=PRODUCTS)
        m.post(url("/orders/101/shipments"), status=201,
               payload={"id": 1, "order_id": 101, "tracking_number": "1Z", "items": []})
        shipment = await client.v2.orders.create_shipment(101, tracking_number="1Z",
                                                          shipping_provider="ups")
        post = [kw for meth, _, kw in calls(m) if meth == "POST"]
    assert shipment.id == 1
    assert sent_json(post[0]) == {"order_address_id": 7, "items": [
        {"order_product_id": 1, "quantity": 2}], "tracking_number": "1Z",
        "shipping_provider": "ups"}


async def test_create_shipment_nothing_left(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101/shipping_addresses"), payload=[ADDRESS])
        m.get(url("/orders/101/products"), payload=[PRODUCTS[1]])
        with pytest.raises(InvalidArgumentError, match="nothing left to ship"):
            await client.v2.orders.create_shipment(101)
        assert not [1 for meth, _, _ in calls(m) if meth == "POST"]


BAD = {
    "external_id read-only": lambda c: c.v2.orders.update(1, external_id="x"),
    "date_modified read-only": lambda c: c.v2.orders.update(1, date_modified="x"),
    "status read-only": lambda c: c.v2.orders.update(1, status="Shipped"),
    "unknown field": lambda c: c.v2.orders.update(1, foo=1),
    "pair alone": lambda c: c.v2.orders.update(1, subtotal_ex_tax="1.00"),
    "total pair alone": lambda c: c.v2.orders.update(1, total_inc_tax="1.00"),
    "negative money": lambda c: c.v2.orders.update(1, total_ex_tax=-1, total_inc_tax=1),
    "non-numeric money": lambda c: c.v2.orders.update(1, total_ex_tax="abc",
                                                      total_inc_tax="1"),
    "status 15": lambda c: c.v2.orders.update(1, status_id=15),
    "status bool": lambda c: c.v2.orders.update(1, status_id=True),
    "notes too long": lambda c: c.v2.orders.update(1, staff_notes="x" * 65_536),
    "empty update": lambda c: c.v2.orders.update(1),
    "tracking too long": lambda c: c.v2.orders.create_shipment(1, tracking_number="x" * 51),
    "bad provider": lambda c: c.v2.orders.create_shipment(1, shipping_provider="dhl-ish"),
    "order id 0": lambda c: c.v2.orders.get(0),
    "order id negative": lambda c: c.v2.orders.products(-1),
    "apply nothing": lambda c: c.v2.orders.apply_update(1),
    "apply provider no tracking": lambda c: c.v2.orders.apply_update(1,
                                                                    shipping_provider="ups"),
    "apply status 99": lambda c: c.v2.orders.apply_update(1, status_id=99),
    "apply billing unknown": lambda c: c.v2.orders.apply_update(1, billing={"planet": "Mars"}),
}


@pytest.mark.parametrize("name", list(BAD))
async def test_bad_input_before_any_request(client: B2BClient, name: str) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError):
            await BAD[name](client)
        assert not m.requests


async def test_custom_carrier_provider_accepted(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(url("/orders/1/shipments"), status=201, payload={"id": 3})
        await client.v2.orders.create_shipment(1, order_address_id=7,
                                               items=[{"order_product_id": 1, "quantity": 1}],
                                               shipping_provider="carrier_123")


# -- apply_update: the seed-004 examples --------------------------------------------------
async def test_status_only(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(url("/orders/101"), payload={**ORDER, "status_id": 2, "status": "Shipped"})
        r = await client.v2.orders.apply_update(101, status_id=2)
        assert len(calls(m)) == 1
    assert r.fields_updated == ["status_id"] and r.status == "Shipped" and r.status_id == 2
    assert r.shipment is None and r.order is not None and r.order_id == 101


async def test_staff_notes(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(url("/orders/101"), payload={**ORDER, "staff_notes": "VIP customer"})
        r = await client.v2.orders.apply_update(101, staff_notes="VIP customer")
        (_, _, kw), = calls(m)
    assert sent_json(kw) == {"staff_notes": "VIP customer"}
    assert r.fields_updated == ["staff_notes"]


async def test_status_and_tracking_creates_shipment_first(client: B2BClient) -> None:
    rec = Recorder()
    with aioresponses() as m:
        m.get(url("/orders/101/shipments"), callback=rec("list shipments", status=204))
        m.get(url("/orders/101/shipping_addresses"),
              callback=rec("addresses", payload=[ADDRESS]))
        m.get(url("/orders/101/products"), callback=rec("products", payload=PRODUCTS))
        m.post(url("/orders/101/shipments"), callback=rec(
            "create shipment", status=201,
            payload={"id": 9, "tracking_number": "1Z999AA10123456784"}))
        m.put(url("/orders/101"), callback=rec(
            "set status", payload={**ORDER, "status_id": 2, "status": "Shipped"}))
        r = await client.v2.orders.apply_update(
            101, status_id=2, tracking_number="1Z999AA10123456784", shipping_provider="ups",
            tracking_carrier="UPS")
    assert rec.seen.index("create shipment") < rec.seen.index("set status")
    assert r.fields_updated == ["status_id", "shipment_created"]
    assert r.shipment is not None and r.shipment.id == 9 and r.status == "Shipped"


async def test_billing_address_change_with_flat_names(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(url("/orders/101"), payload=ORDER)
        r = await client.v2.orders.apply_update(101, billing={
            "first_name": "Juan", "last_name": "Perez", "street": "Calle Nueva 456",
            "city": "Madrid", "zip": "28002", "country": "Spain"})
        (_, _, kw), = calls(m)
    assert sent_json(kw) == {"billing_address": {
        "first_name": "Juan", "last_name": "Perez", "street_1": "Calle Nueva 456",
        "city": "Madrid", "zip": "28002", "country": "Spain"}}
    assert r.fields_updated == ["billing_address"]


async def test_tracking_without_shipping_address_sends_no_change(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101/shipments"), status=204)
        m.get(url("/orders/101/shipping_addresses"), status=204)
        with pytest.raises(InvalidArgumentError, match="no shipping address"):
            await client.v2.orders.apply_update(101, status_id=2, tracking_number="1Z")
        assert not [1 for meth, _, _ in calls(m) if meth in ("POST", "PUT")]


async def test_rerun_reuses_the_existing_shipment(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101/shipments"), payload=[{"id": 9, "tracking_number": "1Z"}])
        m.put(url("/orders/101"), payload={**ORDER, "status_id": 2})
        r = await client.v2.orders.apply_update(101, status_id=2, tracking_number="1Z")
        assert not [1 for meth, _, _ in calls(m) if meth == "POST"]
    assert r.fields_updated == ["status_id"]
    assert r.shipment is not None and r.shipment.id == 9


@pytest.mark.parametrize("failure", [{"status": 502}, {"exception":
                                                        aiohttp.ServerDisconnectedError()}])
async def test_ambiguous_post_failure_checks_before_anything_else(
    client: B2BClient, failure: dict[str, Any]
) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101/shipments"), status=204)  # before: none
        m.get(url("/orders/101/shipping_addresses"), payload=[ADDRESS])
        m.get(url("/orders/101/products"), payload=PRODUCTS)
        m.post(url("/orders/101/shipments"), **failure)  # applied, but the answer was lost
        m.get(url("/orders/101/shipments"), payload=[{"id": 9, "tracking_number": "1Z"}])
        m.put(url("/orders/101"), payload={**ORDER, "status_id": 2})
        r = await client.v2.orders.apply_update(101, status_id=2, tracking_number="1Z")
        posts = [1 for meth, _, _ in calls(m) if meth == "POST"]
    assert len(posts) == 1  # never retried after it may have reached the server
    assert r.shipment is not None and r.shipment.id == 9
    assert r.fields_updated == ["status_id", "shipment_created"]


async def test_ambiguous_failure_not_found_raises_and_does_not_change_status(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        m.get(url("/orders/101/shipments"), status=204, repeat=True)
        m.get(url("/orders/101/shipping_addresses"), payload=[ADDRESS])
        m.get(url("/orders/101/products"), payload=PRODUCTS)
        m.post(url("/orders/101/shipments"), status=503)
        with pytest.raises(ServerError):
            await client.v2.orders.apply_update(101, status_id=2, tracking_number="1Z")
        methods = [meth for meth, _, _ in calls(m)]
    assert methods.count("POST") == 1 and "PUT" not in methods


async def test_apply_update_many(client: B2BClient) -> None:
    ids = list(range(1, 51))
    missing = set(ids[:5])
    with aioresponses() as m:
        for oid in ids:
            if oid in missing:
                m.put(url(f"/orders/{oid}"), status=404,
                      payload=[{"status": 404, "message": "not found"}])
            else:
                m.put(url(f"/orders/{oid}"), payload={**ORDER, "id": oid, "status_id": 10})
        result = await client.v2.orders.apply_update_many({oid: {"status_id": 10}
                                                           for oid in ids})
    assert len(result.succeeded) == 45 and set(result.failed) == missing
    assert all(isinstance(e, NotFoundError) for e in result.failed.values())


async def test_apply_update_many_validates_every_item_first(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.v2.orders.apply_update_many({
                1: {"status_id": 2}, 2: {"status_id": 99}, -3: {"status_id": 1},
                4: {"nonsense": 1}})
        assert not m.requests
    text = str(info.value)
    assert "3 invalid item(s)" in text
    assert "2: " in text and "-3: " in text and "4: " in text
