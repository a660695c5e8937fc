"""A rate limiter shared through Redis: many processes or hosts, one store quota.

BigCommerce counts a store's quota across every client of the store. Several worker
processes that each run the in-process :class:`~bcb2b_async.Limiter` would each spend the
full quota and together collect 429s; :class:`RedisLimiter` keeps the limiter's state in
Redis instead, so every worker that points at the same Redis, store hash and API draws from
one quota::

    backend = RedisBackend("redis://redis.internal:6379/0")
    async with backend:
        client = B2BClient(
            store_hash, token,
            b2b_limiter=backend.limiter(RateLimit(150, 60.0), store_hash=store_hash, api="b2b"),
            v2_limiter=backend.limiter(RateLimit(150, 30.0), store_hash=store_hash, api="v2"),
        )
        # or: client = backend.client(store_hash, token)

The semantics are those of the in-process limiter: no interval of ``rate.seconds +
rate.effective_margin`` ever holds more than ``rate.requests`` grants, counted across all
processes; ``interactive`` requests go before ``bulk`` ones and bulk traffic leaves
``rate.reserved_requests`` of each window free; deadlines raise
:class:`~bcb2b_async.DeadlineExceededError` as soon as a slot cannot be had in time; and the
server's own rate headers, seen by any worker, slow every worker down.

State in Redis (the store hash is written in braces, e.g. ``bcb2b:{abc123}:b2b:window``:
a Redis Cluster hash tag, so one store's keys live in one slot as a script needs)::

    {prefix}:{store_hash}:{api}:window       sorted set: one member per grant, scored by
                                             the grant's Redis time (microseconds)
    {prefix}:{store_hash}:{api}:server       hash: remaining, reset_at (absolute Redis
                                             time), seq (newest observation applied)
    {prefix}:{store_hash}:{api}:seq          counter: store-wide grant number
    {prefix}:{store_hash}:{api}:interactive  sorted set: interactive waiters, scored by
                                             the time their registration expires

Every decision is one Lua script run atomically by Redis with Redis's own clock
(``TIME``), so hosts with skewed clocks still agree. A grant is a ``ZADD``; a refusal
returns how long to wait, and the waiter sleeps that long (at most ``max_poll`` seconds,
so new interactive waiters and new server observations are noticed) and asks again.

If Redis cannot be reached when the limiter is first used, :class:`LimiterUnavailableError`
is raised. If it goes away later, the limiter logs one WARNING on the ``bcb2b_async``
logger, carries on with an in-process :class:`~bcb2b_async.Limiter` (``fallback_rate``,
by default the same rate: a fleet of N workers may then spend up to N quotas and meet
429s, which the client retries), retries Redis every ``retry_interval`` seconds in the
background and switches back, copying the grants made meanwhile into Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from ._client import B2BClient
from ._config import PRIORITIES, Priority, RateLimit
from ._ratelimit import Limiter, Permit, SlidingWindow, parse_rate_headers
from ._validate import priority as check_priority
from .errors import BigCommerceError, DeadlineExceededError, InvalidArgumentError

__all__ = [
    "LimiterUnavailableError",
    "RedisBackend",
    "RedisKeys",
    "RedisLimiter",
    "SharedPermit",
    "redact_url",
]

log = logging.getLogger("bcb2b_async")

API = Literal["b2b", "v2"]

#: What counts as "Redis is not there" (connection refused/reset, timeouts, a server
#: that is loading or read-only...). A script error is a RedisError too: falling back
#: is safer than failing an export over it, and the WARNING names it.
_UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

#: Observations sent to Redis concurrently at most; beyond that (Redis is slow) newer
#: ones are dropped, the next response brings fresher headers anyway.
_MAX_OBSERVE_TASKS = 64

# One decision: grant (ZADD, return {0, seq, now}) or return {wait_ms, 0, now}.
#
# KEYS: window zset, server hash, interactive-waiters zset, grant counter
# ARGV: quota, window (us), bulk reserve (requests), priority, grant member,
#       waiter member, waiter registration ttl (us)
_ACQUIRE_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interactive = ARGV[4] == 'interactive'

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)

-- Bulk leaves the reserve free, and at least one slot while an interactive call waits.
local hold = 0
if not interactive then
  hold = tonumber(ARGV[3])
  if hold < 1 and redis.call('ZCARD', KEYS[3]) > 0 then hold = 1 end
end
local cap = quota - hold

local wait = 0
local used = redis.call('ZCARD', KEYS[1])
if cap < 1 then
  wait = 50000
elseif used >= cap then
  -- The grant that must leave the window before one more fits.
  local oldest = redis.call('ZRANGE', KEYS[1], used - cap, used - cap, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now + 1
end

-- What the server last said, less what was granted since.
local srv = redis.call('HMGET', KEYS[2], 'remaining', 'reset_at')
local remaining = tonumber(srv[1])
local reset_at = tonumber(srv[2])
if reset_at then
  if now >= reset_at then
    redis.call('DEL', KEYS[2])
    remaining = nil
  elseif remaining and remaining <= hold then
    local until_reset = reset_at - now + 10000
    if until_reset > wait then wait = until_reset end
  end
end

if wait > 0 then
  if interactive then
    local ttl = tonumber(ARGV[7])
    redis.call('ZADD', KEYS[3], now + ttl, ARGV[6])
    redis.call('PEXPIRE', KEYS[3], math.ceil(ttl / 1000))
  end
  return {math.ceil(wait / 1000), 0, now}
end

redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
if remaining then redis.call('HINCRBY', KEYS[2], 'remaining', -1) end
if interactive then redis.call('ZREM', KEYS[3], ARGV[6]) end
local seq = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], 86400000)
return {0, seq, now}
"""

# Share one response's rate headers with every worker.
#
# KEYS: server hash, grant counter
# ARGV: permit seq, remaining (-1 unknown), reset_after (us), '1' for a 429,
#       the server's window (us)
_OBSERVE_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pseq = tonumber(ARGV[1])
local reset_at = now + tonumber(ARGV[3])

local cur = redis.call('HMGET', KEYS[1], 'reset_at', 'seq')
local cur_reset = tonumber(cur[1])
local cur_seq = tonumber(cur[2]) or -1
if cur_reset and now >= cur_reset then
  cur_reset = nil
  cur_seq = -1
end
local seq = pseq
if cur_seq > seq then seq = cur_seq end

local remaining
if ARGV[4] == '1' then
  -- Authoritative: the quota is spent until the reset, whatever was estimated.
  if cur_reset and cur_reset > reset_at then reset_at = cur_reset end
  remaining = 0
else
  remaining = tonumber(ARGV[2])
  if remaining < 0 then return 0 end
  local half = tonumber(ARGV[5]) / 2
  if cur_reset then
    if reset_at < cur_reset - half then return 0 end
    if math.abs(reset_at - cur_reset) < half and pseq < cur_seq then return 0 end
  end
  -- Grants after this one (by any worker) may not have been counted yet.
  local after = tonumber(redis.call('GET', KEYS[2]) or '0') - pseq
  if after > 0 then remaining = remaining - after end
end
redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', reset_at, 'seq', seq)
redis.call('PEXPIRE', KEYS[1], math.ceil((reset_at - now) / 1000) + 1000)
return 1
"""


class LimiterUnavailableError(BigCommerceError):
    """The shared (Redis) rate limiter could not be reached.

    Raised by :meth:`RedisLimiter.connect` and by the first :meth:`RedisLimiter.acquire`
    when Redis does not answer, and mid-run only when the limiter was built with
    ``fallback=False``. ``url`` is the Redis URL without its password.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


@dataclass(slots=True)
class SharedPermit(Permit):
    """A send slot granted through Redis.

    ``seq`` is the store-wide grant number (shared by every worker); ``redis_time`` is the
    grant's time on the Redis clock, in Unix seconds.
    """

    redis_time: float = 0.0


class RedisKeys(NamedTuple):
    """The Redis keys holding one store's and one API's limiter state."""

    window: str
    server: str
    seq: str
    interactive: str


def redact_url(url: str) -> str:
    """``url`` without its password (and without a query, which may carry one)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid redis url>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _valid_store_hash(value: object) -> str:
    if (
        not isinstance(value, str)
        or not value
        or not value.replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidArgumentError("store_hash must contain only letters, digits, - and _")
    return value


def _make_client(url: str, timeout: float) -> aioredis.Redis:
    """A Redis client that fails fast: short socket timeouts, one immediate retry."""
    if not isinstance(url, str) or not url:
        raise InvalidArgumentError("url must be a redis:// URL string")
    try:
        return aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
    except ValueError as err:
        raise InvalidArgumentError(f"not a usable Redis URL {redact_url(url)!r}: {err}") from None


def _positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidArgumentError(f"{name} must be a positive number of seconds")
    return float(value)


class _Health:
    """Outage state shared by the limiters of one backend: one WARNING per outage."""

    __slots__ = ("down",)

    def __init__(self) -> None:
        self.down = False


class _Waiter:
    __slots__ = ("event", "priority")

    def __init__(self, priority: Priority) -> None:
        self.priority = priority
        self.event = asyncio.Event()


class RedisLimiter:
    """A :class:`~bcb2b_async.LimiterBackend` whose state lives in Redis (see the module
    docstring): every limiter on the same Redis, ``key_prefix``, ``store_hash`` and ``api``
    shares one quota, whatever process or host it runs in.

    Args:
        url: the Redis URL (``redis://[:password@]host:port/db``, ``rediss://``,
            ``unix://``).
        rate: the quota, as for the in-process limiter (``RateLimit(150, 60.0)`` for B2B
            Edition, ``RateLimit(150, 30.0)`` for V2 on Standard/Plus plans). Every worker
            of a store must use the same rate.
        store_hash: the store whose quota is shared.
        api: ``"b2b"`` or ``"v2"`` (separate quotas).
        key_prefix: first part of every key (namespaces several fleets on one Redis).
        fallback: when Redis goes away mid-run, carry on with an in-process limiter
            (``True``) or raise :class:`LimiterUnavailableError` (``False``).
        fallback_rate: the in-process limiter's rate during an outage (default ``rate``;
            pass ``RateLimit(rate.requests // n_workers, rate.seconds)`` to stay within the
            quota at the cost of speed).
        timeout: socket timeout of each Redis call, seconds.
        retry_interval: how often Redis is tried again during an outage, seconds.
        max_poll: the longest a waiter sleeps before asking Redis again, seconds.
        client: a ``redis.asyncio.Redis`` to use instead of connecting to ``url`` (not
            closed by :meth:`aclose`; :class:`RedisBackend` shares one this way).
    """

    def __init__(
        self,
        url: str,
        rate: RateLimit,
        *,
        store_hash: str,
        api: API,
        key_prefix: str = "bcb2b",
        fallback: bool = True,
        fallback_rate: RateLimit | None = None,
        timeout: float = 1.0,
        retry_interval: float = 2.0,
        max_poll: float = 0.5,
        client: aioredis.Redis | None = None,
    ) -> None:
        if not isinstance(rate, RateLimit):
            raise InvalidArgumentError("rate must be a RateLimit")
        if fallback_rate is not None and not isinstance(fallback_rate, RateLimit):
            raise InvalidArgumentError("fallback_rate must be a RateLimit or None")
        if api not in ("b2b", "v2"):
            raise InvalidArgumentError(f"api must be 'b2b' or 'v2', got {api!r}")
        store_hash = _valid_store_hash(store_hash)
        if not isinstance(key_prefix, str) or not key_prefix or any(c in key_prefix for c in "{}"):
            raise InvalidArgumentError("key_prefix must be a non-empty str without braces")
        self.rate = rate
        self.store_hash = store_hash
        self.api: API = api
        self.fallback = bool(fallback)
        self.fallback_rate = fallback_rate or rate
        self._timeout = _positive("timeout", timeout)
        self._retry_interval = _positive("retry_interval", retry_interval)
        self._max_poll = _positive("max_poll", max_poll)
        #: The Redis URL without its password, for messages.
        self.display_url = redact_url(url)
        self.name = f"{api} limiter (Redis {self.display_url}, store {store_hash})"
        base = f"{key_prefix}:{{{store_hash}}}:{api}"
        #: The Redis keys of this store's and API's state.
        self.keys = RedisKeys(f"{base}:window", f"{base}:server", f"{base}:seq",
                              f"{base}:interactive")
        self._owns_client = client is None
        self._redis: aioredis.Redis = client if client is not None else _make_client(
            url, self._timeout
        )
        self._window_us = round((rate.seconds + rate.effective_margin) * 1e6)
        self._waiter_ttl_us = round(max(2.0, 4 * self._max_poll + self._timeout) * 1e6)
        self._sha: dict[str, str] = {}
        self._ready = False
        self._closed = False
        self._connect_lock = asyncio.Lock()
        self._health = _Health()
        self._instance = uuid.uuid4().hex[:16]
        self._counter = 0
        self._queues: dict[Priority, deque[_Waiter]] = {p: deque() for p in PRIORITIES}
        self._tasks: set[asyncio.Task[None]] = set()
        # Outage state: the in-process limiter, since when it serves, the probe task.
        self._degraded = False
        self._local: Limiter | None = None
        self._local_since = 0.0
        self._probe: asyncio.Task[None] | None = None
        # Monotonic times of this limiter's recent grants (seed the fallback window) and
        # of the grants made during an outage (copied into Redis on the way back).
        self._recent: deque[float] = deque(maxlen=rate.requests)
        self._offline: deque[float] = deque(maxlen=rate.requests)

    # -- introspection -----------------------------------------------------------------
    @property
    def shared(self) -> bool:
        """True while grants go through Redis (False before :meth:`connect` and during an
        outage, when the in-process fallback limiter serves)."""
        return self._ready and not self._degraded

    def waiting(self, priority: Priority | None = None) -> int:
        """How many acquisitions of this process are queued for Redis (one priority or all)."""
        if priority is None:
            return sum(len(q) for q in self._queues.values())
        return len(self._queues[priority])

    def __repr__(self) -> str:
        return (
            f"RedisLimiter({self.display_url!r}, {self.rate!r}, store_hash={self.store_hash!r}, "
            f"api={self.api!r}, shared={self.shared})"
        )

    # -- lifecycle ---------------------------------------------------------------------
    async def connect(self) -> None:
        """Check that Redis answers and load the scripts.

        Raises :class:`LimiterUnavailableError` (naming the URL without its password)
        when it does not. Called by the first :meth:`acquire` if not called before.
        """
        async with self._connect_lock:
            if self._ready:
                return
            if self._closed:
                raise LimiterUnavailableError(f"{self.name}: closed", url=self.display_url)
            try:
                await self._load_scripts()
            except _UNAVAILABLE as err:
                raise LimiterUnavailableError(
                    f"cannot reach Redis at {self.display_url} for the shared {self.api} rate "
                    f"limiter of store {self.store_hash} ({type(err).__name__}: {err}); "
                    "start Redis or fix the URL",
                    url=self.display_url,
                ) from err
            self._ready = True

    async def aclose(self) -> None:
        """Stop background work and close the Redis connection (unless it was passed in)."""
        self._closed = True
        tasks = list(self._tasks)
        if self._probe is not None:
            tasks.append(self._probe)
            self._probe = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            with contextlib.suppress(*_UNAVAILABLE):
                await self._redis.aclose()

    async def __aenter__(self) -> RedisLimiter:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- Redis calls -------------------------------------------------------------------
    async def _load_scripts(self) -> None:
        await self._redis.ping()
        self._sha["acquire"] = str(await self._redis.script_load(_ACQUIRE_LUA))
        self._sha["observe"] = str(await self._redis.script_load(_OBSERVE_LUA))

    async def _eval(self, script: str, keys: list[str], args: list[str | int]) -> Any:
        """EVALSHA, loading the scripts again when Redis lost them (restart, flush)."""
        try:
            return await self._redis.evalsha(self._sha[script], len(keys), *keys, *args)
        except NoScriptError:
            await self._load_scripts()
            return await self._redis.evalsha(self._sha[script], len(keys), *keys, *args)

    async def _try_acquire(self, priority: Priority, waiter_id: str) -> tuple[int, int, int]:
        self._counter += 1
        member = f"{self._instance}:{self._counter}"
        reply = await self._eval(
            "acquire",
            [self.keys.window, self.keys.server, self.keys.interactive, self.keys.seq],
            [
                self.rate.requests,
                self._window_us,
                self.rate.reserved_requests,
                priority,
                member,
                waiter_id,
                self._waiter_ttl_us,
            ],
        )
        wait_ms, seq, now_us = (int(x) for x in cast(list[Any], reply))
        return wait_ms, seq, now_us

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no running loop: nothing to do it with
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unregister(self, waiter_id: str) -> None:
        with contextlib.suppress(*_UNAVAILABLE):
            await self._redis.zrem(self.keys.interactive, waiter_id)

    # -- outage handling ---------------------------------------------------------------
    def _new_local(self) -> Limiter:
        """An in-process limiter that already knows this limiter's grants of the last window."""
        local = Limiter(self.fallback_rate, name=f"{self.api} (local fallback)")
        window = getattr(local, "_window", None)
        if isinstance(window, SlidingWindow):
            now = time.monotonic()
            for granted in self._recent:
                if granted > now - window.window:
                    window.record(granted)
        return local

    def _enter_fallback(self, err: BaseException) -> None:
        if self._degraded or self._closed:
            return
        self._degraded = True
        self._local = self._new_local()
        self._local_since = time.monotonic()
        if not self._health.down:
            self._health.down = True
            log.warning(
                "Redis rate limiter at %s unreachable (%s: %s); %s of store %s falls back "
                "to an in-process limiter and retries Redis every %.1f s",
                self.display_url, type(err).__name__, err, self.api, self.store_hash,
                self._retry_interval,
            )
        else:
            log.debug("%s: Redis still unreachable (%s); in-process fallback", self.name, err)
        for q in self._queues.values():
            for waiter in q:
                waiter.event.set()
        if self._probe is None or self._probe.done():
            with contextlib.suppress(RuntimeError):
                self._probe = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        while self._degraded and not self._closed:
            await asyncio.sleep(self._retry_interval)
            try:
                await self._load_scripts()
                await self._copy_offline_grants()
            except _UNAVAILABLE as err:
                log.debug("%s: Redis still unreachable (%s)", self.name, err)
                continue
            self._degraded = False
            if self._health.down:
                self._health.down = False
                log.info("Redis rate limiter at %s is back; shared limiting resumed",
                         self.display_url)
            else:
                log.debug("%s: shared limiting resumed", self.name)
            self._wake_heads()

    async def _copy_offline_grants(self) -> None:
        """Put the grants made during the outage into the Redis window, on Redis's clock."""
        if not self._offline:
            return
        secs, micros = await self._redis.time()
        redis_now = int(secs) * 1_000_000 + int(micros)
        now = time.monotonic()
        mapping: dict[str, float] = {}
        for i, granted in enumerate(self._offline):
            age_us = round((now - granted) * 1e6)
            if age_us < self._window_us:
                mapping[f"{self._instance}:offline:{self._counter}:{i}"] = redis_now - age_us
        if mapping:
            await self._redis.zadd(self.keys.window, mapping)
            await self._redis.pexpire(self.keys.window, self._window_us // 1000 + 1000)
        self._offline.clear()

    async def _local_acquire(
        self, priority: Priority, deadline: float | None, start: float
    ) -> Permit:
        local = self._local
        if local is None:  # closed, or fallback entered without a running loop
            local = self._local = self._new_local()
        permit = await local.acquire(priority, deadline)
        self._recent.append(permit.granted_at)
        self._offline.append(permit.granted_at)
        permit.waited = permit.granted_at - start
        return permit

    # -- acquire -----------------------------------------------------------------------
    def _is_head(self, waiter: _Waiter) -> bool:
        for p in PRIORITIES:
            q = self._queues[p]
            if q:
                return q[0] is waiter
        return False

    def _wake_heads(self) -> None:
        for q in self._queues.values():
            if q:
                q[0].event.set()

    @staticmethod
    async def _wait(waiter: _Waiter, delay: float | None) -> None:
        try:
            if delay is None:
                await waiter.event.wait()
            else:
                await asyncio.wait_for(waiter.event.wait(), delay)
        except TimeoutError:
            pass
        waiter.event.clear()

    async def acquire(self, priority: Priority = "bulk", deadline: float | None = None) -> Permit:
        """Wait for a send slot of the store's shared quota, by priority, within ``deadline``.

        ``deadline`` is a ``time.monotonic()`` reading. Raises
        :class:`~bcb2b_async.DeadlineExceededError` as soon as the slot cannot be had
        before it (nothing is counted then), and :class:`LimiterUnavailableError` when
        Redis is unreachable on first use (or at any time with ``fallback=False``).
        """
        prio = check_priority(priority)
        if not self._ready:
            await self.connect()
        start = time.monotonic()
        if self._degraded:
            return await self._local_acquire(prio, deadline, start)
        waiter = _Waiter(prio)
        queue = self._queues[prio]
        queue.append(waiter)
        bulk = self._queues["bulk"]
        if prio == "interactive" and bulk:
            bulk[0].event.set()  # a sleeping bulk head gives way
        waiter_id = f"{self._instance}:w{id(waiter)}:{start}"
        registered = False
        granted = False
        try:
            while not self._degraded:
                now = time.monotonic()
                if not self._is_head(waiter):
                    if deadline is not None and now >= deadline:
                        raise DeadlineExceededError(f"{self.name}: deadline passed while queued")
                    await self._wait(waiter, None if deadline is None else deadline - now)
                    continue
                try:
                    wait_ms, seq, now_us = await self._try_acquire(prio, waiter_id)
                except _UNAVAILABLE as err:
                    if not self.fallback:
                        raise LimiterUnavailableError(
                            f"lost Redis at {self.display_url} ({type(err).__name__}: {err}) "
                            f"and fallback is off",
                            url=self.display_url,
                        ) from err
                    self._enter_fallback(err)
                    break
                now = time.monotonic()
                if wait_ms == 0:
                    granted = True
                    self._recent.append(now)
                    return SharedPermit(
                        seq=seq, priority=prio, granted_at=now, waited=now - start,
                        redis_time=now_us / 1e6,
                    )
                registered = registered or prio == "interactive"
                delay = wait_ms / 1000.0
                if deadline is not None and now + delay > deadline:
                    raise DeadlineExceededError(
                        f"{self.name}: no send slot before the deadline (next slot in "
                        f"{delay:.2f} s, deadline in {max(0.0, deadline - now):.2f} s)"
                    )
                await self._wait(waiter, min(delay, self._max_poll))
        finally:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
            self._wake_heads()
            if registered and not granted and not self._degraded:
                self._spawn(self._unregister(waiter_id))
        return await self._local_acquire(prio, deadline, start)

    # -- observe -----------------------------------------------------------------------
    def observe(
        self, permit: Permit, headers: Mapping[str, str] | None, status: int | None = None
    ) -> None:
        """Share a response's rate headers with every worker through Redis.

        The server's remaining count, less the grants made (by anyone) after ``permit``,
        and its reset time (as absolute Redis time) are stored; at or below the bulk
        reserve, bulk requests everywhere wait for the reset. A 429 sets the remaining
        count to zero. Runs in the background (this method does not block).
        """
        if headers is None:
            return
        if not isinstance(permit, SharedPermit):
            # Granted by the in-process fallback: it learns from its own responses.
            local = self._local
            if local is not None and permit.granted_at >= self._local_since:
                local.observe(permit, headers, status)
            return
        if self._degraded or self._closed or not self._ready:
            return
        info = parse_rate_headers(headers)
        if info.reset_after is None:
            return  # no usable hint (e.g. a 429 of platform load)
        throttled = status == 429
        if not throttled and info.remaining is None:
            return
        if len(self._tasks) >= _MAX_OBSERVE_TASKS:
            return
        window = info.window or self.rate.seconds
        args: list[str | int] = [
            permit.seq,
            -1 if info.remaining is None else info.remaining,
            round(info.reset_after * 1e6),
            "1" if throttled else "0",
            round(window * 1e6),
        ]
        self._spawn(self._observe(args))

    async def _observe(self, args: list[str | int]) -> None:
        try:
            await self._eval("observe", [self.keys.server, self.keys.seq], args)
        except _UNAVAILABLE as err:
            if self.fallback:
                self._enter_fallback(err)
            else:
                log.debug("%s: could not share an observation (%s)", self.name, err)


class RedisBackend:
    """One Redis connection pool for every shared limiter of a process.

    ``backend.limiter(rate, store_hash=..., api=...)`` builds a :class:`RedisLimiter` on
    the shared connection; ``backend.client(store_hash, token)`` builds a
    :class:`~bcb2b_async.B2BClient` whose B2B and V2 limiters are both shared. Close the
    backend (``await backend.aclose()`` or ``async with``) after the clients.
    """

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "bcb2b",
        fallback: bool = True,
        timeout: float = 1.0,
        retry_interval: float = 2.0,
    ) -> None:
        self.url = url
        #: The Redis URL without its password, for messages.
        self.display_url = redact_url(url)
        self.key_prefix = key_prefix
        self.fallback = fallback
        self._timeout = _positive("timeout", timeout)
        self._retry_interval = _positive("retry_interval", retry_interval)
        self._redis = _make_client(url, self._timeout)
        self._health = _Health()
        self._limiters: list[RedisLimiter] = []

    def limiter(
        self,
        rate: RateLimit,
        *,
        store_hash: str,
        api: API,
        fallback_rate: RateLimit | None = None,
    ) -> RedisLimiter:
        """A :class:`RedisLimiter` for ``store_hash``'s ``api`` quota on this connection."""
        lim = RedisLimiter(
            self.url,
            rate,
            store_hash=store_hash,
            api=api,
            key_prefix=self.key_prefix,
            fallback=self.fallback,
            fallback_rate=fallback_rate,
            timeout=self._timeout,
            retry_interval=self._retry_interval,
            client=self._redis,
        )
        lim._health = self._health
        self._limiters.append(lim)
        return lim

    def client(
        self,
        store_hash: str,
        access_token: str,
        *,
        b2b_rate: RateLimit = RateLimit(150, 60.0),
        v2_rate: RateLimit = RateLimit(150, 30.0),
        **kwargs: Any,
    ) -> B2BClient:
        """A :class:`~bcb2b_async.B2BClient` whose B2B and V2 quotas are shared via Redis.

        ``kwargs`` go to :class:`~bcb2b_async.B2BClient` (base URLs, retries, ...).
        Equivalent to passing ``b2b_limiter=``/``v2_limiter=`` from :meth:`limiter`.
        """
        return B2BClient(
            store_hash,
            access_token,
            b2b_rate_limit=b2b_rate,
            v2_rate_limit=v2_rate,
            b2b_limiter=self.limiter(b2b_rate, store_hash=store_hash, api="b2b"),
            v2_limiter=self.limiter(v2_rate, store_hash=store_hash, api="v2"),
            **kwargs,
        )

    async def connect(self) -> None:
        """Check that Redis answers; raises :class:`LimiterUnavailableError` if not."""
        try:
            await self._redis.ping()
        except _UNAVAILABLE as err:
            raise LimiterUnavailableError(
                f"cannot reach Redis at {self.display_url} for the shared rate limiters "
                f"({type(err).__name__}: {err}); start Redis or fix the URL",
                url=self.display_url,
            ) from err

    async def aclose(self) -> None:
        """Stop the limiters' background work and close the connection pool."""
        for lim in self._limiters:
            await lim.aclose()
        with contextlib.suppress(*_UNAVAILABLE):
            await self._redis.aclose()

    async def __aenter__(self) -> RedisBackend:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
