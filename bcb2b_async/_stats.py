"""Counters and event hooks for metrics exporters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["APIStats", "ClientStats", "Event", "Hooks"]


class APIStats(msgspec.Struct):
    """Counters for one API of one client."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    limiter_wait: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The counters as a plain dict."""
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "errors": self.errors,
            "limiter_wait": round(self.limiter_wait, 6),
        }


class ClientStats(msgspec.Struct):
    """Per-API counters: ``stats.b2b`` and ``stats.v2``.

    ``requests`` counts attempts sent, ``retries`` the attempts that were repeats,
    ``rate_limited`` the 429s received, ``limiter_wait`` the seconds spent waiting for a
    send slot, ``errors`` the calls that finally failed.
    """

    b2b: APIStats = msgspec.field(default_factory=APIStats)
    v2: APIStats = msgspec.field(default_factory=APIStats)

    def for_api(self, api: str) -> APIStats:
        """The counters of ``api`` (``"b2b"`` or ``"v2"``)."""
        return self.b2b if api == "b2b" else self.v2

    @property
    def requests(self) -> int:
        """Attempts sent to both APIs."""
        return self.b2b.requests + self.v2.requests

    @property
    def rate_limited(self) -> int:
        """429s received from both APIs."""
        return self.b2b.rate_limited + self.v2.rate_limited

    @property
    def retries(self) -> int:
        """Retries made on both APIs."""
        return self.b2b.retries + self.v2.retries

    def as_dict(self) -> dict[str, dict[str, float]]:
        """All counters as nested plain dicts."""
        return {"b2b": self.b2b.as_dict(), "v2": self.v2.as_dict()}


class Event(msgspec.Struct, frozen=True):
    """What a hook is told: the API, method, URL (never the token) and what happened.

    ``status`` is set for responses, ``attempt`` counts from 1, ``wait`` is the seconds
    about to be waited (retries, rate limits), ``error`` the error being retried.
    ``request_id`` is the server's ``X-Request-Id`` of the response the event is about
    (``None`` before a response, or when the server sent none); ``call_id`` numbers the
    client's calls (1, 2, ...) so that every event of one call, across its attempts, can be
    grouped.
    """

    api: str
    method: str
    url: str
    attempt: int
    status: int | None = None
    elapsed: float | None = None
    wait: float | None = None
    error: BaseException | None = None
    request_id: str | None = None
    call_id: int = 0


HookFn = Callable[[Event], Any]


class Hooks(msgspec.Struct, frozen=True):
    """Optional callbacks, each called synchronously with an :class:`Event`.

    A hook that raises is logged and otherwise ignored: metrics must not break requests.
    """

    on_request: HookFn | None = None
    on_response: HookFn | None = None
    on_retry: HookFn | None = None
    on_rate_limit: HookFn | None = None
