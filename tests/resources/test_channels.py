"""client.channels against aioresponses: the B2B ``GET /channels`` list, the typed
:class:`Channel`, and the single-storefront 403 ("Multi storefront is not enabled")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import aioresponses

from bcb2b_async import (
    B2BClient,
    DeadlineExceededError,
    DecodeError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from bcb2b_async.models.channels import DEFAULT_CHANNEL_ID, Channel
from bcb2b_async.resources.channels import is_single_storefront

from ._helpers import B2B, STORE, TOKEN, calls, only_call

URL = f"{B2B}/channels"

SPEC_CHANNEL = {
    "id": 1, "channelId": 1, "name": "Default Channel", "type": "storefront",
    "platform": "bigcommerce", "status": "active", "site": "https://default.example.com",
    "isVisible": True, "isEnabled": True, "iconUrl": "https://cdn.example.com/icons/d.png",
    "b2bEnabled": True, "allowGlobalLogins": False, "createdAt": "1750437336",
    "updatedAt": 1750437400,
}
SINGLE_STOREFRONT = {"code": 403, "message": "Multi storefront is not enabled"}


def ok(channels: list[dict[str, Any]]) -> dict[str, Any]:
    return {"code": 200, "data": channels, "meta": {"message": "SUCCESS"}}


async def test_list_decodes_every_field_and_sends_the_b2b_headers(client: B2BClient) -> None:
    second = {"id": 7, "channelId": 1664810, "name": "Wholesale", "isEnabled": True,
              "b2bEnabled": False, "newField": {"x": 1}}  # extra field: ignored
    with aioresponses() as m:
        m.get(URL, payload=ok([SPEC_CHANNEL, second]))
        channels = await client.channels.list()
        method, url, kwargs = only_call(m)
    assert (method, str(url)) == ("GET", URL)
    headers = kwargs["headers"]
    assert headers["X-Auth-Token"] == TOKEN and headers["X-Store-Hash"] == STORE
    assert headers["Accept"] == "application/json" and "Content-Type" not in headers
    first, other = channels
    assert first == Channel(
        id=1, channel_id=1, name="Default Channel", type="storefront", platform="bigcommerce",
        status="active", site="https://default.example.com", is_visible=True, is_enabled=True,
        icon_url="https://cdn.example.com/icons/d.png", b2b_enabled=True,
        allow_global_logins=False, created_at="1750437336", updated_at=1750437400,
    )
    assert first.created_at_dt == datetime.fromtimestamp(1750437336, UTC)
    assert first.updated_at_dt == datetime.fromtimestamp(1750437400, UTC)
    # B2B Edition's id and BigCommerce's channel id differ.
    assert (other.id, other.channel_id, other.b2b_enabled) == (7, 1664810, False)
    assert other.created_at_dt is None and other.type is None


@pytest.mark.parametrize("value", ["", "2025-06-20T16:35:36Z", "12a", None, True])
def test_channel_dates_that_are_not_unix_seconds_give_none(value: Any) -> None:
    assert Channel(created_at=value).created_at_dt is None


async def test_a_minimal_channel_decodes(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(URL, payload=ok([{}, {"channelId": 3}]))
        assert await client.channels.list() == [Channel(), Channel(channel_id=3)]


@pytest.mark.parametrize(
    "message",
    ["Multi storefront is not enabled", "MULTI STOREFRONT IS NOT ENABLED",
     "multi storefront disabled for this store"],
)
async def test_single_storefront_403(client: B2BClient, message: str) -> None:
    """The store has channel 1 only: list() raises the 403 as is, enabled_ids() says [1].
    BigCommerce gives no code for this case, so the message is matched (case-insensitive)."""
    with aioresponses() as m:
        m.get(URL, status=403, payload={"code": 403, "message": message})
        with pytest.raises(PermissionDeniedError) as info:
            await client.channels.list()
        assert is_single_storefront(info.value)
        m.get(URL, status=403, payload={"code": 403, "message": message})
        assert await client.channels.enabled_ids() == [DEFAULT_CHANNEL_ID] == [1]
        assert len(calls(m)) == 2  # a 403 is not retried


async def test_the_message_in_meta_is_recognised_too(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(URL, status=403, payload={"code": 403, "data": {},
                                        "meta": {"message": "Multi storefront is not enabled"}})
        assert await client.channels.enabled_ids() == [1]


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (403, {"code": 403, "message": "You do not have permission to access this resource"}),
        (403, {"code": 403, "data": {}, "meta": {"message": "Invalid store hash"}}),
        (401, {"code": 401, "message": "Multi storefront is not enabled"}),  # not a 403
    ],
)
async def test_other_errors_are_raised_by_enabled_ids(
    client: B2BClient, status: int, payload: dict[str, Any]
) -> None:
    with aioresponses() as m:
        m.get(URL, status=status, payload=payload)
        with pytest.raises(Exception) as info:
            await client.channels.enabled_ids()
    assert not is_single_storefront(info.value)
    assert TOKEN not in str(info.value)
    assert "/channels" in str(info.value)


def test_is_single_storefront_only_for_that_403() -> None:
    assert not is_single_storefront(ValueError("Multi storefront is not enabled"))
    assert not is_single_storefront(InvalidArgumentError("multi storefront"))


async def test_enabled_ids_keeps_enabled_channel_ids_once_in_order(client: B2BClient) -> None:
    channels = [
        {"id": 1, "channelId": 1, "isEnabled": True},
        {"id": 2, "channelId": 5, "isEnabled": False},  # disabled
        {"id": 3, "channelId": 9},  # isEnabled not sent: kept
        {"id": 4},  # no channelId
        {"id": 5, "channelId": 9, "isEnabled": True},  # twice
        {"id": 6, "channelId": 2, "isEnabled": True},
    ]
    with aioresponses() as m:
        m.get(URL, payload=ok(channels))
        assert await client.channels.enabled_ids() == [1, 9, 2]


async def test_data_missing_is_a_decode_error_not_an_empty_list(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(URL, payload={"code": 200, "meta": {"message": "SUCCESS"}}, repeat=True)
        with pytest.raises(DecodeError):
            await client.channels.list()


@pytest.mark.parametrize("method", ["list", "enabled_ids"])
async def test_priority_and_deadline(client: B2BClient, method: str) -> None:
    call = getattr(client.channels, method)
    with aioresponses() as m:
        m.get(URL, payload=ok([SPEC_CHANNEL]), repeat=True)
        await call(priority="interactive", deadline=30)
        with pytest.raises(InvalidArgumentError, match="priority"):
            await call(priority="urgent")
        with pytest.raises(DeadlineExceededError):
            await call(deadline=-1)
        assert len(calls(m)) == 1  # the refused calls sent nothing
