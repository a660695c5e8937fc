"""The sandbox's V2 ``GET /orders`` and ``/orders/count`` against a real aiohttp client:
filters, sorts, page/limit and 204, side-loaded consignments and their quirks (50-line cap,
empty embedded lines), consumer orders, B2B/V2 time lag, quota/faults/mutations, scale.

Every result is checked against an oracle built from the rendered V2 order objects
(``store.v2_order``), not from the engine under test. Every loop is bounded.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import aiohttp
import pytest

from bcb2b_async.testing import RateWindow, SandboxStore

from .test_sandbox_server import call

B2B = "/api/v3/io"
WARNING = (
    "Not all line items of this consignment are returned with this response, only 50 are "
    "included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line "
    "items."
)
LINE_ITEMS = {"include": "consignments.line_items", "consignment_structure": "object"}


def v2(store: SandboxStore) -> str:
    return f"/stores/{store.store_hash}/v2"


@contextlib.asynccontextmanager
async def serve(**kwargs: Any) -> AsyncIterator[tuple[SandboxStore, aiohttp.ClientSession]]:
    kwargs.setdefault("orders", 600)
    kwargs.setdefault("b2b_rate", None)
    kwargs.setdefault("v2_rate", None)
    async with SandboxStore(**kwargs) as store:
        headers = {"X-Auth-Token": store.access_token, "X-Store-Hash": store.store_hash}
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(
            store.base_url, headers=headers, timeout=timeout
        ) as session:
            yield store, session


async def v2_walk(
    store: SandboxStore,
    session: aiohttp.ClientSession,
    params: dict[str, str],
    limit: int = 250,
    max_pages: int = 400,
) -> list[dict[str, Any]]:
    """Every order of a V2 list query, page by page until the 204 (bounded)."""
    out: list[dict[str, Any]] = []
    for page in range(1, max_pages + 1):
        q = {**params, "page": str(page), "limit": str(limit)}
        status, _, body = await call(session, "GET", f"{v2(store)}/orders", params=q)
        if status == 204:
            assert body is None
            return out
        assert status == 200, body
        assert 0 < len(body) <= limit
        out.extend(body)
    raise AssertionError("the walk did not end")


def ts(rfc: str) -> int:
    return int(parsedate_to_datetime(rfc).timestamp())


def oracle(store: SandboxStore) -> list[dict[str, Any]]:
    """Every V2 order as rendered, with parsed times (ascending id)."""
    rows = []
    for oid in store.v2_order_ids():
        o = store.v2_order(oid)
        o["_c"], o["_u"] = ts(o["date_created"]), ts(o["date_modified"])
        rows.append(o)
    return rows


def ids_of(orders: list[dict[str, Any]]) -> list[int]:
    return [o["id"] for o in orders]


def assert_counted(ids: list[int], expected: list[int]) -> None:
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicated: {dupes[:10]}"
    lost, extra = sorted(set(expected) - set(ids)), sorted(set(ids) - set(expected))
    assert not lost and not extra, f"lost {lost[:10]}, extra {extra[:10]}"


def rfc(t: int) -> str:
    return format_datetime(datetime.fromtimestamp(t, UTC))


def iso(t: int, offset_hours: int = 0) -> str:
    zone = timezone(timedelta(hours=offset_hours))
    return datetime.fromtimestamp(t, zone).isoformat(timespec="milliseconds")


# -- paging ---------------------------------------------------------------------------------


async def test_default_page_is_fifty_by_id_and_a_walk_ends_with_204() -> None:
    async with serve(orders=620) as (store, s):
        status, headers, body = await call(s, "GET", f"{v2(store)}/orders")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert ids_of(body) == list(range(100, 150))  # default: id ascending, 50
        assert "consignments" not in body[0] and "fees" not in body[0]
        assert body[0]["date_created"].endswith("+0000")
        ts(body[0]["date_created"])  # RFC 2822 as BigCommerce sends it
        orders = await v2_walk(store, s, {})
        assert ids_of(orders) == store.v2_order_ids() == list(range(100, 720))
        status, _, body = await call(s, "GET", f"{v2(store)}/orders", params={"page": "4",
                                                                             "limit": "250"})
        assert status == 204 and body is None
        for bad in ({"limit": "251"}, {"limit": "0"}, {"page": "0"}, {"page": "x"}):
            status, _, body = await call(s, "GET", f"{v2(store)}/orders", params=bad)
            assert status == 400 and body[0]["status"] == 400 and body[0]["message"]


async def test_bad_filter_values_are_400_in_the_v2_error_list() -> None:
    async with serve() as (store, s):
        for bad in (
            {"min_date_created": "yesterday"},
            {"max_date_modified": "2024-13-45"},
            {"min_id": "1.5"},
            {"status_id": "shipped"},
            {"sort": "total:asc"},
            {"sort": "id:up"},
            {"min_total": "-3"},
        ):
            status, _, body = await call(s, "GET", f"{v2(store)}/orders", params=bad)
            assert status == 400, bad
            assert isinstance(body, list) and body[0]["status"] == 400, bad
            status, _, body = await call(s, "GET", f"{v2(store)}/orders/count", params=bad)
            assert status == (200 if "sort" in bad else 400), bad  # count ignores sort


# -- filters and sorts against the oracle ---------------------------------------------------


def _random_filter(
    rnd: random.Random, rows: list[dict[str, Any]]
) -> tuple[dict[str, str], Callable[[dict[str, Any]], bool]]:
    params: dict[str, str] = {}
    checks: list[Callable[[dict[str, Any]], bool]] = []
    pick = rnd.choice(rows)
    if rnd.random() < 0.5:
        lo, hi = sorted((rnd.choice(rows)["_c"], rnd.choice(rows)["_c"]))
        params["min_date_created"] = rfc(lo) if rnd.random() < 0.5 else iso(lo, -4)
        params["max_date_created"] = iso(hi) if rnd.random() < 0.5 else rfc(hi)
        checks.append(lambda o: lo <= o["_c"] <= hi)
    if rnd.random() < 0.3:
        lo_u = rnd.choice(rows)["_u"]
        params["min_date_modified"] = iso(lo_u, 2)
        checks.append(lambda o: o["_u"] >= lo_u)
    if rnd.random() < 0.3:
        a, b = sorted((rnd.choice(rows)["id"], rnd.choice(rows)["id"]))
        params["min_id"], params["max_id"] = str(a), str(b)
        checks.append(lambda o: a <= o["id"] <= b)
    if rnd.random() < 0.4:
        ch = rnd.choice((1, 2, 3))
        params["channel_id"] = str(ch)
        checks.append(lambda o: o["channel_id"] == ch)
    if rnd.random() < 0.25:
        st = pick["status_id"]
        params["status_id"] = str(st)
        checks.append(lambda o: o["status_id"] == st)
    if rnd.random() < 0.15:
        cu = pick["customer_id"]
        params["customer_id"] = str(cu)
        checks.append(lambda o: o["customer_id"] == cu)
    if rnd.random() < 0.1:
        email = pick["billing_address"]["email"]
        params["email"] = email.upper()
        checks.append(lambda o: o["billing_address"]["email"].lower() == email.lower())
    if rnd.random() < 0.1:
        cart = pick["cart_id"]
        params["cart_id"] = cart
        checks.append(lambda o: o["cart_id"] == cart)
    if rnd.random() < 0.1:
        pm = pick["payment_method"]
        params["payment_method"] = pm
        checks.append(lambda o: o["payment_method"] == pm)
    if rnd.random() < 0.15:
        t = float(pick["total_inc_tax"])
        params["min_total"] = f"{t:.2f}"
        checks.append(lambda o: float(o["total_inc_tax"]) >= float(f"{t:.2f}"))
    return params, lambda o: all(c(o) for c in checks)


SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda o: 0,
    "external_id": lambda o: 0,
    "customer_id": lambda o: o["customer_id"],
    "date_created": lambda o: o["_c"],
    "date_modified": lambda o: o["_u"],
    "status_id": lambda o: o["status_id"],
    "channel_id": lambda o: o["channel_id"],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("realistic", [False, True])
async def test_filters_and_sorts_match_the_oracle(realistic: bool) -> None:
    async with serve(orders=900, realistic=realistic, b2b_share=0.5, seed=5) as (store, s):
        rows = oracle(store)
        rnd = random.Random(7 if realistic else 8)
        for round_ in range(30):
            params, keep = _random_filter(rnd, rows)
            sort = rnd.choice(list(SORT_KEYS))
            desc = rnd.random() < 0.4
            want = sorted((o for o in rows if keep(o)), key=lambda o: (SORT_KEYS[sort](o), o["id"]))
            if desc:
                want.reverse()  # the whole order reversed: ties come id-descending
            params["sort"] = f"{sort}:desc" if desc else (sort if rnd.random() < 0.5 else
                                                          f"{sort}:asc")
            got = await v2_walk(store, s, params, limit=rnd.choice((7, 50, 250)), max_pages=200)
            assert ids_of(got) == ids_of(want), (round_, params)
            count_params = {k: v for k, v in params.items() if k != "sort"}
            status, _, body = await call(s, "GET", f"{v2(store)}/orders/count",
                                         params=count_params)
            assert status == 200 and body["count"] == len(want), (round_, params)


@pytest.mark.parametrize("inclusive", [True, False])
async def test_date_bounds_at_a_tie_follow_the_store_setting(inclusive: bool) -> None:
    async with serve(orders=3000, bounds_inclusive=inclusive) as (store, s):
        created = Counter(store.v2_created_at(i) for i in store.v2_order_ids())
        t, n = created.most_common(1)[0]
        assert n > 1
        exact = store.v2_order_ids(created_from=t, created_to=t)
        got = await v2_walk(store, s, {"min_date_created": rfc(t), "max_date_created": rfc(t)})
        assert ids_of(got) == (exact if inclusive else [])
        # a fractional bound never equals a whole second: the same both ways
        got = await v2_walk(store, s, {"min_date_created": iso(t - 1) .replace(".000", ".500"),
                                       "max_date_created": iso(t).replace(".000", ".500")})
        assert ids_of(got) == exact
        got = await v2_walk(store, s, {"min_date_modified": rfc(t), "sort": "date_modified"})
        want = store.v2_order_ids(modified_from=t if inclusive else t + 1)
        assert sorted(ids_of(got)) == want


# -- side-loaded consignments ---------------------------------------------------------------


async def test_include_shapes_object_array_links_and_fees() -> None:
    async with serve(orders=300) as (store, s):
        path = f"{v2(store)}/orders"
        _, _, plain = await call(s, "GET", path, params={"limit": "5"})
        _, _, full = await call(s, "GET", path, params={**LINE_ITEMS, "limit": "5"})
        for p, f in zip(plain, full, strict=True):
            assert {k: v for k, v in f.items() if k != "consignments"} == p
            cons = f["consignments"]
            assert set(cons) == {"pickups", "shipping", "downloads", "email"}
            assert cons["pickups"] == [] and cons["downloads"] == []
            assert cons["email"] == {"gift_certificates": []}
            addresses = store.shipping_addresses(f["id"])
            products = store.v2_products(f["id"])
            assert len(cons["shipping"]) == len(addresses) == 1
            ship, addr = cons["shipping"][0], addresses[0]
            assert ship["id"] == addr["id"]
            for key in ("first_name", "last_name", "company", "street_1", "street_2", "city",
                        "zip", "country", "country_iso2", "state", "email", "phone",
                        "form_fields", "shipping_method", "items_total", "items_shipped",
                        "shipping_zone_id", "shipping_zone_name"):
                assert ship[key] == addr[key], key
            for key in ("base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax",
                        "handling_cost_ex_tax", "handling_cost_inc_tax"):
                assert isinstance(ship[key], float | int) and ship[key] == float(addr[key])
            assert ship["line_items"] == products  # the /orders/{id}/products objects
            _, _, served = await call(s, "GET", f"{path}/{f['id']}/products")
            assert served == products
            assert sum(p["quantity"] for p in ship["line_items"]) == f["items_total"]
            assert "__warning__" not in ship
            quotes = f"/orders/{f['id']}/consignments/shipping/{ship['id']}/shipping_quotes"
            assert ship["shipping_quotes"]["resource"] == quotes
        # the legacy array structure (no consignment_structure): a list around the object
        _, _, legacy = await call(s, "GET", path, params={"include": "consignments.line_items",
                                                          "limit": "5"})
        assert [o["consignments"] for o in legacy] == [[o["consignments"]] for o in full]
        # include=consignments: line items as {url, resource} links; fees side-loaded empty
        _, _, links = await call(s, "GET", path, params={
            "include": "consignments,fees", "consignment_structure": "object", "limit": "5"})
        for o in links:
            items = o["consignments"]["shipping"][0]["line_items"]
            ids = [p["id"] for p in store.v2_products(o["id"])]
            assert [it["resource"] for it in items] == [
                f"/orders/{o['id']}/products/{i}" for i in ids]
            assert all(it["url"].endswith(it["resource"]) for it in items)
            assert o["fees"] == []
        # the single GET and /orders/{id}/consignments take the same include
        oid = full[0]["id"]
        _, _, one = await call(s, "GET", f"{path}/{oid}", params=LINE_ITEMS)
        assert one == full[0]
        _, _, cons = await call(s, "GET", f"{path}/{oid}/consignments",
                                params={"include": "consignments.line_items"})
        assert cons == full[0]["consignments"]


async def test_fifty_line_cap_puts_a_warning_on_the_consignment() -> None:
    async with serve(orders=200) as (store, s):
        path = f"{v2(store)}/orders"
        big = store.create_order(lines=60)
        split = store.create_order(lines=60, addresses=2)
        exact = store.create_order(lines=50)
        got = {o["id"]: o for o in await v2_walk(store, s, {**LINE_ITEMS, "min_id": str(big)})}
        assert sorted(got) == [big, split, exact]
        _, _, products = await call(s, "GET", f"{path}/{big}/products", params={"limit": "250"})
        assert len(products) == 60 and got[big]["items_total"] == sum(
            p["quantity"] for p in products)
        (ship,) = got[big]["consignments"]["shipping"]
        assert ship["line_items"] == products[:50]  # the first 50 by id
        assert ship["__warning__"] == {"message": WARNING}
        assert ship["items_total"] == got[big]["items_total"]  # the full count, not 50
        # two consignments of 30 lines: under the cap each, no warning
        ships = got[split]["consignments"]["shipping"]
        assert [len(c["line_items"]) for c in ships] == [30, 30]
        assert all("__warning__" not in c for c in ships)
        assert {p["order_address_id"] for c in ships for p in c["line_items"]} == {
            c["id"] for c in ships}
        assert got[split]["shipping_address_count"] == 2
        (ship,) = got[exact]["consignments"]["shipping"]
        assert len(ship["line_items"]) == 50 and "__warning__" not in ship
        # with include=consignments the links are capped the same way
        _, _, one = await call(s, "GET", f"{path}/{big}", params={
            "include": "consignments", "consignment_structure": "object"})
        assert len(one["consignments"]["shipping"][0]["line_items"]) == 50
        assert one["consignments"]["shipping"][0]["__warning__"] == {"message": WARNING}
    async with serve(orders=50, line_item_cap=None) as (store, s):
        big = store.create_order(lines=60)
        _, _, one = await call(s, "GET", f"{v2(store)}/orders/{big}", params=LINE_ITEMS)
        (ship,) = one["consignments"]["shipping"]
        assert len(ship["line_items"]) == 60 and "__warning__" not in ship


async def test_seeded_long_orders_are_capped_across_a_walk() -> None:
    async with serve(orders=1500, long_orders=0.02, seed=3) as (store, s):
        orders = await v2_walk(store, s, LINE_ITEMS)
        assert_counted(ids_of(orders), store.v2_order_ids())
        long_ = [o for o in orders if o["consignments"]["shipping"][0].get("__warning__")]
        assert 10 <= len(long_) <= 60
        for o in orders:
            ship = o["consignments"]["shipping"][0]
            lines = store.v2_products(o["id"])
            assert o["items_total"] == sum(p["quantity"] for p in lines)
            if len(lines) > 50:
                assert len(ship["line_items"]) == 50 and ship["__warning__"]["message"] == WARNING
                assert 51 <= len(lines) <= 120
                assert len({p["id"] for p in lines}) == len(lines)
            else:
                assert ship["line_items"] == lines and "__warning__" not in ship
        # the B2B views of a long order agree
        oid = long_[0]["id"]
        _, _, body = await call(s, "GET", f"{B2B}/orders/{oid}/products")
        assert [p["id"] for p in body["data"]] == [p["id"] for p in store.v2_products(oid)]
        assert store.b2b_order(oid)["items"] == long_[0]["items_total"]


async def test_some_orders_come_back_with_empty_embedded_line_items() -> None:
    async with serve(orders=2000, empty_line_items=0.05, seed=9) as (store, s):
        path = f"{v2(store)}/orders"
        orders = await v2_walk(store, s, LINE_ITEMS)
        empty = [o["id"] for o in orders
                 if o["items_total"] > 0 and not o["consignments"]["shipping"][0]["line_items"]]
        assert empty == store.empty_line_item_orders()
        assert 50 <= len(empty) <= 150  # ~5%
        oid = empty[0]
        # the products endpoint still has them, and items_total is the check
        _, _, products = await call(s, "GET", f"{path}/{oid}/products")
        assert products and sum(p["quantity"] for p in products) == store.v2_order(oid)[
            "items_total"]
        # deterministic per order: the same on every request and on the single GET
        _, _, again = await call(s, "GET", f"{path}/{oid}", params=LINE_ITEMS)
        assert again["consignments"]["shipping"][0]["line_items"] == []
        # tests can force or clear it per order
        full = next(o["id"] for o in orders if o["id"] not in set(empty))
        store.set_empty_line_items(full)
        store.set_empty_line_items(oid, False)
        assert store.has_empty_line_items(full) and not store.has_empty_line_items(oid)
        _, _, one = await call(s, "GET", f"{path}/{full}", params=LINE_ITEMS)
        assert one["consignments"]["shipping"][0]["line_items"] == []
        store.set_empty_line_items(full, None)
        assert not store.has_empty_line_items(full)
    async with serve(orders=300) as (store, _):
        assert store.empty_line_item_orders() == []  # off unless asked for


# -- consumer orders and the B2B list --------------------------------------------------------


async def test_consumer_orders_are_in_v2_but_not_in_the_b2b_list() -> None:
    async with serve(orders=3000, b2b_share=0.1, seed=4) as (store, s):
        b2b_ids = store.order_ids()
        everything = store.v2_order_ids()
        consumer = store.v2_order_ids(b2b=False)
        assert sorted(b2b_ids + consumer) == everything and not set(b2b_ids) & set(consumer)
        assert 200 <= len(b2b_ids) <= 400  # ~10%
        # the B2B list (all channels, every date) holds exactly the B2B orders
        seen: list[int] = []
        for page in range(100):
            _, _, body = await call(s, "GET", f"{B2B}/orders", params={
                "channelIds": "1,2,3", "minCreated": "0", "limit": "200",
                "offset": str(page * 200)})
            seen.extend(o["bcOrderId"] for o in body["data"])
            if len(body["data"]) < 200:
                break
        assert_counted(seen, b2b_ids)
        # V2 holds every order, once
        orders = await v2_walk(store, s, {})
        assert_counted(ids_of(orders), everything)
        for o in orders:
            if o["id"] in set(consumer[:50]):
                assert o["customer_id"] < 1000  # a guest or a B2C customer, no company
        oid = consumer[0]
        status, _, body = await call(s, "GET", f"{B2B}/orders/{oid}")
        assert status == 404 and body["meta"]["message"]
        status, _, _ = await call(s, "GET", f"{v2(store)}/orders/{oid}")
        assert status == 200
        # a consumer order gets its B2B record within 10 s: it joins the B2B list
        new = store.create_order(b2b=False)
        assert not store.is_b2b(new) and new not in store.order_ids()
        status, _, body = await call(s, "POST", f"{B2B}/orders", json={
            "bcOrderId": new, "customerId": 1003, "poNumber": "PO-1"})
        assert status == 200, body
        assert store.is_b2b(new) and new in store.order_ids()
        # assigning a consumer order to a company does the same
        other = consumer[1]
        store.update_order(other, company_id=2)
        assert store.is_b2b(other)
    async with serve(orders=300) as (store, _):
        assert store.v2_order_ids(b2b=False) == []  # b2b_share=1.0: today's store


# -- B2B createdAt versus V2 date_created ----------------------------------------------------


async def test_realistic_b2b_created_at_lags_the_v2_date_created() -> None:
    async with serve(orders=4000, realistic=True, seed=2) as (store, s):
        ids = store.order_ids()
        lags = [store.created_at(i) - store.v2_created_at(i) for i in ids]
        small = [g for g in lags if g <= 10]
        late = [g for g in lags if g > 10]
        assert min(lags) >= 0 and all(g >= 86_400 for g in late)
        assert 8 <= len(late) <= 60  # ~1% of company orders were assigned later
        assert sum(1 for g in small if g == 0) < 0.15 * len(small)  # timestamps rarely equal
        # both lists report their own time
        oid = next(i for i, g in zip(ids, lags, strict=True) if g > 0)
        _, _, body = await call(s, "GET", f"{B2B}/orders/{oid}")
        _, _, order = await call(s, "GET", f"{v2(store)}/orders/{oid}")
        assert body["data"][0]["createdAt"] == store.created_at(oid)
        assert ts(order["date_created"]) == store.v2_created_at(oid) < store.created_at(oid)
        # a V2 date slice around a late order's B2B createdAt does not hold it
        lo_id = ids[[g > 10 for g in lags].index(True)]
        t = store.created_at(lo_id)
        got = await v2_walk(store, s, {"min_date_created": rfc(t - 60),
                                       "max_date_created": rfc(t + 60)})
        assert lo_id not in ids_of(got)
        # date_created order is V2's own: the walk sorted by it is non-decreasing
        got = await v2_walk(store, s, {"sort": "date_created:asc"})
        created = [ts(o["date_created"]) for o in got]
        assert created == sorted(created) and ids_of(got) != sorted(ids_of(got))
    async with serve(orders=400) as (store, _):
        assert all(store.created_at(i) == store.v2_created_at(i) for i in store.order_ids())


# -- the store's machinery: quotas, faults, mutations ---------------------------------------


@pytest.mark.timeout(60)
async def test_v2_list_and_count_spend_the_v2_quota_and_take_faults() -> None:
    async with serve(orders=300, v2_rate=RateWindow(4, 30.0), b2b_rate=RateWindow(2, 30.0)) as (
        store, s):
        path = f"{v2(store)}/orders"
        for k in range(4):
            status, headers, _ = await call(s, "GET", path if k % 2 else f"{path}/count")
            assert status == 200
            assert headers["X-Rate-Limit-Requests-Left"] == str(3 - k)
        status, headers, body = await call(s, "GET", path)
        assert status == 429 and int(headers["X-Rate-Limit-Time-Reset-Ms"]) > 0
        assert store.stats.v2.throttled == 1 and store.stats.b2b.requests == 0
        # channels spend the B2B quota
        for _ in range(2):
            status, headers, _ = await call(s, "GET", f"{B2B}/channels")
            assert status == 200 and "X-Requests-Remaining" in headers
        status, _, _ = await call(s, "GET", f"{B2B}/channels")
        assert status == 429
    async with serve(orders=300) as (store, s):
        path = f"{v2(store)}/orders"
        store.faults.add("503", api="v2", path="/v2/orders", count=1)
        store.faults.add("truncate", path="/channels", count=1)
        status, _, body = await call(s, "GET", path)
        assert status == 503 and body[0]["status"] == 503
        with pytest.raises(aiohttp.ClientPayloadError):
            await call(s, "GET", f"{B2B}/channels")
        status, _, _ = await call(s, "GET", path)
        assert status == 200 and store.faults.pending == 0


@pytest.mark.timeout(60)
async def test_mutations_during_a_v2_walk_by_id_lose_nothing() -> None:
    async with serve(orders=1200) as (store, s):
        before = store.v2_order_ids()
        store.mutate_every(2, updates=3, creates=1, api="v2")
        orders = await v2_walk(store, s, {"sort": "id"}, limit=100)
        store.stop_mutations()
        got = ids_of(orders)
        assert got == sorted(got) and len(set(got)) == len(got)
        assert set(before) <= set(got)  # updates do not move an order in id order
        assert len(store.v2_order_ids()) > len(before)  # orders were created meanwhile
        # a date_modified walk sees updated orders move (drift the caller must handle)
        store.mutate_every(1, updates=5, api="v2")
        orders = await v2_walk(store, s, {"sort": "date_modified"}, limit=100)
        store.stop_mutations()
        assert len(orders) >= 1


# -- scale ----------------------------------------------------------------------------------


@pytest.mark.timeout(240)
async def test_a_million_orders_serve_v2_date_pages_without_scanning() -> None:
    started = time.perf_counter()
    store = SandboxStore(1_000_000, b2b_rate=None, v2_rate=None, realistic=True, b2b_share=0.5)
    print(f"\n1,000,000 orders (realistic, b2b_share 0.5): built in "
          f"{time.perf_counter() - started:.1f} s")
    async with store, aiohttp.ClientSession(store.base_url, headers={
            "X-Auth-Token": store.access_token}) as s:
        path = f"{v2(store)}/orders"
        t = store.v2_created_at(700_000)
        u = store.updated_at(650_000)
        began = time.perf_counter()
        await call(s, "GET", path, params={"channel_id": "2", "limit": "1"})  # builds views
        print(f"V2 views built on first use in {time.perf_counter() - began:.1f} s")
        builds = store.v2_result_builds
        for params in (
            {"min_date_created": rfc(t), "sort": "date_created:asc", **LINE_ITEMS},
            {"min_date_created": rfc(t), "max_date_created": rfc(t + 86_400), "page": "3",
             "channel_id": "1", "sort": "date_created"},
            {"min_date_modified": rfc(u), "sort": "date_modified:asc", "channel_id": "3"},
            {"min_id": "500000", "page": "40"},
            {"max_date_created": rfc(t), "sort": "date_created:desc", "page": "100"},
        ):
            q = {"limit": "250", **params}
            status, _, body = await call(s, "GET", path, params=q)  # warm
            assert status == 200 and len(body) == 250
            began = time.process_time()
            for _ in range(3):
                await call(s, "GET", path, params=q)
            per_page = (time.process_time() - began) / 3
            print(f"page {sorted(params)}: {per_page * 1000:.1f} ms CPU (client + server)")
        assert store.v2_result_builds == builds  # every page bisected, none scanned
        status, _, body = await call(s, "GET", f"{path}/count", params={
            "min_date_created": rfc(t), "channel_id": "1"})
        assert status == 200 and 0 < body["count"] < 300_000


def test_v2_views_and_b2b_membership_stay_exact_under_random_changes() -> None:
    """The incrementally patched V2 views equal freshly built ones, and the B2B list engine
    keeps consumer orders out, while orders change, move in and out of the B2B list and
    new ones arrive."""
    from array import array

    from bcb2b_async.testing._index import Filter, OrderIndex, V2Views

    rnd = random.Random(21)
    n = 1200
    created = sorted(rnd.randrange(0, 400) for _ in range(n))
    updated = [c + rnd.choice((0, 0, rnd.randrange(0, 300))) for c in created]
    ix = OrderIndex(
        array("q", created), array("q", updated),
        array("q", [rnd.choice((1, 1, 2, 3)) for _ in range(n)]),
        array("q", [rnd.randrange(0, 4) for _ in range(n)]),
        array("q", [0] * n), array("b", [0] * n),
        b2b=array("b", [rnd.random() < 0.6 for _ in range(n)]),
        lag=array("i", [rnd.choice((0, rnd.randrange(0, 11), 5000)) for _ in range(n)]),
    )
    views = ix.v2_views()

    def check() -> None:
        fresh = V2Views(ix)
        for name in ("by_pos", "by_upd", "by_v2c"):
            got, want = getattr(views, name), getattr(fresh, name)
            assert {k: v.tolist() for k, v in got.items() if v} == {
                k: v.tolist() for k, v in want.items()}, name
        assert views.all_v2c is not None and fresh.all_v2c is not None
        assert views.all_v2c.tolist() == fresh.all_v2c.tolist()
        f = Filter(channels=frozenset({1, 2, 3}), sort=rnd.choice(("createdAt", "updatedAt")))
        key = ix.created if f.sort == "createdAt" else ix.updated
        want_ids = sorted((i for i in range(len(ix)) if ix.b2b[i]), key=lambda i: (key[i], i))
        total, page = ix.page(f, 0, len(ix), False)
        assert total == len(want_ids) and page == want_ids

    for step in range(80):
        for _ in range(rnd.randrange(1, 6)):
            i = rnd.randrange(len(ix))
            ix.change(i, updated=rnd.choice((None, 700 + step)),
                      channel=rnd.choice((None, 1, 2, 3)), company=rnd.choice((None, 0, 2)),
                      b2b=rnd.choice((None, None, True, False)))
        if step % 4 == 0:
            last = ix.created[-1] + rnd.randrange(0, 2)
            ix.append(last, last, rnd.choice((1, 2)), 0, 0, 0, b2b=rnd.random() < 0.5,
                      lag=rnd.randrange(0, 11))
        if step % 10 == 0:
            check()
    check()
