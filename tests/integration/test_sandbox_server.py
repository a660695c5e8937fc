"""The sandbox store against a real aiohttp client: routes, envelopes, validation, list
exactness (filters, bounds, ties), rate windows, faults, live mutations, scale.

Every loop is bounded; waits use short timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bcb2b_async.testing import FaultPlan, RateWindow, SandboxStore

pytest_plugins = ["pytester"]

YEAR = 365 * 86400
B2B = "/api/v3/io"


def v2(store: SandboxStore) -> str:
    return f"/stores/{store.store_hash}/v2"


def auth(store: SandboxStore) -> dict[str, str]:
    return {"X-Auth-Token": store.access_token, "X-Store-Hash": store.store_hash}


@contextlib.asynccontextmanager
async def serve(**kwargs: Any) -> AsyncIterator[tuple[SandboxStore, aiohttp.ClientSession]]:
    kwargs.setdefault("orders", 600)
    kwargs.setdefault("b2b_rate", None)
    kwargs.setdefault("v2_rate", None)
    async with SandboxStore(**kwargs) as store:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(
            store.base_url, headers=auth(store), timeout=timeout
        ) as session:
            yield store, session


async def call(
    session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, Any]:
    async with session.request(method, path, **kwargs) as resp:
        body = await resp.read()
        data: Any = None
        if body and resp.content_type == "application/json":
            data = await resp.json()
        elif body:
            data = body.decode()
        return resp.status, resp.headers, data


async def walk(
    session: aiohttp.ClientSession, params: list[tuple[str, str]], limit: int = 37
) -> tuple[list[int], int]:
    """All bcOrderIds of a list query, page by page (bounded)."""
    out: list[int] = []
    total = -1
    for page in range(10_000):
        q = [*params, ("limit", str(limit)), ("offset", str(page * limit))]
        status, _, body = await call(session, "GET", f"{B2B}/orders", params=q)
        assert status == 200, body
        total = body["meta"]["pagination"]["totalCount"]
        out.extend(o["bcOrderId"] for o in body["data"])
        if len(body["data"]) < limit:
            break
    return out, total


def expected(
    store: SandboxStore, ids: list[int], sort: str, descending: bool
) -> list[int]:
    key = store.created_at if sort == "createdAt" else store.updated_at
    if descending:
        return sorted(ids, key=lambda i: (-key(i), i))
    return sorted(ids, key=lambda i: (key(i), i))


# -- auth and envelopes --------------------------------------------------------------------


async def test_auth_errors_b2b_and_v2() -> None:
    async with serve() as (store, s):
        status, _, body = await call(s, "GET", f"{B2B}/orders", headers={"X-Auth-Token": ""})
        assert status == 401 and body["code"] == 401 and body["data"]["errMsg"]
        status, _, body = await call(
            s, "GET", f"{B2B}/orders", headers={"X-Auth-Token": "nope"}
        )
        assert status == 401 and "message" in body["meta"]
        status, _, body = await call(
            s, "GET", f"{B2B}/orders", headers={"X-Store-Hash": "other"}
        )
        assert status == 403 and body["code"] == 403
        status, _, body = await call(s, "GET", "/stores/other/v2/orders/100")
        assert status == 404 and body[0]["status"] == 404
        status, _, body = await call(
            s, "GET", f"{v2(store)}/orders/100", headers={"X-Auth-Token": "bad"}
        )
        assert status == 401 and body == [{"status": 401, "message": body[0]["message"]}]
        status, headers, _ = await call(s, "GET", f"{B2B}/nowhere")
        assert status == 404 and headers["X-Request-Id"]


# -- list defaults, filters, bounds, ties ---------------------------------------------------


async def test_list_defaults_channel_one_and_one_year_window() -> None:
    async with serve(orders=1500) as (store, s):
        status, _, body = await call(s, "GET", f"{B2B}/orders")
        assert status == 200 and body["meta"]["message"] == "SUCCESS"
        pag = body["meta"]["pagination"]
        assert pag["limit"] == 10 and pag["offset"] == 0 and len(body["data"]) == 10
        cutoff = int(time.time()) - YEAR
        truth = store.order_ids(channel_ids=[1], updated_from=cutoff)
        assert pag["totalCount"] == len(truth)
        every = store.order_ids(channel_ids=[1])
        assert len(every) > len(truth) > 0  # old orders are hidden by default
        ids, _ = await walk(s, [], limit=200)
        assert ids == expected(store, truth, "updatedAt", True)  # updatedAt DESC by default
        first = body["data"][0]
        assert {o["channelId"] for o in body["data"]} == {1}
        for key in ("id", "bcOrderId", "totalIncTax", "poNumber", "status", "customStatus",
                    "cartId", "items", "usdIncTax", "companyId", "currencyCode", "money",
                    "statusCode", "isArchived", "channelId", "channelName", "createdAt",
                    "updatedAt"):
            assert key in first
        assert "extraFields" not in first and "extraInt1" not in first
        assert first["id"] != first["bcOrderId"]
        assert isinstance(first["money"], list) and "currencyLocation" in first["money"][0]
        # Created more than a year ago but updated within it: still in the default window.
        mid = [
            o for o in truth
            if store.created_at(o) < cutoff <= store.updated_at(o)
        ]
        assert mid
        # Any explicit date bound switches the default window off.
        _, total = await walk(s, [("minCreated", "0")], limit=200)
        assert total == len(every)


async def test_filters_channels_company_bcorderid_showextra() -> None:
    async with serve(orders=1200) as (store, s):
        for params, chans in (
            ([("channelIds[]", "2"), ("channelIds[]", "3")], [2, 3]),
            ([("channelIds", "1,3")], [1, 3]),
        ):
            ids, total = await walk(s, [*params, ("minCreated", "0")], limit=200)
            assert sorted(ids) == store.order_ids(channel_ids=chans) and total == len(ids)
        ids, _ = await walk(
            s, [("companyId", "3"), ("channelIds[]", "1"), ("channelIds[]", "2"),
                ("minModified", "0")], limit=50,
        )
        assert sorted(ids) == store.order_ids(channel_ids=[1, 2], company_id=3)
        some = store.order_ids(channel_ids=[2])[5]
        _, _, body = await call(
            s, "GET", f"{B2B}/orders",
            params=[("bcOrderId", str(some)), ("channelIds[]", "2"), ("showExtra", "true"),
                    ("minCreated", "0")],
        )
        assert [o["bcOrderId"] for o in body["data"]] == [some]
        rec = body["data"][0]
        assert rec["extraInt1"] is None and rec["extraText"] is None
        assert isinstance(rec["extraFields"], list) and isinstance(rec["extraInfo"], list)
        _, _, body = await call(s, "GET", f"{B2B}/orders", params={"bcOrderId": str(some)})
        assert body["data"] == [] and body["meta"]["pagination"]["totalCount"] == 0  # channel 1


@pytest.mark.parametrize("inclusive", [True, False])
async def test_bounds_inclusive_or_exclusive_at_a_tie(inclusive: bool) -> None:
    async with serve(orders=3000, bounds_inclusive=inclusive) as (store, s):
        ids = store.order_ids(channel_ids=[1, 2, 3])
        counts = Counter(store.created_at(i) for i in ids)
        t, n = max(counts.items(), key=lambda kv: kv[1])
        assert n >= 3
        base = [("channelIds", "1,2,3"), ("sortBy", "createdAt"), ("orderBy", "ASC")]
        got, total = await walk(s, [*base, ("minCreated", str(t)), ("maxCreated", str(t))])
        if inclusive:
            assert total == n and sorted(got) == got and len(got) == n
        else:
            assert total == 0 and got == []
        got, _ = await walk(s, [*base, ("minCreated", str(t - 1)), ("maxCreated", str(t + 1))])
        lo, hi = (t - 1, t + 1) if inclusive else (t, t)
        assert got == expected(
            store, store.order_ids(channel_ids=[1, 2, 3], created_from=lo, created_to=hi),
            "createdAt", False,
        )
        u = store.updated_at(ids[-1])
        by_upd = [("channelIds", "1,2,3"), ("sortBy", "updatedAt"), ("orderBy", "ASC")]
        got, _ = await walk(s, [*by_upd, ("minModified", str(u))])
        truth = store.order_ids(channel_ids=[1, 2, 3], updated_from=u if inclusive else u + 1)
        assert got == expected(store, truth, "updatedAt", False)


async def test_sort_stability_every_path_matches_a_naive_sort() -> None:
    """Pages of every query shape (single/multi channel views, company views, cached
    results, deep offsets) concatenate to exactly the naive (key, id) order, also after
    orders change between walks."""
    async with serve(orders=6000) as (store, s):
        now = int(time.time())
        cases: list[tuple[list[tuple[str, str]], dict[str, Any]]] = [
            ([("minCreated", str(now - 500 * 86400))],
             {"channel_ids": [1], "created_from": now - 500 * 86400}),
            ([("channelIds", "1,2,3"), ("maxModified", str(now))],
             {"channel_ids": [1, 2, 3], "updated_to": now}),
            ([("channelIds", "1,2"), ("companyId", "2"), ("minCreated", "0")],
             {"channel_ids": [1, 2], "company_id": 2}),
            ([("channelIds", "2,3"), ("minCreated", str(now - 300 * 86400)),
              ("maxModified", str(now - 10 * 86400))],
             {"channel_ids": [2, 3], "created_from": now - 300 * 86400,
              "updated_to": now - 10 * 86400}),
            ([("channelIds", "1,3")], {"channel_ids": [1, 3], "updated_from": now - YEAR}),
        ]
        rnd = random.Random(5)
        for round_ in range(2):
            for params, truth_kw in cases:
                truth = store.order_ids(**truth_kw)
                for sort in ("createdAt", "updatedAt"):
                    for order_by in ("ASC", "DESC"):
                        q = [*params, ("sortBy", sort), ("orderBy", order_by)]
                        got, total = await walk(s, q, limit=173)
                        want = expected(store, truth, sort, order_by == "DESC")
                        assert total == len(want)
                        assert got == want, (round_, params, sort, order_by)
            for oid in rnd.sample(store.order_ids(channel_ids=[1, 2, 3]), 40):
                store.update_order(oid, po_number="changed")
            for k in range(5):
                store.create_order(channel_id=1 + k % 3, company_id=2)
        # a deep offset on a multi-channel query comes from a cached result
        q = [("channelIds", "1,2,3"), ("minCreated", "0"), ("sortBy", "createdAt"),
             ("orderBy", "DESC"), ("limit", "200"), ("offset", "5800")]
        _, _, body = await call(s, "GET", f"{B2B}/orders", params=q)
        want = expected(store, store.order_ids(channel_ids=[1, 2, 3]), "createdAt", True)
        assert [o["bcOrderId"] for o in body["data"]] == want[5800:6000]


@pytest.mark.parametrize("stream_limit", [5000, 30])
def test_index_engine_matches_brute_force_under_random_changes(
    monkeypatch: pytest.MonkeyPatch, stream_limit: int
) -> None:
    """The list engine (bucket views, merged streams, cached results, DESC tie order)
    against a brute-force filter-and-sort, while orders change and new ones arrive."""
    from array import array

    from bcb2b_async.testing import _index
    from bcb2b_async.testing._index import Filter, OrderIndex

    monkeypatch.setattr(_index, "STREAM_LIMIT", stream_limit)

    rnd = random.Random(11)
    n = 1500
    created = sorted(rnd.randrange(0, 400) for _ in range(n))
    updated = [c + rnd.choice((0, 0, rnd.randrange(0, 300))) for c in created]
    ix = OrderIndex(
        array("q", created), array("q", updated),
        array("q", [rnd.choice((1, 1, 2, 3)) for _ in range(n)]),
        array("q", [rnd.randrange(0, 4) for _ in range(n)]),
        array("q", [0] * n), array("b", [0] * n),
    )

    def brute(f: Filter) -> list[int]:
        hits = [i for i in range(len(ix)) if f.matches(
            ix.created[i], ix.updated[i], ix.channel[i], ix.company[i])]
        key = ix.created if f.sort == "createdAt" else ix.updated
        return sorted(hits, key=lambda i: (key[i], i))

    def random_filter() -> Filter:
        def bound() -> int | None:
            return rnd.choice((None, rnd.randrange(-10, 800)))
        c_lo, c_hi, u_lo, u_hi = bound(), bound(), bound(), bound()
        if rnd.random() < 0.5:
            c_lo = c_hi = None
        elif rnd.random() < 0.5:
            u_lo = u_hi = None
        chans = rnd.choice((None, frozenset({1}), frozenset({2, 3}), frozenset({1, 2, 3, 9})))
        return Filter(c_lo, c_hi, u_lo, u_hi, chans, rnd.choice((None, None, 0, 2)),
                      rnd.choice(("createdAt", "updatedAt")))

    filters = [random_filter() for _ in range(12)]
    for step in range(60):
        for f in rnd.sample(filters, 4):
            want = brute(f)
            desc = rnd.random() < 0.5
            if desc:
                key = ix.created if f.sort == "createdAt" else ix.updated
                want = sorted(want, key=lambda i: (-key[i], i))
            for offset, limit in ((0, 7), (rnd.randrange(0, 50), 40), (0, 2000)):
                total, page = ix.page(f, offset, limit, desc)
                assert total == len(want), (step, f)
                assert page == want[offset : offset + limit], (step, f, offset, desc)
        for _ in range(rnd.randrange(1, 8)):
            i = rnd.randrange(len(ix))
            ix.change(i, updated=rnd.choice((None, 800 + step)),
                      channel=rnd.choice((None, 1, 2, 3)), company=rnd.choice((None, 0, 2)))
        if step % 5 == 0:
            last = ix.created[-1] + rnd.randrange(0, 2)
            ix.append(last, last, rnd.choice((1, 2)), rnd.randrange(0, 3), 0, 0)
    assert ix.builds > 0


async def test_a_run_of_more_than_250_orders_in_one_second() -> None:
    async with serve(orders=5000) as (store, s):
        ids = store.order_ids()
        created = [store.created_at(i) for i in ids]
        assert created == sorted(created)  # createdAt never decreases with the id
        t, n = Counter(created).most_common(1)[0]
        assert n > 250
        got, total = await walk(
            s, [("channelIds", "1,2,3"), ("minCreated", str(t)), ("maxCreated", str(t)),
                ("sortBy", "createdAt"), ("orderBy", "ASC")], limit=200,
        )
        assert total == n and got == sorted(got) and len(set(got)) == n
        old = [i for i in ids if store.updated_at(i) < store.built_at - YEAR]
        assert abs(len(old) - 0.2 * len(ids)) <= 1  # old_fraction


async def test_list_parameter_validation() -> None:
    async with serve() as (_, s):
        status, _, body = await call(s, "GET", f"{B2B}/orders", params={"limit": "201"})
        assert status == 413
        assert body == {"code": 413, "data": {}, "meta": {"message": "Request Entity Too Large"}}
        for params in ({"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"orderBy": "UP"},
                       {"sortBy": "id"}, {"minCreated": "yesterday"}, {"showExtra": "maybe"},
                       {"channelIds[]": "a"}, {"companyId": "1.5"}):
            status, _, body = await call(s, "GET", f"{B2B}/orders", params=params)
            assert status == 400, params
            assert body["code"] == 400 and body["data"]["errMsg"]
        status, _, body = await call(s, "GET", f"{B2B}/orders",
                                     params={"limit": "200", "orderBy": "asc"})
        assert status == 200 and len(body["data"]) <= 200


# -- single order, PUT, POST, products, extra fields, customers -------------------------------


async def test_single_get_is_a_one_item_list_and_404_body() -> None:
    async with serve() as (store, s):
        status, _, body = await call(s, "GET", f"{B2B}/orders/150")
        assert status == 200 and isinstance(body["data"], list) and len(body["data"]) == 1
        rec = body["data"][0]
        assert rec["bcOrderId"] == 150 and rec == store.b2b_order(150)
        for key in ("isInvoiceOrder", "invoiceId", "invoiceNumber", "invoiceStatus",
                    "extraFields", "extraInfo", "extraStr5"):
            assert key in rec
        status, _, body = await call(s, "GET", f"{B2B}/orders/99999")
        assert status == 404
        assert body == {"code": 404, "data": {}, "meta": {"message": "Order Does Not Exist."}}
        status, _, body = await call(s, "GET", f"{B2B}/orders/150/products")
        assert status == 200 and body["message"] == "SUCCESS" and 1 <= len(body["data"]) <= 4
        p = body["data"][0]
        assert {"id", "productId", "productName", "variantSku", "variantId",
                "productBrandName", "quantity", "options", "createdAt"} <= set(p)
        assert isinstance(p["options"], list)
        status, _, _ = await call(s, "GET", f"{B2B}/orders/99999/products")
        assert status == 404


async def test_b2b_and_v2_views_of_an_order_agree() -> None:
    from email.utils import parsedate_to_datetime

    async with serve(orders=400) as (store, s):
        for oid in store.order_ids()[::7]:
            b2b, order = store.b2b_order(oid), store.v2_order(oid)
            lines = store.v2_products(oid)
            _, _, body = await call(s, "GET", f"{B2B}/orders/{oid}/products")
            assert [p["id"] for p in body["data"]] == [p["id"] for p in lines]
            assert 1 <= len(lines) <= 4
            assert b2b["statusCode"] == order["status_id"] and b2b["status"] == order["status"]
            assert b2b["currencyCode"] == order["currency_code"]
            assert b2b["cartId"] == order["cart_id"] and b2b["channelId"] == order["channel_id"]
            assert b2b["items"] == order["items_total"] == sum(p["quantity"] for p in lines)
            assert abs(b2b["totalIncTax"] - float(order["total_inc_tax"])) < 0.006
            assert int(parsedate_to_datetime(order["date_created"]).timestamp()) == b2b[
                "createdAt"
            ]
            assert b2b["updatedAt"] >= b2b["createdAt"]
            assert b2b["id"] == oid + 50_000
            addr_ids = {a["id"] for a in store.shipping_addresses(oid)}
            assert {p["order_address_id"] for p in lines} <= addr_ids
            shipped = Counter[int]()
            for ship in store.shipments_of(oid):
                for it in ship["items"]:
                    shipped[it["order_product_id"]] += it["quantity"]
            assert {p["id"]: p["quantity_shipped"] for p in lines if p["quantity_shipped"]} == (
                dict(shipped)
            )
            if order["status_id"] == 2:
                assert all(p["quantity_shipped"] == p["quantity"] for p in lines)
            # materializing (any change) keeps every derived field identical
            before = {k: v for k, v in b2b.items() if k != "updatedAt"}
            store.update_order(oid, staff_notes="seen")
            after = {k: v for k, v in store.b2b_order(oid).items() if k != "updatedAt"}
            assert after == before


async def test_put_b2b_order_validation_and_success() -> None:
    async with serve(required_extra_fields=True) as (store, s):
        path = f"{B2B}/orders/120"
        before = store.updated_at(120)
        status, _, body = await call(s, "PUT", path, json={})
        assert status == 400 and body["data"]["errMsg"]
        status, _, body = await call(s, "PUT", path, json={"poNumber": 7})
        assert status == 422 and "poNumber" in body["data"]["errMsg"]
        status, _, body = await call(s, "PUT", path, json={"extraFields": [{"fieldName": "x"}]})
        assert status == 422
        status, _, body = await call(s, "PUT", path, json={"poNumber": "PO-1"})
        assert status == 422
        assert body["data"]["errMsg"] == "Fintech ID is a required extra field"
        status, _, _ = await call(s, "PUT", path, data=b"{not json")
        assert status == 400
        fields = [{"fieldName": "Fintech ID", "fieldValue": "42"},
                  {"fieldName": "Cost Center", "fieldValue": "CC-9"}]
        status, _, body = await call(s, "PUT", path,
                                     json={"poNumber": "PO-1", "extraFields": fields})
        assert status == 200 and body["message"] == "SUCCESS" and body["code"] == 200
        rec = body["data"][0]
        assert rec["poNumber"] == "PO-1" and rec["extraFields"] == fields
        assert rec["updatedAt"] >= before and store.updated_at(120) == rec["updatedAt"]
        status, _, _ = await call(s, "PUT", f"{B2B}/orders/99999", json={"poNumber": "x"})
        assert status == 404


async def test_post_order_within_ten_seconds_of_creation() -> None:
    clock = [time.time()]
    async with serve(now=lambda: clock[0]) as (store, s):
        new = store.create_order(channel_id=1, company_id=4)
        status, _, body = await call(
            s, "POST", f"{B2B}/orders",
            json={"bcOrderId": new, "customerId": 1015, "poNumber": "PO-NEW",
                  "extraFields": [{"fieldName": "Cost Center", "fieldValue": "CC-1"}]},
        )
        assert status == 200 and isinstance(body["data"], dict)
        assert body["data"]["bcOrderId"] == new and body["data"]["poNumber"] == "PO-NEW"
        assert body["data"]["companyId"] == 4
        clock[0] += 11
        status, _, body = await call(s, "POST", f"{B2B}/orders",
                                     json={"bcOrderId": new, "customerId": 1015})
        assert status == 400 and body["meta"]["message"] == "The order already exists."
        status, _, _ = await call(s, "POST", f"{B2B}/orders",
                                  json={"bcOrderId": 10**7, "customerId": 1})
        assert status == 404
        status, _, body = await call(s, "POST", f"{B2B}/orders", json={"bcOrderId": new})
        assert status == 400 and "customerId" in body["data"]["errMsg"]
        status, _, body = await call(s, "POST", f"{B2B}/orders",
                                     json={"bcOrderId": "1", "customerId": 2})
        assert status == 422 and "bcOrderId" in body["data"]["errMsg"]


async def test_extra_field_configs_paginate_and_customer_endpoints() -> None:
    async with serve() as (store, s):
        _, _, body = await call(s, "GET", f"{B2B}/orders/extra-fields", params={"limit": "5"})
        assert len(body["data"]) == 5 and body["meta"]["pagination"]["totalCount"] == 7
        _, _, body = await call(s, "GET", f"{B2B}/orders/extra-fields",
                                params={"limit": "5", "offset": "5"})
        assert len(body["data"]) == 2 and {"fieldName", "fieldType", "isRequired"} <= set(
            body["data"][0]
        )
        customer = next(
            store.v2_order(o)["customer_id"] for o in store.order_ids()
            if store.v2_order(o)["customer_id"] >= 1000
        )
        mine = [o for o in store.order_ids() if store.v2_order(o)["customer_id"] == customer]
        status, _, body = await call(s, "PUT", f"{B2B}/customers/{customer}/orders/company",
                                     json={"bcGroupId": 7})
        assert status == 200 and body["data"] == {"total": len(mine)}
        assert {store.b2b_order(o)["companyId"] for o in mine} == {7}
        status, _, _ = await call(s, "PUT", f"{B2B}/customers/{customer}/orders/company",
                                  json={})
        assert status == 400
        status, _, _ = await call(s, "PUT", f"{B2B}/customers/5/orders/company",
                                  json={"bcGroupId": 7})
        assert status == 404
        status, _, body = await call(s, "PUT", f"{B2B}/customers/{customer}/orders/b2b")
        assert status == 200 and body["data"]["total"] == len(mine)
        status, _, _ = await call(s, "PUT", f"{B2B}/customers/5/orders/b2b")
        assert status == 404


# -- V2 ------------------------------------------------------------------------------------


async def test_v2_get_order_and_paginated_sub_resources() -> None:
    async with serve() as (store, s):
        base = v2(store)
        status, _, order = await call(s, "GET", f"{base}/orders/130")
        assert status == 200 and order["id"] == 130 and order == store.v2_order(130)
        assert order["date_created"].endswith("+0000") and isinstance(order["subtotal_ex_tax"], str)
        assert order["status"] and isinstance(order["billing_address"], dict)
        assert order["external_id"] is None and order["is_deleted"] in (True, False)
        status, _, body = await call(s, "GET", f"{base}/orders/99999")
        assert status == 404 and body[0]["status"] == 404
        status, _, products = await call(s, "GET", f"{base}/orders/130/products")
        assert status == 200 and [p["id"] for p in products] == sorted(p["id"] for p in products)
        assert products[0]["order_id"] == 130 and isinstance(products[0]["price_ex_tax"], str)
        n = len(products)
        _, _, page1 = await call(s, "GET", f"{base}/orders/130/products",
                                 params={"limit": "1", "page": "1"})
        assert page1 == products[:1]
        status, _, _ = await call(s, "GET", f"{base}/orders/130/products",
                                  params={"limit": "1", "page": str(n + 1)})
        assert status == 204
        for params in ({"limit": "251"}, {"limit": "0"}, {"page": "0"}, {"page": "x"}):
            status, _, _ = await call(s, "GET", f"{base}/orders/130/products", params=params)
            assert status == 400, params
        status, _, addrs = await call(s, "GET", f"{base}/orders/130/shipping_addresses")
        assert status == 200 and len(addrs) == 1 and addrs[0]["order_id"] == 130
        unshipped = next(o for o in store.order_ids() if not store.shipments_of(o))
        status, headers, body = await call(s, "GET", f"{base}/orders/{unshipped}/shipments")
        assert status == 204 and body is None and headers["X-Request-Id"]
        shipped = next(o for o in store.order_ids() if store.shipments_of(o))
        status, _, body = await call(s, "GET", f"{base}/orders/{shipped}/shipments")
        assert status == 200 and body == store.shipments_of(shipped)


async def test_v2_put_validation_and_products_add_update_remove() -> None:
    async with serve() as (store, s):
        oid = next(o for o in store.order_ids() if not store.shipments_of(o))
        path = f"{v2(store)}/orders/{oid}"
        bad_bodies: list[Any] = [
            {"external_id": "x"}, {"date_modified": "now"}, {"id": 5}, {"status": "Shipped"},
            {"nonsense": 1}, {"subtotal_ex_tax": "10"}, {"total_inc_tax": 5},
            {"shipping_cost_ex_tax": "-1", "shipping_cost_inc_tax": "1"},
            {"subtotal_ex_tax": "abc", "subtotal_inc_tax": "1"}, {"status_id": 15},
            {"status_id": True}, {"products": [{"quantity": 0, "name": "x"}]},
            {"products": [{"id": 1, "quantity": 2}]}, {"products": [{"name": "x", "quantity": 1}]},
            {"shipping_addresses": [{"city": "Nowhere"}]}, {"billing_address": {"city": 5}},
            [1, 2],
        ]
        before = store.v2_order(oid)
        for body in bad_bodies:
            status, _, err = await call(s, "PUT", path, json=body)
            assert status == 400, body
            assert isinstance(err, list) and err[0]["status"] == 400 and err[0]["message"]
        assert store.v2_order(oid) == before  # nothing applied
        lines = store.v2_products(oid)
        first = lines[0]
        addr = store.shipping_addresses(oid)[0]
        status, _, order = await call(s, "PUT", path, json={
            "status_id": 9,
            "staff_notes": "packed",
            "subtotal_ex_tax": "100", "subtotal_inc_tax": 108.25,
            "billing_address": {"city": "Boston"},
            "shipping_addresses": [{"id": addr["id"], "street_2": "Dock 4"}],
            "products": [
                {"id": first["id"], "quantity": first["quantity"] + 2},
                {"name": "Custom Crate", "quantity": 3, "price_ex_tax": 10,
                 "price_inc_tax": "10.80", "sku": "CRATE"},
                {"product_id": 101, "quantity": 1},
            ],
        })
        assert status == 200
        assert order["status_id"] == 9 and order["status"] == "Awaiting Shipment"
        assert order["staff_notes"] == "packed" and order["billing_address"]["city"] == "Boston"
        assert order["billing_address"]["zip"] == before["billing_address"]["zip"]
        assert order["subtotal_ex_tax"] == "100.0000" and order["subtotal_inc_tax"] == "108.2500"
        assert store.shipping_addresses(oid)[0]["street_2"] == "Dock 4"
        after = {p["id"]: p for p in store.v2_products(oid)}
        assert after[first["id"]]["quantity"] == first["quantity"] + 2
        added = [p for p in after.values() if p["id"] not in {x["id"] for x in lines}]
        assert sorted(p["name"] for p in added) == sorted(
            ["Custom Crate", next(p["name"] for p in added if p["product_id"] == 101)]
        )
        crate = next(p for p in added if p["sku"] == "CRATE")
        assert crate["price_inc_tax"] == "10.8000" and crate["order_address_id"] == addr["id"]
        assert store.b2b_order(oid)["updatedAt"] == store.updated_at(oid) >= int(time.time()) - 2
        assert store.b2b_order(oid)["statusCode"] == 9
        status, _, order = await call(s, "PUT", path,
                                      json={"products": [{"id": crate["id"], "quantity": 0}]})
        assert status == 200 and crate["id"] not in {p["id"] for p in store.v2_products(oid)}
        assert order["items_total"] == sum(p["quantity"] for p in store.v2_products(oid))


async def test_shipments_post_validation_and_quantity_shipped() -> None:
    async with serve() as (store, s):
        oid = next(
            o for o in store.order_ids()
            if not store.shipments_of(o) and sum(p["quantity"] for p in store.v2_products(o)) > 2
        )
        other = next(o for o in store.order_ids() if o != oid)
        path = f"{v2(store)}/orders/{oid}/shipments"
        lines = store.v2_products(oid)
        addr = store.shipping_addresses(oid)[0]["id"]
        first = lines[0]
        foreign = store.v2_products(other)[0]["id"]
        good = {"order_address_id": addr, "items": [{"order_product_id": first["id"],
                                                     "quantity": 1}]}
        for body in (
            {"items": good["items"]},
            {**good, "order_address_id": store.shipping_addresses(other)[0]["id"]},
            {**good, "items": []},
            {**good, "items": [{"order_product_id": foreign, "quantity": 1}]},
            {**good, "items": [{"order_product_id": first["id"], "quantity": 10**6}]},
            {**good, "tracking_number": "x" * 51},
            {**good, "shipping_provider": "pigeon"},
            {**good, "shipping_provider_display_name": "x"},
        ):
            status, _, err = await call(s, "POST", path, json=body)
            assert status == 400, body
            assert err[0]["status"] == 400
        assert store.shipments_of(oid) == []
        status, _, ship = await call(s, "POST", path, json={
            **good, "tracking_number": "1Z999", "shipping_provider": "ups",
            "tracking_carrier": "", "shipping_method": "Ground", "comments": "first box",
        })
        assert status == 201
        assert ship["order_id"] == oid and ship["order_address_id"] == addr
        assert ship["items"] == [{"order_product_id": first["id"],
                                  "product_id": first["product_id"], "quantity": 1}]
        for key in ("id", "customer_id", "date_created", "tracking_link", "billing_address",
                    "shipping_address", "shipping_provider", "tracking_carrier"):
            assert key in ship
        after = {p["id"]: p for p in store.v2_products(oid)}
        assert after[first["id"]]["quantity_shipped"] == 1
        assert store.v2_order(oid)["items_shipped"] == 1
        assert store.v2_order(oid)["status_id"] == 3  # partially shipped
        rest = [{"order_product_id": p["id"], "quantity": p["quantity"] - p["quantity_shipped"]}
                for p in after.values() if p["quantity"] > p["quantity_shipped"]]
        over = [dict(rest[0], quantity=rest[0]["quantity"] + 1)]
        status, _, _ = await call(s, "POST", path,
                                  json={"order_address_id": addr, "items": over})
        assert status == 400
        status, _, _ = await call(s, "POST", path, json={
            "order_address_id": addr, "items": rest, "shipping_provider": "carrier_42"})
        assert status == 201
        assert store.v2_order(oid)["status_id"] == 2
        _, _, listed = await call(s, "GET", path)
        assert [x["id"] for x in listed] == [x["id"] for x in store.shipments_of(oid)]
        assert len(listed) == 2


# -- rate limits ---------------------------------------------------------------------------


async def test_b2b_rate_window_headers_and_429() -> None:
    async with serve(b2b_rate=RateWindow(5, 0.6)) as (store, s):
        remaining = []
        for _ in range(5):
            status, h, _ = await call(s, "GET", f"{B2B}/orders")
            assert status == 200
            assert h["X-Requests-Allocated"] == "5 times/0.6 s"
            remaining.append(h["X-Requests-Remaining"])
            assert h["X-Request-Window-Resets-After"].endswith(" s")
        assert remaining == ["4 times", "3 times", "2 times", "1 times", "0 times"]
        status, h, body = await call(s, "GET", f"{B2B}/orders")
        assert status == 429 and body["code"] == 429
        assert h["X-Requests-Remaining"] == "0 times" and h["X-Requests-Window-Length"] == "5 times"
        wait = float(h["X-Request-Window-Resets-After"].split()[0])
        assert 0 < wait <= 0.6
        await asyncio.sleep(wait + 0.05)
        status, h, _ = await call(s, "GET", f"{B2B}/orders")
        assert status == 200 and h["X-Requests-Remaining"] == "4 times"
        assert store.stats.b2b.rate_limited == 1 and store.requests_count("b2b") == 7
        assert store.max_requests_in_any_window("b2b") == 5


async def test_v2_headers_consume_and_neighbour() -> None:
    async with serve(v2_rate=RateWindow(10, 30.0), b2b_rate=RateWindow(10, 60.0)) as (store, s):
        status, h, _ = await call(s, "GET", f"{v2(store)}/orders/100")
        assert status == 200
        assert h["X-Rate-Limit-Requests-Quota"] == "10"
        assert h["X-Rate-Limit-Requests-Left"] == "9"
        assert h["X-Rate-Limit-Time-Window-Ms"] == "30000"
        assert 0 < int(h["X-Rate-Limit-Time-Reset-Ms"]) <= 30000
        assert "X-Requests-Remaining" not in h
        assert store.consume("v2", 7) == 7 and store.consume("v2", 5) == 2
        status, h, body = await call(s, "GET", f"{v2(store)}/orders/100")
        assert status == 429 and h["X-Rate-Limit-Requests-Left"] == "0"
        assert body[0]["status"] == 429
        store.start_neighbour("b2b", fraction=0.6)
        status, h, _ = await call(s, "GET", f"{B2B}/orders")
        assert status == 200 and h["X-Requests-Remaining"] == "3 times"
        store.stop_neighbour("b2b")
        assert store.stats.v2.consumed == 9


async def test_no_rate_limit_means_no_rate_headers() -> None:
    async with serve() as (_, s):
        _, h, _ = await call(s, "GET", f"{B2B}/orders")
        assert "X-Requests-Remaining" not in h and h["X-Request-Id"]


# -- faults --------------------------------------------------------------------------------


async def test_every_fault_kind() -> None:
    async with serve(b2b_rate=RateWindow(1000, 60.0)) as (store, s):
        plan: FaultPlan = store.faults
        url = f"{B2B}/orders"
        plan.add("500", api="b2b")
        status, h, body = await call(s, "GET", url)
        assert status == 500 and body["code"] == 500 and h["X-Requests-Remaining"] == "999 times"
        plan.add("503", api="b2b")
        status, _, body = await call(s, "GET", url)
        assert status == 503 and body["meta"]["message"]
        for code in ("502", "504"):
            plan.add(code)
            status, _, body = await call(s, "GET", url)
            assert status == int(code) and "<html>" in body
        plan.add("429_no_headers", api="b2b")
        status, h, _ = await call(s, "GET", url)
        assert status == 429 and "X-Requests-Remaining" not in h
        status, h, _ = await call(s, "GET", url)
        assert status == 200 and h["X-Requests-Remaining"] == "995 times"  # 429 not counted
        # aiohttp itself retries an idempotent request once after a server disconnect,
        # so two drops in a row are needed to surface one.
        plan.add("drop", api="b2b", count=2)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await call(s, "GET", url)
        plan.add("truncate", api="b2b")
        with pytest.raises(aiohttp.ClientPayloadError):
            await call(s, "GET", url, params={"limit": "50"})
        plan.add("latency:0.2", api="b2b")
        started = time.monotonic()
        status, _, _ = await call(s, "GET", url)
        assert status == 200 and time.monotonic() - started >= 0.2
        plan.add("500", api="v2")
        status, _, body = await call(s, "GET", f"{v2(store)}/orders/100")
        assert status == 500 and body[0]["status"] == 500
        assert plan.pending == 0 and store.stats.b2b.faults == 9
        statuses = [r.status for r in store.log if r.api == "b2b"]
        assert 0 in statuses  # the dropped connection is logged as status 0


async def test_fault_schedules_filters_and_random_mode() -> None:
    async with serve() as (store, s):
        store.faults.add("500", count=2, every=2, method="GET", path="/orders")
        seen = [(await call(s, "GET", f"{B2B}/orders"))[0] for _ in range(6)]
        assert seen == [200, 500, 200, 500, 200, 200]
        store.faults.add("503", count=None, every=3, api="v2")
        seen = [(await call(s, "GET", f"{v2(store)}/orders/100"))[0] for _ in range(6)]
        assert seen == [200, 200, 503, 200, 200, 503]
        store.faults.clear()
        status, _, _ = await call(s, "PUT", f"{B2B}/orders/100", json={"poNumber": "a"})
        assert status == 200

    kinds: list[list[str]] = []
    for _ in range(2):
        async with serve() as (store, s):
            store.faults.random(rate=0.3, kinds=("500", "503"), seed=9)
            for _ in range(30):
                await call(s, "GET", f"{B2B}/orders")
            kinds.append([k for *_, k in store.faults.injected])
    assert kinds[0] == kinds[1] and 3 <= len(kinds[0]) <= 20


# -- live mutations ------------------------------------------------------------------------


async def test_mutations_bump_updated_at() -> None:
    async with serve(orders=800) as (store, s):
        oid = store.order_ids(channel_ids=[1])[0]
        assert store.updated_at(oid) < int(time.time()) - 60
        store.update_order(oid, po_number="PO-LIVE", status_id=10)
        assert store.updated_at(oid) >= int(time.time()) - 1
        _, _, body = await call(s, "GET", f"{B2B}/orders", params={"limit": "1"})
        top = body["data"][0]
        assert top["bcOrderId"] == oid and top["poNumber"] == "PO-LIVE" and top["statusCode"] == 10
        assert store.v2_order(oid)["status"] == "Completed"
        new = store.create_order(channel_id=1, company_id=3)
        assert new == max(store.order_ids()) and store.created_at(new) >= store.created_at(oid)
        _, _, body = await call(s, "GET", f"{B2B}/orders/{new}")
        assert body["data"][0]["companyId"] == 3
        count = store.orders_count
        stamps = {o: store.updated_at(o) for o in store.order_ids()}
        store.mutate_every(2, updates=4, creates=1)
        for _ in range(4):
            await call(s, "GET", f"{B2B}/orders", params={"limit": "50"})
        store.stop_mutations()
        await call(s, "GET", f"{B2B}/orders")
        assert store.orders_count == count + 2
        changed = [o for o, u in stamps.items() if store.updated_at(o) != u]
        assert 1 <= len(changed) <= 8
        with pytest.raises(TypeError):
            store.update_order(oid, colour="red")


# -- scale, CLI, pytest plugin ---------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def test_a_million_orders_build_fast_and_serve_pages_cheaply() -> None:
    rss_before = _rss_mb() if sys.platform.startswith("linux") else 0.0
    started = time.perf_counter()
    store = SandboxStore(1_000_000, b2b_rate=None, v2_rate=None)
    build = time.perf_counter() - started
    rss = (_rss_mb() - rss_before) if sys.platform.startswith("linux") else 0.0
    print(f"\n1,000,000 orders: built in {build:.1f} s, +{rss:.0f} MB RSS")
    assert build < 15
    assert rss < 600
    async with store, aiohttp.ClientSession(store.base_url, headers=auth(store)) as s:
        # a keyset page deep in the store and an offset page: both cheap
        t = store.created_at(700_000)
        for params in (
            {"sortBy": "createdAt", "orderBy": "ASC", "minCreated": str(t), "limit": "200"},
            {"limit": "200", "offset": "400000", "minCreated": "0"},
            {"limit": "200", "offset": "1000", "orderBy": "DESC"},
        ):
            await call(s, "GET", f"{B2B}/orders", params=params)  # warm
            began = time.process_time()
            for _ in range(5):
                status, _, body = await call(s, "GET", f"{B2B}/orders", params=params)
                assert status == 200 and len(body["data"]) == 200
            per_page = (time.process_time() - began) / 5
            print(f"page {params}: {per_page * 1000:.1f} ms CPU (client + server)")
            assert per_page < 0.05


async def test_cli_runner_prints_url_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bcb2b_async.testing", "--orders", "300", "--port", "0",
        "--b2b-rate", "40/1", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith("SANDBOX http://127.0.0.1:")
        url = line.split()[1]
        headers = {"X-Auth-Token": "sandbox-token", "X-Store-Hash": "sandbox"}
        async with aiohttp.ClientSession() as s, s.get(f"{url}{B2B}/orders",
                                                        headers=headers) as r:
            assert r.status == 200 and r.headers["X-Requests-Allocated"] == "40 times/1 s"
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_pytest_plugin_fixture_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest('pytest_plugins = ["bcb2b_async.testing.pytest_plugin"]\n')
    pytester.makepyfile(
        """
        import aiohttp
        import pytest
        from bcb2b_async.testing import RateWindow, SandboxStore

        def auth(store):
            return {"X-Auth-Token": store.access_token, "X-Store-Hash": store.store_hash}

        async def test_defaults(sandbox_store: SandboxStore) -> None:
            assert sandbox_store.orders_count == 500
            async with aiohttp.ClientSession() as s, s.get(
                f"{sandbox_store.b2b_api_url}/orders", headers=auth(sandbox_store)
            ) as r:
                assert r.status == 200 and "X-Requests-Remaining" not in r.headers

        @pytest.mark.sandbox(orders=50, b2b_rate=RateWindow(3, 30.0))
        async def test_marker(sandbox_store: SandboxStore) -> None:
            assert sandbox_store.orders_count == 50
            async with aiohttp.ClientSession() as s, s.get(
                f"{sandbox_store.b2b_api_url}/orders", headers=auth(sandbox_store)
            ) as r:
                assert r.headers["X-Requests-Allocated"] == "3 times/30 s"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)
