"""``client.orders.list(channel_ids="all")``: every enabled channel, looked up once per walk."""

from __future__ import annotations

import re

import pytest
from aioresponses import aioresponses

from bcb2b_async import B2BClient, InvalidArgumentError

B2B = "https://api-b2b.bigcommerce.com/api/v3/io"
ORDERS = re.compile(r"^https://api-b2b\.bigcommerce\.com/api/v3/io/orders\?.*$")


def order(oid: int, channel: int) -> dict[str, object]:
    return {"bcOrderId": oid, "channelId": channel, "createdAt": 1_700_000_000 + oid,
            "updatedAt": 1_700_000_000 + oid}


def orders_page(ids: list[int]) -> dict[str, object]:
    return {"code": 200, "data": [order(i, 1) for i in ids],
            "meta": {"pagination": {"totalCount": len(ids), "limit": 200, "offset": 0}}}


def channel_ids_sent(m: aioresponses) -> list[list[str]]:
    sent = []
    for (method, url), reqs in m.requests.items():
        if method == "GET" and url.path.endswith("/orders"):
            sent.extend([url.query.getall("channelIds[]", [])] * len(reqs))
    return sent


async def test_all_sends_every_enabled_channel(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(B2B + "/channels", payload={"code": 200, "data": [
            {"id": 10, "channelId": 1, "isEnabled": True},
            {"id": 11, "channelId": 7, "isEnabled": True},
            {"id": 12, "channelId": 9, "isEnabled": False},
        ]})
        m.get(ORDERS, payload=orders_page([1, 2, 3]))
        got = [o.bc_order_id async for o in client.orders.list(channel_ids="all")]
    assert got == [1, 2, 3]
    assert channel_ids_sent(m) == [["1", "7"]]
    assert client.stats.b2b.requests == 2  # one channel lookup, one page


async def test_all_on_a_single_storefront_store_is_channel_1(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(B2B + "/channels", status=403, payload={
            "code": 403, "data": {}, "meta": {"message": "Multi storefront is not enabled"}})
        m.get(ORDERS, payload=orders_page([5]))
        got = [o.bc_order_id async for o in client.orders.list(channel_ids="all")]
    assert got == [5]
    assert channel_ids_sent(m) == [["1"]]


async def test_other_403_is_raised_before_any_order_request(client: B2BClient) -> None:
    from bcb2b_async import PermissionDeniedError

    with aioresponses() as m:
        m.get(B2B + "/channels", status=403, payload={
            "code": 403, "data": {}, "meta": {"message": "missing scope"}})
        with pytest.raises(PermissionDeniedError):
            await client.orders.list(channel_ids="all").to_list()
    assert channel_ids_sent(m) == []


@pytest.mark.parametrize("bad", ["ALL", "every", [], [0]])
async def test_bad_channel_ids_are_refused_before_any_request(client: B2BClient,
                                                              bad: object) -> None:
    with aioresponses() as m, pytest.raises(InvalidArgumentError):
        client.orders.list(channel_ids=bad)  # type: ignore[arg-type]
    assert m.requests == {}


async def test_a_store_listing_no_enabled_channel_falls_back_to_channel_1(
    client: B2BClient, caplog: pytest.LogCaptureFixture
) -> None:
    with aioresponses() as m:
        m.get(B2B + "/channels", payload={"code": 200, "data": [
            {"id": 10, "channelId": 1, "isEnabled": False}]})
        m.get(ORDERS, payload=orders_page([4]))
        got = [o.bc_order_id async for o in client.orders.list(channel_ids="all")]
    assert got == [4]
    assert channel_ids_sent(m) == [["1"]]
    assert "no enabled channel" in caplog.text
