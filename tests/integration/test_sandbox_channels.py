"""The sandbox's B2B Edition ``GET /channels`` (specs/b2b-channels.yaml) against a real
aiohttp client: the enabled channels in the B2B envelope, one channel, 404, and the 403
"Multi storefront is not enabled" of a single-storefront store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bcb2b_async.testing import SandboxStore

B2B = "/api/v3/io"
CHANNEL_KEYS = {
    "id", "channelId", "name", "type", "platform", "status", "site", "isVisible", "isEnabled",
    "iconUrl", "b2bEnabled", "allowGlobalLogins", "createdAt", "updatedAt",
}


@contextlib.asynccontextmanager
async def serve(**kwargs: Any) -> AsyncIterator[tuple[SandboxStore, aiohttp.ClientSession]]:
    kwargs.setdefault("orders", 100)
    kwargs.setdefault("b2b_rate", None)
    kwargs.setdefault("v2_rate", None)
    async with SandboxStore(**kwargs) as store:
        headers = {"X-Auth-Token": store.access_token, "X-Store-Hash": store.store_hash}
        async with aiohttp.ClientSession(
            store.base_url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as session:
            yield store, session


async def get(session: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
    async with session.get(path) as resp:
        return resp.status, await resp.json()


async def test_channels_lists_the_enabled_channels_in_the_b2b_envelope() -> None:
    async with serve(channels=(1, 2, 5)) as (store, s):
        status, body = await get(s, f"{B2B}/channels")
        assert status == 200 and body["code"] == 200 and body["meta"]["message"] == "SUCCESS"
        data = body["data"]
        assert [c["channelId"] for c in data] == [1, 2, 5]
        for c in data:
            assert set(c) == CHANNEL_KEYS
            assert c["id"] != c["channelId"]  # B2B Edition's own id
            assert c["type"] == "storefront" and c["platform"] == "bigcommerce"
            assert c["status"] == "active" and c["isEnabled"] and c["b2bEnabled"]
            assert isinstance(c["createdAt"], str) and c["createdAt"].isdigit()
        assert data[0]["name"] == "B2B Store" and data[2]["name"] == "Channel 5"
        status, body = await get(s, f"{B2B}/channels/2")
        assert status == 200 and body["data"] == data[1]
        for missing in ("4", "x"):
            status, body = await get(s, f"{B2B}/channels/{missing}")
            assert status == 404 and body["code"] == 404
            assert body["meta"]["message"] == "Channel does not exist"
        # the order channels are the channels listed
        assert {o["channel_id"] for o in map(store.v2_order, store.v2_order_ids())} <= {1, 2, 5}


async def test_channels_need_the_store_token_and_hash() -> None:
    async with serve() as (_, s):
        async with s.get(f"{B2B}/channels", headers={"X-Auth-Token": "nope"}) as resp:
            assert resp.status == 401
        async with s.get(f"{B2B}/channels", headers={"X-Store-Hash": "other"}) as resp:
            assert resp.status == 403 and (await resp.json())["meta"]["message"] == "Forbidden"


async def test_single_storefront_store_answers_403_multi_storefront_not_enabled() -> None:
    async with serve(multi_storefront=False) as (store, s):
        assert store.channels == frozenset({1})
        for path in (f"{B2B}/channels", f"{B2B}/channels/1"):
            status, body = await get(s, path)
            assert status == 403
            assert body["code"] == 403
            assert body["meta"]["message"] == "Multi storefront is not enabled"
            assert body["data"] == {"errMsg": "Multi storefront is not enabled"}
            assert body["message"] == "Multi storefront is not enabled"  # the spec's shape
        # every order is on channel 1, in both lists
        async with s.get(f"{B2B}/orders", params={"channelIds": "1,2,3", "minCreated": "0",
                                                   "limit": "200"}) as resp:
            body = await resp.json()
        assert {o["channelId"] for o in body["data"]} == {1}
        assert body["meta"]["pagination"]["totalCount"] == 100
    with pytest.raises(ValueError, match="channel 1 only"):
        SandboxStore(10, multi_storefront=False, channels=(1, 2))
