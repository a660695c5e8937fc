"""``client.channels``: the store's channels as B2B Edition sees them (``/api/v3/io/channels``).

A store without multi-storefront answers ``GET /channels`` with 403 "Multi storefront is not
enabled" (``specs/b2b-channels.yaml``): such a store has one channel, the default storefront
(BigCommerce channel id 1). :meth:`Channels.list` raises that 403 as it is (it carries no
channel data to return); :meth:`Channels.enabled_ids` turns it into ``[1]``.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from .._config import Priority
from .._decode import envelope_decoder
from ..errors import BigCommerceError, PermissionDeniedError
from ..models.channels import DEFAULT_CHANNEL_ID, Channel

if TYPE_CHECKING:
    from .._pipeline import Deadline, Pipeline

__all__ = ["Channels", "is_single_storefront"]

#: What identifies the single-storefront 403. BigCommerce gives no code for it, only the
#: message "Multi storefront is not enabled" (b2b-channels.yaml), so the message is matched,
#: case-insensitively; any other 403 (a missing scope, a wrong store hash) is not this.
_SINGLE_STOREFRONT_TEXT = "multi storefront"


def is_single_storefront(err: BaseException) -> bool:
    """Whether ``err`` is the 403 "Multi storefront is not enabled" of ``GET /channels``.

    Matched on the server's message (case-insensitive "multi storefront"), because the
    API gives no code for this case; any other error, 403s included, is ``False``.
    """
    if not isinstance(err, PermissionDeniedError):
        return False
    text = err.server_message or err.body or ""
    return _SINGLE_STOREFRONT_TEXT in text.casefold()


class Channels:
    """The store's channels (``client.channels``), read-only.

    The ids to filter B2B orders by are the channels' :attr:`Channel.channel_id`
    (BigCommerce's ids), not :attr:`Channel.id` (B2B Edition's own).
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipe = pipeline

    async def list(
        self, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> list[Channel]:
        """``GET /channels``: every enabled channel of the store, in server order.

        On a store without multi-storefront BigCommerce answers 403 "Multi storefront is
        not enabled"; that is raised as :class:`~bcb2b_async.PermissionDeniedError`
        (:func:`is_single_storefront` recognises it). Use :meth:`enabled_ids` to get
        ``[1]`` in that case instead.

        >>> for channel in await client.channels.list():
        ...     print(channel.channel_id, channel.name, channel.b2b_enabled)
        """
        env = await self._pipe.request(
            "b2b",
            "GET",
            "/channels",
            decoder=envelope_decoder(list[Channel]),
            priority=priority,
            deadline=deadline,
        )
        channels: list[Channel] = list(env.data)
        return channels

    async def enabled_ids(
        self, *, priority: Priority | None = None, deadline: Deadline = None
    ) -> builtins.list[int]:
        """The BigCommerce ids (``channelId``) of the store's enabled channels.

        ``[1]`` on a store without multi-storefront (the 403 "Multi storefront is not
        enabled", matched on its message since BigCommerce gives no code for it). Channels
        the response marks ``isEnabled: false`` or that carry no ``channelId`` are left
        out; ids are unique, in server order. Every other error is raised.

        >>> await client.orders.list(channel_ids=await client.channels.enabled_ids())
        """
        try:
            channels = await self.list(priority=priority, deadline=deadline)
        except BigCommerceError as err:
            if is_single_storefront(err):
                return [DEFAULT_CHANNEL_ID]
            raise
        ids = [
            c.channel_id
            for c in channels
            if c.channel_id is not None and c.is_enabled is not False
        ]
        return list(dict.fromkeys(ids))
