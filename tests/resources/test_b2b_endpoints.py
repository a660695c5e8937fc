"""Every client.orders endpoint with aioresponses: success, 404, 422, malformed body; the
method, URL, query, headers and JSON body sent; bad input caught before any request."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from bcb2b_async import (
    B2BClient,
    DecodeError,
    ExtraField,
    InvalidArgumentError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
    __version__,
)

from ._helpers import B2B, STORE, TOKEN, b2b_error, client, only_call, query, sent_json

__all__ = ["client"]

ORDER = {"id": 12345, "bcOrderId": 123, "poNumber": "PO-1", "companyId": 7,
         "cartId": "095a15a6-8a27-4c20-b357-36b82e9d5929", "createdAt": 1744735719,
         "updatedAt": 1744735734, "channelId": 1, "extraFields": [
             {"fieldName": "Fintech ID", "fieldValue": "1234567890"}]}


def assert_b2b_headers(kwargs: dict[str, Any], *, body: bool) -> None:
    h = kwargs["headers"]
    assert h["X-Auth-Token"] == TOKEN
    assert h["X-Store-Hash"] == STORE
    assert h["Accept"] == "application/json"
    assert h["User-Agent"].startswith(f"bcb2b_async/{__version__}")
    assert ("Content-Type" in h) is body
    if body:
        assert h["Content-Type"] == "application/json"


# -- the endpoints, one case each: (call, method, path, query, body, response) -----------
async def call_get(c: B2BClient) -> Any:
    return await c.orders.get(123)


async def call_create(c: B2BClient) -> Any:
    return await c.orders.create(bc_order_id=123, customer_id=321, po_number="PO-1",
                                 extra_fields=[ExtraField("Fintech ID", "1234567890")])


async def call_update(c: B2BClient) -> Any:
    return await c.orders.update(123, po_number="PO-2",
                                 extra_fields=[{"fieldName": "Fintech ID", "fieldValue": "9"}])


async def call_products(c: B2BClient) -> Any:
    return await c.orders.products(123)


async def call_configs(c: B2BClient) -> Any:
    return await c.orders.extra_field_configs(refresh=True)


async def call_reassign(c: B2BClient) -> Any:
    return await c.orders.reassign_customer_orders(321, bc_group_id=9)


async def call_assign(c: B2BClient) -> Any:
    return await c.orders.assign_customer_orders(321)


async def call_list(c: B2BClient) -> Any:
    return await c.orders.list(company_id=7, page_size=50).to_list()


CASES = {
    "get": (call_get, "GET", "/orders/123", None,
            {"code": 200, "data": [ORDER]}),
    "create": (call_create, "POST", "/orders",
               {"bcOrderId": 123, "customerId": 321, "poNumber": "PO-1",
                "extraFields": [{"fieldName": "Fintech ID", "fieldValue": "1234567890"}]},
               {"code": 200, "meta": {"message": "SUCCESS"}, "data": ORDER}),
    "update": (call_update, "PUT", "/orders/123",
               {"poNumber": "PO-2", "extraFields": [{"fieldName": "Fintech ID",
                                                     "fieldValue": "9"}]},
               {"code": 200, "message": "SUCCESS", "data": [ORDER]}),
    "products": (call_products, "GET", "/orders/123/products", None,
                 {"code": 200, "message": "SUCCESS", "data": [
                     {"id": 1, "productId": 2, "productName": "Planter", "variantSku": "P-1",
                      "quantity": 5, "options": []}]}),
    "extra_field_configs": (call_configs, "GET", "/orders/extra-fields", None,
                            {"code": 200, "meta": {"pagination": {"totalCount": 1,
                                                                  "limit": 200, "offset": 0}},
                             "data": [{"id": 1, "fieldName": "Fintech ID", "fieldType": 0,
                                       "isRequired": True}]}),
    "reassign": (call_reassign, "PUT", "/customers/321/orders/company", {"bcGroupId": 9},
                 {"code": 200, "message": "SUCCESS", "data": {"total": 4}}),
    "assign": (call_assign, "PUT", "/customers/321/orders/b2b", None,
               {"code": 200, "message": "SUCCESS", "data": {"total": 2}}),
    "list": (call_list, "GET", "/orders", None,
             {"code": 200, "meta": {"message": "SUCCESS", "pagination": {
                 "totalCount": 1, "limit": 50, "offset": 0}}, "data": [ORDER]}),
}


def mock(m: aioresponses, method: str, path: str, **kw: Any) -> None:
    pattern = re.compile(re.escape(B2B + path) + r"(\?.*)?$")
    m.add(pattern, method=method, **kw)


@pytest.mark.parametrize("name", list(CASES))
async def test_success_sends_exactly_what_the_spec_says(client: B2BClient, name: str) -> None:
    call, method, path, body, response = CASES[name]
    with aioresponses() as m:
        mock(m, method, path, payload=response)
        result = await call(client)
        got_method, url, kwargs = only_call(m)
    assert got_method == method
    assert str(url).split("?")[0] == B2B + path
    assert sent_json(kwargs) == body
    assert_b2b_headers(kwargs, body=body is not None)
    assert result is not None


async def test_success_values(client: B2BClient) -> None:
    with aioresponses() as m:
        for name in ("get", "update", "reassign", "assign", "products"):
            _, method, path, _, response = CASES[name]
            mock(m, method, path, payload=response)
        order = await call_get(client)
        assert order.bc_order_id == 123 and order.po_number == "PO-1"
        assert order.created_at_dt == datetime.fromtimestamp(1744735719, tz=UTC)
        assert order.extra_fields == [ExtraField("Fintech ID", "1234567890")]
        assert (await call_update(client)).id == 12345
        assert await call_reassign(client) == 4
        assert await call_assign(client) == 2
        (line,) = await call_products(client)
        assert line.product_name == "Planter" and line.variant_sku == "P-1"


@pytest.mark.parametrize("name", list(CASES))
async def test_404_is_not_found_with_server_message(client: B2BClient, name: str) -> None:
    call, method, path, _, _ = CASES[name]
    with aioresponses() as m:
        mock(m, method, path, status=404, payload=b2b_error(404, "Order Does Not Exist."),
             headers={"X-Request-Id": "req-42"})
        with pytest.raises(NotFoundError) as info:
            await call(client)
        assert len(m.requests) == 1 and sum(len(v) for v in m.requests.values()) == 1
    err = info.value
    assert err.status == 404 and err.method == method
    assert err.request_id == "req-42"
    assert "Order Does Not Exist." in str(err)
    assert path.split("?")[0] in err.url


@pytest.mark.parametrize("name", list(CASES))
async def test_422_shows_err_msg(client: B2BClient, name: str) -> None:
    call, method, path, _, _ = CASES[name]
    with aioresponses() as m:
        mock(m, method, path, status=422, payload=b2b_error(
            422, "[Fintech ID] is a required extra field",
            {"extraFields": "Fintech ID is required"}))
        with pytest.raises(UnprocessableEntityError) as info:
            await call(client)
    assert "[Fintech ID] is a required extra field" in str(info.value)
    assert "extraFields: Fintech ID is required" in str(info.value)


@pytest.mark.parametrize("name", list(CASES))
async def test_malformed_body_is_decode_error(client: B2BClient, name: str) -> None:
    call, method, path, _, _ = CASES[name]
    with aioresponses() as m:
        for _ in range(3):
            mock(m, method, path, status=200, body=b'{"code": 200, "data": [{"bcOrderId": "x"')
        with pytest.raises(DecodeError) as info:
            await call(client)
    err = info.value
    assert err.status == 200 and err.method == method and path in err.url
    assert len(err.body) <= 501


async def test_wrong_shape_is_decode_error(client: B2BClient) -> None:
    with aioresponses() as m:
        mock(m, "GET", "/orders/123", repeat=True, payload={"code": 200, "data": [{"poNumber": 1}]})
        with pytest.raises(DecodeError, match=r"\$\.data\[0\]\.poNumber") as info:
            await call_get(client)
        # Valid JSON of the wrong shape is not retried: asking again will not fix it.
        assert info.value.attempts == 1 and not info.value.malformed


# -- query encoding ---------------------------------------------------------------------
async def test_list_query_encoding_of_every_filter(client: B2BClient) -> None:
    with aioresponses() as m:
        mock(m, "GET", "/orders", payload={"code": 200, "data": [], "meta": {
            "pagination": {"totalCount": 0, "limit": 20, "offset": 0}}})
        await client.orders.list(
            company_id=7, bc_order_id=123, channel_ids=[1, 2],
            min_modified=1, max_modified=datetime(2025, 1, 1, tzinfo=UTC),
            min_created=3, max_created=4, show_extra=True, sort_by="createdAt",
            order_by="ASC", page_size=20).to_list()
        _, url, kwargs = only_call(m)
    assert query(url, kwargs) == [
        ("limit", "20"), ("offset", "0"), ("companyId", "7"), ("bcOrderId", "123"),
        ("minModified", "1"), ("maxModified", "1735689600"), ("minCreated", "3"),
        ("maxCreated", "4"), ("showExtra", "true"), ("sortBy", "createdAt"),
        ("orderBy", "ASC"), ("channelIds[]", "1"), ("channelIds[]", "2"),
    ]


async def test_list_defaults_are_the_spec_defaults(client: B2BClient) -> None:
    with aioresponses() as m:
        mock(m, "GET", "/orders", payload={"code": 200, "data": []})
        assert await client.orders.list().to_list() == []
        _, url, kwargs = only_call(m)
    assert query(url, kwargs) == [("limit", "200"), ("offset", "0"), ("sortBy", "updatedAt"),
                                  ("orderBy", "DESC")]


async def test_extra_field_configs_all_pages_and_cache(client: B2BClient) -> None:
    page = [{"id": i, "fieldName": f"F{i}"} for i in range(200)]
    with aioresponses() as m:
        mock(m, "GET", "/orders/extra-fields", payload={
            "code": 200, "data": page, "meta": {"pagination": {"totalCount": 203}}})
        mock(m, "GET", "/orders/extra-fields", payload={
            "code": 200, "data": page[:3], "meta": {"pagination": {"totalCount": 203}}})
        first = await client.orders.extra_field_configs()
        second = await client.orders.extra_field_configs()  # cached
        made = sum(len(v) for v in m.requests.values())
    assert len(first) == 203 and second == first
    assert made == 2


# -- bad input ---------------------------------------------------------------------------
BAD_CALLS = {
    "update without fields": lambda c: c.orders.update(123),
    "update with None fields": lambda c: c.orders.update(123, po_number=None,
                                                         extra_fields=None),
    "get 0": lambda c: c.orders.get(0),
    "get negative": lambda c: c.orders.get(-5),
    "get bool": lambda c: c.orders.get(True),
    "get float": lambda c: c.orders.get(1.5),
    "get str": lambda c: c.orders.get("123"),
    "products str": lambda c: c.orders.products("1"),
    "create no customer": lambda c: c.orders.create(bc_order_id=1, customer_id=0),
    "reassign no group": lambda c: c.orders.reassign_customer_orders(5, bc_group_id=None),
    "reassign group 0": lambda c: c.orders.reassign_customer_orders(5, bc_group_id=0),
    "assign negative": lambda c: c.orders.assign_customer_orders(-1),
    "extra fields not a list": lambda c: c.orders.update(1, extra_fields="x"),
    "extra fields dict": lambda c: c.orders.update(1, extra_fields={"fieldName": "a"}),
    "extra field without name": lambda c: c.orders.update(1, extra_fields=[{"fieldValue": "1"}]),
    "extra field bad value": lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": "a", "fieldValue": ["x"]}]),
    "extra field unknown key": lambda c: c.orders.update(
        1, extra_fields=[{"fieldName": "a", "fieldValue": "1", "oops": 1}]),
    "po number not str": lambda c: c.orders.update(1, po_number=5),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
async def test_bad_input_raises_before_any_request(client: B2BClient, name: str) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError):
            await BAD_CALLS[name](client)
        assert not m.requests


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"page_size": 0}, "page_size"), ({"page_size": 201}, "page_size"),
        ({"sort_by": "id"}, "sort_by"), ({"order_by": "asc"}, "order_by"),
        ({"concurrency": 0}, "concurrency"), ({"channel_ids": []}, "channel_ids"),
        ({"channel_ids": [0]}, "channel_ids"),
        ({"min_created": datetime(2025, 1, 1)}, "min_created"),
        ({"min_created": 5, "max_created": 4}, "min_created"),
        ({"company_id": -1}, "company_id"), ({"show_extra": "yes"}, "show_extra"),
    ],
)
def test_list_bad_input_names_the_argument(client: B2BClient, kwargs: dict[str, Any],
                                           needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needle):
        client.orders.list(**kwargs)


# -- secrets and sessions ------------------------------------------------------------------
async def test_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bcb2b_async")
    c = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None,
                  retry_policy=RetryPolicy(max_retries=2, base_delay=0.0))
    texts = [repr(c), str(c), repr(c.config), repr(c.stats)]
    with aioresponses() as m:
        mock(m, "GET", "/orders/1", payload={"code": 200, "data": [ORDER]})
        mock(m, "GET", "/orders/2", status=404, payload=b2b_error(404, "nope"))
        mock(m, "GET", "/orders/3", status=500, repeat=True, body=b"boom")
        mock(m, "GET", "/orders/4", exception=aiohttp.ServerDisconnectedError(), repeat=True)
        await c.orders.get(1)
        for oid, exc in ((2, NotFoundError), (3, ServerError), (4, Exception)):
            with pytest.raises(exc) as info:
                await c.orders.get(oid)
            texts += [str(info.value), repr(info.value)]
    await c.aclose()
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    assert caplog.records, "DEBUG logging produced nothing to check"
    for text in texts:
        assert TOKEN not in text


async def test_session_passed_in_is_used_not_closed() -> None:
    async with aiohttp.ClientSession() as session:
        c = B2BClient(STORE, TOKEN, session=session, b2b_rate_limit=None)
        with aioresponses() as m:
            mock(m, "GET", "/orders/1", payload={"code": 200, "data": [ORDER]})
            await c.orders.get(1)
        await c.aclose()
        assert not session.closed


async def test_owned_session_is_closed() -> None:
    async with B2BClient(STORE, TOKEN, b2b_rate_limit=None) as c:
        with aioresponses() as m:
            mock(m, "GET", "/orders/1", payload={"code": 200, "data": [ORDER]})
            await c.orders.get(1)
        session = c._pipeline.transport._session
        assert session is not None and not session.closed
    assert session.closed


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
