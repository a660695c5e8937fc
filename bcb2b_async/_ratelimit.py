"""Client-side rate limiting: a sliding-window guard, a token bucket (aiolimiter), and
feedback from the server's own rate-limit headers.

Three gates, all of which must agree before a request is sent:

1. :class:`SlidingWindow`: a request occupies a slot from its grant until one window
   after its response, and a new one is granted only while a slot is free. Whatever the
   alignment of the server's fixed windows and whatever the delays between grant and
   arrival (a busy event loop, a slow network), no interval of one window at the server
   can then hold more than the quota.
2. ``aiolimiter.AsyncLimiter(quota, window)``: the token bucket. On its own it admits up
   to about twice the quota inside one window, so it is never trusted alone; behind the
   sliding window it never has to wait.
3. The server's counters (``X-Requests-Remaining`` / ``X-Rate-Limit-Requests-Left`` and
   the reset hint): another integration on the same store spends the same quota, so when
   the server says fewer requests are left than we think, we slow down to what is left,
   and at zero every task waits for the reset. A hint is believed for a few windows at
   most (``hint_cap``), and ``acquire(max_wait=...)`` refuses to sleep longer with
   :class:`~bcb2b_async.ServerWaitTooLongError`.

Waiting requests are served by priority (:class:`WaiterQueue`, shared with the Redis
limiter): ``interactive`` before ``bulk``; bulk traffic also leaves ``RateLimit.reserve``
of each window free, so an urgent call rarely waits a window. When the quota is far from
binding, an acquisition is a few comparisons: no queue, no future, no timer.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from ._config import PRIORITIES, Priority, RateLimit
from .errors import DeadlineExceededError, InvalidArgumentError, ServerWaitTooLongError

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter

__all__ = [
    "Limiter",
    "LimiterBackend",
    "Permit",
    "RateHeaders",
    "SlidingWindow",
    "Waiter",
    "WaiterQueue",
    "parse_rate_headers",
    "server_wait_error",
    "supports_max_wait",
]



class _Patterns:
    """The header value patterns, compiled on first use (a walk whose responses carry no
    rate headers never needs them, and importing the package stays cheap)."""

    def __init__(self) -> None:
        self.number = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)")
        self.ms = re.compile(r"\d\s*ms\b", re.IGNORECASE)
        self.allocated = re.compile(
            r"^\s*(\d+(?:\.\d+)?)\s*(?:times)?\s*/\s*(\d+(?:\.\d+)?)\s*"
            r"(ms|s|sec|seconds|m|min)?\s*$",
            re.IGNORECASE,
        )


@functools.cache
def _patterns() -> _Patterns:
    return _Patterns()


#: Header values longer than this are ignored (a sane header is a few bytes).
_MAX_HEADER_LEN = 64


class RateHeaders(msgspec.Struct, frozen=True):
    """What one response said about the quota. Any field may be missing (``None``)."""

    remaining: int | None = None
    reset_after: float | None = None
    quota: int | None = None
    window: float | None = None

    @property
    def known(self) -> bool:
        """True when the response carried a usable remaining count and reset hint."""
        return self.remaining is not None and self.reset_after is not None


def _number(value: str | None) -> float | None:
    """Parse the leading number of a header value such as ``'149 times'`` or ``'0.39 s'``."""
    if value is None or len(value) > _MAX_HEADER_LEN:
        return None
    # Fast path for the usual shape, digits with at most one dot then a unit word; the
    # regular expression handles the rest (signs, exponents, no space before the unit).
    words = value.split(None, 1)
    head = words[0] if words else ""
    if head.replace(".", "", 1).isdigit():
        try:
            num = float(head)
        except ValueError:  # a Unicode digit float() refuses: let the regex decide
            pass
        else:
            return num if math.isfinite(num) else None
    m = _patterns().number.match(value)
    if m is None:
        return None
    try:
        num = float(m.group(1))
    except ValueError:  # pragma: no cover - the regex only matches floats
        return None
    if not math.isfinite(num) or num < 0:
        return None
    return num


def _count(value: str | None) -> int | None:
    if value is not None and len(value) <= _MAX_HEADER_LEN:
        words = value.split(None, 1)
        if words and words[0].isdigit() and words[0].isascii():  # the usual "149 times"
            n = int(words[0])
            return n if n <= 1e9 else None
    num = _number(value)
    if num is None or num > 1e9:
        return None
    return int(num)


def _seconds(value: str | None, *, unit_ms: bool = False) -> float | None:
    num = _number(value)
    if num is None:
        return None
    if (
        value is not None
        and ("m" in value or "M" in value)
        and _patterns().ms.search(value) is not None
    ):
        unit_ms = True
    secs = num / 1000.0 if unit_ms else num
    if secs > 24 * 3600:  # nonsense; the limiter caps any hint far below this anyway
        return None
    return secs


@functools.lru_cache(maxsize=64)
def _allocated(value: str | None) -> tuple[int | None, float | None]:
    """Parse ``X-Requests-Allocated: 150 times/60 s``."""
    if value is None or len(value) > _MAX_HEADER_LEN:
        return None, None
    m = _patterns().allocated.match(value)
    if m is None:
        return _count(value), None
    quota = float(m.group(1))
    window = float(m.group(2))
    unit = (m.group(3) or "s").lower()
    if unit == "ms":
        window /= 1000.0
    elif unit in ("m", "min"):
        window *= 60.0
    if quota > 1e9 or window <= 0 or window > 24 * 3600:
        return None, None
    return int(quota), window


def _lookup(headers: Mapping[str, str]) -> Callable[[str], object]:
    """A header lookup for a mapping that may not be case-insensitive: the canonical
    spelling, then the lower-case one."""

    def get(name: str) -> object:
        value = headers.get(name)
        return headers.get(name.lower()) if value is None else value

    return get


_Parsed = tuple[int | None, float | None, int | None, float | None]


def _parse(headers: Mapping[str, str]) -> _Parsed:
    """``(remaining, reset_after, quota, window)`` of either dialect (see
    :func:`parse_rate_headers`); may raise on values that are not strings."""
    # aiohttp's headers are case-insensitive: one lookup per name.
    ci = isinstance(headers, CIMultiDictProxy | CIMultiDict)
    get: Callable[[str], object] = headers.get if ci else _lookup(headers)
    v2_left = get("X-Rate-Limit-Requests-Left")
    v2_reset = get("X-Rate-Limit-Time-Reset-Ms")
    if v2_left is not None or v2_reset is not None:
        return (
            _count(_text(v2_left)),
            _seconds(_text(v2_reset), unit_ms=True),
            _count(_text(get("X-Rate-Limit-Requests-Quota"))),
            _seconds(_text(get("X-Rate-Limit-Time-Window-Ms")), unit_ms=True),
        )
    quota, window = _allocated(_text(get("X-Requests-Allocated")))
    return (
        _count(_text(get("X-Requests-Remaining"))),
        _seconds(_text(get("X-Request-Window-Resets-After"))),
        quota,
        window,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_UNKNOWN: _Parsed = (None, None, None, None)

#: The reset-time headers of both dialects, in every spelling a mapping may hold them.
_RESET_NAMES = ("X-Rate-Limit-Time-Reset-Ms", "X-Request-Window-Resets-After")
_RESET_NAMES_ANY_CASE = (*_RESET_NAMES, *(n.lower() for n in _RESET_NAMES))


def _has_reset_hint(headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` may hold a reset time (a cheap test before a full parse)."""
    try:
        if isinstance(headers, CIMultiDictProxy | CIMultiDict):
            return _RESET_NAMES[0] in headers or _RESET_NAMES[1] in headers
        return any(name in headers for name in _RESET_NAMES_ANY_CASE)
    except TypeError:
        return True  # an odd mapping: let the full parse decide


def _parse_safely(headers: Mapping[str, str]) -> _Parsed:
    try:
        return _parse(headers)
    except (AttributeError, TypeError, ValueError, UnicodeError):
        return _UNKNOWN


def parse_rate_headers(headers: Mapping[str, str]) -> RateHeaders:
    """Read the rate-limit headers of either dialect; garbage yields ``None`` fields.

    B2B Edition: ``X-Requests-Remaining: 149 times``, ``X-Request-Window-Resets-After:
    0.39 s``, ``X-Requests-Allocated: 150 times/60 s``. V2: ``X-Rate-Limit-Requests-Left``,
    ``X-Rate-Limit-Time-Reset-Ms``, ``X-Rate-Limit-Requests-Quota``,
    ``X-Rate-Limit-Time-Window-Ms``. ``headers`` should be case-insensitive (aiohttp's are);
    for a plain dict the canonical and the lower-case spellings are tried.
    """
    remaining, reset_after, quota, window = _parse_safely(headers)
    return RateHeaders(remaining, reset_after, quota, window)


class SlidingWindow:
    """Admit at most ``quota`` requests in any interval of ``window`` seconds, as the server
    sees them, whatever the delays between our clock and the server's.

    The server counts a request when it arrives, somewhere between the moment we granted
    it and the moment its response came back. So a request occupies a slot from its grant
    (:meth:`start`) until ``window`` seconds after its completion (:meth:`finish`). A new
    one is granted only while fewer than ``quota`` slots are occupied; then for any two
    requests ``quota`` apart, the later one's arrival is at least ``window`` after the
    earlier one's, and no window of that length holds more than the quota, even when the
    event loop stalls between a grant and the actual send. The cost is one round trip per
    window per slot: a fraction of a percent at BigCommerce's 30-60 s windows.

    Pure bookkeeping over clock readings the caller passes in; every operation is O(1)
    amortised (each completion is appended once and dropped once).
    """

    __slots__ = ("_done", "in_flight", "quota", "window")

    def __init__(self, quota: int, window: float) -> None:
        self.quota = quota
        self.window = window
        self.in_flight = 0
        self._done: deque[float] = deque()

    def _trim(self, now: float) -> None:
        done = self._done
        edge = now - self.window
        while done and done[0] <= edge:
            done.popleft()

    def used(self, now: float) -> int:
        """Occupied slots at ``now``: requests in flight plus those finished within a window."""
        self._trim(now)
        return self.in_flight + len(self._done)

    @property
    def occupied(self) -> int:
        """Slots taken, as last trimmed (an upper bound of :meth:`used`, without a trim)."""
        return self.in_flight + len(self._done)

    def has_room(self, now: float, cap: int) -> bool:
        """Whether one more request fits under ``cap`` at ``now`` (cheap when far from it)."""
        if self.in_flight + len(self._done) < cap:
            return True
        self._trim(now)
        return self.in_flight + len(self._done) < cap

    def delay(self, now: float, *, cap: int | None = None) -> float:
        """Seconds until one more request fits under ``cap`` (default: the quota).

        ``math.inf`` when only the completion of a request in flight can free a slot.
        """
        limit = self.quota if cap is None else cap
        self._trim(now)
        used = self.in_flight + len(self._done)
        if used < limit:
            return 0.0
        need = used - limit + 1  # finished requests that must leave the window first
        if need > len(self._done):
            return math.inf
        return max(0.0, self._done[need - 1] + self.window - now) + 1e-6

    def start(self) -> None:
        """A request was granted."""
        self.in_flight += 1

    def finish(self, now: float) -> None:
        """A granted request completed (response, error or cancellation) at ``now``."""
        if self.in_flight > 0:
            self.in_flight -= 1
        done = self._done
        if done:
            if now < done[-1]:
                now = done[-1]  # readings must not go backwards
            if done[0] <= now - self.window:
                self._trim(now)
        done.append(now)
        if len(done) > self.quota:
            done.popleft()

    def record(self, now: float) -> None:
        """A request granted and completed at ``now`` (for callers without round trips)."""
        self.start()
        self.finish(now)


class Permit(msgspec.Struct):
    """One granted send slot; handed back to :meth:`Limiter.observe` with the response."""

    seq: int
    priority: Priority
    granted_at: float
    waited: float


@runtime_checkable
class LimiterBackend(Protocol):
    """What the request pipeline needs from a limiter (in-process or shared).

    ``max_wait`` (keyword-only, seconds or ``None``) was added in 0.2: a backend raises
    :class:`~bcb2b_async.ServerWaitTooLongError` instead of sleeping when the server's
    reset hint would make the call wait longer. A backend written before it still works
    with callers that check :func:`supports_max_wait` first.
    """

    async def acquire(
        self,
        priority: Priority = "bulk",
        deadline: float | None = None,
        *,
        max_wait: float | None = None,
    ) -> Permit:
        """Wait for a send slot (or raise :class:`DeadlineExceededError` /
        :class:`ServerWaitTooLongError`)."""
        ...

    def observe(
        self, permit: Permit, headers: Mapping[str, str] | None, status: int | None
    ) -> None:
        """The permit's request completed: feed back the response's rate headers (``None``
        when no response arrived). Must be called exactly once per permit, also on errors
        and cancellation."""
        ...


def supports_max_wait(limiter: object) -> bool:
    """Whether ``limiter.acquire`` accepts the ``max_wait`` keyword (or ``**kwargs``).

    For callers that also accept :class:`LimiterBackend` implementations written before
    ``max_wait`` existed: check once, then pass ``max_wait=`` only when this is true.
    """
    acquire = getattr(limiter, "acquire", None)
    if acquire is None:
        return False
    try:
        params = inspect.signature(acquire).parameters
    except (TypeError, ValueError):
        return False
    return "max_wait" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


class Waiter:
    """One queued acquisition of a :class:`WaiterQueue` (its priority and wake-up event)."""

    __slots__ = ("event", "priority", "seq")

    def __init__(self, priority: Priority, seq: int) -> None:
        self.priority = priority
        self.seq = seq
        self.event = asyncio.Event()


class WaiterQueue:
    """Acquisitions waiting for a send slot, in service order; shared by every limiter.

    With ``priorities`` on, the head is the oldest ``interactive`` waiter if any, else the
    oldest ``bulk`` one; off, the oldest waiter of either priority (one FIFO). Only the
    head asks the gates for a slot; the others sleep until :meth:`wake_heads`. The switch
    (:attr:`priorities_enabled`) may be flipped at any time.
    """

    __slots__ = ("_lanes", "_next", "priorities_enabled", "size")

    def __init__(self, *, priorities: bool = True) -> None:
        #: Serve ``interactive`` before ``bulk`` (True) or in arrival order (False).
        self.priorities_enabled = bool(priorities)
        #: How many waiters are queued (a plain attribute: the hot path reads it).
        self.size = 0
        self._lanes: dict[Priority, deque[Waiter]] = {p: deque() for p in PRIORITIES}
        self._next = itertools.count()

    def __len__(self) -> int:
        return self.size

    def count(self, priority: Priority | None = None) -> int:
        """How many acquisitions wait (of one priority, or all)."""
        if priority is None:
            return len(self)
        return len(self._lanes[priority])

    def join(self, priority: Priority) -> Waiter:
        """Queue a new waiter at the back of its priority's lane."""
        waiter = Waiter(priority, next(self._next))
        self._lanes[priority].append(waiter)
        self.size += 1
        return waiter

    def leave(self, waiter: Waiter) -> None:
        """Remove ``waiter`` (granted, failed or cancelled) and wake the next heads."""
        try:
            self._lanes[waiter.priority].remove(waiter)
        except ValueError:
            pass
        else:
            self.size -= 1
        self.wake_heads()

    def head(self) -> Waiter | None:
        """The waiter to be served next, or ``None`` when nobody waits."""
        if self.priorities_enabled:
            for p in PRIORITIES:
                lane = self._lanes[p]
                if lane:
                    return lane[0]
            return None
        best: Waiter | None = None
        for lane in self._lanes.values():
            if lane and (best is None or lane[0].seq < best.seq):
                best = lane[0]
        return best

    def is_head(self, waiter: Waiter) -> bool:
        """Whether ``waiter`` is the one to be served next."""
        return self.head() is waiter

    def wake_heads(self) -> None:
        """Wake the first waiter of each lane so that the head re-evaluates its wait."""
        for lane in self._lanes.values():
            if lane:
                lane[0].event.set()

    def wake_all(self) -> None:
        """Wake every waiter (their limiter changed mode)."""
        for lane in self._lanes.values():
            for waiter in lane:
                waiter.event.set()

    @staticmethod
    async def wait(waiter: Waiter, delay: float | None) -> None:
        """Sleep until ``waiter`` is woken or ``delay`` seconds have passed (``None``: until
        woken); a timer handle, not a task, so waiting costs little."""
        event = waiter.event
        if not event.is_set():
            handle = None
            if delay is not None:
                handle = asyncio.get_running_loop().call_later(max(0.0, delay), event.set)
            try:
                await event.wait()
            finally:
                if handle is not None:
                    handle.cancel()
        event.clear()


def server_wait_error(
    name: str, *, asked: float, imposed: float, allowed: float
) -> ServerWaitTooLongError:
    """The error of a limiter that will not sleep ``imposed`` seconds for the server's
    rate window (``asked``: what the server's reset hint said, before any cap)."""
    capped = f" (believed for {imposed:.1f} s)" if asked - imposed > 0.05 else ""
    return ServerWaitTooLongError(
        f"{name or 'limiter'}: the server asked to wait {asked:.1f} s for its rate window "
        f"to reset{capped}, longer than max_wait {allowed:.1f} s",
        requested=asked,
        allowed=allowed,
    )


class Limiter:
    """The in-process limiter for one store and one API (see the module docstring).

    Args:
        rate: the quota to keep (``RateLimit(150, 60.0)`` for B2B Edition).
        name: shown in error messages.
        priorities: serve ``interactive`` before ``bulk`` (default) or in arrival order
            (also settable later through :attr:`priorities_enabled`).
        hint_cap: the longest wait, in seconds, a server's reset hint is believed (default
            three windows of ``rate``): one response saying "0 left, resets in an hour"
            then stalls calls for ``hint_cap`` at most, after which the server is asked
            again.
        clock, sleep: a monotonic clock (seconds) and a sleeper, replaceable in tests.
            The aiolimiter bucket reads the event loop's own clock, so with an injected
            clock it is left out and the sliding window alone (which is what bounds every
            window anyway) does the limiting.

    Counters (cheap, for a periodic summary): :attr:`grants`, :attr:`waits` and
    :attr:`total_wait`.
    """

    def __init__(
        self,
        rate: RateLimit,
        *,
        name: str = "",
        priorities: bool = True,
        hint_cap: float | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        if hint_cap is not None and (
            isinstance(hint_cap, bool)
            or not isinstance(hint_cap, int | float)
            or not (math.isfinite(hint_cap) and hint_cap > 0)
        ):
            raise InvalidArgumentError("hint_cap must be a positive number of seconds or None")
        self.rate = rate
        self.name = name
        #: How long, at most, a server's reset hint is believed (seconds).
        self.hint_cap = float(hint_cap) if hint_cap is not None else 3.0 * rate.seconds
        #: Grants so far.
        self.grants = 0
        #: Grants that had to wait (for the window, the server or the queue).
        self.waits = 0
        #: Seconds spent waiting, summed over every grant.
        self.total_wait = 0.0
        self._use_bucket = clock is None
        self._clock = clock or time.monotonic
        self._sleep = sleep
        self._window = SlidingWindow(rate.requests, rate.seconds + rate.effective_margin)
        self._bulk_cap = rate.requests - rate.reserved_requests
        self._bucket: AsyncLimiter | None = None  # created when first needed
        self._queue = WaiterQueue(priorities=priorities)
        self._seq = 0
        # What the server last told us, adjusted for what we sent since; the reset time
        # is capped at hint_cap, the uncapped one kept for messages.
        self._srv_remaining: int | None = None
        self._srv_reset_at: float | None = None
        self._srv_asked_at = 0.0
        self._srv_seq = -1
        self._srv_quota: int | None = None

    # -- introspection -----------------------------------------------------------------
    @property
    def priorities_enabled(self) -> bool:
        """Serve ``interactive`` before ``bulk`` (True) or in arrival order (False)."""
        return self._queue.priorities_enabled

    @priorities_enabled.setter
    def priorities_enabled(self, enabled: bool) -> None:
        self._queue.priorities_enabled = bool(enabled)
        self._queue.wake_heads()

    @property
    def server_remaining(self) -> int | None:
        """Requests the server allows in its current window, as last estimated (or None)."""
        if self._srv_reset_at is None or self._clock() >= self._srv_reset_at:
            return None
        return self._srv_remaining

    def waiting(self, priority: Priority | None = None) -> int:
        """How many acquisitions are waiting (for one priority, or all)."""
        return self._queue.count(priority)

    def __repr__(self) -> str:
        return f"Limiter({self.rate!r}, name={self.name!r}, waiting={len(self._queue)})"

    # -- the gates -----------------------------------------------------------------------
    def _server_delay(self, priority: Priority, now: float) -> float:
        """Seconds the server's last word says ``priority`` must wait (0: none)."""
        reset_at = self._srv_reset_at
        if reset_at is None:
            return 0.0
        if now >= reset_at:
            self._srv_remaining = None
            self._srv_reset_at = None
            return 0.0
        remaining = self._srv_remaining
        if remaining is None:
            return 0.0
        reserve = 0
        if priority == "bulk" and self.rate.reserved_requests:
            reserve = self.rate.reserved_requests
            if self._srv_quota and self._srv_quota != self.rate.requests:
                reserve = max(1, math.floor(self._srv_quota * self.rate.reserve))
        if remaining <= reserve:
            return reset_at - now
        return 0.0

    def _cap(self, priority: Priority) -> int:
        return self._bulk_cap if priority == "bulk" else self.rate.requests

    def _free(self, priority: Priority, now: float) -> bool:
        """Nobody queued, room in the window for ``priority``, the server not in the way."""
        return (
            not self._queue.size
            and self._window.has_room(now, self._cap(priority))
            and (self._srv_reset_at is None or self._server_delay(priority, now) <= 0)
        )

    def _needs_bucket(self, now: float) -> bool:
        """Whether the token bucket must be consulted: it paces the second half of a
        window; while fewer than half the quota's slots are taken it could not make anyone
        wait (and a walk far from its quota never imports aiolimiter)."""
        half = self.rate.requests
        window = self._window
        return self._use_bucket and 2 * window.occupied >= half and 2 * window.used(now) >= half

    def _too_long(self, server: float, max_wait: float, now: float) -> ServerWaitTooLongError:
        return server_wait_error(self.name, asked=max(server, self._srv_asked_at - now),
                                 imposed=server, allowed=max_wait)

    async def acquire(
        self,
        priority: Priority = "bulk",
        deadline: float | None = None,
        *,
        max_wait: float | None = None,
    ) -> Permit:
        """Wait until a request may be sent, by priority, within ``deadline`` (monotonic).

        Raises :class:`DeadlineExceededError` as soon as it is clear that the slot cannot
        be had before the deadline (or once it has passed), and
        :class:`ServerWaitTooLongError` at once when the server's reset hint would make it
        wait more than ``max_wait`` seconds; nothing is counted against the window then.
        """
        now = self._clock()
        if deadline is not None and now > deadline:
            raise DeadlineExceededError(f"{self.name or 'limiter'}: the deadline has passed")
        if self._free(priority, now):  # the fast path
            return await self._grant(priority, now, now)
        return await self._acquire_queued(priority, deadline, max_wait, now)

    def try_acquire(self, priority: Priority = "bulk") -> Permit | None:
        """Grant a send slot at once if one is free without any wait, else ``None``.

        Free means: nobody queued, room in the window for ``priority``, the server's last
        word not in the way and the token bucket not needed (fewer than half the quota's
        slots taken). This is :meth:`acquire`'s own fast path without a coroutine; a
        caller that gets ``None`` awaits :meth:`acquire`. The permit goes back through
        :meth:`observe` exactly like one from :meth:`acquire`.
        """
        now = self._clock()
        if not self._free(priority, now) or self._needs_bucket(now):
            return None
        return self._take(priority, now, 0.0)

    async def _acquire_queued(
        self, priority: Priority, deadline: float | None, max_wait: float | None, start: float
    ) -> Permit:
        queue = self._queue
        waiter = queue.join(priority)
        try:
            while True:
                now = self._clock()
                server = self._server_delay(priority, now)
                if max_wait is not None and server > max_wait:
                    raise self._too_long(server, max_wait, now)
                delay: float | None
                if queue.is_head(waiter):
                    delay = self._window.delay(now, cap=self._cap(priority))
                    if server > 0:
                        delay = max(delay, server + 0.01)
                    if delay <= 0:
                        break
                    if deadline is not None and now + delay > deadline and not (
                        math.isinf(delay) and now < deadline
                    ):
                        raise DeadlineExceededError(
                            f"{self.name or 'limiter'}: no send slot before the deadline "
                            f"(next slot in {delay:.2f} s, deadline in "
                            f"{max(0.0, deadline - now):.2f} s)"
                        )
                    if math.isinf(delay):
                        # Only a completion frees a slot: woken by observe().
                        delay = None if deadline is None else max(0.0, deadline - now)
                else:
                    delay = None
                    if deadline is not None:
                        if now >= deadline:
                            raise DeadlineExceededError(
                                f"{self.name or 'limiter'}: deadline passed while queued"
                            )
                        delay = deadline - now
                if delay is not None and self._sleep is not None:
                    await self._sleep(delay)  # test clocks: the sleeper moves the clock
                else:
                    await queue.wait(waiter, delay)
        finally:
            queue.leave(waiter)
        return await self._grant(priority, self._clock(), start)

    async def _grant(self, priority: Priority, now: float, start: float) -> Permit:
        if self._needs_bucket(now):
            bucket = self._bucket
            if bucket is None:
                import aiolimiter

                bucket = self._bucket = aiolimiter.AsyncLimiter(self.rate.requests,
                                                                self.rate.seconds)
            # Never waits: the bucket's level is at most the grants of the last window,
            # which the sliding window keeps below the quota.
            await bucket.acquire()
        return self._take(priority, now, now - start)

    def _take(self, priority: Priority, now: float, waited: float) -> Permit:
        """Count one grant at ``now`` that waited ``waited`` seconds."""
        self._window.in_flight += 1
        if self._srv_remaining is not None:
            self._srv_remaining -= 1
        self._seq += 1
        self.grants += 1
        if waited > 0:
            self.waits += 1
            self.total_wait += waited
        return Permit(self._seq, priority, now, waited)

    def occupy(self, completed_at: float | None = None) -> Permit:
        """Count a request granted elsewhere, without waiting and whatever the quota.

        For a limiter taking over from another one (a shared limiter falling back to this
        one): the request occupies a slot from now until one window after it completes:
        at ``completed_at`` (a reading of this limiter's clock), or when the returned
        permit is handed to :meth:`observe`. Calls with ``completed_at`` should come in
        completion order.
        """
        now = self._clock()
        self._window.start()
        self._seq += 1
        permit = Permit(self._seq, "bulk", now, 0.0)
        if completed_at is not None:
            self._window.finish(min(completed_at, now))
        return permit

    def observe(
        self, permit: Permit, headers: Mapping[str, str] | None, status: int | None = None
    ) -> None:
        """The permit's request completed; correct the local state from its rate headers.

        Call it exactly once per permit, with ``headers=None`` when no response arrived
        (error, cancellation): the slot stays occupied until then.

        The response to request ``k`` reflects every request the server counted before it;
        requests we granted after ``k`` may not be counted yet, so they are subtracted from
        the server's figure. Older observations never overwrite newer ones within a window.
        A reset hint is believed for :attr:`hint_cap` seconds at most.
        """
        now = self._clock()
        self._window.finish(now)
        if self._queue.size:
            self._queue.wake_heads()
        if headers is None or not _has_reset_hint(headers):
            return  # without a reset time the headers change nothing (see below)
        remaining, reset_after, quota, window = _parse_safely(headers)
        if reset_after is None:
            return  # no usable hint (e.g. a 429 of platform load): keep the local view
        asked_at = now + reset_after
        reset_at = now + min(reset_after, self.hint_cap)
        if quota:
            self._srv_quota = quota
        if status == 429:
            # Authoritative: the quota is spent until the reset, whatever we estimated.
            self._srv_remaining = 0
            if self._srv_reset_at is None or reset_at > self._srv_reset_at:
                self._srv_reset_at = reset_at
                self._srv_asked_at = asked_at
            self._srv_seq = max(self._srv_seq, permit.seq)
            return
        if remaining is None:
            return
        window = window or self.rate.seconds
        if self._srv_reset_at is not None and now < self._srv_reset_at:
            if reset_at < self._srv_reset_at - window / 2:
                return  # a late response from an earlier window
            if abs(reset_at - self._srv_reset_at) < window / 2 and permit.seq < self._srv_seq:
                return  # stale: a newer response already spoke for this window
        # Requests granted after this one may not have been counted by the server yet.
        remaining -= self._seq - permit.seq
        self._srv_remaining = remaining
        self._srv_reset_at = reset_at
        self._srv_asked_at = asked_at
        if permit.seq > self._srv_seq:
            self._srv_seq = permit.seq
        if remaining > 0 and self._queue.size:
            self._queue.wake_heads()
