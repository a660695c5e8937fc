"""``client.orders`` against aioresponses: every endpoint's success, 404, 422 and malformed
body; the method, URL, query, headers and exact JSON body sent; bad input refused before
any request; the token kept out of every message, log record and counter; sessions and the
client's own arguments."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from bcb2b_async import (
    APIConnectionError,
    B2BClient,
    DecodeError,
    Event,
    ExtraField,
    ExtraFieldConfig,
    Hooks,
    InvalidArgumentError,
    NotFoundError,
    Order,
    OrderProduct,
    RateLimitError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
    __version__,
)
from bcb2b_async.resources import b2b_orders as b2b_orders_module

from ._helpers import (
    B2B,
    STORE,
    TOKEN,
    UUID,
    V2,
    b2b_error,
    calls,
    count,
    only_call,
    sent_json,
)

ORDER: dict[str, Any] = {
    "id": 12345, "bcOrderId": 123, "totalIncTax": 2210.47, "poNumber": "04152025-0002",
    "status": "Awaiting Payment", "customStatus": "Invoice Sent", "cartId": UUID,
    "items": 50, "usdIncTax": 2210.47, "companyId": 12345, "currencyCode": "USD",
    "money": [{"currencyLocation": "left", "currencyToken": "$", "decimalToken": ".",
               "decimalPlaces": 2, "thousandsToken": ","}],
    "statusCode": 7, "isArchived": False, "channelId": 1, "channelName": "B2B Store",
    "extraText": None, "extraFields": [{"fieldName": "Fintech ID", "fieldValue": "1234567890"}],
    "createdAt": 1744735719, "updatedAt": 1744735734,
}
PRODUCT: dict[str, Any] = {
    "id": 12345, "productId": 12345, "createdAt": 1744735719, "updatedAt": 1744735734,
    "productName": "The Planter by Rustic Roots", "variantSku": "CER-POT-2-SL",
    "variantId": 74669, "productBrandName": "Rustic Roots", "quantity": 5,
    "options": [{"id": 129, "optionId": 4243, "displayName": "Color", "displayValue": "Slate",
                 "value": 18836}],
}
CONFIG: dict[str, Any] = {"id": 9798, "uuid": 123456, "fieldName": "Fintech ID", "fieldType": 0,
                          "isRequired": True, "listOfValues": []}
MALFORMED = b'{"code": 200, "data": [{"bcOrderId": 123, "poNumber": "04152'


# -- helpers -----------------------------------------------------------------------------
def pattern(path: str) -> re.Pattern[str]:
    """Match ``B2B + path`` exactly, with or without a query string."""
    return re.compile(re.escape(B2B + path) + r"(\?.*)?$")


def assert_b2b_headers(kwargs: dict[str, Any], *, has_body: bool) -> None:
    headers = kwargs["headers"]
    expected = {"X-Auth-Token", "X-Store-Hash", "Accept", "User-Agent"}
    if has_body:
        expected.add("Content-Type")
    assert set(headers) == expected  # no legacy authToken header, nothing else
    assert headers["X-Auth-Token"] == TOKEN
    assert headers["X-Store-Hash"] == STORE
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith(f"bcb2b_async/{__version__}")
    if has_body:
        assert headers["Content-Type"] == "application/json"
    assert kwargs["allow_redirects"] is False  # the token never follows a redirect


# -- the endpoints -------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    call: Callable[[B2BClient], Awaitable[Any]]
    method: str
    path: str
    query: list[tuple[str, str]] | None
    body: Any  # the exact JSON sent, None when no body
    response: dict[str, Any]
    check: Callable[[Any], None]
    idempotent: bool = True


def check_order(result: Any) -> None:
    assert isinstance(result, Order)
    assert result.bc_order_id == 123 and result.id == 12345
    assert result.po_number == "04152025-0002" and result.cart_id == UUID
    assert result.extra_fields == [ExtraField("Fintech ID", "1234567890")]
    assert result.created_at_dt == datetime(2025, 4, 15, 16, 48, 39, tzinfo=UTC)


def check_orders(result: Any) -> None:
    assert isinstance(result, list) and len(result) == 1
    check_order(result[0])


def check_products(result: Any) -> None:
    assert isinstance(result, list) and len(result) == 1
    line = result[0]
    assert isinstance(line, OrderProduct)
    assert line.product_name == "The Planter by Rustic Roots"
    assert line.variant_sku == "CER-POT-2-SL" and line.quantity == 5
    assert line.options[0].option_id == 4243 and line.options[0].value == 18836


def check_configs(result: Any) -> None:
    assert result == [ExtraFieldConfig(id=9798, uuid=123456, field_name="Fintech ID",
                                       field_type=0, is_required=True, list_of_values=[])]


def check_total(expected: int) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert result == expected and type(result) is int

    return check


ENDPOINTS: dict[str, Endpoint] = {
    "get": Endpoint(
        lambda c: c.orders.get(123), "GET", "/orders/123", None, None,
        {"code": 200, "data": [ORDER]}, check_order),
    "create": Endpoint(
        lambda c: c.orders.create(
            bc_order_id=123, customer_id=321, po_number="04152025-0002",
            extra_fields=[ExtraField("Fintech ID", "1234567890")]),
        "POST", "/orders", None,
        {"bcOrderId": 123, "customerId": 321, "poNumber": "04152025-0002",
         "extraFields": [{"fieldName": "Fintech ID", "fieldValue": "1234567890"}]},
        {"code": 200, "meta": {"message": "SUCCESS"}, "data": ORDER}, check_order,
        idempotent=False),
    "update": Endpoint(
        lambda c: c.orders.update(123, po_number="04152025-0002",
                                  extra_fields=[{"fieldName": "Fintech ID", "fieldValue": 42}]),
        "PUT", "/orders/123", None,
        {"poNumber": "04152025-0002",
         "extraFields": [{"fieldName": "Fintech ID", "fieldValue": "42"}]},
        {"code": 200, "message": "SUCCESS", "data": [ORDER]}, check_order),
    "products": Endpoint(
        lambda c: c.orders.products(123), "GET", "/orders/123/products", None, None,
        {"code": 200, "message": "SUCCESS", "data": [PRODUCT]}, check_products),
    "extra_field_configs": Endpoint(
        lambda c: c.orders.extra_field_configs(), "GET", "/orders/extra-fields",
        [("limit", "200"), ("offset", "0")], None,
        {"code": 200, "meta": {"message": "SUCCESS",
                               "pagination": {"totalCount": 1, "limit": 200, "offset": 0}},
         "data": [CONFIG]}, check_configs),
    "reassign_customer_orders": Endpoint(
        lambda c: c.orders.reassign_customer_orders(321, bc_group_id=9), "PUT",
        "/customers/321/orders/company", None, {"bcGroupId": 9},
        {"code": 200, "message": "SUCCESS", "data": {"total": 4}}, check_total(4)),
    "assign_customer_orders": Endpoint(
        lambda c: c.orders.assign_customer_orders(321), "PUT", "/customers/321/orders/b2b",
        None, None,  # the spec declares no request body for this PUT
        {"code": 200, "message": "SUCCESS", "data": {"total": 2}}, check_total(2)),
    "list": Endpoint(
        lambda c: c.orders.list(company_id=12345, page_size=50).to_list(), "GET", "/orders",
        [("limit", "50"), ("offset", "0"), ("companyId", "12345"), ("sortBy", "updatedAt"),
         ("orderBy", "DESC")], None,
        {"code": 200, "meta": {"message": "SUCCESS", "pagination": {
            "totalCount": 1, "limit": 50, "offset": 0}}, "data": [ORDER]}, check_orders),
}
NAMES = list(ENDPOINTS)


def assert_request(ep: Endpoint, method: str, url: URL, kwargs: dict[str, Any]) -> None:
    assert method == ep.method
    assert str(url.with_query(None)) == B2B + ep.path
    if ep.query is None:
        assert kwargs["params"] is None and not url.query
    else:
        # The pairs in the order given to aiohttp, and what ended up in the URL.
        assert kwargs["params"] == ep.query
        assert sorted(url.query.items()) == sorted(ep.query)
    assert sent_json(kwargs) == ep.body
    assert_b2b_headers(kwargs, has_body=ep.body is not None)


@pytest.mark.parametrize("name", NAMES)
async def test_success_sends_the_documented_request(client: B2BClient, name: str) -> None:
    ep = ENDPOINTS[name]
    with aioresponses() as m:
        m.add(pattern(ep.path), method=ep.method, payload=ep.response)
        result = await ep.call(client)
        method, url, kwargs = only_call(m)
    assert_request(ep, method, url, kwargs)
    ep.check(result)
    assert client.stats.b2b.requests == 1 and client.stats.b2b.errors == 0


@pytest.mark.parametrize("name", NAMES)
async def test_404_is_not_found_and_not_retried(client: B2BClient, name: str) -> None:
    ep = ENDPOINTS[name]
    with aioresponses() as m:
        m.add(pattern(ep.path), method=ep.method, status=404, repeat=True,
              payload=b2b_error(404, "Order Does Not Exist."),
              headers={"X-Request-Id": "req-404"})
        with pytest.raises(NotFoundError) as info:
            await ep.call(client)
        assert count(m) == 1
        assert_request(ep, *only_call(m))
    err = info.value
    assert err.status == 404 and err.method == ep.method
    assert err.url.split("?")[0] == B2B + ep.path
    assert err.request_id == "req-404" and err.attempts == 1
    assert err.server_message == "Order Does Not Exist."
    assert "Order Does Not Exist." in str(err) and "req-404" in str(err)
    assert client.stats.b2b.errors == 1


@pytest.mark.parametrize("name", NAMES)
async def test_422_shows_message_and_err_msg(client: B2BClient, name: str) -> None:
    ep = ENDPOINTS[name]
    with aioresponses() as m:
        m.add(pattern(ep.path), method=ep.method, status=422, repeat=True,
              payload=b2b_error(422, "[Fintech ID] is a required extra field",
                                {"extraFields": "Fintech ID is required"}))
        with pytest.raises(UnprocessableEntityError) as info:
            await ep.call(client)
        assert count(m) == 1
    err = info.value
    assert err.status == 422 and err.method == ep.method
    assert "[Fintech ID] is a required extra field" in str(err)
    assert "extraFields: Fintech ID is required" in str(err)


@pytest.mark.parametrize("name", NAMES)
async def test_malformed_body_is_decode_error(client: B2BClient, name: str) -> None:
    ep = ENDPOINTS[name]
    with aioresponses() as m:
        m.add(pattern(ep.path), method=ep.method, status=200, body=MALFORMED, repeat=True)
        with pytest.raises(DecodeError) as info:
            await ep.call(client)
        # Cut-short JSON is retried for idempotent calls (max_retries=2), never for a POST.
        attempts = 3 if ep.idempotent else 1
        assert count(m) == attempts
    err = info.value
    assert err.attempts == attempts and err.malformed
    assert err.status == 200 and err.method == ep.method
    assert err.url.split("?")[0] == B2B + ep.path
    assert MALFORMED.decode() in err.body and len(err.body) <= 501  # a short excerpt
    assert ep.path in str(err) and "200" in str(err)


@pytest.mark.parametrize("name", NAMES)
async def test_wrong_shape_is_decode_error_and_not_retried(client: B2BClient,
                                                           name: str) -> None:
    ep = ENDPOINTS[name]
    with aioresponses() as m:
        m.add(pattern(ep.path), method=ep.method, repeat=True,
              payload={"code": 200, "data": "not what was documented"})
        with pytest.raises(DecodeError) as info:
            await ep.call(client)
        assert count(m) == 1
    assert not info.value.malformed and info.value.status == 200
    assert info.value.attempts == 1


async def test_wrong_shape_error_names_the_field_path(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders/123"), repeat=True,
              payload={"code": 200, "data": [{"poNumber": 1}]})
        with pytest.raises(DecodeError, match=r"\$\.data\[0\]\.poNumber") as info:
            await client.orders.get(123)
        assert count(m) == 1
    assert info.value.attempts == 1 and not info.value.malformed


# -- single orders -----------------------------------------------------------------------
async def test_get_accepts_data_as_object(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(B2B + "/orders/123", payload={"code": 200, "data": ORDER})
        check_order(await client.orders.get(123))


@pytest.mark.parametrize("data", [[], [ORDER, {**ORDER, "bcOrderId": 124}]])
async def test_get_with_not_exactly_one_order_is_decode_error(client: B2BClient,
                                                              data: list[Any]) -> None:
    with aioresponses() as m:
        m.get(B2B + "/orders/123", payload={"code": 200, "message": "SUCCESS", "data": data})
        with pytest.raises(DecodeError, match=f"got {len(data)}") as info:
            await client.orders.get(123)
    err = info.value
    assert err.method == "GET" and err.url == B2B + "/orders/123" and err.status == 200
    assert '"data":[' in err.body  # the excerpt shows what came back


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"po_number": "PO-9"}, {"poNumber": "PO-9"}),
        ({"po_number": ""}, {"poNumber": ""}),
        ({"extra_fields": [ExtraField("A", "1"), {"field_name": "B", "field_value": 2.5}]},
         {"extraFields": [{"fieldName": "A", "fieldValue": "1"},
                          {"fieldName": "B", "fieldValue": "2.5"}]}),
    ],
)
async def test_update_body_has_only_what_was_given(client: B2BClient, kwargs: dict[str, Any],
                                                   body: dict[str, Any]) -> None:
    with aioresponses() as m:
        m.put(B2B + "/orders/77", payload={"code": 200, "data": [ORDER]})
        await client.orders.update(77, **kwargs)
        method, url, sent = only_call(m)
    assert method == "PUT" and str(url) == B2B + "/orders/77"
    assert sent_json(sent) == body
    assert_b2b_headers(sent, has_body=True)


async def test_create_with_ids_only(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(B2B + "/orders", payload={"code": 200, "data": ORDER})
        await client.orders.create(bc_order_id=5, customer_id=6)
        _, _, sent = only_call(m)
    assert sent_json(sent) == {"bcOrderId": 5, "customerId": 6}


async def test_create_is_not_retried_after_500_but_is_after_429(client: B2BClient) -> None:
    with aioresponses() as m:
        m.post(B2B + "/orders", status=500, repeat=True, body=b"oops")
        with pytest.raises(ServerError):
            await client.orders.create(bc_order_id=5, customer_id=6)
        assert count(m) == 1
    with aioresponses() as m:
        m.post(B2B + "/orders", status=429, payload=b2b_error(429, "slow down"))
        m.post(B2B + "/orders", payload={"code": 200, "data": ORDER})
        assert (await client.orders.create(bc_order_id=5, customer_id=6)).bc_order_id == 123
        assert count(m) == 2


async def test_create_retried_only_when_the_request_never_left(client: B2BClient) -> None:
    key = ConnectionKey("api-b2b.bigcommerce.com", 443, True, True, None, None, None)
    refused = aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))
    with aioresponses() as m:
        m.post(B2B + "/orders", exception=refused)
        m.post(B2B + "/orders", payload={"code": 200, "data": ORDER})
        await client.orders.create(bc_order_id=5, customer_id=6)
        assert count(m) == 2
    with aioresponses() as m:
        m.post(B2B + "/orders", exception=aiohttp.ServerDisconnectedError(), repeat=True)
        with pytest.raises(APIConnectionError) as info:
            await client.orders.create(bc_order_id=5, customer_id=6)
        assert count(m) == 1 and info.value.sent


# -- reassign / assign -------------------------------------------------------------------
async def test_total_missing_is_decode_error(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(B2B + "/customers/321/orders/b2b", payload={"code": 200, "data": {}})
        with pytest.raises(DecodeError, match=r"data\.total") as info:
            await client.orders.assign_customer_orders(321)
    assert info.value.method == "PUT" and "/customers/321/orders/b2b" in info.value.url
    assert '"data"' in info.value.body


async def test_reassign_zero_orders_moved(client: B2BClient) -> None:
    with aioresponses() as m:
        m.put(B2B + "/customers/1/orders/company", payload={"code": 200, "data": {"total": 0}})
        assert await client.orders.reassign_customer_orders(1, bc_group_id=2) == 0


# -- extra field configs: every page, cached with a TTL ------------------------------------
def configs_page(start: int, n: int, total: int | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"code": 200, "data": [{"id": i, "fieldName": f"F{i}"}
                                                 for i in range(start, start + n)]}
    if total is not None:
        doc["meta"] = {"pagination": {"totalCount": total, "limit": 200, "offset": start}}
    return doc


async def test_extra_field_configs_walks_every_page(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders/extra-fields"), payload=configs_page(0, 200, 203))
        m.get(pattern("/orders/extra-fields"), payload=configs_page(200, 3, 203))
        configs = await client.orders.extra_field_configs()
        again = await client.orders.extra_field_configs()  # cached: no third request
        sent = calls(m)
    assert [c.id for c in configs] == list(range(203)) and again == configs
    assert [kw["params"] for _, _, kw in sent] == [
        [("limit", "200"), ("offset", "0")], [("limit", "200"), ("offset", "200")]]


async def test_extra_field_configs_without_total_stops_on_short_page(
        client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders/extra-fields"), payload=configs_page(0, 200, None))
        m.get(pattern("/orders/extra-fields"), payload=configs_page(200, 0, None))
        assert len(await client.orders.extra_field_configs()) == 200
        assert count(m) == 2


class FakeTime:
    """Stands in for the ``time`` module of the resource, so the TTL can pass instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_extra_field_configs_cached_with_ttl_and_refresh(
        client: B2BClient, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeTime()
    monkeypatch.setattr(b2b_orders_module, "time", clock)
    client.orders.extra_field_cache_ttl = 60.0
    with aioresponses() as m:
        for i in range(3):
            m.get(pattern("/orders/extra-fields"), payload=configs_page(i, 1, 1))
        first = await client.orders.extra_field_configs()
        assert count(m) == 1
        clock.now += 59.0
        again = await client.orders.extra_field_configs()
        assert again == first and count(m) == 1  # served from the cache
        again.clear()  # the caller's copy: the cache is not affected
        assert await client.orders.extra_field_configs() == first
        refreshed = await client.orders.extra_field_configs(refresh=True)
        assert count(m) == 2 and [c.id for c in refreshed] == [1]
        clock.now += 59.0
        assert await client.orders.extra_field_configs() == refreshed  # refresh reset the TTL
        clock.now += 1.0
        expired = await client.orders.extra_field_configs()
        assert count(m) == 3 and [c.id for c in expired] == [2]


async def test_extra_field_configs_failure_is_not_cached(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders/extra-fields"), status=404, payload=b2b_error(404, "nope"))
        m.get(pattern("/orders/extra-fields"), payload=configs_page(0, 1, 1))
        with pytest.raises(NotFoundError):
            await client.orders.extra_field_configs()
        assert len(await client.orders.extra_field_configs()) == 1
        assert count(m) == 2


async def test_extra_field_configs_cache_is_per_client(client: B2BClient) -> None:
    other = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None)
    try:
        with aioresponses() as m:
            m.get(pattern("/orders/extra-fields"), repeat=True, payload=configs_page(0, 1, 1))
            await client.orders.extra_field_configs()
            await other.orders.extra_field_configs()
            assert count(m) == 2
    finally:
        await other.aclose()


# -- list(): query encoding and the walk -------------------------------------------------
def sent_query(url: URL, kwargs: dict[str, Any]) -> str:
    """The query string as aiohttp puts it on the wire, percent-decoded."""
    return unquote(url.with_query(None).extend_query(kwargs["params"]).raw_query_string)


async def test_list_defaults(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders"), payload={"code": 200, "data": []})
        assert await client.orders.list().to_list() == []
        method, url, kwargs = only_call(m)
    assert method == "GET" and str(url.with_query(None)) == B2B + "/orders"
    assert kwargs["params"] == [("limit", "200"), ("offset", "0"), ("sortBy", "updatedAt"),
                                ("orderBy", "DESC")]
    assert_b2b_headers(kwargs, has_body=False)


async def test_list_encodes_every_filter(client: B2BClient) -> None:
    cest = timezone(timedelta(hours=2))
    with aioresponses() as m:
        m.get(pattern("/orders"), payload={"code": 200, "data": []})
        await client.orders.list(
            company_id=7, bc_order_id=123, channel_ids=[1, 2], min_modified=1,
            max_modified=datetime(2025, 1, 1, tzinfo=UTC),
            min_created=datetime(2025, 1, 1, 2, 0, 0, 900_000, tzinfo=cest),
            max_created=1735689601, show_extra=True, sort_by="createdAt", order_by="ASC",
            page_size=20).to_list()
        _, url, kwargs = only_call(m)
    assert kwargs["params"] == [
        ("limit", "20"), ("offset", "0"), ("companyId", "7"), ("bcOrderId", "123"),
        ("minModified", "1"), ("maxModified", "1735689600"),
        ("minCreated", "1735689600"),  # aware, non-UTC, fraction floored
        ("maxCreated", "1735689601"), ("showExtra", "true"), ("sortBy", "createdAt"),
        ("orderBy", "ASC"), ("channelIds[]", "1"), ("channelIds[]", "2"),
    ]
    assert url.query.getall("channelIds[]") == ["1", "2"]


async def test_channel_ids_sent_as_repeated_brackets(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders"), payload={"code": 200, "data": []})
        await client.orders.list(channel_ids=[1, 2]).to_list()
        _, url, kwargs = only_call(m)
    assert sent_query(url, kwargs) == (
        "limit=200&offset=0&sortBy=updatedAt&orderBy=DESC&channelIds[]=1&channelIds[]=2")
    assert "channelIds%5B%5D=1&channelIds%5B%5D=2" in url.raw_query_string


@pytest.mark.parametrize(
    ("channels", "sent"), [((3,), ["3"]), ([2, 2, 1], ["2", "1"]), (range(1, 4), ["1", "2", "3"])])
async def test_channel_ids_any_sequence_deduplicated(client: B2BClient, channels: Any,
                                                     sent: list[str]) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders"), payload={"code": 200, "data": []})
        await client.orders.list(channel_ids=channels).to_list()
        _, _, kwargs = only_call(m)
    assert [v for k, v in kwargs["params"] if k == "channelIds[]"] == sent


def paged_orders(total: int, *, flat: bool = False) -> Callable[..., CallbackResult]:
    """A callback answering /orders pages by their ``offset``/``limit`` params."""

    def respond(url: URL, **kwargs: Any) -> CallbackResult:
        params = dict(kwargs["params"])
        offset, limit = int(params["offset"]), int(params["limit"])
        ids = range(offset + 1, min(offset + limit, total) + 1)
        meta: dict[str, Any] = ({"totalCount": total, "limit": limit, "offset": offset} if flat
                                else {"pagination": {"totalCount": total, "limit": limit,
                                                     "offset": offset}})
        return CallbackResult(payload={"code": 200, "meta": meta,
                                       "data": [{"bcOrderId": i} for i in ids]})

    return respond


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("flat", [False, True])
async def test_list_walks_every_page_in_order(client: B2BClient, concurrency: int,
                                              flat: bool) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders"), callback=paged_orders(7, flat=flat), repeat=True)
        orders = await client.orders.list(page_size=2, concurrency=concurrency).to_list()
        offsets = sorted(int(dict(kw["params"])["offset"]) for _, _, kw in calls(m))
    assert [o.bc_order_id for o in orders] == list(range(1, 8))
    assert offsets == [0, 2, 4, 6]  # each page asked once, none past the total


def flaky_pages(total: int, bad: dict[int, list[bytes]]) -> Callable[..., CallbackResult]:
    """Like :func:`paged_orders`, but the page at offset ``k`` answers ``bad[k]``'s bodies
    (200s) first, one per request, then the real page."""
    good = paged_orders(total)

    def respond(url: URL, **kwargs: Any) -> CallbackResult:
        offset = int(dict(kwargs["params"])["offset"])
        if bad.get(offset):
            return CallbackResult(body=bad[offset].pop(0), content_type="application/json")
        return good(url, **kwargs)

    return respond


@pytest.mark.parametrize("concurrency", [2, 4])
async def test_list_prefetched_page_cut_short_is_asked_again(client: B2BClient,
                                                             concurrency: int) -> None:
    # Prefetched pages are decoded at their turn; a body cut short (or ``data: null``) then
    # is requested again through the retrying path, and no order is lost or repeated.
    bad = {4: [MALFORMED], 6: [b'{"code": 200, "data": null, "meta": {}}', MALFORMED]}
    with aioresponses() as m:
        m.get(pattern("/orders"), callback=flaky_pages(9, bad), repeat=True)
        orders = [o.bc_order_id async for o in
                  client.orders.list(page_size=2, concurrency=concurrency)]
        offsets = sorted(int(dict(kw["params"])["offset"]) for _, _, kw in calls(m))
    assert orders == list(range(1, 10))
    assert offsets == [0, 2, 4, 4, 6, 6, 6, 8]
    assert client.stats.b2b.requests == 8


async def test_list_prefetched_page_of_the_wrong_shape_raises_at_once(client: B2BClient) -> None:
    wrong = b'{"code": 200, "data": [{"bcOrderId": "not a number"}], "meta": {}}'
    with aioresponses() as m:
        m.get(pattern("/orders"), callback=flaky_pages(9, {4: [wrong]}), repeat=True)
        seen: list[int] = []
        with pytest.raises(DecodeError) as info:
            async for o in client.orders.list(page_size=2, concurrency=3):
                seen.append(o.bc_order_id)
        offsets = [int(dict(kw["params"])["offset"]) for _, _, kw in calls(m)]
    assert seen == [1, 2, 3, 4]  # the pages before it, in order, then the error
    assert not info.value.malformed
    assert "GET" in str(info.value) and "/orders" in str(info.value) and "offset=4" in str(
        info.value)
    assert offsets.count(4) == 1  # valid JSON of the wrong shape is not asked again


async def test_list_decodes_each_prefetched_page_at_its_turn(client: B2BClient) -> None:
    # Page k+1 is decoded only once the consumer has let page k go: at most one decoded
    # page is alive at a time, however many are prefetched.
    decoded: list[int] = []
    real = b2b_orders_module._ORDERS

    class Spy:
        def decode(self, body: bytes) -> Any:
            env = real.decode(body)
            decoded.append(env.data[0].bc_order_id if env.data else -1)
            return env

    consumed: list[int] = []
    with aioresponses() as m:
        m.get(pattern("/orders"), callback=paged_orders(10), repeat=True)
        b2b_orders_module._ORDERS = Spy()  # type: ignore[assignment]
        try:
            async for o in client.orders.list(page_size=2, concurrency=4):
                consumed.append(o.bc_order_id)
                # Everything decoded so far starts a page the consumer has reached.
                assert max(decoded) <= o.bc_order_id
                await asyncio.sleep(0)  # let the prefetching run
        finally:
            b2b_orders_module._ORDERS = real
    assert consumed == list(range(1, 11))
    assert decoded == [1, 3, 5, 7, 9]


async def test_list_pages_report_total(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(pattern("/orders"), callback=paged_orders(3), repeat=True)
        pages = [p async for p in client.orders.list(page_size=2).pages()]
    assert [(p.offset, p.limit, p.total, len(p)) for p in pages] == [(0, 2, 3, 2), (2, 2, 3, 1)]


async def test_list_sends_nothing_until_iterated(client: B2BClient) -> None:
    with aioresponses() as m:
        client.orders.list(company_id=1)
        await asyncio.sleep(0)
        assert not m.requests


# -- bad input: refused before any request, naming the argument ----------------------------
Bad = Callable[[B2BClient], Any]
BAD_INPUT: list[tuple[str, Bad, str]] = [
    ("update neither", lambda c: c.orders.update(1), "po_number or extra_fields"),
    ("update both None", lambda c: c.orders.update(1, po_number=None, extra_fields=None),
     "po_number or extra_fields"),
    ("update po int", lambda c: c.orders.update(1, po_number=5), "po_number"),
    ("bc_group_id None", lambda c: c.orders.reassign_customer_orders(5, bc_group_id=None),
     "bc_group_id"),
    ("bc_group_id 0", lambda c: c.orders.reassign_customer_orders(5, bc_group_id=0),
     "bc_group_id"),
    ("bc_group_id str", lambda c: c.orders.reassign_customer_orders(5, bc_group_id="9"),
     "bc_group_id"),
    ("bc_group_id bool", lambda c: c.orders.reassign_customer_orders(5, bc_group_id=True),
     "bc_group_id"),
    ("extra fields str", lambda c: c.orders.update(1, extra_fields="x"), "extra_fields"),
    ("extra fields dict", lambda c: c.orders.update(
        1, extra_fields={"fieldName": "a", "fieldValue": "1"}), "extra_fields"),
    ("extra field item int", lambda c: c.orders.update(1, extra_fields=[1]), "extra_fields"),
    ("extra field no name", lambda c: c.orders.update(
        1, extra_fields=[{"fieldValue": "1"}]), "fieldName"),
    ("extra field empty name", lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": " ", "fieldValue": "1"}]), "fieldName"),
    ("extra field list value", lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": "a", "fieldValue": ["x"]}]), "fieldValue"),
    ("extra field no value", lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": "a"}]), "fieldValue"),
    ("extra field bool value", lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": "a", "fieldValue": True}]), "fieldValue"),
    ("extra field unknown key", lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": "a", "fieldValue": "1", "oops": 1}]), "oops"),
    ("extra field twice", lambda c: c.orders.update(
        1, extra_fields=[ExtraField("a", "1"), ExtraField("a", "2")]), "extra_fields"),
    ("create bad extra", lambda c: c.orders.create(
        bc_order_id=1, customer_id=2, extra_fields=[{"name": "a"}]), "extra_fields"),
    ("create po int", lambda c: c.orders.create(bc_order_id=1, customer_id=2, po_number=3),
     "po_number"),
    ("configs refresh str", lambda c: c.orders.extra_field_configs(refresh="yes"), "refresh"),
    ("get priority", lambda c: c.orders.get(1, priority="urgent"), "priority"),
    ("get naive deadline", lambda c: c.orders.get(1, deadline=datetime(2030, 1, 1)),
     "deadline"),
]
BAD_IDS: list[Any] = [0, -1, True, False, 1.0, 1.5, "123", None, 2**63]
ID_CALLS: list[tuple[str, Callable[[B2BClient, Any], Any], str]] = [
    ("get", lambda c, v: c.orders.get(v), "bc_order_id"),
    ("products", lambda c, v: c.orders.products(v), "bc_order_id"),
    ("update", lambda c, v: c.orders.update(v, po_number="x"), "bc_order_id"),
    ("create order", lambda c, v: c.orders.create(bc_order_id=v, customer_id=1),
     "bc_order_id"),
    ("create customer", lambda c, v: c.orders.create(bc_order_id=1, customer_id=v),
     "customer_id"),
    ("reassign customer", lambda c, v: c.orders.reassign_customer_orders(v, bc_group_id=1),
     "customer_id"),
    ("reassign group", lambda c, v: c.orders.reassign_customer_orders(1, bc_group_id=v),
     "bc_group_id"),
    ("assign customer", lambda c, v: c.orders.assign_customer_orders(v), "customer_id"),
]
for _name, _fn, _arg in ID_CALLS:
    for _v in BAD_IDS:
        BAD_INPUT.append((f"{_name} {_v!r}", lambda c, f=_fn, v=_v: f(c, v), _arg))

BAD_LIST: list[tuple[dict[str, Any], str]] = [
    ({"page_size": 0}, "page_size"), ({"page_size": 201}, "page_size"),
    ({"page_size": True}, "page_size"), ({"page_size": "10"}, "page_size"),
    ({"sort_by": "id"}, "sort_by"), ({"sort_by": "updatedat"}, "sort_by"),
    ({"sort_by": None}, "sort_by"), ({"order_by": "asc"}, "order_by"),
    ({"order_by": "DOWN"}, "order_by"), ({"concurrency": 0}, "concurrency"),
    ({"concurrency": 65}, "concurrency"), ({"concurrency": 1.5}, "concurrency"),
    ({"channel_ids": []}, "channel_ids"), ({"channel_ids": ()}, "channel_ids"),
    ({"channel_ids": [0]}, "channel_ids"), ({"channel_ids": [True]}, "channel_ids"),
    ({"channel_ids": "1"}, "channel_ids"), ({"channel_ids": 1}, "channel_ids"),
    ({"min_modified": datetime(2025, 1, 1)}, "min_modified"),
    ({"max_modified": datetime(2025, 1, 1)}, "max_modified"),
    ({"min_created": datetime(2025, 1, 1)}, "min_created"),
    ({"max_created": datetime(2025, 1, 1)}, "max_created"),
    ({"min_created": -1}, "min_created"), ({"min_created": 1.5}, "min_created"),
    ({"min_created": "0"}, "min_created"),
    ({"min_created": datetime(1960, 1, 1, tzinfo=UTC)}, "min_created"),
    ({"min_created": 5, "max_created": 4}, "min_created"),
    ({"min_modified": 5, "max_modified": 4}, "min_modified"),
    ({"company_id": -1}, "company_id"), ({"company_id": "7"}, "company_id"),
    ({"bc_order_id": 0}, "bc_order_id"), ({"show_extra": "yes"}, "show_extra"),
    ({"show_extra": 1}, "show_extra"), ({"priority": "urgent"}, "priority"),
]
for _kwargs, _arg in BAD_LIST:
    BAD_INPUT.append((f"list {_kwargs!r}", lambda c, kw=_kwargs: c.orders.list(**kw), _arg))


async def run(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


@pytest.mark.parametrize(("call", "arg"), [(f, a) for _, f, a in BAD_INPUT],
                         ids=[n for n, _, _ in BAD_INPUT])
async def test_bad_input_refused_before_any_request(client: B2BClient, call: Bad,
                                                    arg: str) -> None:
    with aioresponses() as m:
        m.add(re.compile(".*"), method="GET", repeat=True, payload={"code": 200, "data": []})
        m.add(re.compile(".*"), method="PUT", repeat=True, payload={"code": 200, "data": []})
        m.add(re.compile(".*"), method="POST", repeat=True, payload={"code": 200, "data": []})
        with pytest.raises(InvalidArgumentError) as info:
            await run(call(client))
        assert m.requests == {}
    assert arg in str(info.value)
    assert client.stats.requests == 0


async def test_missing_bc_group_id_is_a_type_error(client: B2BClient) -> None:
    with aioresponses() as m, pytest.raises(TypeError):
        await client.orders.reassign_customer_orders(5)  # type: ignore[call-arg]
    assert m.requests == {}


# -- retries never sleep for real ----------------------------------------------------------
async def test_retries_use_the_patched_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
        slept.append(delay)
        return await real_sleep(0)

    c = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None,
                  retry_policy=RetryPolicy(max_retries=3, base_delay=10.0, max_delay=60.0))
    # Every wait of the retry loop goes through the pipeline's one injectable sleep.
    c._pipeline._sleep = fake_sleep
    try:
        with aioresponses() as m:
            for _ in range(3):
                m.get(B2B + "/orders/1", status=503, body=b"busy")
            m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert (await c.orders.get(1)).bc_order_id == 123
            assert loop.time() - started < 5.0
            assert count(m) == 4
    finally:
        await c.aclose()
    assert len([d for d in slept if d >= 5.0]) == 3  # three backoff waits of >= base/2
    assert c.stats.b2b.requests == 4 and c.stats.b2b.retries == 3
    assert c.stats.b2b.errors == 0


async def test_429_then_success_counts(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(B2B + "/orders/1", status=429, payload=b2b_error(429, "Too Many Requests"))
        m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
        await client.orders.get(1)
        assert count(m) == 2
    assert client.stats.b2b.rate_limited == 1 and client.stats.b2b.retries == 1


async def test_429_every_time_gives_rate_limit_error(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(B2B + "/orders/1", status=429, repeat=True,
              payload=b2b_error(429, "Too Many Requests"))
        with pytest.raises(RateLimitError) as info:
            await client.orders.get(1)
        assert count(m) == 3
    assert info.value.attempts == 3 and "after 3 attempts" in str(info.value)


# -- the token stays secret ----------------------------------------------------------------
def error_texts(err: BaseException) -> list[str]:
    """str/repr of an error, its attributes, and everything chained to it."""
    out: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out += [str(e), repr(e), repr(e.args), repr(vars(e))]
        todo += [e.__cause__, e.__context__]
    return out


async def test_token_never_appears(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bcb2b_async")
    events: list[Event] = []
    hooks = Hooks(on_request=events.append, on_response=events.append,
                  on_retry=events.append, on_rate_limit=events.append)
    c = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None, hooks=hooks,
                  retry_policy=RetryPolicy(max_retries=2, base_delay=0.0))
    texts = [repr(c), str(c), repr(c.config), repr(c.orders), repr(c.v2)]
    errors: list[BaseException] = []
    key = ConnectionKey("api-b2b.bigcommerce.com", 443, True, True, None, None, None)
    try:
        with aioresponses() as m:
            m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
            m.get(B2B + "/orders/2", status=404, payload=b2b_error(404, "Order Does Not Exist."),
                  headers={"X-Request-Id": "req-2"})
            m.get(B2B + "/orders/3", status=500, repeat=True, body=b"Internal Server Error")
            m.get(B2B + "/orders/4", repeat=True, exception=aiohttp.ClientConnectorError(
                key, OSError(111, "Connection refused")))
            m.get(B2B + "/orders/5", repeat=True, exception=aiohttp.ServerDisconnectedError())
            m.get(B2B + "/orders/6", repeat=True, body=MALFORMED)
            m.put(B2B + "/orders/7", status=422, payload=b2b_error(422, "bad", {"poNumber": "x"}))
            m.get(B2B + "/orders/8", status=401, payload=b2b_error(401, "Unauthorized"))
            m.get(V2 + "/orders/9", status=404,
                  payload=[{"status": 404, "message": "The requested resource was not found."}])
            await c.orders.get(1)
            for call in (lambda: c.orders.get(2), lambda: c.orders.get(3),
                         lambda: c.orders.get(4), lambda: c.orders.get(5),
                         lambda: c.orders.get(6), lambda: c.orders.update(7, po_number="x"),
                         lambda: c.orders.get(8), lambda: c.v2.orders.get(9),
                         lambda: c.orders.get(0)):
                with pytest.raises(Exception) as info:
                    await call()
                errors.append(info.value)
            assert count(m) == 1 + 1 + 3 + 3 + 3 + 3 + 1 + 1 + 1
    finally:
        await c.aclose()
    kinds = [type(e).__name__ for e in errors]
    assert kinds == ["NotFoundError", "ServerError", "APIConnectionError", "APIConnectionError",
                     "DecodeError", "UnprocessableEntityError", "AuthenticationError",
                     "NotFoundError", "InvalidArgumentError"]
    for err in errors:
        texts += error_texts(err)
    texts += [repr(c.stats), repr(c.stats.as_dict()), repr(events)]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.msg), repr(record.args),
                  record.exc_text or ""]
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert events
    leaks = [t for t in texts if TOKEN in t or "SECRET" in t]
    assert leaks == []


# -- the client's own arguments and sessions ---------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [{"store_hash": ""}, {"access_token": ""}, {"b2b_base_url": "http://example.com"},
     {"v2_base_url": "https://x.com/path"}, {"max_retries": -1}, {"timeout": 0},
     {"b2b_rate_limit": 5}],
)
def test_bad_client_config(kwargs: dict[str, Any]) -> None:
    args = {"store_hash": STORE, "access_token": TOKEN, **kwargs}
    with pytest.raises(InvalidArgumentError):
        B2BClient(args.pop("store_hash"), args.pop("access_token"), **args)


async def test_session_passed_in_is_used_and_not_closed() -> None:
    async with aiohttp.ClientSession() as session:
        used: list[str] = []
        original = session.request

        def spy(method: str, url: Any, **kwargs: Any) -> Any:
            used.append(f"{method} {url}")
            return original(method, url, **kwargs)

        session.request = spy  # type: ignore[method-assign]
        c = B2BClient(STORE, TOKEN, session=session, b2b_rate_limit=None, v2_rate_limit=None)
        with aioresponses() as m:
            m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
            await c.orders.get(1)
        await c.aclose()
        assert used == [f"GET {B2B}/orders/1"]
        assert not session.closed
        async with B2BClient(STORE, TOKEN, session=session, b2b_rate_limit=None) as c2:
            with aioresponses() as m:
                m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
                await c2.orders.get(1)
        assert not session.closed and len(used) == 2


async def test_owned_session_closed_by_aclose() -> None:
    c = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None)
    with aioresponses() as m:
        m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
        await c.orders.get(1)
    session = c._pipeline.transport.session
    assert not session.closed
    await c.aclose()
    assert session.closed
    await c.aclose()  # closing twice is harmless


async def test_owned_session_closed_by_async_with() -> None:
    async with B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None) as c:
        with aioresponses() as m:
            m.get(B2B + "/orders/1", payload={"code": 200, "data": [ORDER]})
            await c.orders.get(1)
        session = c._pipeline.transport.session
        assert not session.closed
    assert session.closed
