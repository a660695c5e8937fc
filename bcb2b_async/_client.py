"""B2BClient: configuration, lifecycle, resource attributes, and the one request pipeline."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import backoff
import msgspec

from ._config import (
    API,
    DEFAULT_B2B_BASE_URL,
    DEFAULT_V2_BASE_URL,
    ClientConfig,
    Priority,
    RateLimit,
    validate_base_url,
)
from ._decode import decode
from ._ratelimit import Limiter, LimiterBackend, Permit, parse_rate_headers
from ._retry import RetryPolicy
from ._stats import ClientStats, Event, Hooks
from ._transport import RawResponse, Transport
from ._validate import int_range
from ._validate import priority as check_priority
from ._version import __version__
from .errors import (
    BigCommerceError,
    DeadlineExceededError,
    DecodeError,
    InvalidArgumentError,
    error_for_status,
)

__all__ = ["B2BClient", "Deadline"]

log = logging.getLogger("bcb2b_async")

#: ``deadline=`` accepts seconds from now (int/float) or an aware wall-clock ``datetime``.
Deadline = float | int | datetime | None

USER_AGENT = f"bcb2b_async/{__version__} (+aiohttp/{aiohttp.__version__})"


class _Secret:
    """Holds the access token; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


@dataclass(slots=True)
class _Call:
    """The state of one logical call across its attempts."""

    api: API
    method: str
    url: str
    params: Sequence[tuple[str, str]] | None
    body: bytes | None
    decoder: msgspec.json.Decoder[Any] | None
    priority: Priority
    deadline: float | None
    allow_empty: bool
    attempt: int = 0
    next_delay: float = 0.0
    deadline_hit: bool = False
    started: float = field(default_factory=time.monotonic)
    _display: str | None = None

    @property
    def display_url(self) -> str:
        """The URL with its query, for messages (built only when needed; no secrets)."""
        if self._display is None:
            self._display = f"{self.url}?{urlencode(self.params)}" if self.params else self.url
        return self._display


def resolve_deadline(deadline: Deadline) -> float | None:
    """Turn ``deadline=`` (seconds from now, or an aware datetime) into a monotonic time."""
    if deadline is None:
        return None
    now = time.monotonic()
    if isinstance(deadline, datetime):
        if deadline.tzinfo is None:
            raise InvalidArgumentError("deadline must be timezone-aware")
        return now + (deadline.timestamp() - time.time())
    if isinstance(deadline, bool) or not isinstance(deadline, int | float):
        raise InvalidArgumentError("deadline must be seconds (a number) or an aware datetime")
    if not math.isfinite(deadline):
        raise InvalidArgumentError("deadline must be finite")
    return now + float(deadline)


class B2BClient:
    """Async client for one BigCommerce store: B2B Edition orders and V2 order updates.

    ``async with B2BClient(store_hash, access_token) as client: ...`` or ``await
    client.aclose()``. One pooled aiohttp session per client (or the ``session=`` you pass,
    which is never closed here); one limiter per API, fed by the server's rate headers;
    retries per :class:`~bcb2b_async.RetryPolicy`.

    Resources: ``client.orders`` (B2B Edition orders) and ``client.v2.orders`` (V2 orders,
    products, shipping addresses, shipments). Counters: ``client.stats``.

    Extra keyword arguments: ``priority`` (the default priority of calls, ``"interactive"``;
    paginators, exports and batches default to ``"bulk"``), ``hooks`` (:class:`Hooks`),
    ``retry_policy`` (overrides ``max_retries``), ``b2b_limiter``/``v2_limiter`` (any
    :class:`LimiterBackend`, e.g. a shared Redis limiter), ``max_body_bytes`` (response
    size cap), ``connection_limit`` (pool size).
    """

    def __init__(
        self,
        store_hash: str,
        access_token: str,
        *,
        b2b_base_url: str = DEFAULT_B2B_BASE_URL,
        v2_base_url: str = DEFAULT_V2_BASE_URL,
        b2b_rate_limit: RateLimit | None = RateLimit(150, 60.0),
        v2_rate_limit: RateLimit | None = RateLimit(150, 30.0),
        max_retries: int = 5,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        priority: Priority = "interactive",
        hooks: Hooks | None = None,
        retry_policy: RetryPolicy | None = None,
        b2b_limiter: LimiterBackend | None = None,
        v2_limiter: LimiterBackend | None = None,
        max_body_bytes: int = 64 * 1024 * 1024,
        connection_limit: int = 32,
    ) -> None:
        if not isinstance(store_hash, str) or not store_hash.strip():
            raise InvalidArgumentError("store_hash must be a non-empty str")
        if not store_hash.replace("-", "").replace("_", "").isalnum():
            raise InvalidArgumentError("store_hash must contain only letters, digits, - and _")
        if not isinstance(access_token, str) or not access_token.strip():
            raise InvalidArgumentError("access_token must be a non-empty str")
        if any(c in access_token for c in "\r\n\0"):
            raise InvalidArgumentError("access_token contains a control character")
        for name, rl in (("b2b_rate_limit", b2b_rate_limit), ("v2_rate_limit", v2_rate_limit)):
            if rl is not None and not isinstance(rl, RateLimit):
                raise InvalidArgumentError(f"{name} must be a RateLimit or None")
        int_range("max_retries", max_retries, 0, 100)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            math.isfinite(timeout) and timeout > 0
        ):
            raise InvalidArgumentError("timeout must be a positive number of seconds")
        int_range("max_body_bytes", max_body_bytes, 1024)
        int_range("connection_limit", connection_limit, 1, 10_000)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidArgumentError("session must be an aiohttp.ClientSession")
        self._config = ClientConfig(
            store_hash=store_hash,
            b2b_base_url=validate_base_url("b2b_base_url", b2b_base_url),
            v2_base_url=validate_base_url("v2_base_url", v2_base_url),
            b2b_rate_limit=b2b_rate_limit,
            v2_rate_limit=v2_rate_limit,
            max_retries=max_retries,
            timeout=float(timeout),
            priority=check_priority(priority),
            max_body_bytes=max_body_bytes,
            connection_limit=connection_limit,
        )
        self._token = _Secret(access_token)
        self._hooks = hooks or Hooks()
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._limiters: dict[API, LimiterBackend | None] = {
            "b2b": b2b_limiter
            or (Limiter(b2b_rate_limit, name="b2b") if b2b_rate_limit else None),
            "v2": v2_limiter or (Limiter(v2_rate_limit, name="v2") if v2_rate_limit else None),
        }
        self._transport = Transport(
            session,
            timeout=float(timeout),
            max_body_bytes=max_body_bytes,
            connection_limit=connection_limit,
        )
        self._headers: dict[API, dict[str, str]] = {
            "b2b": {
                "X-Auth-Token": access_token,
                "X-Store-Hash": store_hash,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            "v2": {
                "X-Auth-Token": access_token,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        }
        self.stats = ClientStats()
        self._rng = random.Random()
        # The retry loop: built once per client from its policy (see _retry.py).
        self._send_with_retries = backoff.on_exception(
            backoff.runtime,
            BigCommerceError,
            value=self._retry_wait,
            giveup=self._giveup,
            max_tries=None,
            max_time=self._policy.max_time,
            jitter=None,
            on_backoff=self._on_backoff,
            raise_on_giveup=True,
            logger=None,
        )(self._attempt)

        from .resources.b2b_orders import B2BOrders
        from .resources.v2_orders import V2

        self.orders = B2BOrders(self)
        self.v2 = V2(self)

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> B2BClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless the session was passed in)."""
        await self._transport.aclose()

    def __repr__(self) -> str:
        return (
            f"B2BClient(store_hash={self._config.store_hash!r}, "
            f"b2b_base_url={self._config.b2b_base_url!r}, "
            f"v2_base_url={self._config.v2_base_url!r})"
        )

    # -- introspection ---------------------------------------------------------------
    @property
    def store_hash(self) -> str:
        """The store this client talks to."""
        return self._config.store_hash

    @property
    def config(self) -> ClientConfig:
        """The validated, frozen settings (no secrets in them)."""
        return self._config

    @property
    def default_priority(self) -> Priority:
        """The priority of calls that do not name one."""
        return self._config.priority

    def limiter(self, api: API) -> LimiterBackend | None:
        """The limiter of ``api`` (``"b2b"`` or ``"v2"``), or None when unlimited."""
        return self._limiters[api]

    def set_priorities_enabled(self, enabled: bool) -> None:
        """Turn priority scheduling on or off in the in-process limiters (for comparisons)."""
        for lim in self._limiters.values():
            if isinstance(lim, Limiter):
                lim.priorities_enabled = enabled

    # -- the pipeline ----------------------------------------------------------------
    def _url(self, api: API, path: str) -> str:
        prefix = self._config.b2b_prefix if api == "b2b" else self._config.v2_prefix
        return prefix + path

    async def request(
        self,
        api: API,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        decoder: msgspec.json.Decoder[Any] | None = None,
        priority: Priority | None = None,
        deadline: float | None = None,
        allow_empty: bool = False,
    ) -> Any:
        """Send one call through the pipeline and return its decoded body.

        The retried unit is "acquire a send slot, send, map the status to an error,
        decode". ``path`` is relative to the API's prefix and must already be quoted;
        ``deadline`` is a monotonic time. With ``allow_empty``, a 204 or an empty body
        returns ``None``.
        """
        url = self._url(api, path)
        body = msgspec.json.encode(json) if json is not None else None
        call = _Call(
            api=api,
            method=method,
            url=url,
            params=params,
            body=body,
            decoder=decoder,
            priority=priority or self._config.priority,
            deadline=deadline,
            allow_empty=allow_empty,
        )
        try:
            # The first attempt runs directly; the backoff loop (built from the retry
            # policy) takes over only after a failure the policy will retry.
            try:
                return await self._attempt(call)
            except BigCommerceError as err:
                if self._giveup(err):
                    raise
                self._on_backoff({"exception": err})
                await asyncio.sleep(call.next_delay)
            return await self._send_with_retries(call)
        except BigCommerceError as err:
            err.attempts = call.attempt
            self.stats.for_api(api).errors += 1
            if call.deadline_hit and not isinstance(err, DeadlineExceededError):
                raise DeadlineExceededError(
                    f"{method} {call.display_url}: deadline reached after {call.attempt} "
                    f"attempt(s); last error: {err}"
                ) from err
            raise

    async def _attempt(self, call: _Call) -> Any:
        call.attempt += 1
        stats = self.stats.for_api(call.api)
        limiter = self._limiters[call.api]
        permit: Permit | None = None
        try:
            if limiter is not None:
                permit = await limiter.acquire(call.priority, call.deadline)
                stats.limiter_wait += permit.waited
                if permit.waited > 1.0:
                    log.info(
                        "%s %s: waited %.2f s for a send slot (%s quota)",
                        call.method, call.display_url, permit.waited, call.api,
                    )
            elif call.deadline is not None and time.monotonic() > call.deadline:
                raise DeadlineExceededError(f"{call.method} {call.display_url}: deadline passed")
        except BigCommerceError as err:
            err._call = call  # type: ignore[attr-defined]
            raise
        stats.requests += 1
        if call.attempt > 1:
            stats.retries += 1
        if self._hooks.on_request is not None:
            self._emit("on_request", Event(call.api, call.method, call.display_url,
                                           call.attempt))
        headers = self._headers[call.api]
        if call.body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        started = time.monotonic()
        try:
            raw = await self._transport.send(
                call.method,
                call.url,
                params=call.params,
                headers=headers,
                body=call.body,
                display_url=call,
            )
        except BaseException as err:
            # Every permit is handed back exactly once, also on cancellation: the limiter
            # keeps the slot occupied until it hears the request is over.
            if limiter is not None and permit is not None:
                limiter.observe(permit, None, None)
            if isinstance(err, BigCommerceError):
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s: %s", call.method, call.display_url, err)
                err._call = call  # type: ignore[attr-defined]
            raise
        elapsed = time.monotonic() - started
        if limiter is not None and permit is not None:
            limiter.observe(permit, raw.headers, raw.status)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d (%.3f s, attempt %d)",
                call.method, call.display_url, raw.status, elapsed, call.attempt,
            )
        if self._hooks.on_response is not None:
            self._emit(
                "on_response",
                Event(call.api, call.method, call.display_url, call.attempt, raw.status,
                      elapsed),
            )
        try:
            return self._handle(call, raw)
        except BigCommerceError as err:
            err._call = call  # type: ignore[attr-defined]
            raise

    def _handle(self, call: _Call, raw: RawResponse) -> Any:
        status = raw.status
        if status >= 300 or status < 200:
            retry_after = None
            if status == 429:
                self.stats.for_api(call.api).rate_limited += 1
                info = parse_rate_headers(raw.headers)
                retry_after = info.reset_after
                self._emit(
                    "on_rate_limit",
                    Event(call.api, call.method, call.display_url, call.attempt, status,
                          wait=retry_after),
                )
            raise error_for_status(
                status,
                method=call.method,
                url=call.display_url,
                body=raw.body,
                request_id=raw.headers.get("X-Request-Id"),
                retry_after=retry_after,
            )
        if call.decoder is None:
            return raw
        if status == 204 or not raw.body.strip():
            if call.allow_empty:
                return None
            raise DecodeError(
                "empty response body", method=call.method, url=call.display_url, status=status,
                body=raw.body,
            )
        return decode(call.decoder, raw.body, method=call.method, url=call.display_url,
                      status=status)

    def _giveup(self, err: Exception) -> bool:
        call: _Call | None = getattr(err, "_call", None)
        if call is None:
            return True
        delay = self._policy.delay(err, call.attempt, call.method, self._rng)
        if delay is None:
            return True
        if call.deadline is not None and time.monotonic() + delay >= call.deadline:
            call.deadline_hit = True
            return True
        if time.monotonic() + delay - call.started > self._policy.max_time:
            return True
        call.next_delay = delay
        return False

    def _retry_wait(self, err: Exception) -> float:
        call: _Call | None = getattr(err, "_call", None)
        return call.next_delay if call is not None else 0.0

    def _on_backoff(self, details: Mapping[str, Any]) -> None:
        err = details.get("exception")
        call: _Call | None = getattr(err, "_call", None)
        if call is None:
            return
        log.info(
            "%s %s: attempt %d failed (%s); retrying in %.2f s",
            call.method, call.display_url, call.attempt, _short(err), call.next_delay,
        )
        self._emit(
            "on_retry",
            Event(call.api, call.method, call.display_url, call.attempt,
                  getattr(err, "status", None), wait=call.next_delay,
                  error=err if isinstance(err, BaseException) else None),
        )

    def _emit(self, name: str, event: Event) -> None:
        hook = getattr(self._hooks, name)
        if hook is None:
            return
        try:
            hook(event)
        except Exception:
            log.exception("bcb2b_async hook %s raised; ignored", name)


def _short(err: object) -> str:
    text = str(err)
    return text if len(text) <= 200 else text[:200] + "…"


def quote_id(value: int) -> str:
    """A path segment for an id already validated as a positive int."""
    return quote(str(value), safe="")

