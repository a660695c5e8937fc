"""Rate-limit header parsing, the window guarantee, server feedback and priorities.

No real sleeping: the limiter runs on a fake clock whose sleep advances the clock.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections import deque
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

import bcb2b_async._ratelimit as ratelimit_module
from bcb2b_async import DeadlineExceededError, Limiter, RateLimit, parse_rate_headers
from bcb2b_async._ratelimit import (
    LimiterBackend,
    Permit,
    SlidingWindow,
    WaiterQueue,
    _number,
    _patterns,
    supports_max_wait,
)
from bcb2b_async.errors import ServerWaitTooLongError


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


async def take(lim: Limiter, priority: str = "bulk", **kw: object) -> Permit:
    """Acquire a slot for an instantaneous request (granted and completed at once)."""
    permit = await lim.acquire(priority, **kw)  # type: ignore[arg-type]
    lim.observe(permit, None, None)
    return permit


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    for i, t in enumerate(times):
        j = bisect.bisect_left(times, t + window)
        best = max(best, j - i)
    return best


# -- header parsing -------------------------------------------------------------------
def test_b2b_headers() -> None:
    info = parse_rate_headers(
        {
            "X-Requests-Remaining": "149 times",
            "X-Request-Window-Resets-After": "0.3973509933774834 s",
            "X-Requests-Allocated": "150 times/60 s",
        }
    )
    assert info.remaining == 149
    assert info.reset_after == pytest.approx(0.39735, rel=1e-3)
    assert info.quota == 150
    assert info.window == 60.0
    assert info.known


def test_v2_headers() -> None:
    info = parse_rate_headers(
        {
            "X-Rate-Limit-Time-Window-Ms": "30000",
            "X-Rate-Limit-Time-Reset-Ms": "15000",
            "X-Rate-Limit-Requests-Quota": "150",
            "X-Rate-Limit-Requests-Left": "35",
        }
    )
    assert (info.remaining, info.reset_after, info.quota, info.window) == (35, 15.0, 150, 30.0)


def test_lowercase_header_names() -> None:
    info = parse_rate_headers({"x-requests-remaining": "3 times",
                               "x-request-window-resets-after": "1.5 s"})
    assert (info.remaining, info.reset_after) == (3, 1.5)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Requests-Remaining": "lots", "X-Request-Window-Resets-After": "soon"},
        {"X-Requests-Remaining": "-5 times", "X-Request-Window-Resets-After": "-1 s"},
        {"X-Requests-Remaining": "nan", "X-Request-Window-Resets-After": "inf s"},
        {"X-Requests-Remaining": "9" * 500, "X-Request-Window-Resets-After": "1e400 s"},
        {"X-Requests-Allocated": "times/ s", "X-Requests-Remaining": ""},
        {"X-Rate-Limit-Requests-Left": "x", "X-Rate-Limit-Time-Reset-Ms": "-3"},
        {"X-Request-Window-Resets-After": "999999999 s", "X-Requests-Remaining": "1 times"},
    ],
)
def test_garbage_headers_yield_unknown(headers: dict[str, str]) -> None:
    info = parse_rate_headers(headers)
    assert not info.known or (info.remaining is not None and info.remaining >= 0)
    for value in (info.remaining, info.reset_after, info.quota, info.window):
        assert value is None or value >= 0


@given(st.dictionaries(st.sampled_from([
    "X-Requests-Remaining", "X-Request-Window-Resets-After", "X-Requests-Allocated",
    "X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms", "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Time-Window-Ms"]), st.text(max_size=80)))
@settings(max_examples=300, deadline=None)
def test_header_parser_never_raises(headers: dict[str, str]) -> None:
    info = parse_rate_headers(headers)
    for value in (info.remaining, info.reset_after, info.quota, info.window):
        assert value is None or value >= 0


# -- the window guarantee -------------------------------------------------------------
@given(
    quota=st.integers(1, 30),
    window=st.floats(0.5, 60.0),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=200),
)
@settings(max_examples=200, deadline=None)
def test_sliding_window_never_exceeds_quota(quota: int, window: float, gaps: list[float]) -> None:
    """For any sequence of attempts, no interval of the window's length holds more than
    the quota: each attempt waits the delay the window asks for, then records."""
    sw = SlidingWindow(quota, window)
    now = 0.0
    sent: list[float] = []
    for gap in gaps:
        now += gap
        now += sw.delay(now)
        assert sw.delay(now) == 0.0
        sw.record(now)
        sent.append(now)
    assert max_in_any_window(sent, window) <= quota


def test_aiolimiter_alone_overshoots_but_limiter_does_not() -> None:
    """The measured bug: a bare token bucket admits far more than the quota in a window."""

    async def run() -> tuple[int, int]:
        from aiolimiter import AsyncLimiter

        loop = asyncio.get_running_loop()
        bucket = AsyncLimiter(20, 0.5)
        times: list[float] = []
        start = loop.time()
        while loop.time() - start < 0.5:
            await bucket.acquire()
            times.append(loop.time())
        bare = max_in_any_window(times, 0.5)
        lim = Limiter(RateLimit(20, 0.5, margin=0.0))
        times2: list[float] = []
        start = loop.time()
        while loop.time() - start < 0.5:
            await take(lim)
            times2.append(loop.time())
        return bare, max_in_any_window(times2, 0.5)

    bare, ours = asyncio.run(run())
    assert bare > 20
    assert ours <= 20


async def test_limiter_window_guarantee_with_fake_clock() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(10, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(95):
        await take(lim)
        times.append(clock.now)
    assert max_in_any_window(times, 1.0) <= 10
    # At the ceiling: 95 requests need 9 further windows after the first burst.
    assert clock.now - 1000.0 == pytest.approx(9.0, abs=0.01)


async def test_concurrent_acquirers_share_the_window() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(5, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    times: list[float] = []

    async def worker() -> None:
        for _ in range(10):
            await take(lim)
            times.append(clock.now)

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(4))), 5)
    assert len(times) == 40
    assert max_in_any_window(times, 1.0) <= 5


# -- server feedback -------------------------------------------------------------------
def _b2b(remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-Requests-Remaining": f"{remaining} times",
        "X-Request-Window-Resets-After": f"{reset} s",
        "X-Requests-Allocated": "20 times/1 s",
    }


async def test_server_remaining_slows_us_down() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    p = await lim.acquire()
    # Another integration spent most of the window: only 2 left, reset in 0.8 s.
    lim.observe(p, _b2b(2, 0.8), 200)
    assert lim.server_remaining == 2
    await take(lim)
    await take(lim)
    start = clock.now
    await take(lim)  # must wait for the reset
    assert clock.now - start >= 0.8


async def test_in_flight_requests_are_subtracted() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    first = await lim.acquire()
    for _ in range(3):
        await lim.acquire()  # granted after `first`, maybe not yet counted by the server
    lim.observe(first, _b2b(10, 0.5), 200)
    assert lim.server_remaining == 7


async def test_stale_observation_does_not_raise_budget() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    a = await lim.acquire()
    b = await lim.acquire()
    lim.observe(b, _b2b(3, 0.5), 200)
    lim.observe(a, _b2b(9, 0.5), 200)  # older response arriving late
    assert lim.server_remaining == 3


async def test_429_zeroes_the_budget_until_reset() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    p = await lim.acquire()
    lim.observe(p, _b2b(0, 0.6), 429)
    start = clock.now
    await take(lim)
    assert clock.now - start >= 0.6


async def test_missing_or_garbage_headers_fall_back_to_configured_rate() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(3, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    for headers in ({}, {"X-Requests-Remaining": "garbage"}, None):
        p = await lim.acquire()
        lim.observe(p, headers, 200)
    assert lim.server_remaining is None
    start = clock.now
    await take(lim)
    assert clock.now - start == pytest.approx(1.0, abs=0.01)


# -- priorities, reserve, deadlines ----------------------------------------------------
async def test_interactive_served_before_waiting_bulk() -> None:
    lim = Limiter(RateLimit(2, 0.3, margin=0.0))
    await take(lim, "bulk")
    await take(lim, "bulk")
    order: list[str] = []

    async def grab(name: str, prio: str) -> None:
        await take(lim, prio)
        order.append(name)

    bulk = [asyncio.create_task(grab(f"b{i}", "bulk")) for i in range(3)]
    await asyncio.sleep(0.01)
    urgent = asyncio.create_task(grab("urgent", "interactive"))
    await asyncio.wait_for(asyncio.gather(*bulk, urgent), 3)
    assert order[0] == "urgent"


async def test_bulk_leaves_the_reserve() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(10, 1.0, reserve=0.2, margin=0.0), clock=clock, sleep=clock.sleep)
    for _ in range(8):
        await take(lim, "bulk")
    assert clock.now == 1000.0
    # Two slots are left, for interactive requests only.
    await take(lim, "interactive")
    await take(lim, "interactive")
    assert clock.now == 1000.0
    await take(lim, "bulk")
    assert clock.now > 1000.0


async def test_no_starvation_of_bulk_without_interactive() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(10, 1.0, reserve=0.5, margin=0.0), clock=clock, sleep=clock.sleep)
    for _ in range(30):
        await asyncio.wait_for(take(lim, "bulk"), 1)
    assert clock.now - 1000.0 == pytest.approx(5.0, abs=0.01)


async def test_deadline_during_limiter_wait() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(1, 10.0, margin=0.0), clock=clock, sleep=clock.sleep)
    await take(lim)
    with pytest.raises(DeadlineExceededError):
        await take(lim, deadline=clock.now + 2.0)
    # Nothing was counted for the failed acquisition.
    assert lim.waiting() == 0


async def test_cancelled_waiter_leaves_the_queue() -> None:
    lim = Limiter(RateLimit(1, 5.0, margin=0.0))
    await take(lim)
    task = asyncio.create_task(take(lim))
    await asyncio.sleep(0.01)
    assert lim.waiting() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lim.waiting() == 0


def test_permit_is_plain_data() -> None:
    p = Permit(seq=1, priority="bulk", granted_at=0.0, waited=0.0)
    assert p.seq == 1


@given(
    quota=st.integers(1, 8),
    latencies=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=60),
    workers=st.integers(1, 6),
)
@settings(max_examples=100, deadline=None)
def test_guarantee_holds_for_any_arrival_within_the_round_trip(
    quota: int, latencies: list[float], workers: int
) -> None:
    """The server counts a request at some moment between its grant and its response.
    Whatever those moments are, no window may hold more than the quota: for each request,
    the requests that could arrive within one window before its earliest arrival are fewer
    than the quota."""
    window = 1.0

    async def run() -> list[tuple[float, float]]:
        clock = FakeClock()
        lim = Limiter(RateLimit(quota, window, margin=0.0), clock=clock, sleep=clock.sleep)
        spans: list[tuple[float, float]] = []
        todo = iter(latencies)

        async def worker() -> None:
            for lat in todo:
                permit = await lim.acquire()
                granted = clock.now
                await clock.sleep(lat)
                lim.observe(permit, None, 200)
                spans.append((granted, clock.now))

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(workers))), 10)
        return spans

    spans = asyncio.run(run())
    assert len(spans) == len(latencies)
    for g_i, _ in spans:
        # Requests other than i whose possible arrival overlaps (g_i - window, g_i].
        others = [1 for g_j, c_j in spans if (g_j, c_j) != (g_i, _) and g_j <= g_i
                  and c_j > g_i - window]
        assert len(others) <= quota - 1


# -- the waiter queue (one class for the in-process and the Redis limiter) ------------
def test_waiter_queue_serves_interactive_first_or_in_arrival_order() -> None:
    queue = WaiterQueue()
    b0 = queue.join("bulk")
    i0 = queue.join("interactive")
    b1 = queue.join("bulk")
    assert len(queue) == 3 and queue.count("bulk") == 2 and queue.count("interactive") == 1
    assert queue.head() is i0 and queue.is_head(i0) and not queue.is_head(b0)
    queue.priorities_enabled = False  # one FIFO: the oldest waiter of either priority
    assert queue.head() is b0
    queue.leave(b0)
    assert queue.head() is i0
    queue.priorities_enabled = True
    queue.leave(i0)
    assert queue.head() is b1 and b1.event.is_set(), "the new head is woken"
    queue.leave(b1)
    queue.leave(b1)  # twice: harmless
    assert len(queue) == 0 and queue.head() is None


async def test_waiter_queue_wait_returns_on_wake_or_after_the_delay() -> None:
    queue = WaiterQueue()
    w = queue.join("bulk")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await queue.wait(w, 0.05)
    assert loop.time() - started >= 0.04
    loop.call_later(0.01, queue.wake_heads)
    await asyncio.wait_for(queue.wait(w, None), 2)
    assert not w.event.is_set(), "the event is cleared for the next wait"


async def test_priorities_off_serves_in_arrival_order() -> None:
    lim = Limiter(RateLimit(2, 0.3, margin=0.0), priorities=False)
    assert not lim.priorities_enabled
    await take(lim, "bulk")
    await take(lim, "bulk")
    order: list[str] = []

    async def grab(name: str, prio: str) -> None:
        await take(lim, prio)
        order.append(name)

    bulk = [asyncio.create_task(grab(f"b{i}", "bulk")) for i in range(2)]
    await asyncio.sleep(0.01)
    urgent = asyncio.create_task(grab("urgent", "interactive"))
    await asyncio.wait_for(asyncio.gather(*bulk, urgent), 3)
    assert order == ["b0", "b1", "urgent"]
    lim.priorities_enabled = True
    assert lim.priorities_enabled


# -- server hints: capped, and refused with max_wait ------------------------------------
def _hour_long(remaining: int = 0) -> dict[str, str]:
    return {"X-Requests-Remaining": f"{remaining} times",
            "X-Request-Window-Resets-After": "3600 s",
            "X-Requests-Allocated": "20 times/1 s"}


async def test_a_server_hint_is_believed_for_three_windows_at_most() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    assert lim.hint_cap == 3.0
    p = await lim.acquire()
    lim.observe(p, _hour_long(), 200)
    start = clock.now
    await take(lim)
    assert 3.0 <= clock.now - start <= 3.1, "one header must not stall calls for an hour"


async def test_a_day_long_v2_hint_is_capped_too() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(150, 30.0, margin=0.0), clock=clock, sleep=clock.sleep,
                  hint_cap=45.0)
    p = await lim.acquire()
    lim.observe(p, {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "86400000",
                    "X-Rate-Limit-Requests-Quota": "150",
                    "X-Rate-Limit-Time-Window-Ms": "30000"}, 429)
    start = clock.now
    await take(lim)
    assert 45.0 <= clock.now - start <= 45.1


async def test_max_wait_refuses_a_long_server_wait_at_once() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep,
                  hint_cap=7200.0, name="b2b")
    p = await lim.acquire()
    lim.observe(p, _hour_long(), 200)
    with pytest.raises(ServerWaitTooLongError, match=r"3600\.0 s") as info:
        await lim.acquire("interactive", max_wait=30.0)
    assert clock.sleeps == [], "refused without sleeping"
    assert info.value.requested == pytest.approx(3600.0)
    assert info.value.allowed == 30.0
    assert "max_wait 30.0 s" in str(info.value) and "b2b" in str(info.value)
    assert lim.waiting() == 0
    # Capped below max_wait: the capped wait is waited, and the message names both.
    lim = Limiter(RateLimit(20, 1.0, margin=0.0), clock=clock, sleep=clock.sleep,
                  hint_cap=20.0, name="b2b")
    lim.observe(await lim.acquire(), _hour_long(), 200)
    with pytest.raises(ServerWaitTooLongError, match=r"believed for 20\.0 s"):
        await lim.acquire(max_wait=10.0)
    start = clock.now
    await take(lim, max_wait=25.0)
    assert 20.0 <= clock.now - start <= 20.1


async def test_max_wait_refuses_for_queued_waiters_too() -> None:
    lim = Limiter(RateLimit(20, 0.5, margin=0.0), name="b2b", hint_cap=0.4)
    p = await lim.acquire()
    lim.observe(p, _hour_long(), 200)
    head = asyncio.create_task(take(lim))  # sleeps through the (capped) block
    await asyncio.sleep(0.01)
    assert lim.waiting() == 1
    with pytest.raises(ServerWaitTooLongError):
        await asyncio.wait_for(lim.acquire(max_wait=0.1), 0.05)
    await asyncio.wait_for(head, 2)


async def test_max_wait_does_not_apply_to_the_limiters_own_pacing() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(2, 10.0, margin=0.0), clock=clock, sleep=clock.sleep)
    await take(lim)
    await take(lim)
    start = clock.now
    await take(lim, max_wait=1.0)  # the window, not the server: waited
    assert clock.now - start == pytest.approx(10.0, abs=0.01)


async def test_a_deadline_that_has_passed_or_passes_while_queued() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(5, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    with pytest.raises(DeadlineExceededError, match="passed"):
        await lim.acquire(deadline=clock.now - 0.5)
    real = Limiter(RateLimit(1, 5.0, margin=0.0))
    blocker = await real.acquire()  # in flight: only its completion frees the slot
    loop_deadline = time.monotonic() + 0.05
    head = asyncio.create_task(real.acquire(deadline=loop_deadline))
    queued = asyncio.create_task(real.acquire(deadline=loop_deadline))
    for task in (head, queued):
        with pytest.raises(DeadlineExceededError):
            await asyncio.wait_for(task, 2)
    assert real.waiting() == 0
    real.observe(blocker, None)
    assert lim.grants == 0 and real.grants == 1


# -- counters, occupy, protocol ---------------------------------------------------------
async def test_wait_counters() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(2, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await take(lim)
    # Two at once, two when the first two leave the window, the fifth a window later.
    assert lim.grants == 5
    assert lim.waits == 2
    assert lim.total_wait == pytest.approx(2.0, abs=0.01)


async def test_occupy_counts_requests_granted_elsewhere() -> None:
    clock = FakeClock()
    lim = Limiter(RateLimit(3, 1.0, margin=0.0), clock=clock, sleep=clock.sleep)
    lim.occupy(completed_at=clock.now - 0.5)  # completed half a window ago
    flying = lim.occupy()  # still in flight
    await take(lim)
    start = clock.now
    await take(lim)  # the completed one leaves the window after 0.5 s
    assert clock.now - start == pytest.approx(0.5, abs=0.01)
    lim.observe(flying, None)
    assert lim.grants == 2


def test_limiters_are_backends_and_accept_max_wait() -> None:
    class OldBackend:
        async def acquire(self, priority: str = "bulk", deadline: float | None = None) -> Permit:
            raise NotImplementedError

        def observe(self, permit: Permit, headers: object, status: object) -> None:
            pass

    class KwargsBackend(OldBackend):
        async def acquire(self, *args: object, **kwargs: object) -> Permit:  # type: ignore[override]
            raise NotImplementedError

    lim = Limiter(RateLimit(5, 1.0))
    assert isinstance(lim, LimiterBackend)
    assert supports_max_wait(lim)
    assert not supports_max_wait(OldBackend())
    assert supports_max_wait(KwargsBackend())
    assert not supports_max_wait(object())


# -- the hot path -------------------------------------------------------------------------
async def test_far_from_the_quota_nothing_is_queued() -> None:
    """Acquisitions with room to spare take the fast path: no waiter, no event, no timer."""
    lim = Limiter(RateLimit(1_000, 1.0))
    headers = _b2b(900, 0.5)
    for _ in range(200):
        p = await lim.acquire()
        lim.observe(p, headers, 200)
    assert next(lim._queue._next) == 0, "no waiter was ever created"
    assert lim.waits == 0 and lim.grants == 200


def test_sliding_window_keeps_only_the_last_windows_completions() -> None:
    sw = SlidingWindow(1_000_000, 1.0)
    now = 0.0
    for _ in range(10_000):
        now += 0.01
        assert sw.has_room(now, 1_000_000)
        sw.record(now)
    assert len(sw._done) <= 101
    assert sw.used(now) <= 101


@given(st.from_regex(r"\A[ ]?[0-9.]{0,8}[ ]?(ms|s|times|sec|MS)?[ ]?\Z"))
@settings(max_examples=300, deadline=None)
def test_fast_number_parse_agrees_with_the_regex(value: str) -> None:
    m = _patterns().number.match(value)
    expected = None
    if m is not None:
        num = float(m.group(1))
        expected = num if num >= 0 else None
    assert _number(value) == expected


# -- try_acquire: acquire()'s fast path without a coroutine ----------------------------
def _fake_limiter(rate: RateLimit) -> tuple[Limiter, FakeClock]:
    clock = FakeClock()
    return Limiter(rate, clock=clock, sleep=clock.sleep), clock


async def test_try_acquire_grants_a_free_slot_and_counts_it() -> None:
    lim, clock = _fake_limiter(RateLimit(3, 1.0, margin=0.0))
    first = lim.try_acquire("interactive")
    assert isinstance(first, Permit)
    assert (first.priority, first.granted_at, first.waited) == ("interactive", clock.now, 0.0)
    second = lim.try_acquire()
    assert isinstance(second, Permit) and second.seq == first.seq + 1
    assert lim.grants == 2 and lim.waits == 0
    # The permits hold their slots: one left of three, then none.
    assert lim.try_acquire() is not None
    assert lim.try_acquire() is None and lim.try_acquire("interactive") is None
    assert lim.grants == 3
    # acquire() sees the same slots: nothing frees one while all three are in flight.
    with pytest.raises(DeadlineExceededError):
        await lim.acquire(deadline=clock.now + 5.0)
    assert next(lim._queue._next) == 1, "only the refused acquire() ever queued"


async def test_try_acquire_permits_go_back_through_observe() -> None:
    lim, clock = _fake_limiter(RateLimit(2, 1.0, margin=0.0))
    a = lim.try_acquire()
    b = lim.try_acquire()
    assert a is not None and b is not None and lim.try_acquire() is None
    lim.observe(a, None, 200)  # completed at 1000.0: its slot is taken until 1001.0
    clock.now += 0.5
    lim.observe(b, {}, 200)  # completed at 1000.5: until 1001.5
    assert lim.try_acquire() is None, "a completed request occupies its slot for a window"
    start = clock.now
    c = await lim.acquire()
    assert clock.now - start == pytest.approx(0.5, abs=0.01), "a's slot, one window after"
    lim.observe(c, None, 200)
    # A window after every completion each slot is free again; a None from the fast
    # path then costs no wait: acquire() grants at once.
    clock.now += 1.01
    d = lim.try_acquire() or await lim.acquire()
    e = lim.try_acquire() or await lim.acquire()
    assert clock.now == pytest.approx(start + 0.5 + 1.01) and d.seq < e.seq
    assert lim.grants == 5 and lim.try_acquire() is None


async def test_try_acquire_never_lets_the_window_exceed_the_quota() -> None:
    """Mixed fast-path and awaited grants, requests held in flight for random times:
    no window of the quota's length holds more grants than the quota."""
    rng = random.Random(7)
    lim, clock = _fake_limiter(RateLimit(5, 1.0, margin=0.0))
    granted: list[float] = []
    in_flight: deque[Permit] = deque()
    fast = 0
    for _ in range(150):
        permit = lim.try_acquire()
        if permit is None:
            permit = await asyncio.wait_for(lim.acquire(), 1)
        else:
            fast += 1
        granted.append(clock.now)
        in_flight.append(permit)
        if len(in_flight) > 3 or rng.random() < 0.5:
            await clock.sleep(rng.random() * 0.4)
            lim.observe(in_flight.popleft(), None, 200)
    assert lim.grants == 150
    assert 0 < fast < 150, "both the fast path and acquire() were exercised"
    assert max_in_any_window(granted, 1.0) <= 5


async def test_try_acquire_refuses_while_someone_is_queued() -> None:
    # Bulk may use 3 of 4 slots: with 3 in flight a bulk acquire() queues, while the
    # window still has room for an interactive request.
    lim, _ = _fake_limiter(RateLimit(4, 1.0, reserve=0.25, margin=0.0))
    held = [lim.try_acquire() for _ in range(3)]
    assert all(p is not None for p in held)
    queued = asyncio.create_task(lim.acquire("bulk"))
    for _ in range(10):
        await asyncio.sleep(0)
        if lim.waiting():
            break
    assert lim.waiting() == 1
    assert lim.try_acquire("interactive") is None, "no overtaking the queue"
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert lim.waiting() == 0
    assert lim.try_acquire("interactive") is not None
    assert lim.grants == 4


async def test_try_acquire_respects_the_bulk_cap() -> None:
    lim, _ = _fake_limiter(RateLimit(10, 1.0, reserve=0.2, margin=0.0))
    bulk = [lim.try_acquire("bulk") for _ in range(8)]
    assert all(p is not None for p in bulk)
    assert lim.try_acquire("bulk") is None, "the last two slots are reserved"
    assert lim.try_acquire("interactive") is not None
    assert lim.try_acquire("interactive") is not None
    assert lim.try_acquire("interactive") is None and lim.try_acquire("bulk") is None
    assert lim.grants == 10


async def test_try_acquire_grants_once_the_window_has_passed_with_nothing_else_running() -> None:
    # The window at its cap, then a quiet window: the fast path must see the slots free
    # (it used to read a count nothing had trimmed and refused every slot).
    lim, clock = _fake_limiter(RateLimit(2, 1.0, margin=0.0))
    for p in [lim.try_acquire(), lim.try_acquire()]:
        assert p is not None
        lim.observe(p, None, 200)
    assert lim.try_acquire() is None
    clock.now += 1.01
    assert lim.try_acquire() is not None and lim.try_acquire() is not None
    assert lim.try_acquire() is None and lim.grants == 4


async def test_try_acquire_leaves_the_second_half_to_the_token_bucket() -> None:
    """Without an injected clock the aiolimiter bucket paces the second half of a window:
    the fast path grants while fewer than half the quota's slots are taken."""
    lim = Limiter(RateLimit(10, 60.0, margin=0.0))
    permits = [p for _ in range(5) if (p := lim.try_acquire()) is not None]
    assert len(permits) == 5
    assert lim.try_acquire() is None and lim.try_acquire("interactive") is None
    assert lim.grants == 5
    # acquire() still grants (through the bucket, which has room: it never waits here).
    permits.append(await asyncio.wait_for(lim.acquire(), 1))
    assert lim.grants == 6
    for p in permits:
        lim.observe(p, None, 200)
    # Completed requests stay in the window: still half the quota or more.
    assert lim.try_acquire() is None
    # With an injected clock there is no bucket: the whole quota is fast-path material.
    fake, _ = _fake_limiter(RateLimit(10, 60.0, margin=0.0))
    assert all(fake.try_acquire() is not None for _ in range(10))
    assert fake.try_acquire() is None


async def test_try_acquire_spends_the_servers_budget_and_keeps_its_reserve() -> None:
    # 20 a window, 2 of them reserved for interactive calls; the server says 4 are left.
    lim, clock = _fake_limiter(RateLimit(20, 1.0, reserve=0.1, margin=0.0))
    first = lim.try_acquire()
    assert first is not None
    lim.observe(first, _b2b(4, 0.5), 200)
    assert lim.server_remaining == 4
    assert lim.try_acquire("bulk") is not None and lim.try_acquire("bulk") is not None
    assert lim.server_remaining == 2
    assert lim.try_acquire("bulk") is None, "the server's last 2 are the reserve"
    assert lim.try_acquire("interactive") is not None
    assert lim.try_acquire("interactive") is not None
    assert lim.server_remaining == 0 and lim.try_acquire("interactive") is None
    clock.now += 0.51
    assert lim.try_acquire("bulk") is not None
    assert lim.grants == 6


# -- observe(): headers without a reset time are not parsed ------------------------------
_RESET_ZERO = [
    pytest.param({"X-Requests-Remaining": "0 times", "X-Request-Window-Resets-After": "0.5 s",
                  "X-Requests-Allocated": "20 times/1 s"}, id="b2b"),
    pytest.param({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "500",
                  "X-Rate-Limit-Requests-Quota": "20", "X-Rate-Limit-Time-Window-Ms": "1000"},
                 id="v2"),
    pytest.param({"x-requests-remaining": "0 times", "x-request-window-resets-after": "0.5 s"},
                 id="b2b-lowercase-dict"),
    pytest.param({"x-rate-limit-requests-left": "0", "x-rate-limit-time-reset-ms": "500"},
                 id="v2-lowercase-dict"),
    pytest.param(CIMultiDictProxy(CIMultiDict({"x-REQUESTS-remaining": "0 times",
                                               "X-REQUEST-WINDOW-RESETS-AFTER": "0.5 s"})),
                 id="b2b-cimultidictproxy"),
    pytest.param(CIMultiDictProxy(CIMultiDict({"X-RATE-LIMIT-REQUESTS-LEFT": "0",
                                               "x-rate-limit-time-reset-ms": "500"})),
                 id="v2-cimultidictproxy"),
    pytest.param(CIMultiDict({"x-rate-limit-requests-left": "0",
                              "X-Rate-Limit-Time-Reset-MS": "500"}), id="v2-cimultidict"),
]


@pytest.mark.parametrize("headers", _RESET_ZERO)
@pytest.mark.parametrize("status", [200, 429])
async def test_zero_remaining_with_a_reset_blocks_the_fast_path_until_the_reset(
    headers: Mapping[str, str], status: int
) -> None:
    lim, clock = _fake_limiter(RateLimit(20, 1.0, margin=0.0))
    permit = lim.try_acquire()
    assert permit is not None
    lim.observe(permit, headers, status)
    assert lim.server_remaining == 0
    assert lim.try_acquire("interactive") is None and lim.try_acquire("bulk") is None
    clock.now += 0.49
    assert lim.try_acquire("interactive") is None
    clock.now += 0.02  # past the reset
    assert lim.server_remaining is None
    assert lim.try_acquire("interactive") is not None
    assert lim.grants == 2


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Rate-Limit-Requests-Left": "0"}, id="v2"),
        pytest.param({"x-rate-limit-requests-left": "0"}, id="v2-lowercase"),
        pytest.param({"X-Requests-Remaining": "0 times", "X-Requests-Allocated": "20 times/1 s"},
                     id="b2b"),
        pytest.param(CIMultiDictProxy(CIMultiDict({"X-Rate-Limit-Requests-Left": "0",
                                                   "X-Rate-Limit-Requests-Quota": "20"})),
                     id="v2-cimultidictproxy"),
    ],
)
@pytest.mark.parametrize("status", [200, 429])
async def test_headers_without_a_reset_change_nothing_and_are_not_parsed(
    headers: Mapping[str, str], status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[object] = []
    real = ratelimit_module._parse_safely

    def spy(h: Mapping[str, str]) -> object:
        parsed.append(h)
        return real(h)

    monkeypatch.setattr(ratelimit_module, "_parse_safely", spy)
    lim, _ = _fake_limiter(RateLimit(20, 1.0, margin=0.0))
    permit = lim.try_acquire()
    assert permit is not None
    lim.observe(permit, headers, status)
    assert parsed == [], "no reset time: the parse is skipped"
    assert lim.server_remaining is None
    assert lim.try_acquire("bulk") is not None
    # The spy does see the parse when a reset time is there.
    other = lim.try_acquire()
    assert other is not None
    lim.observe(other, _b2b(0, 0.5), status)
    assert len(parsed) == 1 and lim.server_remaining == 0
