"""Every request the library can send, captured and checked against the official specs.

Deviations of the specs themselves are asserted (so they are noticed if fixed), never
silenced:
- b2b-orders.yaml's top-level ``security`` names ``X-Auh-Token`` (a typo): the scheme it
  defines, the docs and the API use ``X-Auth-Token``, which is what we send.
- ``cartId`` is typed integer with a UUID example (we decode both).
- b2b-models-pagination.yaml says ``limit`` up to 250; the orders ``limit`` parameter says
  200 (we never send more than 200 to B2B).
- b2b-models-order-product.yaml spells ``variantSKU`` where b2b-orders.yaml says
  ``variantSku``; b2b-models-extra-fields.yaml says ``listOfValue`` where b2b-orders.yaml
  says ``listOfValues``, and types ``uuid`` as a string where b2b-orders.yaml says integer.
"""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from aioresponses import CallbackResult, aioresponses

from bcb2b_async import B2BClient, ExtraField, RetryPolicy
from bcb2b_async.resources.v2_orders import V2OrderQuery

from .spec import check_headers, check_request, load

B2B_BASE = "https://api-b2b.bigcommerce.com"
V2_BASE = "https://api.bigcommerce.com"
B2B_PATH = "/api/v3/io"
V2_PATH = "/stores/abc123/v2"

ORDER = {"bcOrderId": 123, "poNumber": "x"}
V2_ORDER = {"id": 101, "customer_id": 3, "status_id": 2}
ADDRESS = [{"id": 7, "order_id": 101}]
PRODUCTS = [{"id": 1, "order_id": 101, "order_address_id": 7, "quantity": 2,
             "quantity_shipped": 0}]


def respond(method: str, url: str) -> Any:
    path = url.split("?")[0]
    if V2_PATH in url and path.endswith("/orders/count"):
        return {"count": 1, "statuses": [{"id": 11, "count": 1}]}
    if V2_PATH in url and path.endswith("/orders") and method == "GET":
        return [V2_ORDER]
    if path.endswith("/channels"):
        return {"code": 200, "data": [{"id": 1, "channelId": 1, "name": "Default"}],
                "meta": {"message": "SUCCESS"}}
    if V2_PATH in url:
        if "/shipments" in url and method == "POST":
            return {"id": 1, "order_id": 101}
        if "/shipments" in url:
            return []
        if "/shipping_addresses" in url:
            return ADDRESS
        if "/products" in url:
            return PRODUCTS
        return V2_ORDER
    if "/customers/" in url:
        return {"code": 200, "data": {"total": 1}}
    if "/extra-fields" in url:
        return {"code": 200, "data": [], "meta": {"pagination": {"totalCount": 0}}}
    if re.search(r"/orders/\d+/products", url):
        return {"code": 200, "data": []}
    if url.split("?")[0].endswith("/orders") and method == "GET":
        return {"code": 200, "data": [], "meta": {"pagination": {"totalCount": 0}}}
    return {"code": 200, "data": [ORDER]}


class Capture:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, url: Any, **kwargs: Any) -> CallbackResult:
        method = kwargs.get("method") or self.method
        data = kwargs.get("data")
        self.requests.append({
            "url": str(url), "headers": dict(kwargs.get("headers") or {}),
            "params": [(str(k), str(v)) for k, v in (kwargs.get("params") or [])],
            "body": None if data is None else json.loads(data), "method": method,
        })
        return CallbackResult(payload=respond(method, str(url)))

    method = ""


async def capture(calls: Any) -> list[dict[str, Any]]:
    cap = Capture()
    async with B2BClient("abc123", "tok", b2b_rate_limit=None, v2_rate_limit=None,
                         retry_policy=RetryPolicy(max_retries=0)) as client:
        with aioresponses() as m:
            for method in ("GET", "POST", "PUT"):
                def cb(url: Any, _m: str = method, **kw: Any) -> CallbackResult:
                    return cap(url, method=_m, **kw)
                m.add(re.compile(r"https://.*"), method=method, callback=cb, repeat=True)
            await calls(client)
    return cap.requests


async def b2b_calls(c: B2BClient) -> None:
    await c.orders.get(123)
    await c.orders.create(bc_order_id=123, customer_id=5, po_number="PO",
                          extra_fields=[ExtraField("Fintech ID", "1")])
    await c.orders.create(bc_order_id=124, customer_id=5)
    await c.orders.update(123, po_number="PO-2")
    await c.orders.update(123, extra_fields=[{"fieldName": "a", "fieldValue": "b"}])
    await c.orders.products(123)
    await c.orders.extra_field_configs(refresh=True)
    await c.orders.reassign_customer_orders(5, bc_group_id=9)
    await c.orders.assign_customer_orders(5)
    await c.orders.list().to_list()
    await c.orders.list(company_id=1, bc_order_id=2, channel_ids=[1, 2, 3], min_modified=1,
                        max_modified=2, min_created=0, max_created=4, show_extra=True,
                        sort_by="createdAt", order_by="ASC", page_size=200).to_list()
    await c.orders.list(sort_by="updatedAt", order_by="DESC", page_size=1).to_list()


async def v2_calls(c: B2BClient) -> None:
    o = c.v2.orders
    await o.get(101)
    await o.update(101, status_id=2, staff_notes="n", customer_message="m")
    await o.update(101, billing_address={"first_name": "A", "street_1": "S", "zip": "28002"})
    await o.update(101, products=[{"product_id": 5, "quantity": 1}, {"id": 1, "quantity": 3},
                                  {"id": 2, "quantity": 0}])
    await o.update(101, subtotal_ex_tax="1.00", subtotal_inc_tax="1.10",
                   total_ex_tax=2, total_inc_tax=2.2, is_deleted=False)
    await o.products(101)
    await o.shipping_addresses(101)
    await o.shipments(101)
    await o.create_shipment(101, tracking_number="1Z", shipping_provider="ups",
                            tracking_carrier="UPS", shipping_method="Ground", comments="c")
    await o.create_shipment(101, order_address_id=7,
                            items=[{"order_product_id": 1, "quantity": 1}])
    await o.apply_update(101, status_id=2, billing={"first_name": "J", "zip": "28002"})
    await o.apply_update(101, status_id=2, tracking_number="1Z-NEW", shipping_provider="ups")
    await o.list().to_list()
    since = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    filters: dict[str, Any] = dict(
        min_date_created=since, max_date_created=1_800_000_000, min_date_modified=0,
        max_date_modified=since, min_id=1, max_id=10**9, status_id=0, channel_id=2,
        customer_id=0)
    await o.list(**filters, sort="date_created:asc", include_lines=True, page_size=2).to_list()
    await o.list(sort="id", page_size=250).to_list()
    await o.list(sort="date_modified:desc").to_list()
    await o.count()
    await o.count(**filters)
    await o.page(V2OrderQuery.build(**filters, include_lines=True), page=3)


async def test_every_b2b_request_matches_the_spec() -> None:
    reqs = await capture(b2b_calls)
    templates = set()
    for r in reqs:
        assert r["url"].startswith(B2B_BASE + B2B_PATH)
        assert r["headers"]["X-Auth-Token"] == "tok"
        assert r["headers"]["X-Store-Hash"] == "abc123"
        templates.add(check_request("b2b-orders.yaml", B2B_PATH, r["method"], r["url"],
                                    r["headers"], r["body"], query=r["params"] or None))
    # Every operation of the spec was exercised.
    spec = load("b2b-orders.yaml")
    assert templates == set(spec["paths"])


async def test_v2_list_query_as_sent() -> None:
    """The list's filters, sort and includes as the spec spells them (RFC 2822 dates in
    UTC, the object consignment structure with the line items)."""

    async def calls(c: B2BClient) -> None:
        await c.v2.orders.list(
            min_date_created=datetime(2017, 4, 20, 11, 32, tzinfo=timezone(timedelta(hours=-4))),
            max_date_created=1_492_702_320, status_id=11, sort="date_created:asc",
            include_lines=True, page_size=100,
        ).to_list()
        await c.v2.orders.count(min_id=5, channel_id=3)

    listed, counted = await capture(calls)
    assert listed["params"] == [
        ("page", "1"), ("limit", "100"),
        ("min_date_created", "Thu, 20 Apr 2017 15:32:00 +0000"),
        ("max_date_created", "Thu, 20 Apr 2017 15:32:00 +0000"),
        ("status_id", "11"), ("sort", "date_created:asc"),
        ("include", "consignments.line_items"), ("consignment_structure", "object"),
    ]
    assert counted["url"].split("?")[0].endswith("/orders/count")
    assert counted["params"] == [("min_id", "5"), ("channel_id", "3")]


async def test_every_channels_request_matches_the_spec() -> None:
    async def calls(c: B2BClient) -> None:
        await c.channels.list()
        await c.channels.enabled_ids(priority="bulk", deadline=30)

    reqs = await capture(calls)
    assert len(reqs) == 2
    templates = set()
    for r in reqs:
        assert r["url"].startswith(B2B_BASE + B2B_PATH)
        templates.add(check_request("b2b-channels.yaml", B2B_PATH, r["method"], r["url"],
                                    r["headers"], r["body"], query=r["params"] or None))
    assert templates == {"/channels"}


def test_deviation_v2_sort_enum_lacks_the_direction_suffix() -> None:
    """V2 ``sort`` enumerates bare fields while its description says to append
    ``:asc``/``:desc``; the checker strips the suffix (spec.SORT_DIRECTION)."""
    sort = load("v2-orders.yml")["components"]["parameters"]["sort"]
    assert "date_created" in sort["schema"]["enum"]
    assert "date_created:asc" not in sort["schema"]["enum"]
    assert ":asc" in sort["description"]
    with pytest.raises(jsonschema.ValidationError):
        check_request("v2-orders.yml", V2_PATH, "GET", V2_BASE + V2_PATH + "/orders",
                      V2_HEADERS, None, query=[("sort", "total:asc")])


#: Whether the pipeline takes per-call headers yet (``client.request(headers=...)``, being
#: added by the pipeline's owner). Without it the Content-Type the V2 spec requires on
#: ``GET /orders/{order_id}/products`` cannot be sent: that one gap is tolerated in the
#: sweep below and tracked, strictly, by test_v2_products_get_sends_content_type.
PIPELINE_TAKES_HEADERS = "headers" in inspect.signature(B2BClient.request).parameters
_PRODUCTS_GET = re.compile(r"/orders/\d+/products(\?|$)")


async def test_every_v2_request_matches_the_spec() -> None:
    reqs = await capture(v2_calls)
    methods_templates = set()
    for r in reqs:
        assert r["url"].startswith(V2_BASE + V2_PATH)
        assert r["headers"]["X-Auth-Token"] == "tok"
        tolerate = frozenset()
        if not PIPELINE_TAKES_HEADERS and r["method"] == "GET" and _PRODUCTS_GET.search(
            r["url"]
        ):
            tolerate = frozenset({"Content-Type"})
        t = check_request("v2-orders.yml", V2_PATH, r["method"], r["url"], r["headers"],
                          r["body"], query=r["params"] or None,
                          tolerate_missing_headers=tolerate)
        methods_templates.add((r["method"], t))
    assert methods_templates >= {
        ("GET", "/orders"), ("GET", "/orders/count"),
        ("GET", "/orders/{order_id}"), ("PUT", "/orders/{order_id}"),
        ("GET", "/orders/{order_id}/products"), ("GET", "/orders/{order_id}/shipping_addresses"),
        ("GET", "/orders/{order_id}/shipments"), ("POST", "/orders/{order_id}/shipments"),
    }


B2B_HEADERS = {"X-Auth-Token": "t", "X-Store-Hash": "s", "Accept": "application/json"}
V2_HEADERS = {"X-Auth-Token": "t", "Accept": "application/json",
              "Content-Type": "application/json"}


@pytest.mark.xfail(not PIPELINE_TAKES_HEADERS, strict=True,
                   reason="client.request(headers=...) not in the pipeline yet")
@pytest.mark.parametrize("call", ["products", "create_shipment", "apply_update"])
async def test_v2_products_get_sends_content_type(call: str) -> None:
    """issue 16.3: a validating mock of the official spec refuses GET /orders/{id}/products
    without Content-Type, and create_shipment's defaults and apply_update's tracking use it."""

    async def calls(c: B2BClient) -> None:
        if call == "products":
            await c.v2.orders.products(101)
        elif call == "create_shipment":
            await c.v2.orders.create_shipment(101)
        else:
            await c.v2.orders.apply_update(101, tracking_number="1Z-NEW")

    reqs = await capture(calls)
    gets = [r for r in reqs if r["method"] == "GET" and _PRODUCTS_GET.search(r["url"])]
    assert gets
    for r in gets:
        check_request("v2-orders.yml", V2_PATH, r["method"], r["url"], r["headers"], None,
                      query=r["params"] or None)
        assert {k.lower(): v for k, v in r["headers"].items()}["content-type"] == (
            "application/json")


def test_the_checker_rejects_what_the_spec_forbids() -> None:
    """The checks can fail: a readOnly field, an undeclared parameter, a wrong enum."""
    with pytest.raises(jsonschema.ValidationError):
        check_request("v2-orders.yml", V2_PATH, "PUT", V2_BASE + V2_PATH + "/orders/1",
                      V2_HEADERS, {"external_id": "x"})
    with pytest.raises(AssertionError):
        check_request("b2b-orders.yaml", B2B_PATH, "GET", B2B_BASE + B2B_PATH + "/orders",
                      B2B_HEADERS, None, query=[("colour", "red")])
    with pytest.raises(jsonschema.ValidationError):
        check_request("b2b-orders.yaml", B2B_PATH, "GET", B2B_BASE + B2B_PATH + "/orders",
                      B2B_HEADERS, None, query=[("orderBy", "sideways")])
    with pytest.raises(jsonschema.ValidationError):
        check_request("b2b-orders.yaml", B2B_PATH, "GET", B2B_BASE + B2B_PATH + "/orders",
                      B2B_HEADERS, None, query=[("limit", "201")])


@pytest.mark.parametrize(
    ("spec", "base", "method", "path", "headers", "needle"),
    [
        # GET /orders/{id}/products declares Content-Type required (as the writes do).
        ("v2-orders.yml", V2_PATH, "GET", "/orders/1/products",
         {"X-Auth-Token": "t", "Accept": "application/json"}, "Content-Type"),
        ("v2-orders.yml", V2_PATH, "PUT", "/orders/1",
         {"X-Auth-Token": "t", "Content-Type": "application/json"}, "Accept"),
        ("v2-orders.yml", V2_PATH, "GET", "/orders/1",
         {"Accept": "application/json"}, "X-Auth-Token"),
        # The B2B spec's security names both API-key headers (one under a typo'd name).
        ("b2b-orders.yaml", B2B_PATH, "GET", "/orders/1",
         {"X-Auth-Token": "t"}, "X-Store-Hash"),
        ("b2b-orders.yaml", B2B_PATH, "GET", "/orders/1",
         {"X-Store-Hash": "s"}, "X-Auth-Token"),
    ],
)
def test_the_checker_requires_declared_headers(
    spec: str, base: str, method: str, path: str, headers: dict[str, str], needle: str
) -> None:
    host = V2_BASE if base == V2_PATH else B2B_BASE
    body = {"status_id": 1} if method == "PUT" else None
    with pytest.raises(AssertionError, match=needle):
        check_request(spec, base, method, host + base + path, headers, body)


def test_the_checker_validates_header_values() -> None:
    """A header sent must fit its declared schema (enum, pattern, type)."""
    spec = load("v2-orders.yml")
    op: dict[str, Any] = {"security": []}
    params = [
        {"in": "header", "name": "Accept", "required": True,
         "schema": {"type": "string", "enum": ["application/json"]}},
        {"in": "header", "name": "X-Id", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        {"in": "header", "name": "X-Count", "schema": {"type": "integer"}},
    ]
    check_headers(spec, op, params, {"accept": "application/json", "X-Id": "12",
                                     "X-Count": "3"}, "T")
    for bad, needle in (({"Accept": "text/html"}, "Accept"),
                        ({"Accept": "application/json", "X-Id": "a1"}, "X-Id"),
                        ({"Accept": "application/json", "X-Count": "x"}, "integer")):
        with pytest.raises(AssertionError, match=needle):
            check_headers(spec, op, params, bad, "T")


# -- documented deviations of the specs ----------------------------------------------------
def test_deviation_security_scheme_typo() -> None:
    spec = load("b2b-orders.yaml")
    assert spec["security"] == [{"X-Auh-Token": [], "X-Store-Hash": []}]
    assert "X-Auth-Token" in spec["components"]["securitySchemes"]
    assert spec["components"]["securitySchemes"]["X-Auth-Token"]["name"] == "X-Auth-Token"


def test_deviation_cart_id_integer_with_uuid_example() -> None:
    cart = load("b2b-orders.yaml")["components"]["schemas"]["cartId"]
    assert cart["type"] == "integer" and "-" in str(cart["example"])


def test_deviation_limit_maximum() -> None:
    assert load("b2b-models-pagination.yaml")["properties"]["pagination"]["properties"][
        "limit"]["maximum"] == 250
    assert load("b2b-orders.yaml")["components"]["parameters"]["limit"]["schema"][
        "maximum"] == 200


def test_deviation_field_spellings() -> None:
    assert "variantSKU" in load("b2b-models-order-product.yaml")["properties"]
    products = load("b2b-orders.yaml")["components"]["schemas"]["orderProducts"]["properties"]
    assert "variantSku" in products
    assert "listOfValue" in load("b2b-models-extra-fields.yaml")["properties"]
    extra = load("b2b-orders.yaml")["components"]["schemas"]["orderExtraFields"]["properties"]
    assert "listOfValues" in extra
    assert load("b2b-models-extra-fields.yaml")["properties"]["uuid"]["type"] == "string"
    assert extra["uuid"]["type"] == "integer"
