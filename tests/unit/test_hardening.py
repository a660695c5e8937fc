"""Hostile input: body size cap, redirects across hosts, base URL rules, and property tests
that only typed errors come out of parsers, decoders and argument validation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aioresponses import aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcb2b_async import APIStatusError, B2BClient, BigCommerceError, InvalidArgumentError, Order
from bcb2b_async._decode import decode, envelope_decoder
from bcb2b_async._ratelimit import parse_rate_headers
from bcb2b_async.errors import DecodeError, error_for_status


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, Any]]:
    seen: dict[str, list[dict[str, str]]] = {"other": []}

    async def other(request: web.Request) -> web.Response:
        seen["other"].append(dict(request.headers))
        return web.json_response({"code": 200, "data": [{"bcOrderId": 1}]})

    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", other)
    other_runner, other_url = await start(other_app)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 50_000, content_type="application/json")

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"y" * 1000)
        await resp.write_eof()
        return resp

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(location=f"{other_url}/steal")

    app = web.Application()
    app.router.add_get("/api/v3/io/orders/1", big)
    app.router.add_get("/api/v3/io/orders/2", big_chunked)
    app.router.add_get("/api/v3/io/orders/3", redirect)
    runner, url = await start(app)
    yield {"url": url, "seen": seen}
    await runner.cleanup()
    await other_runner.cleanup()


async def test_body_cap_with_and_without_content_length(servers: dict[str, Any]) -> None:
    async with B2BClient("abc", "tok", b2b_base_url=servers["url"], b2b_rate_limit=None,
                         max_body_bytes=10_000) as c:
        for oid in (1, 2):
            with pytest.raises(BigCommerceError, match="cap"):
                await c.orders.get(oid)


async def test_redirects_are_not_followed_with_the_token(servers: dict[str, Any]) -> None:
    async with B2BClient("abc", "tok-XYZ", b2b_base_url=servers["url"],
                         b2b_rate_limit=None) as c:
        with pytest.raises(APIStatusError) as info:
            await c.orders.get(3)
    assert info.value.status == 302
    assert servers["seen"]["other"] == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1",
                                 "http://[::1]:9000", "https://api-b2b.bigcommerce.com"])
def test_base_urls_accepted(url: str) -> None:
    B2BClient("abc", "tok", b2b_base_url=url, v2_base_url=url)


@pytest.mark.parametrize("url", ["http://example.com", "ftp://x.com", "https://x.com/api",
                                 "https://user:pw@x.com", "https://x.com?a=1", "", "x.com",
                                 "http://10.0.0.1"])
def test_base_urls_refused(url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        B2BClient("abc", "tok", b2b_base_url=url)


# -- properties ----------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
FIELDS = ["bcOrderId", "poNumber", "money", "cartId", "createdAt", "extraFields", "data",
          "meta", "totalCount"]


@given(st.one_of(
    st.binary(max_size=300),
    json_values.map(msgspec.json.encode),
    st.dictionaries(st.sampled_from(FIELDS), json_values).map(
        lambda d: msgspec.json.encode({"data": [d], "meta": d})),
))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_envelope_decoder_only_raises_decode_error(body: bytes) -> None:
    for tp in (list[Order] | None, Order | list[Order]):
        try:
            env = decode(envelope_decoder(tp), body, method="GET", url="u", status=200)
        except DecodeError:
            continue
        for order in env.data if isinstance(env.data, list) else [env.data]:
            if order is not None:
                _ = order.money, order.created_at_dt  # derived accessors never raise


@pytest.mark.parametrize("body", [
    b"[" * 100_000, b'{"data": [{"bcOrderId": ' + b"9" * 500 + b"}]}",
    b'{"data": [{"bcOrderId": 1e400}]}', b"\xff\xfe\x00",
])
def test_pathological_bodies(body: bytes) -> None:
    """Deep nesting, huge numbers, bad bytes: a DecodeError or a value, nothing else (a
    500-digit integer is a valid JSON int and decodes to a Python int)."""
    with contextlib.suppress(DecodeError):
        decode(envelope_decoder(list[Order] | None), body, method="GET", url="u", status=200)


@given(st.integers(100, 599), st.binary(max_size=400) | json_values.map(msgspec.json.encode))
@settings(max_examples=300, deadline=None)
def test_error_for_status_never_raises(status: int, body: bytes) -> None:
    err = error_for_status(status, method="GET", url="u", body=body)
    assert isinstance(err, APIStatusError) and len(err.body) <= 501
    str(err)


@given(st.dictionaries(st.sampled_from([
    "X-Requests-Remaining", "X-Request-Window-Resets-After", "X-Requests-Allocated",
    "X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms"]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
@settings(max_examples=300, deadline=None)
def test_rate_headers_from_any_bytes(headers: dict[str, str]) -> None:
    parse_rate_headers(headers)


ANY = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(), st.text(
    max_size=5), st.lists(st.integers(-2, 3), max_size=3), st.dictionaries(
    st.text(max_size=3), st.integers(), max_size=2))


@given(st.dictionaries(st.sampled_from([
    "company_id", "bc_order_id", "channel_ids", "min_modified", "max_created", "show_extra",
    "sort_by", "order_by", "page_size", "concurrency"]), ANY))
@settings(max_examples=150, deadline=None)
def test_list_arguments_only_invalid_argument_error(kwargs: dict[str, Any]) -> None:
    client = B2BClient("abc", "tok")
    with contextlib.suppress(InvalidArgumentError):
        client.orders.list(**kwargs)


@given(st.dictionaries(st.sampled_from(["status_id", "staff_notes", "billing",
                                         "tracking_number", "shipping_provider"]), ANY),
       st.dictionaries(st.sampled_from(["po_number", "extra_fields"]), ANY))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
async def test_update_arguments_never_reach_the_network(
    v2_kwargs: dict[str, Any], b2b_kwargs: dict[str, Any]
) -> None:
    async with B2BClient("abc", "tok", b2b_rate_limit=None, v2_rate_limit=None) as client:
        with aioresponses() as m:  # no routes: any request would fail loudly
            for call in (lambda: client.orders.update(1, **b2b_kwargs),
                         lambda: client.v2.orders.apply_update(1, **v2_kwargs)):
                try:
                    await call()
                except InvalidArgumentError:
                    pass
                except BigCommerceError as err:
                    # Only valid input may try the network (and find no route).
                    assert m.requests, err
