"""msgspec model of the B2B Edition channels (``GET /api/v3/io/channels``).

Attribute names are the API's camelCase names in snake_case (``channelId`` →
``channel_id``). Every field is optional and unknown fields are ignored, so a channel with
fewer or more fields than ``specs/b2b-channels.yaml`` lists still decodes. ``type``,
``platform`` and ``status`` are kept as plain strings: the spec's enums may grow.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from .common import unix_to_datetime

__all__ = ["DEFAULT_CHANNEL_ID", "Channel"]

#: The BigCommerce id of a store's default storefront, the only channel of a store without
#: multi-storefront (and the channel the B2B orders list reads when given none).
DEFAULT_CHANNEL_ID = 1


def _unix(value: str | int | float | None) -> datetime | None:
    # The spec types createdAt/updatedAt "string, format date-time" but describes and
    # exemplifies them as Unix timestamps ("1750437336"); numbers and digit strings are read.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            return None
        return unix_to_datetime(int(text))
    return unix_to_datetime(value)


class Channel(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True, gc=False):
    """A store channel as B2B Edition lists it.

    ``channel_id`` is BigCommerce's channel id (the one orders carry, and the B2B orders
    list's ``channel_ids`` filter takes); ``id`` is B2B Edition's own id for the channel
    and does **not** match it.
    """

    id: int | None = None
    channel_id: int | None = None
    name: str | None = None
    type: str | None = None
    platform: str | None = None
    status: str | None = None
    site: str | None = None
    is_visible: bool | None = None
    is_enabled: bool | None = None
    icon_url: str | None = None
    b2b_enabled: bool | None = None
    allow_global_logins: bool | None = None
    created_at: str | int | float | None = None
    updated_at: str | int | float | None = None

    @property
    def created_at_dt(self) -> datetime | None:
        """``createdAt`` (Unix seconds, as a number or a digit string) as an aware UTC
        datetime; ``None`` when absent or not a timestamp."""
        return _unix(self.created_at)

    @property
    def updated_at_dt(self) -> datetime | None:
        """``updatedAt`` as an aware UTC datetime; ``None`` when absent or not a timestamp."""
        return _unix(self.updated_at)
