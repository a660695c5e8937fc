"""client.v2.orders against aioresponses: every method's URL, query, headers and exact body;
the V2 error list in raised errors; bad input refused with no request sent; 204s and
multi-page lists; create_shipment's defaults; apply_update's order of requests, idempotent
reruns and ambiguous POST failures; apply_update_many's per-item results; typed update
keywords, priority and deadline on every call; the orders list, page and count.

(The one V2 endpoint test file: tests/resources/test_v2_endpoints.py was merged into it.)"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from aioresponses.core import normalize_url
from yarl import URL

from bcb2b_async import (
    APIConnectionError,
    B2BClient,
    BadRequestError,
    DeadlineExceededError,
    InvalidArgumentError,
    NotFoundError,
    OrderStatus,
    OrderUpdateResult,
    RetryPolicy,
    ServerError,
    Shipment,
    UnprocessableEntityError,
)
from bcb2b_async._client import USER_AGENT
from bcb2b_async._v2_validate import ORDER_WRITABLE_FIELDS
from bcb2b_async.resources.v2_orders import V2OrderQuery, V2Orders

TOKEN = "tok-SECRET-1234"
STORE = "abc123"
V2 = f"https://api.bigcommerce.com/stores/{STORE}/v2"
LIST_QUERY = [("page", "1"), ("limit", "250")]


@pytest.fixture
async def client() -> AsyncIterator[B2BClient]:
    c = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None,
                  retry_policy=RetryPolicy(max_retries=2, base_delay=0.0))
    yield c
    await c.aclose()


# --- fixtures of the store ------------------------------------------------------------------

ORDER = {"id": 101, "customer_id": 9, "status_id": 11, "status": "Awaiting Fulfillment",
         "staff_notes": "", "billing_address": {"first_name": "Ann", "city": "Austin"}}
SHIPPED_ORDER = {**ORDER, "status_id": 2, "status": "Shipped"}
ADDRESSES = [{"id": 7, "order_id": 101, "first_name": "Ann", "city": "Austin"},
             {"id": 8, "order_id": 101, "first_name": "Bob", "city": "Boston"}]
PRODUCTS = [
    # address 7: 2 of 3 left
    {"id": 1, "order_id": 101, "product_id": 55, "order_address_id": 7, "quantity": 3,
     "quantity_shipped": 1, "name": "Widget"},
    # address 7: all shipped
    {"id": 2, "order_id": 101, "product_id": 56, "order_address_id": 7, "quantity": 2,
     "quantity_shipped": 2, "name": "Done"},
    # another address: never part of a shipment to address 7
    {"id": 3, "order_id": 101, "product_id": 57, "order_address_id": 8, "quantity": 4,
     "quantity_shipped": 0, "name": "Other address"},
    # address 7: all 5 left
    {"id": 4, "order_id": 101, "product_id": 58, "order_address_id": 7, "quantity": 5,
     "quantity_shipped": 0, "name": "Gadget"},
]
DEFAULT_ITEMS = [{"order_product_id": 1, "quantity": 2}, {"order_product_id": 4, "quantity": 5}]
TRACKING = "1Z999AA10123456784"
SHIPMENT = {"id": 33, "order_id": 101, "order_address_id": 7, "tracking_number": TRACKING,
            "shipping_provider": "ups", "tracking_carrier": "UPS",
            "items": [{"order_product_id": 1, "product_id": 55, "quantity": 2},
                      {"order_product_id": 4, "product_id": 58, "quantity": 5}]}
V2_404 = [{"status": 404, "message": "The requested resource was not found."}]


# --- helpers ----------------------------------------------------------------------------------


def u(path: str, query: str | None = None) -> str:
    return f"{V2}{path}" + (f"?{query}" if query else "")


def page(path: str, n: int = 1) -> str:
    """The URL of page ``n`` of a V2 list."""
    return u(path, f"page={n}&limit=250")


class Log:
    """Mocks URLs with a callback that records the order in which requests arrived
    (``m.requests`` is a dict keyed by method and URL, so it loses that order)."""

    def __init__(self, m: aioresponses) -> None:
        self.m = m
        self.seen: list[str] = []

    def _cb(self, label: str) -> Any:
        def cb(url: URL, **kwargs: Any) -> None:
            self.seen.append(label)
            return None  # answer with the mock's own payload/status/exception

        return cb

    def get(self, url: str, label: str, **kw: Any) -> None:
        self.m.get(url, callback=self._cb(label), **kw)

    def put(self, url: str, label: str, **kw: Any) -> None:
        self.m.put(url, callback=self._cb(label), **kw)

    def post(self, url: str, label: str, **kw: Any) -> None:
        self.m.post(url, callback=self._cb(label), **kw)


def norm(url: str) -> str:
    """``url`` as aioresponses records it (query keys sorted); the query as sent, in order,
    is checked through the ``params`` passed to aiohttp."""
    return str(normalize_url(URL(url)))


def requests_to(m: aioresponses, method: str, url: str) -> list[dict[str, Any]]:
    """The kwargs of every ``method url`` request made (``url`` with its query)."""
    return [r.kwargs for r in m.requests.get((method, normalize_url(URL(url))), [])]


def all_requests(m: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, str(url), r.kwargs) for (method, url), reqs in m.requests.items()
            for r in reqs]


def only_request(m: aioresponses) -> tuple[str, str, dict[str, Any]]:
    made = all_requests(m)
    assert len(made) == 1, [(a, b) for a, b, _ in made]
    return made[0]


def body_of(kwargs: dict[str, Any]) -> Any:
    data = kwargs.get("data")
    return None if data is None else json.loads(data)


def params_of(kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in kwargs.get("params") or []]


def assert_v2_headers(kwargs: dict[str, Any], *, body: bool) -> None:
    """The V2 headers; Content-Type goes with a body, and on GET /orders/{id}/products,
    whose spec operation declares it required (checked by ``content_type=True``)."""
    headers = kwargs["headers"]
    assert headers["X-Auth-Token"] == TOKEN
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("bcb2b_async/")
    assert "X-Store-Hash" not in headers  # V2 carries the store in the path
    if body:
        assert headers["Content-Type"] == "application/json"
    else:
        assert "Content-Type" not in headers


def products_payload(n: int, start: int = 1, address: int = 7) -> list[dict[str, Any]]:
    return [{"id": i, "order_id": 101, "product_id": 1000 + i, "order_address_id": address,
             "quantity": 1, "quantity_shipped": 0} for i in range(start, start + n)]


# --- get / update -------------------------------------------------------------------------


async def test_get_url_headers_and_decoding(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(u("/orders/101"), payload=ORDER)
        order = await client.v2.orders.get(101)
        method, url, kwargs = only_request(m)
    assert (method, url) == ("GET", u("/orders/101"))
    assert kwargs["data"] is None and not kwargs.get("params")
    assert_v2_headers(kwargs, body=False)
    assert order.id == 101 and order.status_id == 11
    assert order.status_enum is OrderStatus.AWAITING_FULFILLMENT
    assert order.billing_address is not None and order.billing_address.first_name == "Ann"


async def test_get_404_surfaces_the_v2_error_list(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(u("/orders/999"), status=404, payload=V2_404,
              headers={"X-Request-Id": "req-42"})
        with pytest.raises(NotFoundError) as info:
            await client.v2.orders.get(999)
        assert len(requests_to(m, "GET", u("/orders/999"))) == 1  # a 404 is not retried
    err = info.value
    assert err.status == 404 and err.method == "GET"
    assert err.url == u("/orders/999") and err.request_id == "req-42"
    assert "The requested resource was not found." in str(err)
    assert err.server_message == "[404] The requested resource was not found."
    assert TOKEN not in str(err)


async def test_update_sends_exact_body_and_headers(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=SHIPPED_ORDER)
        order = await client.v2.orders.update(
            101, status_id=OrderStatus.SHIPPED, staff_notes="Packed", customer_message="Hi",
            subtotal_ex_tax=10, subtotal_inc_tax=12.5, total_ex_tax=Decimal("1.10"),
            total_inc_tax="1.21", is_deleted=False,
        )
        method, url, kwargs = only_request(m)
    assert (method, url) == ("PUT", u("/orders/101"))
    assert_v2_headers(kwargs, body=True)
    # money is sent as exact plain decimal strings; the enum as its integer
    assert body_of(kwargs) == {
        "status_id": 2, "staff_notes": "Packed", "customer_message": "Hi",
        "subtotal_ex_tax": "10", "subtotal_inc_tax": "12.5", "total_ex_tax": "1.10",
        "total_inc_tax": "1.21", "is_deleted": False,
    }
    assert order.status == "Shipped"


async def test_update_products_and_billing_address_body(client: B2BClient) -> None:
    """Add (no id), partial update (id) and remove (quantity 0) in one body, with a cost
    override pair (sent as exact decimal strings)."""
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=ORDER)
        await client.v2.orders.update(
            101,
            products=[{"product_id": 77, "quantity": 2}, {"id": 4, "quantity": 3},
                      {"id": 5, "quantity": 0}],
            billing_address={"street_1": "1 Main St", "zip": "78701"},
            subtotal_ex_tax="90.00", subtotal_inc_tax=99,
        )
        _, _, kwargs = only_request(m)
    assert body_of(kwargs) == {
        "products": [{"product_id": 77, "quantity": 2}, {"id": 4, "quantity": 3},
                     {"id": 5, "quantity": 0}],
        "billing_address": {"street_1": "1 Main St", "zip": "78701"},
        "subtotal_ex_tax": "90.00", "subtotal_inc_tax": "99",
    }


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, BadRequestError, "The field 'external_id' cannot be written to."),
        (404, NotFoundError, "The requested resource was not found."),
        (422, UnprocessableEntityError, "status_id is invalid"),
    ],
)
async def test_update_errors_carry_the_server_message(
    client: B2BClient, status: int, error: type[Exception], message: str
) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), status=status, payload=[{"status": status, "message": message}])
        with pytest.raises(error) as info:
            await client.v2.orders.update(101, status_id=2)
        assert len(requests_to(m, "PUT", u("/orders/101"))) == 1
    assert message in str(info.value)


async def test_update_5xx_is_retried_as_an_idempotent_put(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), status=503, payload=[{"status": 503, "message": "busy"}])
        m.put(u("/orders/101"), payload=SHIPPED_ORDER)
        order = await client.v2.orders.update(101, status_id=2)
        assert len(requests_to(m, "PUT", u("/orders/101"))) == 2
    assert order.status_id == 2


BAD_UPDATES: list[tuple[dict[str, Any], str]] = [
    ({"external_id": "abc"}, "external_id"),
    ({"date_modified": "Tue, 20 Nov 2012 00:00:00 +0000"}, "date_modified"),
    ({"status": "Shipped"}, "status"),
    ({"foo": 1}, "foo"),
    ({"status_id": 2, "foo": 1}, "foo"),  # one bad field spoils the whole body
    ({"subtotal_ex_tax": "10"}, "subtotal_inc_tax"),
    ({"subtotal_inc_tax": "10"}, "subtotal_ex_tax"),
    ({"total_ex_tax": "10"}, "total_inc_tax"),
    ({"total_inc_tax": 10}, "total_ex_tax"),
    ({"subtotal_ex_tax": "-1", "subtotal_inc_tax": "1"}, "subtotal_ex_tax"),
    ({"subtotal_ex_tax": -0.01, "subtotal_inc_tax": 1}, "subtotal_ex_tax"),
    ({"total_ex_tax": "1", "total_inc_tax": "abc"}, "total_inc_tax"),
    ({"total_ex_tax": "1", "total_inc_tax": "1e3"}, "total_inc_tax"),
    ({"total_ex_tax": float("nan"), "total_inc_tax": 1}, "total_ex_tax"),
    ({"total_ex_tax": True, "total_inc_tax": 1}, "total_ex_tax"),
    ({"discount_amount": None}, "discount_amount"),
    ({"status_id": 15}, "status_id"),
    ({"status_id": -1}, "status_id"),
    ({"status_id": True}, "status_id"),
    ({"status_id": "2"}, "status_id"),
    ({"status_id": 2.0}, "status_id"),
    ({"staff_notes": "x" * 65_536}, "staff_notes"),
    ({"customer_message": "x" * 65_536}, "customer_message"),
    ({"staff_notes": 5}, "staff_notes"),
    ({}, "no fields"),
]


@pytest.mark.parametrize(("fields", "named"), BAD_UPDATES)
async def test_update_bad_fields_send_nothing(
    client: B2BClient, fields: dict[str, Any], named: str
) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.v2.orders.update(101, **fields)
        assert not m.requests
    assert named in str(info.value)


async def test_update_limits_are_inclusive(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=ORDER)
        await client.v2.orders.update(101, staff_notes="x" * 65_535, status_id=0)
        _, _, kwargs = only_request(m)
    body = body_of(kwargs)
    assert len(body["staff_notes"]) == 65_535 and body["status_id"] == 0


# --- non-positive ids: every method -------------------------------------------------------

BAD_IDS: list[Any] = [0, -1, True, "101", 1.5, None]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_every_method_refuses_bad_order_ids(client: B2BClient, bad: Any) -> None:
    orders = client.v2.orders
    calls: list[Any] = [
        lambda: orders.get(bad),
        lambda: orders.update(bad, status_id=2),
        lambda: orders.products(bad),
        lambda: orders.shipping_addresses(bad),
        lambda: orders.shipments(bad),
        lambda: orders.create_shipment(bad),
        lambda: orders.apply_update(bad, status_id=2),
    ]
    with aioresponses() as m:
        for call in calls:
            with pytest.raises(InvalidArgumentError, match="order_id"):
                await call()
        assert not m.requests


# --- lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("products", "/orders/101/products", PRODUCTS),
        ("shipping_addresses", "/orders/101/shipping_addresses", ADDRESSES),
        ("shipments", "/orders/101/shipments", [SHIPMENT]),
    ],
)
async def test_single_page_lists(
    client: B2BClient, method: str, path: str, payload: list[dict[str, Any]]
) -> None:
    with aioresponses() as m:
        m.get(page(path), payload=payload)
        items = await getattr(client.v2.orders, method)(101)
        m_method, url, kwargs = only_request(m)
    assert (m_method, url) == ("GET", norm(page(path)))
    assert params_of(kwargs) == LIST_QUERY
    # GET /orders/{id}/products is the one GET the spec gives a required Content-Type.
    assert_v2_headers(kwargs, body=method == "products")
    assert [item.id for item in items] == [p["id"] for p in payload]


@pytest.mark.parametrize("method", ["products", "shipping_addresses", "shipments"])
async def test_204_is_an_empty_list(client: B2BClient, method: str) -> None:
    path = f"/orders/101/{method}"
    with aioresponses() as m:
        m.get(page(path), status=204, body="")
        assert await getattr(client.v2.orders, method)(101) == []
        assert len(requests_to(m, "GET", page(path))) == 1


async def test_products_walk_every_page(client: B2BClient) -> None:
    path = "/orders/101/products"
    with aioresponses() as m:
        m.get(page(path, 1), payload=products_payload(250))
        m.get(page(path, 2), payload=products_payload(250, start=251))
        m.get(page(path, 3), payload=products_payload(7, start=501))
        products = await client.v2.orders.products(101)
        made = all_requests(m)
    assert [p.id for p in products] == list(range(1, 508))
    assert [(method, url) for method, url, _ in made] == [
        ("GET", norm(page(path, n))) for n in (1, 2, 3)]
    assert [params_of(kw) for _, _, kw in made] == [
        [("page", str(n)), ("limit", "250")] for n in (1, 2, 3)]


async def test_a_full_page_then_204_ends_the_walk(client: B2BClient) -> None:
    path = "/orders/101/shipments"
    ships = [{**SHIPMENT, "id": i, "tracking_number": f"T{i}"} for i in range(1, 251)]
    with aioresponses() as m:
        m.get(page(path, 1), payload=ships)
        m.get(page(path, 2), status=204)
        shipments = await client.v2.orders.shipments(101)
        assert len(all_requests(m)) == 2
    assert len(shipments) == 250 and all(isinstance(s, Shipment) for s in shipments)


async def test_list_404_surfaces_the_v2_error(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(page("/orders/999/products"), status=404, payload=V2_404)
        with pytest.raises(NotFoundError, match="The requested resource was not found"):
            await client.v2.orders.products(999)


# --- create_shipment --------------------------------------------------------------------------


async def test_create_shipment_explicit_body(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        shipment = await client.v2.orders.create_shipment(
            101, order_address_id=7, items=[{"order_product_id": 1, "quantity": 2}],
            tracking_number=TRACKING, shipping_provider="ups", tracking_carrier="UPS",
            shipping_method="Ground", comments="Left at the door",
        )
        method, url, kwargs = only_request(m)  # nothing fetched: everything was given
    assert (method, url) == ("POST", u("/orders/101/shipments"))
    assert_v2_headers(kwargs, body=True)
    assert body_of(kwargs) == {
        "order_address_id": 7, "items": [{"order_product_id": 1, "quantity": 2}],
        "tracking_number": TRACKING, "shipping_provider": "ups", "tracking_carrier": "UPS",
        "shipping_method": "Ground", "comments": "Left at the door",
    }
    assert shipment.id == 33 and shipment.tracking_number == TRACKING


async def test_create_shipment_defaults_first_address_and_its_unshipped_products(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        log = Log(m)
        log.get(page("/orders/101/shipping_addresses"), "addresses", payload=ADDRESSES)
        log.get(page("/orders/101/products"), "products", payload=PRODUCTS)
        log.post(u("/orders/101/shipments"), "POST", status=201, payload=SHIPMENT)
        await client.v2.orders.create_shipment(101, tracking_number=TRACKING)
        post = requests_to(m, "POST", u("/orders/101/shipments"))
    assert log.seen == ["addresses", "products", "POST"]
    # product 2 is fully shipped, product 3 ships to address 8: neither is included
    assert body_of(post[0]) == {"order_address_id": 7, "items": DEFAULT_ITEMS,
                                "tracking_number": TRACKING}


async def test_create_shipment_given_address_takes_that_address_products(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        m.get(page("/orders/101/products"), payload=PRODUCTS)
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        await client.v2.orders.create_shipment(101, order_address_id=8)
        post = requests_to(m, "POST", u("/orders/101/shipments"))
        assert not requests_to(m, "GET", page("/orders/101/shipping_addresses"))
    assert body_of(post[0]) == {"order_address_id": 8,
                                "items": [{"order_product_id": 3, "quantity": 4}]}


async def test_create_shipment_nothing_left_sends_no_post(client: B2BClient) -> None:
    shipped = [{**p, "quantity_shipped": p["quantity"]} for p in PRODUCTS]
    with aioresponses() as m:
        m.get(page("/orders/101/shipping_addresses"), payload=ADDRESSES)
        m.get(page("/orders/101/products"), payload=shipped)
        with pytest.raises(InvalidArgumentError, match="nothing left to ship"):
            await client.v2.orders.create_shipment(101, tracking_number=TRACKING)
        assert [method for method, _, _ in all_requests(m)] == ["GET", "GET"]


async def test_create_shipment_no_address_sends_no_post(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(page("/orders/101/shipping_addresses"), status=204)
        with pytest.raises(InvalidArgumentError, match="no shipping address"):
            await client.v2.orders.create_shipment(101)
        assert [method for method, _, _ in all_requests(m)] == ["GET"]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"tracking_number": "x" * 51}, "tracking_number"),
        ({"tracking_number": 12345}, "tracking_number"),
        ({"shipping_provider": "dhl"}, "shipping_provider"),
        ({"shipping_provider": "UPS"}, "shipping_provider"),
        ({"shipping_provider": "carrier_"}, "shipping_provider"),
        ({"shipping_provider": "carrier_12x"}, "shipping_provider"),
        ({"order_address_id": 0}, "order_address_id"),
        ({"order_address_id": -7}, "order_address_id"),
        ({"items": []}, "items"),
        ({"items": [{"order_product_id": 1, "quantity": 0}]}, "quantity"),
        ({"items": [{"order_product_id": 0, "quantity": 1}]}, "order_product_id"),
        ({"items": [{"order_product_id": 1, "quantity": 1},
                    {"order_product_id": 1, "quantity": 2}]}, "given twice"),
        ({"items": [{"product_id": 1, "quantity": 1}]}, "product_id"),
        ({"comments": "x" * 65_536}, "comments"),
    ],
)
async def test_create_shipment_bad_input_sends_nothing(
    client: B2BClient, kwargs: dict[str, Any], named: str
) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.v2.orders.create_shipment(101, **kwargs)
        assert not m.requests
    assert named in str(info.value)


@pytest.mark.parametrize("provider", ["carrier_123", "ups", "usps", "fedex", "auspost", ""])
async def test_create_shipment_accepts_spec_providers_and_third_party_carriers(
    client: B2BClient, provider: str
) -> None:
    with aioresponses() as m:
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        await client.v2.orders.create_shipment(
            101, order_address_id=7, items=[{"order_product_id": 1, "quantity": 1}],
            tracking_number="x" * 50, shipping_provider=provider,
        )
        _, _, kwargs = only_request(m)
    body = body_of(kwargs)
    assert body["shipping_provider"] == provider and len(body["tracking_number"]) == 50


async def test_create_shipment_502_is_not_retried(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(u("/orders/101/shipments"), status=502, payload=[{"status": 502,
                                                                 "message": "Bad gateway"}])
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        with pytest.raises(ServerError, match="Bad gateway"):
            await client.v2.orders.create_shipment(
                101, order_address_id=7, items=[{"order_product_id": 1, "quantity": 1}])
        assert len(requests_to(m, "POST", u("/orders/101/shipments"))) == 1


async def test_create_shipment_429_is_retried(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(u("/orders/101/shipments"), status=429, payload=[{"status": 429,
                                                                 "message": "slow down"}])
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        shipment = await client.v2.orders.create_shipment(
            101, order_address_id=7, items=[{"order_product_id": 1, "quantity": 1}])
        assert len(requests_to(m, "POST", u("/orders/101/shipments"))) == 2
    assert shipment.id == 33


# --- apply_update -------------------------------------------------------------------------


async def test_apply_update_status_only(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=SHIPPED_ORDER)
        result = await client.v2.orders.apply_update(101, status_id=2)
        method, url, kwargs = only_request(m)
    assert (method, url) == ("PUT", u("/orders/101"))
    assert_v2_headers(kwargs, body=True)
    assert body_of(kwargs) == {"status_id": 2}
    assert isinstance(result, OrderUpdateResult)
    assert result.fields_updated == ["status_id"]
    assert result.order_id == 101 and result.status_id == 2 and result.status == "Shipped"
    assert result.order is not None and result.order.id == 101
    assert result.shipment is None
    assert result.message == "Order 101 updated successfully"


async def test_apply_update_status_label_when_the_response_has_no_name(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload={"id": 101, "status_id": 3})
        result = await client.v2.orders.apply_update(101, status_id=3)
    assert result.status == "Partially Shipped"


async def test_apply_update_staff_notes(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload={**ORDER, "staff_notes": "VIP customer"})
        result = await client.v2.orders.apply_update(
            101, staff_notes="VIP customer - High priority", customer_message="Thanks!")
        _, _, kwargs = only_request(m)
    assert body_of(kwargs) == {"staff_notes": "VIP customer - High priority",
                               "customer_message": "Thanks!"}
    assert result.fields_updated == ["staff_notes", "customer_message"]


async def test_apply_update_status_and_tracking_creates_the_shipment_first(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        log = Log(m)
        log.get(page("/orders/101/shipments"), "GET shipments", status=204)
        log.get(page("/orders/101/shipping_addresses"), "GET addresses", payload=ADDRESSES)
        log.get(page("/orders/101/products"), "GET products", payload=PRODUCTS)
        log.post(u("/orders/101/shipments"), "POST shipment", status=201, payload=SHIPMENT)
        log.put(u("/orders/101"), "PUT order", payload=SHIPPED_ORDER)
        result = await client.v2.orders.apply_update(
            101, status_id=2, tracking_number=TRACKING, shipping_provider="ups",
            tracking_carrier="UPS",
        )
        post = requests_to(m, "POST", u("/orders/101/shipments"))
        put = requests_to(m, "PUT", u("/orders/101"))
    # the customer's "Shipped" email must carry tracking: the shipment exists before the PUT
    assert log.seen == ["GET shipments", "GET addresses", "GET products", "POST shipment",
                        "PUT order"]
    assert log.seen.index("POST shipment") < log.seen.index("PUT order")
    assert body_of(post[0]) == {"order_address_id": 7, "items": DEFAULT_ITEMS,
                                "tracking_number": TRACKING, "shipping_provider": "ups",
                                "tracking_carrier": "UPS"}
    assert_v2_headers(post[0], body=True)
    assert body_of(put[0]) == {"status_id": 2}
    assert result.fields_updated == ["status_id", "shipment_created"]
    assert result.shipment is not None and result.shipment.id == 33
    assert result.status == "Shipped" and result.status_id == 2


async def test_apply_update_tracking_only_reads_the_order_back(client: B2BClient) -> None:
    with aioresponses() as m:
        log = Log(m)
        log.get(page("/orders/101/shipments"), "GET shipments", status=204)
        log.get(page("/orders/101/shipping_addresses"), "GET addresses", payload=ADDRESSES)
        log.get(page("/orders/101/products"), "GET products", payload=PRODUCTS)
        log.post(u("/orders/101/shipments"), "POST shipment", status=201, payload=SHIPMENT)
        log.get(u("/orders/101"), "GET order", payload=ORDER)
        result = await client.v2.orders.apply_update(101, tracking_number=TRACKING)
        assert not requests_to(m, "PUT", u("/orders/101"))
    assert log.seen[-2:] == ["POST shipment", "GET order"]
    assert result.fields_updated == ["shipment_created"]
    assert result.status_id == 11 and result.status == "Awaiting Fulfillment"


async def test_apply_update_billing_flat_names(client: B2BClient) -> None:
    billing = {"first_name": "Juan", "last_name": "Perez", "street": "Calle Nueva 456",
               "city": "Madrid", "zip": "28002", "country": "Spain"}
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=ORDER)
        result = await client.v2.orders.apply_update(101, billing=billing)
        _, _, kwargs = only_request(m)
    assert body_of(kwargs) == {"billing_address": {
        "first_name": "Juan", "last_name": "Perez", "street_1": "Calle Nueva 456",
        "city": "Madrid", "zip": "28002", "country": "Spain"}}
    assert result.fields_updated == ["billing_address"]


async def test_apply_update_billing_prefixed_names_and_street2(client: B2BClient) -> None:
    billing = {"billing_street": "1 Main", "billing_street2": "Apt 2", "billing_email": "a@b.c",
               "billing_phone": None}
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=ORDER)
        await client.v2.orders.apply_update(101, status_id=11, billing=billing)
        _, _, kwargs = only_request(m)
    assert body_of(kwargs) == {"status_id": 11, "billing_address": {
        "street_1": "1 Main", "street_2": "Apt 2", "email": "a@b.c"}}


async def test_apply_update_tracking_without_shipping_address_changes_nothing(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        m.get(page("/orders/101/shipments"), status=204)
        m.get(page("/orders/101/shipping_addresses"), status=204)
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        m.put(u("/orders/101"), payload=SHIPPED_ORDER)
        with pytest.raises(InvalidArgumentError, match="no shipping address"):
            await client.v2.orders.apply_update(101, status_id=2, tracking_number=TRACKING)
        methods = [method for method, _, _ in all_requests(m)]
    assert "POST" not in methods and "PUT" not in methods


async def test_apply_update_rerun_reuses_the_existing_shipment(client: B2BClient) -> None:
    other = {**SHIPMENT, "id": 30, "tracking_number": "OTHER"}
    with aioresponses() as m:
        log = Log(m)
        log.get(page("/orders/101/shipments"), "GET shipments", payload=[other, SHIPMENT])
        log.post(u("/orders/101/shipments"), "POST shipment", status=201, payload=SHIPMENT)
        log.put(u("/orders/101"), "PUT order", payload=SHIPPED_ORDER)
        result = await client.v2.orders.apply_update(
            101, status_id=2, tracking_number=TRACKING, shipping_provider="ups")
        assert not requests_to(m, "POST", u("/orders/101/shipments"))
    assert log.seen == ["GET shipments", "PUT order"]
    assert result.fields_updated == ["status_id"]
    assert "shipment_created" not in result.fields_updated
    assert result.shipment is not None and result.shipment.id == 33


def _mock_apply_until_post(log: Log, post: dict[str, Any]) -> None:
    log.get(page("/orders/101/shipments"), "GET shipments", status=204)
    log.get(page("/orders/101/shipping_addresses"), "GET addresses", payload=ADDRESSES)
    log.get(page("/orders/101/products"), "GET products", payload=PRODUCTS)
    log.post(u("/orders/101/shipments"), "POST shipment", **post)


AMBIGUOUS_POSTS: list[Any] = [
    pytest.param({"status": 502, "payload": [{"status": 502, "message": "Bad gateway"}]},
                 ServerError, id="502"),
    pytest.param({"status": 500, "body": "oops"}, ServerError, id="500"),
    pytest.param({"exception": aiohttp.ServerDisconnectedError()}, APIConnectionError,
                 id="disconnected"),
    pytest.param({"exception": TimeoutError()}, APIConnectionError, id="timeout"),
]


@pytest.mark.parametrize(("post", "error"), AMBIGUOUS_POSTS)
async def test_apply_update_ambiguous_post_found_on_check(
    client: B2BClient, post: dict[str, Any], error: type[Exception]
) -> None:
    with aioresponses() as m:
        log = Log(m)
        _mock_apply_until_post(log, post)
        log.get(page("/orders/101/shipments"), "GET shipments again", payload=[SHIPMENT])
        log.put(u("/orders/101"), "PUT order", payload=SHIPPED_ORDER)
        result = await client.v2.orders.apply_update(101, status_id=2, tracking_number=TRACKING)
        posts = requests_to(m, "POST", u("/orders/101/shipments"))
    assert len(posts) == 1  # the POST may have landed: never sent twice
    assert log.seen == ["GET shipments", "GET addresses", "GET products", "POST shipment",
                        "GET shipments again", "PUT order"]
    assert result.fields_updated == ["status_id", "shipment_created"]
    assert result.shipment is not None and result.shipment.id == 33


@pytest.mark.parametrize(("post", "error"), AMBIGUOUS_POSTS)
async def test_apply_update_ambiguous_post_not_found_raises_the_original_error(
    client: B2BClient, post: dict[str, Any], error: type[Exception]
) -> None:
    with aioresponses() as m:
        log = Log(m)
        _mock_apply_until_post(log, post)
        log.get(page("/orders/101/shipments"), "GET shipments again",
                payload=[{**SHIPMENT, "tracking_number": "SOMETHING-ELSE"}])
        log.post(u("/orders/101/shipments"), "POST shipment twice", status=201,
                 payload=SHIPMENT)
        log.put(u("/orders/101"), "PUT order", payload=SHIPPED_ORDER)
        with pytest.raises(error) as info:
            await client.v2.orders.apply_update(101, status_id=2, tracking_number=TRACKING)
        posts = requests_to(m, "POST", u("/orders/101/shipments"))
    assert len(posts) == 1
    assert log.seen == ["GET shipments", "GET addresses", "GET products", "POST shipment",
                        "GET shipments again"]
    assert "POST" in str(info.value)  # the POST's error, not the check's


async def test_apply_update_failed_check_still_raises_the_post_error(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        log = Log(m)
        _mock_apply_until_post(log, {"status": 502, "payload": [{"status": 502,
                                                                 "message": "Bad gateway"}]})
        # the check fails too (each GET is tried 3 times with max_retries=2)
        for _ in range(3):
            log.get(page("/orders/101/shipments"), "GET shipments again", status=503)
        with pytest.raises(ServerError) as info:
            await client.v2.orders.apply_update(101, status_id=2, tracking_number=TRACKING)
        assert len(requests_to(m, "POST", u("/orders/101/shipments"))) == 1
        assert not requests_to(m, "PUT", u("/orders/101"))
    err = info.value
    assert err.status == 502 and err.method == "POST"
    assert any("503" in note for note in getattr(err, "__notes__", []))


async def test_apply_update_post_refused_before_sending_is_not_checked(
    client: B2BClient,
) -> None:
    # A 4xx (not 429) certainly did not create anything: raised as is, no look-up.
    with aioresponses() as m:
        log = Log(m)
        _mock_apply_until_post(log, {"status": 422, "payload": [
            {"status": 422, "message": "The quantity specified is greater than remaining"}]})
        with pytest.raises(UnprocessableEntityError, match="greater than remaining"):
            await client.v2.orders.apply_update(101, status_id=2, tracking_number=TRACKING)
    assert log.seen == ["GET shipments", "GET addresses", "GET products", "POST shipment"]


BAD_APPLY: list[tuple[dict[str, Any], str]] = [
    ({}, "nothing to update"),
    ({"billing": {"first_name": None}}, "nothing to update"),
    ({"shipping_provider": "ups"}, "tracking_number"),
    ({"tracking_carrier": "UPS"}, "tracking_number"),
    ({"status_id": 2, "shipping_provider": "ups"}, "tracking_number"),
    ({"status_id": 15}, "status_id"),
    ({"status_id": True}, "status_id"),
    ({"staff_notes": "x" * 65_536}, "staff_notes"),
    ({"tracking_number": "x" * 51}, "tracking_number"),
    ({"tracking_number": "   "}, "tracking_number"),
    ({"tracking_number": TRACKING, "shipping_provider": "dhl"}, "shipping_provider"),
    ({"billing": {"street": "a", "street_1": "b"}}, "street"),
    ({"billing": {"colour": "red"}}, "colour"),
    ({"billing": {"zip": "1"}}, "zip"),
    ({"billing": "Calle Nueva 456"}, "billing"),
]


@pytest.mark.parametrize(("kwargs", "named"), BAD_APPLY)
async def test_apply_update_bad_input_sends_nothing(
    client: B2BClient, kwargs: dict[str, Any], named: str
) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.v2.orders.apply_update(101, **kwargs)
        assert not m.requests
    assert named in str(info.value)


# --- apply_update_many ---------------------------------------------------------------------

ORDER_PUT = re.compile(re.escape(V2) + r"/orders/(\d+)$")
MISSING = {7, 14, 21, 28, 35}


def _put_callback(url: URL, **kwargs: Any) -> CallbackResult:
    oid = int(url.path.rsplit("/", 1)[1])
    if oid in MISSING:
        return CallbackResult(status=404, payload=V2_404)
    sent = json.loads(kwargs["data"])
    return CallbackResult(payload={**ORDER, "id": oid, "status_id": sent["status_id"],
                                   "status": OrderStatus(sent["status_id"]).label})


async def test_apply_update_many_45_succeed_5_not_found(client: B2BClient) -> None:
    ids = list(range(50, 0, -1))  # input order is not id order
    updates = {oid: {"status_id": 10} for oid in ids}
    progress: list[tuple[int, int]] = []
    with aioresponses() as m:
        m.put(ORDER_PUT, callback=_put_callback, repeat=True)
        result = await client.v2.orders.apply_update_many(
            updates, concurrency=4, progress=lambda d, t: progress.append((d, t)))
        puts = all_requests(m)
    assert len(puts) == 50 and {method for method, _, _ in puts} == {"PUT"}
    assert all(body_of(kw) == {"status_id": 10} for _, _, kw in puts)
    assert len(result) == 50 and not result.ok
    assert len(result.succeeded) == 45 and set(result.failed) == MISSING
    assert all(isinstance(e, NotFoundError) for e in result.failed.values())
    assert all("The requested resource was not found." in str(e)
               for e in result.failed.values())
    assert [oid for oid, _ in result] == ids
    for oid, value in result:
        if oid in MISSING:
            assert isinstance(value, NotFoundError)
        else:
            assert isinstance(value, OrderUpdateResult)
            assert value.order_id == oid and value.status == "Completed"
            assert value.fields_updated == ["status_id"]
    assert progress[-1] == (50, 50) and len(progress) == 50


async def test_apply_update_many_reports_every_bad_item_before_any_request(
    client: B2BClient,
) -> None:
    updates: dict[Any, Any] = {
        101: {"status_id": 99},
        -102: {"status_id": 1},
        103: {},
        104: {"colour": "red"},
        105: {"shipping_provider": "ups"},
        106: {"status_id": 2},                       # fine
        107: {"staff_notes": "x" * 65_536},
        108: "status_id=2",
        109: {"priority": "interactive", "status_id": 2},
    }
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.v2.orders.apply_update_many(updates)
        assert not m.requests
    text = str(info.value)
    assert "8 invalid item(s)" in text
    for oid in (101, -102, 103, 104, 105, 107, 108, 109):
        assert f"{oid}: " in text
    assert "106" not in text


async def test_apply_update_many_runs_tracking_updates_too(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(page("/orders/101/shipments"), status=204)
        m.get(page("/orders/101/shipping_addresses"), payload=ADDRESSES)
        m.get(page("/orders/101/products"), payload=PRODUCTS)
        m.post(u("/orders/101/shipments"), status=201, payload=SHIPMENT)
        m.put(u("/orders/101"), payload=SHIPPED_ORDER)
        m.put(u("/orders/102"), payload={**ORDER, "id": 102, "staff_notes": "n"})
        result = await client.v2.orders.apply_update_many({
            101: {"status_id": 2, "tracking_number": TRACKING},
            102: {"staff_notes": "n"},
        })
    assert result.ok and len(result) == 2
    assert result.succeeded[101].fields_updated == ["status_id", "shipment_created"]
    assert result.succeeded[102].fields_updated == ["staff_notes"]


@pytest.mark.parametrize("bad", [0, 65, 256, True, "8"])
async def test_apply_update_many_bad_concurrency(client: B2BClient, bad: Any) -> None:
    """1..64, the one concurrency range of batches, lists and exports (256 was allowed)."""
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError, match="concurrency"):
            await client.v2.orders.apply_update_many({1: {"status_id": 2}}, concurrency=bad)
        assert not m.requests


async def test_apply_update_many_top_concurrency(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=SHIPPED_ORDER)
        result = await client.v2.orders.apply_update_many({101: {"status_id": 2}},
                                                          concurrency=64)
    assert result.ok


async def test_apply_update_many_counts_more_than_20_bad_items(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError) as info:
            await client.v2.orders.apply_update_many({i: {"status_id": 99} for i in range(1, 26)})
        assert not m.requests
    assert "25 invalid item(s)" in str(info.value) and "(+5 more)" in str(info.value)


# --- typed update fields, priority and deadline on every call (issue 16.4) ---------------


def test_update_takes_exactly_the_writable_fields_as_keywords() -> None:
    """Every writable field of order_Put is a keyword-only parameter of update(), and
    nothing else is (apart from priority, deadline and the Never-typed catch-all)."""
    params = inspect.signature(V2Orders.update).parameters
    fields = {name for name, p in params.items() if p.kind is p.KEYWORD_ONLY}
    assert fields - {"priority", "deadline"} == set(ORDER_WRITABLE_FIELDS)
    assert params["unknown"].kind is inspect.Parameter.VAR_KEYWORD


async def test_update_none_clears_nullable_fields_and_unset_sends_nothing(
    client: B2BClient,
) -> None:
    with aioresponses() as m:
        m.put(u("/orders/101"), payload=ORDER)
        await client.v2.orders.update(101, external_source=None, staff_notes="x")
        _, _, kwargs = only_request(m)
    assert body_of(kwargs) == {"external_source": None, "staff_notes": "x"}


MYPY_SNIPPET = '''\
from bcb2b_async import B2BClient


async def main(client: B2BClient) -> None:
    await client.v2.orders.update(1, status_id=2, staff_notes="n", priority="bulk",
                                  deadline=5.0, subtotal_ex_tax="1", subtotal_inc_tax=1)
    await client.v2.orders.update(1, stauts_id=2)  # line 7: misspelt
    await client.v2.orders.update(1, status_id="2")  # line 8: wrong type
    await client.v2.orders.update(1, external_id="x")  # line 9: read-only
    await client.v2.orders.get(1, priority="interactive", deadline=3)
    await client.v2.orders.products(1, deadline=3)
    await client.v2.orders.apply_update(1, status_id=2, deadline=3)
'''


@pytest.mark.timeout(300)
def test_mypy_catches_misspelt_and_mistyped_update_fields(tmp_path: Path) -> None:
    """``update(stauts_id=...)`` is a type error (it was ``**fields: Any``)."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(MYPY_SNIPPET)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        capture_output=True, text=True, cwd=root, timeout=280,
        env={**os.environ, "MYPYPATH": str(root)},
    )
    lines = {int(m.group(1)) for m in re.finditer(r"snippet\.py:(\d+): error", proc.stdout)}
    assert lines == {7, 8, 9}, proc.stdout + proc.stderr
    assert "stauts_id" in proc.stdout


def _every_v2_call(orders: Any, **kw: Any) -> list[tuple[str, Any]]:
    return [
        ("get", lambda: orders.get(101, **kw)),
        ("update", lambda: orders.update(101, status_id=2, **kw)),
        ("products", lambda: orders.products(101, **kw)),
        ("shipping_addresses", lambda: orders.shipping_addresses(101, **kw)),
        ("shipments", lambda: orders.shipments(101, **kw)),
        ("create_shipment", lambda: orders.create_shipment(101, **kw)),
        ("apply_update", lambda: orders.apply_update(101, status_id=2,
                                                     tracking_number=TRACKING, **kw)),
        ("apply_update_many", lambda: orders.apply_update_many({101: {"status_id": 2}}, **kw)),
    ]


class Spy:
    """Wraps the pipeline's request() to record priority and deadline of every call."""

    def __init__(self, client: B2BClient) -> None:
        pipe = client.v2.orders._pipe
        self.seen: list[tuple[str, str, Any, Any]] = []
        original = pipe.request

        async def request(api: str, method: str, path: str, **kw: Any) -> Any:
            self.seen.append((method, path, kw.get("priority"), kw.get("deadline")))
            return await original(api, method, path, **kw)

        pipe.request = request  # type: ignore[method-assign]


def _mock_store(m: aioresponses) -> None:
    for path, payload in (("/orders/101/shipping_addresses", ADDRESSES),
                          ("/orders/101/products", PRODUCTS), ("/orders/101/shipments", [])):
        m.get(page(path), payload=payload, repeat=True)
    m.get(u("/orders/101"), payload=ORDER, repeat=True)
    m.put(u("/orders/101"), payload=SHIPPED_ORDER, repeat=True)
    m.post(u("/orders/101/shipments"), payload=SHIPMENT, status=201, repeat=True)


@pytest.mark.parametrize("index", range(8))
async def test_every_v2_call_passes_priority_and_one_deadline_to_each_request(
    client: B2BClient, index: int
) -> None:
    """priority and deadline reach every request a call makes; a call of several requests
    resolves its deadline once, so the later requests do not get a later deadline."""
    spy = Spy(client)
    name, call = _every_v2_call(client.v2.orders, priority="interactive", deadline=60)[index]
    if name == "apply_update_many":
        name, call = name, lambda: client.v2.orders.apply_update_many(
            {101: {"status_id": 2, "tracking_number": TRACKING}}, priority="interactive",
            deadline=60)
    with aioresponses() as m:
        _mock_store(m)
        result = await call()
    if name == "apply_update_many":
        assert result.ok, result.failed
    assert spy.seen, name
    assert {prio for _, _, prio, _ in spy.seen} == {"interactive"}
    deadlines = {d for _, _, _, d in spy.seen}
    assert len(deadlines) == 1 and None not in deadlines, spy.seen
    (instant,) = deadlines
    if len(spy.seen) > 1 or name.startswith(("products", "shipping", "shipments")):
        # Resolved once, to a monotonic instant about 60 s ahead (a list's pages share it).
        assert 0 < float(instant) - time.monotonic() <= 60
    else:
        assert instant == 60  # one request: handed to the pipeline as given


@pytest.mark.parametrize("index", range(8))
async def test_every_v2_call_refuses_a_bad_priority_before_any_request(
    client: B2BClient, index: int
) -> None:
    name, call = _every_v2_call(client.v2.orders, priority="urgent")[index]
    with aioresponses() as m:
        _mock_store(m)
        with pytest.raises(InvalidArgumentError, match="priority"):
            await call()
        assert not m.requests, name


@pytest.mark.parametrize("index", range(8))
async def test_every_v2_call_sends_nothing_after_its_deadline(
    client: B2BClient, index: int
) -> None:
    name, call = _every_v2_call(client.v2.orders, deadline=-1)[index]
    with aioresponses() as m:
        _mock_store(m)
        if name == "apply_update_many":
            result = await call()
            assert isinstance(result.failed[101], DeadlineExceededError)
        else:
            with pytest.raises(DeadlineExceededError):
                await call()
        assert not m.requests, name


# --- the orders list, page and count (GET /v2/orders, /v2/orders/count) --------------------


def list_url(n: int, limit: int = 250, extra: str = "") -> str:
    return u("/orders", f"page={n}&limit={limit}" + extra)


def orders_payload(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"id": i, "customer_id": 9, "status_id": 11, "items_total": 2, "items_shipped": 0,
             "date_created": "Thu, 20 Apr 2017 15:32:00 +0000"} for i in range(start, start + n)]


async def test_list_walks_pages_until_a_short_page(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(list_url(1, 2), payload=orders_payload(2))
        m.get(list_url(2, 2), payload=orders_payload(2, start=3))
        m.get(list_url(3, 2), payload=orders_payload(1, start=5))
        orders = await client.v2.orders.list(page_size=2).to_list()
        made = all_requests(m)
    assert [o.id for o in orders] == [1, 2, 3, 4, 5]
    assert [params_of(kw) for _, _, kw in made] == [
        [("page", str(n)), ("limit", "2")] for n in (1, 2, 3)]
    for _, _, kw in made:
        assert_v2_headers(kw, body=False)
    assert orders[0].items_total == 2 and orders[0].date_created_dt is not None


@pytest.mark.parametrize("end", [{"status": 204, "body": ""}, {"payload": []}])
async def test_list_full_page_then_204_or_empty_ends_the_walk(
    client: B2BClient, end: dict[str, Any]
) -> None:
    with aioresponses() as m:
        m.get(list_url(1, 3), payload=orders_payload(3))
        m.get(list_url(2, 3), **end)
        orders = [o.id async for o in client.v2.orders.list(page_size=3)]
        assert len(all_requests(m)) == 2
    assert orders == [1, 2, 3]


async def test_list_empty_store_is_one_request(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(list_url(1), status=204)
        assert await client.v2.orders.list().to_list() == []
        assert len(all_requests(m)) == 1


async def test_list_is_lazy_and_every_iteration_starts_fresh(client: B2BClient) -> None:
    with aioresponses() as m:
        pager = client.v2.orders.list(min_id=3)
        assert not m.requests
        m.get(list_url(1, extra="&min_id=3"), payload=orders_payload(2, start=3), repeat=True)
        first = await pager.to_list()
        second = await pager.to_list()
        assert len(all_requests(m)) == 2
    assert [o.id for o in first] == [o.id for o in second] == [3, 4]


@pytest.mark.timeout(20)
async def test_list_failing_midway_raises_after_the_first_pages(client: B2BClient) -> None:
    seen: list[int] = []
    with aioresponses() as m:
        m.get(list_url(1, 2), payload=orders_payload(2))
        m.get(list_url(2, 2), status=500, payload=[{"status": 500, "message": "boom"}],
              repeat=True)
        with pytest.raises(ServerError, match="boom"):
            async for order in client.v2.orders.list(page_size=2):
                seen.append(order.id or 0)
        # page 2: the first attempt and the client's 2 retries
        assert len(requests_to(m, "GET", list_url(2, 2))) == 3
    assert seen == [1, 2]


async def test_list_include_lines_sends_the_include_and_decodes_lines(
    client: B2BClient,
) -> None:
    order = {**orders_payload(1)[0], "items_total": 3, "consignments": {
        "pickups": [], "downloads": [], "email": {"gift_certificates": []},
        "shipping": [{"id": 7, "first_name": "Ann", "line_items": PRODUCTS[:1],
                      "items_total": 3}]}}
    with aioresponses() as m:
        m.get(list_url(1, extra="&include=consignments.line_items&consignment_structure=object"),
              payload=[order])
        (got,) = await client.v2.orders.list(include_lines=True).to_list()
        _, _, kwargs = only_request(m)
    assert params_of(kwargs)[2:] == [("include", "consignments.line_items"),
                                     ("consignment_structure", "object")]
    assert [p.id for p in got.line_items] == [1] and got.line_items[0].name == "Widget"
    assert got.lines_complete  # quantity 3 == items_total 3


async def test_page_returns_one_page_and_empty_past_the_end(client: B2BClient) -> None:
    query = V2OrderQuery.build(min_id=10, max_id=20, sort="id:asc", page_size=5)
    with aioresponses() as m:
        m.get(list_url(2, 5, "&min_id=10&max_id=20&sort=id:asc"),
              payload=orders_payload(5, start=15))
        m.get(list_url(3, 5, "&min_id=10&max_id=20&sort=id:asc"), status=204)
        page2 = await client.v2.orders.page(query, page=2)
        page3 = await client.v2.orders.page(query, page=3, priority="interactive", deadline=9)
        made = all_requests(m)
    assert [o.id for o in page2] == [15, 16, 17, 18, 19] and page3 == []
    assert params_of(made[0][2]) == [("page", "2"), ("limit", "5"), ("min_id", "10"),
                                     ("max_id", "20"), ("sort", "id:asc")]


async def test_count_and_count_query(client: B2BClient) -> None:
    count_body = {"count": 45, "statuses": [{"id": 11, "name": "Awaiting Fulfillment",
                                             "count": 45, "sort_order": 3}]}
    since = datetime(2024, 5, 6, 7, 8, 9, 999_999, tzinfo=UTC)  # floored to the second
    with aioresponses() as m:
        m.get(re.compile(re.escape(u("/orders/count")) + r".*"), payload=count_body,
              repeat=True)
        assert await client.v2.orders.count(min_date_created=since, status_id=11) == 45
        query = V2OrderQuery.build(customer_id=0, sort="id", include_lines=True)
        assert await client.v2.orders.count_query(query) == 45
        made = all_requests(m)
    assert params_of(made[0][2]) == [("min_date_created", "Mon, 06 May 2024 07:08:09 +0000"),
                                     ("status_id", "11")]
    # The count takes the filters only: no sort, include or paging.
    assert params_of(made[1][2]) == [("customer_id", "0")]


BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"min_id": 0}, "min_id"),
    ({"max_id": True}, "max_id"),
    ({"min_id": 5, "max_id": 4}, "min_id"),
    ({"min_date_created": datetime(2024, 1, 1)}, "timezone"),  # naive
    ({"max_date_modified": "yesterday"}, "max_date_modified"),
    ({"min_date_created": 10, "max_date_created": 9}, "min_date_created"),
    ({"status_id": 15}, "status_id"),
    ({"status_id": -1}, "status_id"),
    ({"channel_id": 0}, "channel_id"),
    ({"customer_id": -1}, "customer_id"),
    ({"sort": "total"}, "sort"),
    ({"sort": "id:up"}, "sort"),
    ({"sort": 1}, "sort"),
    ({"include_lines": "yes"}, "include_lines"),
    ({"page_size": 251}, "page_size"),
    ({"page_size": 0}, "page_size"),
    ({"priority": "urgent"}, "priority"),
]


@pytest.mark.parametrize(("kwargs", "named"), BAD_FILTERS)
async def test_list_bad_filters_are_refused_before_any_request(
    client: B2BClient, kwargs: dict[str, Any], named: str
) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError, match=named):
            await client.v2.orders.list(**kwargs).to_list()
        count_kwargs = {k: v for k, v in kwargs.items()
                        if k not in ("sort", "include_lines", "page_size", "priority")}
        if count_kwargs:
            with pytest.raises(InvalidArgumentError, match=named):
                await client.v2.orders.count(**count_kwargs)
        assert not m.requests


async def test_page_refuses_a_bad_page_or_query(client: B2BClient) -> None:
    query = V2OrderQuery.build()
    with aioresponses() as m:
        for bad in (0, -1, True, 1.0):
            with pytest.raises(InvalidArgumentError, match="page"):
                await client.v2.orders.page(query, page=bad)
        with pytest.raises(InvalidArgumentError, match="V2OrderQuery"):
            await client.v2.orders.page({"min_id": 1}, page=1)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="V2OrderQuery"):
            client.v2.orders.paginate("min_id=1")  # type: ignore[arg-type]
        assert not m.requests


async def test_list_walk_shares_one_deadline_and_bulk_priority(client: B2BClient) -> None:
    spy = Spy(client)
    with aioresponses() as m:
        m.get(list_url(1, 1), payload=orders_payload(1))
        m.get(list_url(2, 1), payload=orders_payload(1, start=2))
        m.get(list_url(3, 1), status=204)
        await client.v2.orders.list(page_size=1, deadline=60).to_list()
    assert [s[0:2] for s in spy.seen] == [("GET", "/orders")] * 3
    assert {s[2] for s in spy.seen} == {"bulk"}
    assert len({s[3] for s in spy.seen}) == 1


async def test_list_past_deadline_sends_nothing(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(DeadlineExceededError):
            await client.v2.orders.list(deadline=-1).to_list()
        assert not m.requests
