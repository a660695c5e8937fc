"""Frozen settings of a client: base URLs, rate limits, retries, timeouts."""

from __future__ import annotations

import ipaddress
import math
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from .errors import InvalidArgumentError

__all__ = ["DEFAULT_B2B_BASE_URL", "DEFAULT_V2_BASE_URL", "Priority", "RateLimit"]

DEFAULT_B2B_BASE_URL = "https://api-b2b.bigcommerce.com"
DEFAULT_V2_BASE_URL = "https://api.bigcommerce.com"

#: Scheduling class of a request: interactive requests are served before bulk ones.
Priority = Literal["interactive", "bulk"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "bulk")

API = Literal["b2b", "v2"]


class RateLimit(msgspec.Struct, frozen=True):
    """A fixed-window quota: at most ``requests`` per ``seconds``.

    BigCommerce quotas: B2B Edition ``RateLimit(150, 60.0)``; V2 ``RateLimit(150, 30.0)``
    (Standard, Plus) or ``RateLimit(450, 30.0)`` (Pro). ``reserve`` is the fraction of each
    window that bulk traffic leaves free for interactive requests (0 = none).
    ``margin`` (seconds) widens the window the client enforces; ``None`` picks 2 ms, a
    guard against clock rounding only: network and event-loop delays need no margin,
    because a request holds its slot from its grant until one window after its response
    (see ``SlidingWindow``), which bounds the server's count whenever it counts arrivals.
    Raise it for a server whose windows are not what its headers say.
    """

    requests: int
    seconds: float
    reserve: float = 0.0
    margin: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise InvalidArgumentError("RateLimit.requests must be an int")
        if self.requests < 1:
            raise InvalidArgumentError("RateLimit.requests must be >= 1")
        if not _finite_positive(self.seconds):
            raise InvalidArgumentError("RateLimit.seconds must be a positive number")
        if not (isinstance(self.reserve, int | float) and 0.0 <= self.reserve < 1.0):
            raise InvalidArgumentError("RateLimit.reserve must be in [0, 1)")
        if self.margin is not None and not (
            isinstance(self.margin, int | float) and math.isfinite(self.margin) and self.margin >= 0
        ):
            raise InvalidArgumentError("RateLimit.margin must be a non-negative number")

    @property
    def effective_margin(self) -> float:
        """The safety margin in seconds actually applied to each window."""
        if self.margin is not None:
            return float(self.margin)
        return 0.002

    @property
    def reserved_requests(self) -> int:
        """How many requests of each window bulk traffic leaves to interactive traffic."""
        if self.reserve <= 0:
            return 0
        return min(self.requests - 1, max(1, math.floor(self.requests * self.reserve)))


def _finite_positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(name: str, url: object) -> str:
    """Check a base URL: https, or http on loopback only (the sandbox); no path, query, userinfo.

    Returns the URL without a trailing slash.
    """
    if not isinstance(url, str) or not url:
        raise InvalidArgumentError(f"{name} must be a non-empty URL string")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as err:
        raise InvalidArgumentError(f"{name} is not a valid URL: {err}") from None
    if "@" in parts.netloc or parts.username or parts.password:
        # Never echo the URL: the part before '@' is a credential.
        raise InvalidArgumentError(
            f"{name} must not contain credentials (user:password@); pass the access token "
            "as access_token"
        )
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidArgumentError(f"{name} must be an absolute https:// URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InvalidArgumentError(
            f"{name} must use https (plain http is only allowed for loopback hosts), got {url!r}"
        )
    if parts.query or parts.fragment:
        raise InvalidArgumentError(f"{name} must not contain a query or fragment")
    if parts.path not in ("", "/"):
        raise InvalidArgumentError(
            f"{name} must be the API host only (e.g. 'https://api-b2b.bigcommerce.com'), "
            f"got path {parts.path!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


class ClientConfig(msgspec.Struct, frozen=True):
    """Everything a client needs to know, validated once."""

    store_hash: str
    b2b_base_url: str
    v2_base_url: str
    b2b_rate_limit: RateLimit | None
    v2_rate_limit: RateLimit | None
    max_retries: int
    timeout: float
    priority: Priority = "interactive"
    max_body_bytes: int = 64 * 1024 * 1024
    connection_limit: int = 32

    @property
    def b2b_prefix(self) -> str:
        """The B2B Edition API's URL prefix (``.../api/v3/io``)."""
        return f"{self.b2b_base_url}/api/v3/io"

    @property
    def v2_prefix(self) -> str:
        """The store's V2 API URL prefix (``.../stores/{store_hash}/v2``)."""
        return f"{self.v2_base_url}/stores/{self.store_hash}/v2"
