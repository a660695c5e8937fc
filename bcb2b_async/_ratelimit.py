"""Client-side rate limiting: a token bucket (aiolimiter), a sliding-window guard, and
feedback from the server's own rate-limit headers.

Three gates, all of which must agree before a request is sent:

1. ``aiolimiter.AsyncLimiter(quota, window)``: the token bucket that paces requests.
   On its own it admits up to about twice the quota inside one window (a full bucket plus
   what leaks back during the window), so it is never trusted alone.
2. :class:`SlidingWindow`: remembers the send times of the last ``quota`` requests and
   admits a new one only when the oldest of them is more than one window (plus a margin)
   old. Whatever the alignment of the server's fixed windows, no window of that length can
   then hold more than the quota.
3. The server's counters (``X-Requests-Remaining`` / ``X-Rate-Limit-Requests-Left`` and
   the reset hint): another integration on the same store spends the same quota, so when
   the server says fewer requests are left than we think, we slow down to what is left,
   and at zero every task waits for the reset.

Waiting requests are served by priority: ``interactive`` before ``bulk``; bulk traffic also
leaves ``RateLimit.reserve`` of each window free, so an urgent call rarely waits a window.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aiolimiter import AsyncLimiter

from ._config import PRIORITIES, Priority, RateLimit
from .errors import DeadlineExceededError

__all__ = [
    "Limiter",
    "LimiterBackend",
    "Permit",
    "RateHeaders",
    "SlidingWindow",
    "parse_rate_headers",
]

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)")
_ALLOCATED = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:times)?\s*/\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds|m|min)?\s*$",
    re.IGNORECASE,
)
#: Header values longer than this are ignored (a sane header is a few bytes).
_MAX_HEADER_LEN = 64


@dataclass(frozen=True, slots=True)
class RateHeaders:
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
    m = _NUMBER.match(value)
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
    num = _number(value)
    if num is None or num > 1e9:
        return None
    return int(num)


def _seconds(value: str | None, *, unit_ms: bool = False) -> float | None:
    num = _number(value)
    if num is None:
        return None
    if value is not None and re.search(r"\d\s*ms\b", value, re.IGNORECASE):
        unit_ms = True
    secs = num / 1000.0 if unit_ms else num
    if secs > 24 * 3600:  # nonsense; do not wait a day on a header's word
        return None
    return secs


def _allocated(value: str | None) -> tuple[int | None, float | None]:
    """Parse ``X-Requests-Allocated: 150 times/60 s``."""
    if value is None or len(value) > _MAX_HEADER_LEN:
        return None, None
    m = _ALLOCATED.match(value)
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


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value if isinstance(value, str) else None


def parse_rate_headers(headers: Mapping[str, str]) -> RateHeaders:
    """Read the rate-limit headers of either dialect; garbage yields ``None`` fields.

    B2B Edition: ``X-Requests-Remaining: 149 times``, ``X-Request-Window-Resets-After:
    0.39 s``, ``X-Requests-Allocated: 150 times/60 s``. V2: ``X-Rate-Limit-Requests-Left``,
    ``X-Rate-Limit-Time-Reset-Ms``, ``X-Rate-Limit-Requests-Quota``,
    ``X-Rate-Limit-Time-Window-Ms``. ``headers`` should be case-insensitive (aiohttp's are);
    for a plain dict the canonical and the lower-case spellings are tried.
    """
    try:
        v2_left = _get(headers, "X-Rate-Limit-Requests-Left")
        if v2_left is not None or _get(headers, "X-Rate-Limit-Time-Reset-Ms") is not None:
            return RateHeaders(
                remaining=_count(v2_left),
                reset_after=_seconds(_get(headers, "X-Rate-Limit-Time-Reset-Ms"), unit_ms=True),
                quota=_count(_get(headers, "X-Rate-Limit-Requests-Quota")),
                window=_seconds(_get(headers, "X-Rate-Limit-Time-Window-Ms"), unit_ms=True),
            )
        quota, window = _allocated(_get(headers, "X-Requests-Allocated"))
        return RateHeaders(
            remaining=_count(_get(headers, "X-Requests-Remaining")),
            reset_after=_seconds(_get(headers, "X-Request-Window-Resets-After")),
            quota=quota,
            window=window,
        )
    except (AttributeError, TypeError, ValueError, UnicodeError):
        return RateHeaders()


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

    Pure bookkeeping over clock readings the caller passes in.
    """

    __slots__ = ("_done", "in_flight", "quota", "window")

    def __init__(self, quota: int, window: float) -> None:
        self.quota = quota
        self.window = window
        self.in_flight = 0
        self._done: deque[float] = deque()

    def _trim(self, now: float) -> None:
        done = self._done
        while done and done[0] <= now - self.window:
            done.popleft()

    def used(self, now: float) -> int:
        """Occupied slots at ``now``: requests in flight plus those finished within a window."""
        self._trim(now)
        return self.in_flight + len(self._done)

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
        if done and now < done[-1]:
            now = done[-1]  # readings must not go backwards
        done.append(now)
        while len(done) > self.quota:
            done.popleft()

    def record(self, now: float) -> None:
        """A request granted and completed at ``now`` (for callers without round trips)."""
        self.start()
        self.finish(now)


@dataclass(slots=True)
class Permit:
    """One granted send slot; handed back to :meth:`Limiter.observe` with the response."""

    seq: int
    priority: Priority
    granted_at: float
    waited: float


@runtime_checkable
class LimiterBackend(Protocol):
    """What the request pipeline needs from a limiter (in-process or shared)."""

    async def acquire(self, priority: Priority = "bulk", deadline: float | None = None) -> Permit:
        """Wait for a send slot (or raise :class:`DeadlineExceededError`)."""
        ...

    def observe(
        self, permit: Permit, headers: Mapping[str, str] | None, status: int | None
    ) -> None:
        """The permit's request completed: feed back the response's rate headers (``None``
        when no response arrived). Must be called exactly once per permit, also on errors
        and cancellation."""
        ...


class _Waiter:
    __slots__ = ("event", "priority")

    def __init__(self, priority: Priority) -> None:
        self.priority = priority
        self.event = asyncio.Event()


class Limiter:
    """The in-process limiter for one store and one API (see the module docstring).

    ``clock`` (seconds, monotonic) and ``sleep`` can be replaced in tests. The aiolimiter
    bucket reads the event loop's own clock, so with an injected clock it is left out and
    the sliding window alone (which is what bounds every window anyway) does the limiting.
    """

    def __init__(
        self,
        rate: RateLimit,
        *,
        name: str = "",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        self.rate = rate
        self.name = name
        self._use_bucket = clock is None
        self._clock = clock or time.monotonic
        self._sleep = sleep
        self._window = SlidingWindow(rate.requests, rate.seconds + rate.effective_margin)
        self._bucket: AsyncLimiter | None = None
        self._queues: dict[Priority, deque[_Waiter]] = {p: deque() for p in PRIORITIES}
        self._seq = 0
        # What the server last told us, adjusted for what we sent since.
        self._srv_remaining: int | None = None
        self._srv_reset_at: float | None = None
        self._srv_seq = -1
        self._srv_quota: int | None = None
        self.priorities_enabled = True

    # -- introspection -----------------------------------------------------------------
    @property
    def server_remaining(self) -> int | None:
        """Requests the server allows in its current window, as last estimated (or None)."""
        if self._srv_reset_at is None or self._clock() >= self._srv_reset_at:
            return None
        return self._srv_remaining

    def waiting(self, priority: Priority | None = None) -> int:
        """How many acquisitions are waiting (for one priority, or all)."""
        if priority is None:
            return sum(len(q) for q in self._queues.values())
        return len(self._queues[priority])

    # -- the gates -----------------------------------------------------------------------
    def _bucket_delay(self) -> float:
        if not self._use_bucket:
            return 0.0
        if self._bucket is None:
            self._bucket = AsyncLimiter(self.rate.requests, self.rate.seconds)
        if self._bucket.has_capacity():
            return 0.0
        return self.rate.seconds / self.rate.requests

    def _delay(self, priority: Priority, now: float) -> float:
        reserve = self.rate.reserved_requests if priority == "bulk" else 0
        delay = self._window.delay(now, cap=self.rate.requests - reserve)
        if self._srv_reset_at is not None:
            if now >= self._srv_reset_at:
                self._srv_remaining = None
                self._srv_reset_at = None
            elif self._srv_remaining is not None:
                srv_reserve = reserve
                if self._srv_quota and self._srv_quota != self.rate.requests and reserve:
                    srv_reserve = max(1, math.floor(self._srv_quota * self.rate.reserve))
                if self._srv_remaining <= srv_reserve:
                    delay = max(delay, self._srv_reset_at - now + 0.01)
        if delay <= 0:
            delay = self._bucket_delay()
        return delay

    def _is_head(self, waiter: _Waiter) -> bool:
        if self.priorities_enabled:
            for p in PRIORITIES:
                q = self._queues[p]
                if q:
                    return q[0] is waiter
            return False
        # Priorities off: one FIFO in arrival order across both queues is emulated by
        # putting everyone in the bulk queue (see acquire).
        q = self._queues["bulk"]
        return bool(q) and q[0] is waiter

    def _wake_heads(self) -> None:
        for q in self._queues.values():
            if q:
                q[0].event.set()

    async def _wait(self, waiter: _Waiter, delay: float | None) -> None:
        if delay is not None and math.isinf(delay):
            delay = None  # woken by a completion
        if delay is not None and self._sleep is not None:
            # Test clocks: sleep through the injected sleeper, no event race needed.
            await self._sleep(delay)
            return
        try:
            if delay is None:
                await waiter.event.wait()
            else:
                await asyncio.wait_for(waiter.event.wait(), delay)
        except TimeoutError:
            pass
        waiter.event.clear()

    async def acquire(self, priority: Priority = "bulk", deadline: float | None = None) -> Permit:
        """Wait until a request may be sent, by priority, within ``deadline`` (monotonic).

        Raises :class:`DeadlineExceededError` as soon as it is clear that the slot cannot
        be had before the deadline; nothing is counted against the window then.
        """
        start = self._clock()
        qname: Priority = priority if self.priorities_enabled else "bulk"
        waiter = _Waiter(priority)
        queue = self._queues[qname]
        queue.append(waiter)
        try:
            while True:
                now = self._clock()
                delay: float | None
                if self._is_head(waiter):
                    delay = self._delay(priority, now)
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
                else:
                    delay = None
                    if deadline is not None:
                        if now >= deadline:
                            raise DeadlineExceededError(
                                f"{self.name or 'limiter'}: deadline passed while queued"
                            )
                        delay = deadline - now
                if delay is not None and math.isinf(delay) and deadline is not None:
                    delay = max(0.0, deadline - now)
                await self._wait(waiter, delay)
        finally:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
            self._wake_heads()
        now = self._clock()
        if self._bucket is not None:
            await self._bucket.acquire()  # has capacity: returns at once
        self._window.start()
        if self._srv_remaining is not None:
            self._srv_remaining -= 1
        self._seq += 1
        return Permit(seq=self._seq, priority=priority, granted_at=now, waited=now - start)

    def observe(
        self, permit: Permit, headers: Mapping[str, str] | None, status: int | None = None
    ) -> None:
        """The permit's request completed; correct the local state from its rate headers.

        Call it exactly once per permit, with ``headers=None`` when no response arrived
        (error, cancellation): the slot stays occupied until then.

        The response to request ``k`` reflects every request the server counted before it;
        requests we granted after ``k`` may not be counted yet, so they are subtracted from
        the server's figure. Older observations never overwrite newer ones within a window.
        """
        self._window.finish(self._clock())
        self._wake_heads()
        if headers is None:
            return
        info = parse_rate_headers(headers)
        if info.reset_after is None:
            return  # no usable hint (e.g. a 429 of platform load): keep the local view
        now = self._clock()
        reset_at = now + info.reset_after
        if info.quota:
            self._srv_quota = info.quota
        if status == 429:
            # Authoritative: the quota is spent until the reset, whatever we estimated.
            self._srv_remaining = 0
            self._srv_reset_at = max(reset_at, self._srv_reset_at or 0.0)
            self._srv_seq = max(self._srv_seq, permit.seq)
            return
        if info.remaining is None:
            return
        window = info.window or self.rate.seconds
        current = self._srv_reset_at is not None and now < self._srv_reset_at
        if current:
            assert self._srv_reset_at is not None
            if reset_at < self._srv_reset_at - window / 2:
                return  # a late response from an earlier window
            if abs(reset_at - self._srv_reset_at) < window / 2 and permit.seq < self._srv_seq:
                return  # stale: a newer response already spoke for this window
        # Requests granted after this one may not have been counted by the server yet.
        self._srv_remaining = info.remaining - (self._seq - permit.seq)
        self._srv_reset_at = reset_at
        self._srv_seq = max(self._srv_seq, permit.seq)
        if self._srv_remaining > 0:
            self._wake_heads()
