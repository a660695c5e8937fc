"""The one request pipeline: every call of every resource goes through :meth:`Pipeline.request`.

The path of a call::

    resource method -> Pipeline.request (retry loop) -> Transport.send -> aiohttp

``request`` normalises the call once (priority, deadline, URL, body), then runs attempts in
one loop. An attempt is "check the deadline, acquire a send slot from the API's limiter,
check the deadline again, send, hand the permit back, read the response"; reading a
response (:func:`read_response`: status to typed error, or decode) is a pure function of the
response. After a failure the :class:`~bcb2b_async.RetryPolicy` decides the wait; the loop
enforces ``max_wait``, ``max_time`` and the call's deadline, logs, calls the hooks and
sleeps (an injectable sleep). The call's state lives in this loop, never on an exception.

Why not ``backoff.on_exception``: its ``giveup`` and wait generator see only the exception,
so the per-call state (attempts, deadline, time budget, server hint) would have to travel on
the exception, and its sleep cannot be injected. The exponential schedule is still
``backoff``'s own generator (see ``_retry.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import msgspec

from ._config import API, ClientConfig, Priority
from ._decode import decode
from ._ratelimit import (
    Limiter,
    LimiterBackend,
    Permit,
    parse_rate_headers,
    supports_max_wait,
)
from ._retry import RetryPolicy
from ._stats import ClientStats, Event, Hooks
from ._transport import RawResponse, Transport
from ._validate import priority as check_priority
from .errors import (
    APIConnectionError,
    APIStatusError,
    BigCommerceError,
    DeadlineExceededError,
    DecodeError,
    InvalidArgumentError,
    RateLimitError,
    ServerWaitTooLongError,
    error_for_status,
)

__all__ = ["Deadline", "Pipeline", "Secret", "read_response", "resolve_deadline"]

log = logging.getLogger("bcb2b_async")

#: ``deadline=`` accepts seconds from now (int/float) or an aware wall-clock ``datetime``.
Deadline = float | int | datetime | None

Sleep = Callable[[float], Awaitable[Any]]

#: How often, at most, the pipeline logs a summary of limiter waits at INFO.
WAIT_SUMMARY_EVERY = 60.0


class Secret:
    """Holds the access token; its repr and str never show it.

    The token leaves this holder only for the moment a request's headers are built, and
    :meth:`redact` removes it from any text a server echoes back before that text goes into
    an error.
    """

    __slots__ = ("_bytes", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._bytes = value.encode("utf-8")

    def get(self) -> str:
        """The token itself (only for building a request's headers)."""
        return self._value

    def redact(self, body: bytes) -> bytes:
        """``body`` with every occurrence of the token replaced by ``[redacted]``."""
        if self._bytes in body:
            return body.replace(self._bytes, b"[redacted]")
        return body

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _Monotonic(float):
    """A deadline already turned into a ``time.monotonic()`` instant."""

    __slots__ = ()


def resolve_deadline(deadline: object) -> float | None:
    """Turn ``deadline=`` (seconds from now, or an aware datetime) into a monotonic instant.

    A deadline already in the past is accepted here: the call then fails with
    :class:`DeadlineExceededError` before anything is sent.
    """
    if deadline is None or isinstance(deadline, _Monotonic):
        return deadline
    now = time.monotonic()
    if isinstance(deadline, datetime):
        if deadline.tzinfo is None:
            raise InvalidArgumentError("deadline must be timezone-aware")
        return _Monotonic(now + (deadline.timestamp() - time.time()))
    if isinstance(deadline, bool) or not isinstance(deadline, int | float):
        raise InvalidArgumentError("deadline must be seconds (a number) or an aware datetime")
    if not math.isfinite(deadline):
        raise InvalidArgumentError("deadline must be finite")
    return _Monotonic(now + float(deadline))


class _Call:
    """One logical call, normalised once; its attempts share it."""

    __slots__ = (
        "_display",
        "allow_empty",
        "api",
        "body",
        "deadline",
        "decoder",
        "headers",
        "id",
        "method",
        "params",
        "path",
        "priority",
        "url",
    )

    def __init__(
        self,
        *,
        id: int,
        api: API,
        method: str,
        path: str,
        url: str,
        params: Sequence[tuple[str, str]] | None,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        decoder: msgspec.json.Decoder[Any] | None,
        priority: Priority,
        deadline: float | None,
        allow_empty: bool,
    ) -> None:
        self.id = id
        self.api = api
        self.method = method
        self.path = path
        self.url = url
        self.params = params
        self.body = body
        self.headers = headers
        self.decoder = decoder
        self.priority = priority
        self.deadline = deadline
        self.allow_empty = allow_empty
        self._display: str | None = None

    @property
    def display_url(self) -> str:
        """The URL with its query, for messages (built only when needed; no secrets)."""
        if self._display is None:
            self._display = _with_query(self.url, self.params)
        return self._display


def _with_query(url: str, params: Sequence[tuple[str, str]] | None) -> str:
    return f"{url}?{urlencode(params)}" if params else url


class _LazyURL:
    """A URL and its query, joined only if a message shows them."""

    __slots__ = ("_params", "_url")

    def __init__(self, url: str, params: Sequence[tuple[str, str]] | None) -> None:
        self._url = url
        self._params = params

    @property
    def display_url(self) -> str:
        return _with_query(self._url, self._params)


def read_response(
    raw: RawResponse,
    *,
    method: str,
    url: str | HasDisplayURL,
    decoder: msgspec.json.Decoder[Any] | None,
    allow_empty: bool,
    secret: Secret,
) -> Any:
    """Map one response to its decoded body or its typed error (pure: no I/O, no state).

    A non-2xx status raises the class :func:`~bcb2b_async.errors.error_for_status` picks
    (a 429 carries the server's reset hint as ``retry_after``); a 2xx is decoded with
    ``decoder`` (returned raw without one); a 204 or empty body is ``None`` with
    ``allow_empty`` and a :class:`DecodeError` otherwise. ``url`` (or an object whose
    ``display_url`` builds it) is only shown in errors. Bodies kept in errors are redacted
    of the access token; a successful body is decoded as it came, without a scan.
    """
    status = raw.status
    if 200 <= status < 300:
        if decoder is None:
            return raw
        body = raw.body
        if status != 204:
            try:
                return decoder.decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
                pass  # the typed error is built below, outside this handler: no context
        shown = _shown(url)
        if status == 204 or not body.strip():
            if allow_empty:
                return None
            raise DecodeError("empty response body", method=method, url=shown, status=status,
                              body=b"")
        # Decoding the redacted copy again raises the typed error; neither it nor its
        # context holds the original text.
        return decode(decoder, secret.redact(body), method=method, url=shown, status=status)
    retry_after = parse_rate_headers(raw.headers).reset_after if status == 429 else None
    raise error_for_status(
        status,
        method=method,
        url=_shown(url),
        body=secret.redact(raw.body),
        request_id=raw.headers.get("X-Request-Id"),
        retry_after=retry_after,
    )


class HasDisplayURL(Protocol):
    """Anything that can build the URL shown in messages (only when one is shown)."""

    @property
    def display_url(self) -> str:
        """The URL with its query; never a secret."""
        ...


def _shown(url: str | HasDisplayURL) -> str:
    return url if isinstance(url, str) else url.display_url


class Pipeline:
    """Sends calls for one store: limiter, transport, retry policy, hooks and counters.

    Resources hold a pipeline and call :meth:`request`; a client's ``with_options`` makes a
    :meth:`derive`\\ d pipeline that shares the connection pool, the limiters, the counters
    and the hooks, with its own timeout, retry policy or default priority.
    """

    def __init__(
        self,
        config: ClientConfig,
        secret: Secret,
        *,
        transport: Transport,
        limiters: Mapping[API, LimiterBackend | None],
        policy: RetryPolicy,
        hooks: Hooks,
        stats: ClientStats,
        user_agent: str,
        timeout: float | None = None,
        priority: Priority | None = None,
        sleep: Sleep = asyncio.sleep,
        call_ids: Iterator[int] | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self._secret = secret
        self._transport = transport
        self._limiters = dict(limiters)
        # Backends written before ``max_wait`` existed get called without it.
        self._bounded = {api: lim is not None and supports_max_wait(lim)
                         for api, lim in self._limiters.items()}
        # The in-process limiter grants a free slot without a coroutine (its fast path).
        # (Not for a subclass that overrides ``acquire``: every grant must pass through it.)
        self._try_acquire = {
            api: lim.try_acquire
            if isinstance(lim, Limiter) and type(lim).acquire is Limiter.acquire else None
            for api, lim in self._limiters.items()
        }
        self._policy = policy
        self._hooks = hooks
        self._timeout = timeout
        self._priority: Priority = priority or config.priority
        self._sleep = sleep
        self._rng = random.Random()
        self._user_agent = user_agent
        self._prefix: dict[API, str] = {"b2b": config.b2b_prefix, "v2": config.v2_prefix}
        # Headers without the token: it is added when a request is built.
        self._base_headers: dict[API, dict[str, str]] = {
            "b2b": {"X-Store-Hash": config.store_hash, "Accept": "application/json",
                    "User-Agent": user_agent},
            "v2": {"Accept": "application/json", "User-Agent": user_agent},
        }
        # Shared with derived pipelines: call ids stay unique across with_options clients.
        self._call_ids = call_ids if call_ids is not None else itertools.count(1)
        self._waits: dict[API, list[float]] = {
            "b2b": [0.0, 0.0, time.monotonic()],
            "v2": [0.0, 0.0, time.monotonic()],
        }

    # -- configuration -----------------------------------------------------------------
    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of this pipeline's calls."""
        return self._policy

    @property
    def priority(self) -> Priority:
        """The priority of calls that do not name one."""
        return self._priority

    @property
    def transport(self) -> Transport:
        """The connection pool (shared with every derived pipeline)."""
        return self._transport

    def limiter(self, api: API) -> LimiterBackend | None:
        """The limiter of ``api``, or None when unlimited."""
        return self._limiters[api]

    def redact(self, body: bytes) -> bytes:
        """``body`` with the access token replaced (for errors built outside the pipeline)."""
        return self._secret.redact(body)

    def url(self, api: API, path: str) -> str:
        """The absolute URL of ``path`` (already quoted) on ``api``."""
        return self._prefix[api] + path

    def decode(
        self,
        raw: RawResponse,
        decoder: msgspec.json.Decoder[Any],
        *,
        api: API,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> Any:
        """Decode a 2xx response that :meth:`request` returned undecoded (``decoder=None``).

        For a caller that reads a response now and decodes it later (the paginator keeps
        prefetched pages as bytes until their turn). A body that does not decode raises the
        :class:`DecodeError` :meth:`request` would have raised (``malformed`` when it is cut
        short or is not JSON, naming the call); nothing is retried here.
        """
        return read_response(raw, method=method, url=_LazyURL(self._prefix[api] + path, params),
                             decoder=decoder, allow_empty=False, secret=self._secret)

    def derive(
        self,
        *,
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
        priority: Priority | None = None,
    ) -> Pipeline:
        """A pipeline sharing this one's pool, limiters, counters and hooks."""
        return Pipeline(
            self.config,
            self._secret,
            transport=self._transport,
            limiters=self._limiters,
            policy=policy or self._policy,
            hooks=self._hooks,
            stats=self.stats,
            user_agent=self._user_agent,
            timeout=self._timeout if timeout is None else timeout,
            priority=priority or self._priority,
            sleep=self._sleep,
            call_ids=self._call_ids,
        )

    # -- the loop ----------------------------------------------------------------------
    async def request(
        self,
        api: API,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        decoder: msgspec.json.Decoder[Any] | None = None,
        priority: object = None,
        deadline: object = None,
        allow_empty: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one call and return its decoded body (or the raw response without a decoder).

        ``path`` is relative to the API's prefix and already quoted. ``priority`` is
        ``"interactive"``, ``"bulk"`` or None (this pipeline's default); ``deadline`` is
        seconds from now or an aware datetime: the call is never sent, nor retried, after
        it (:class:`DeadlineExceededError`). ``headers`` are added to the defaults. With
        ``allow_empty``, a 204 or an empty body returns ``None``.
        """
        self._transport.check_usable()
        call = _Call(
            id=next(self._call_ids),
            api=api,
            method=method,
            path=path,
            url=self._prefix[api] + path,
            params=params,
            body=msgspec.json.encode(json) if json is not None else None,
            headers=headers,
            decoder=decoder,
            priority=self._priority if priority is None else check_priority(priority),
            deadline=resolve_deadline(deadline),
            allow_empty=allow_empty,
        )
        policy = self._policy
        started = time.monotonic()
        schedule = None
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(call, attempt)
            except BigCommerceError as err:
                err.attempts = attempt
                if isinstance(err, RateLimitError):
                    self._rate_limited(call, err, attempt)
                if schedule is None:
                    schedule = policy.schedule()
                delay = policy.delay(err, attempt, method, self._rng, schedule)
                if delay is None:
                    self.stats.for_api(api).errors += 1
                    raise
                try:
                    self._check_wait(call, err, delay, started)
                except BigCommerceError as final:
                    self.stats.for_api(api).errors += 1
                    if final is err:
                        raise
                    final.attempts = attempt
                    raise final from err
                self._on_retry(call, err, attempt, delay)
            await self._sleep(delay)

    def _check_wait(self, call: _Call, err: BigCommerceError, delay: float,
                    started: float) -> None:
        """Raise instead of waiting ``delay`` when the policy or the deadline forbid it."""
        policy = self._policy
        hinted = isinstance(err, RateLimitError) and err.retry_after is not None
        now = time.monotonic()
        if hinted and delay > policy.max_wait:
            raise ServerWaitTooLongError(
                f"{call.method} {call.path}: the server asked to wait {delay:.1f} s before "
                f"retrying, more than RetryPolicy.max_wait ({policy.max_wait:g} s); last "
                f"error: {err.message}",
                requested=delay,
                allowed=policy.max_wait,
            )
        if call.deadline is not None and now + delay >= call.deadline:
            raise DeadlineExceededError(
                f"{call.method} {call.display_url}: a retry in {delay:.2f} s would pass the "
                f"deadline; last error: {err.message}"
            )
        if now + delay - started > policy.max_time:
            allowed = max(0.0, policy.max_time - (now - started))
            if hinted:
                raise ServerWaitTooLongError(
                    f"{call.method} {call.path}: the server asked to wait {delay:.1f} s, which "
                    f"would pass RetryPolicy.max_time ({policy.max_time:g} s for the call); "
                    f"last error: {err.message}",
                    requested=delay,
                    allowed=allowed,
                )
            raise err

    async def _attempt(self, call: _Call, attempt: int) -> Any:
        api = call.api
        stats = self.stats.for_api(api)
        limiter = self._limiters[api]
        deadline = call.deadline
        if deadline is not None and time.monotonic() >= deadline:
            raise self._late(call, attempt)
        permit: Permit | None = None
        try_acquire = self._try_acquire[api]
        if try_acquire is not None:
            permit = try_acquire(call.priority)
        if permit is None and limiter is not None:
            if self._bounded[api]:
                # A server's reset hint longer than the policy allows fails fast, typed.
                permit = await limiter.acquire(call.priority, deadline,
                                               max_wait=self._policy.max_wait)
            else:
                permit = await limiter.acquire(call.priority, deadline)
            if permit.waited:
                stats.limiter_wait += permit.waited
                self._note_wait(call, permit.waited)
            if deadline is not None and time.monotonic() >= deadline:
                limiter.observe(permit, None, None)
                raise self._late(call, attempt)
        stats.requests += 1
        if attempt > 1:
            stats.retries += 1
        hooks = self._hooks
        if hooks.on_request is not None:
            self._emit("on_request", Event(api, call.method, call.display_url, attempt,
                                           call_id=call.id))
        headers = {**self._base_headers[api], "X-Auth-Token": self._secret.get()}
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        if call.headers:
            headers.update(call.headers)
        started = time.monotonic()
        try:
            raw = await self._transport.send(
                call.method, call.url, params=call.params, headers=headers, body=call.body,
                display_url=call, time_limit=self._timeout,
            )
        except BaseException as err:
            # Every permit is handed back exactly once, also on cancellation: the limiter
            # keeps the slot occupied until it hears the request is over.
            if permit is not None and limiter is not None:
                limiter.observe(permit, None, None)
            if isinstance(err, BigCommerceError) and log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s %s: %s", api, call.method, call.path, err)
            raise
        finally:
            del headers
        if permit is not None and limiter is not None:
            limiter.observe(permit, raw.headers, raw.status)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s -> %d (%.3f s, attempt %d, request id %s)", api, call.method,
                      call.path, raw.status, time.monotonic() - started, attempt,
                      raw.headers.get("X-Request-Id"))
        if hooks.on_response is not None:
            self._emit("on_response", Event(
                api, call.method, call.display_url, attempt, raw.status,
                time.monotonic() - started, request_id=raw.headers.get("X-Request-Id"),
                call_id=call.id,
            ))
        return read_response(raw, method=call.method, url=call,
                             decoder=call.decoder, allow_empty=call.allow_empty,
                             secret=self._secret)

    # -- reporting ---------------------------------------------------------------------
    def _late(self, call: _Call, attempt: int) -> DeadlineExceededError:
        what = "sent" if attempt == 1 else f"retried (attempt {attempt})"
        return DeadlineExceededError(
            f"{call.method} {call.display_url}: the deadline passed before the request "
            f"could be {what}; nothing was sent late"
        )

    def _rate_limited(self, call: _Call, err: RateLimitError, attempt: int) -> None:
        self.stats.for_api(call.api).rate_limited += 1
        if self._hooks.on_rate_limit is not None:
            self._emit("on_rate_limit", Event(
                call.api, call.method, call.display_url, attempt, err.status,
                wait=err.retry_after, request_id=err.request_id, call_id=call.id,
            ))

    def _on_retry(self, call: _Call, err: BigCommerceError, attempt: int, delay: float) -> None:
        status = getattr(err, "status", None)
        request_id = getattr(err, "request_id", None)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %s -> %s (request id %s): attempt %d failed (%s); retrying in %.2f s",
                call.api, call.method, call.path, status if status is not None else "-",
                request_id or "-", attempt, _reason(err), delay,
            )
        if self._hooks.on_retry is not None:
            self._emit("on_retry", Event(
                call.api, call.method, call.display_url, attempt, status, wait=delay,
                error=err, request_id=request_id, call_id=call.id,
            ))

    def _note_wait(self, call: _Call, waited: float) -> None:
        """Per-request waits at DEBUG; at most one INFO summary a minute per API."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s: waited %.2f s for a send slot", call.api, call.method,
                      call.path, waited)
        acc = self._waits[call.api]
        acc[0] += waited
        acc[1] += 1
        now = time.monotonic()
        if now - acc[2] >= WAIT_SUMMARY_EVERY:
            if acc[0] >= 1.0 and log.isEnabledFor(logging.INFO):
                log.info(
                    "%s quota: %d request(s) waited %.1f s in total for a send slot in the "
                    "last %.0f s (the rate limit is pacing this client)",
                    call.api, int(acc[1]), acc[0], now - acc[2],
                )
            acc[0], acc[1], acc[2] = 0.0, 0.0, now

    def _emit(self, name: str, event: Event) -> None:
        hook = getattr(self._hooks, name)
        if hook is None:
            return
        try:
            hook(event)
        except Exception:
            log.exception("bcb2b_async hook %s raised; ignored", name)


def _reason(err: BigCommerceError) -> str:
    """What failed, without repeating the URL: the class and the server's message."""
    if isinstance(err, APIStatusError):
        return f"{type(err).__name__}: {err.server_message}" if err.server_message else \
            type(err).__name__
    if isinstance(err, APIConnectionError):
        return f"{type(err).__name__}: {err.kind}"
    return type(err).__name__
