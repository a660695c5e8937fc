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

The guarantee is the in-process limiter's: a request occupies a slot of the store's quota
from its grant until one window (``rate.seconds + rate.effective_margin``) after its
response, counted across all processes, and a grant needs a free slot. The server counts a
request somewhere between those two moments, so no interval of one window at the server
ever holds more than ``rate.requests`` arrivals, whatever the delays between grant and
send (a busy host, a slow network). ``interactive`` requests go before ``bulk`` ones and
bulk traffic leaves ``rate.reserved_requests`` of each window free; deadlines raise
:class:`~bcb2b_async.DeadlineExceededError` as soon as a slot cannot be had in time;
``max_wait`` refuses a long server-imposed wait with
:class:`~bcb2b_async.ServerWaitTooLongError`; and the server's own rate headers, seen by
any worker, slow every worker down (a reset hint is believed for ``hint_cap`` at most).

State in Redis (the store hash is written in braces, e.g. ``bcb2b:{abc123}:b2b:window``:
a Redis Cluster hash tag, so one store's keys live in one slot as a script needs)::

    {prefix}:{store_hash}:{api}:window       sorted set: completed requests, scored by
                                             their completion's Redis time (microseconds);
                                             a member leaves one window later
    {prefix}:{store_hash}:{api}:inflight     sorted set: granted requests not completed
                                             yet, scored by the end of their lease
    {prefix}:{store_hash}:{api}:server       hash: remaining, reset_at (absolute Redis
                                             time, capped), asked (uncapped), seq (newest
                                             observation applied)
    {prefix}:{store_hash}:{api}:seq          counter: store-wide grant number
    {prefix}:{store_hash}:{api}:interactive  sorted set: interactive waiters, scored by
                                             the time their registration expires

Every decision is one Lua script run atomically by Redis with Redis's own clock
(``TIME``), so hosts with skewed clocks still agree. A grant adds the request to
``inflight``; :meth:`RedisLimiter.observe` moves it to ``window`` at its completion time
(written in the background, batched). A worker that dies leaves its grants in
``inflight``: each is released ``lease`` seconds after its grant (counted as completed
then). A refusal returns how long to wait, and the waiter sleeps that long (at most
``max_poll`` seconds, so new interactive waiters, completions by other workers and new
server observations are noticed) and asks again.

If Redis cannot be reached when the limiter is first used, :class:`LimiterUnavailableError`
is raised. If it goes away later, the limiter logs one WARNING on the ``bcb2b_async``
logger, carries on with an in-process :class:`~bcb2b_async.Limiter` (``fallback_rate``,
by default the same rate: a fleet of N workers may then spend up to N quotas and meet
429s, which the client retries) that starts out knowing this process's requests of the
last window and those in flight, retries Redis every ``retry_interval`` seconds in the
background and switches back, writing the requests made meanwhile into Redis.
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
from types import TracebackType
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from ._client import B2BClient
from ._config import Priority, RateLimit
from ._ratelimit import Limiter, Permit, WaiterQueue, parse_rate_headers, server_wait_error
from ._validate import priority as check_priority
from .errors import BigCommerceError, DeadlineExceededError, InvalidArgumentError

__all__ = [
    "LimiterUnavailableError",
    "OutageLog",
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

#: Completions written to Redis in one script call at most.
_MAX_BATCH = 256
#: Completions kept for Redis while it is unreachable; older ones are dropped (their
#: grants are then released by their lease).
_MAX_PENDING = 4096
#: Fields per completion in the complete script's arguments.
_ITEM_FIELDS = 7

# One decision: grant (add to inflight, return {0, seq, now, 0, 0}) or return
# {wait_ms (-1: until a completion), 0, now, server_wait_ms, server_asked_ms}.
#
# KEYS: window zset, inflight zset, server hash, interactive-waiters zset, grant counter
# ARGV: quota, window (us), bulk reserve (requests), priority, grant member,
#       waiter member ('' = do not register), waiter registration ttl (us), lease (us)
_ACQUIRE_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interactive = ARGV[4] == 'interactive'
local lease = tonumber(ARGV[8])
local keep_ms = math.ceil((window + lease) / 1000) + 1000

-- Grants whose lease ran out (their worker died): completed when the lease ended.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
if #expired > 0 then
  for i = 1, #expired, 2 do
    redis.call('ZADD', KEYS[1], expired[i + 1], expired[i])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('PEXPIRE', KEYS[1], keep_ms)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)

-- Bulk leaves the reserve free, and at least one slot while an interactive call waits.
local hold = 0
if not interactive then
  hold = tonumber(ARGV[3])
  if hold < 1 and redis.call('ZCARD', KEYS[4]) > 0 then hold = 1 end
end
local cap = quota - hold

-- Occupied: requests in flight plus those completed within the last window.
local done = redis.call('ZCARD', KEYS[1])
local used = done + redis.call('ZCARD', KEYS[2])
local wait = 0
if cap < 1 then
  wait = 50000
elseif used >= cap then
  local need = used - cap + 1  -- completed requests that must leave the window first
  if need > done then
    wait = -1  -- only a completion can free a slot
  else
    local oldest = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
    wait = tonumber(oldest[2]) + window - now + 1
  end
end

-- What the server last said, less what was granted since.
local srv = redis.call('HMGET', KEYS[3], 'remaining', 'reset_at', 'asked')
local remaining = tonumber(srv[1])
local reset_at = tonumber(srv[2])
local srv_wait = 0
local asked = 0
if reset_at then
  if now >= reset_at then
    redis.call('DEL', KEYS[3])
    remaining = nil
  elseif remaining and remaining <= hold then
    srv_wait = reset_at - now
    asked = math.max(srv_wait, (tonumber(srv[3]) or reset_at) - now)
    if wait >= 0 and srv_wait + 10000 > wait then wait = srv_wait + 10000 end
  end
end

if wait ~= 0 then
  if interactive and ARGV[6] ~= '' then
    local ttl = tonumber(ARGV[7])
    redis.call('ZADD', KEYS[4], now + ttl, ARGV[6])
    redis.call('PEXPIRE', KEYS[4], math.ceil(ttl / 1000))
  end
  if wait > 0 then wait = math.ceil(wait / 1000) end
  return {wait, 0, now, math.ceil(srv_wait / 1000), math.ceil(asked / 1000)}
end

redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
redis.call('PEXPIRE', KEYS[2], keep_ms)
if remaining then redis.call('HINCRBY', KEYS[3], 'remaining', -1) end
if interactive and ARGV[6] ~= '' then redis.call('ZREM', KEYS[4], ARGV[6]) end
local seq = redis.call('INCR', KEYS[5])
redis.call('PEXPIRE', KEYS[5], 86400000)
return {0, seq, now, 0, 0}
"""

# Completions: each request leaves inflight and stays in the window until one window
# after its completion; the response's rate headers, if any, are shared with everyone.
#
# KEYS: window zset, inflight zset, server hash, grant counter
# ARGV: window (us), hint cap (us), lease (us), n, then n times 7 fields:
#       member, age of the completion (us), kind ('-' no headers, 'o' headers,
#       't' a 429 with headers), permit seq, remaining (-1 unknown), reset_after (us,
#       as the server said), the server's window (us)
_COMPLETE_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local keep_ms = math.ceil((window + tonumber(ARGV[3])) / 1000) + 1000
local n = tonumber(ARGV[4])
local added = false
for i = 0, n - 1 do
  local b = 5 + i * 7
  local member = ARGV[b]
  local done_at = now - tonumber(ARGV[b + 1])
  redis.call('ZREM', KEYS[2], member)
  if done_at > now - window then
    redis.call('ZADD', KEYS[1], done_at, member)
    added = true
  end
  local kind = ARGV[b + 2]
  if kind ~= '-' then
    local pseq = tonumber(ARGV[b + 3])
    local hint = tonumber(ARGV[b + 5])
    local reset_at = done_at + math.min(hint, cap)
    local asked = done_at + hint
    local cur = redis.call('HMGET', KEYS[3], 'reset_at', 'seq', 'asked')
    local cur_reset = tonumber(cur[1])
    local cur_seq = tonumber(cur[2]) or -1
    if cur_reset and now >= cur_reset then
      cur_reset = nil
      cur_seq = -1
    end
    local seq = pseq
    if cur_seq > seq then seq = cur_seq end
    local remaining = nil
    if kind == 't' then
      -- Authoritative: the quota is spent until the reset, whatever was estimated.
      if cur_reset and cur_reset > reset_at then
        reset_at = cur_reset
        asked = tonumber(cur[3]) or cur_reset
      end
      remaining = 0
    else
      remaining = tonumber(ARGV[b + 4])
      local half = tonumber(ARGV[b + 6]) / 2
      if remaining < 0 then
        remaining = nil
      elseif cur_reset then
        if reset_at < cur_reset - half then
          remaining = nil  -- a late response from an earlier window
        elseif math.abs(reset_at - cur_reset) < half and pseq < cur_seq then
          remaining = nil  -- stale: a newer response already spoke for this window
        end
      end
      if remaining then
        -- Grants after this one (by any worker) may not have been counted yet.
        local after = tonumber(redis.call('GET', KEYS[4]) or '0') - pseq
        if after > 0 then remaining = remaining - after end
      end
    end
    if remaining then
      redis.call('HSET', KEYS[3], 'remaining', remaining, 'reset_at', reset_at,
                 'asked', asked, 'seq', seq)
      redis.call('PEXPIRE', KEYS[3], math.ceil((reset_at - now) / 1000) + 1000)
    end
  end
end
if added then redis.call('PEXPIRE', KEYS[1], keep_ms) end
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


class SharedPermit(Permit):
    """A send slot granted through Redis.

    ``seq`` is the store-wide grant number (shared by every worker); ``redis_time`` is the
    grant's time on the Redis clock, in Unix seconds; ``member`` names the grant in Redis.
    """

    redis_time: float = 0.0
    member: str = ""


class RedisKeys(NamedTuple):
    """The Redis keys holding one store's and one API's limiter state."""

    window: str
    server: str
    seq: str
    interactive: str
    inflight: str


class OutageLog:
    """Whether Redis is known to be down, shared by the limiters of one connection, so
    an outage is logged once (one WARNING, one INFO when it is back) and not once per
    limiter. :class:`RedisBackend` gives its limiters one; a standalone
    :class:`RedisLimiter` has its own."""

    __slots__ = ("down",)

    def __init__(self) -> None:
        #: True from the first failure until Redis answers again.
        self.down = False


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


class _Reply(NamedTuple):
    """The acquire script's answer, in seconds."""

    wait: float  # 0: granted; math.inf: until a completion
    seq: int
    redis_us: int
    server_wait: float
    server_asked: float


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
        lease: how long a grant holds its slot when its worker never reports the
            completion (the worker died), seconds from the grant; keep it above the
            client's request timeout (30 s by default), or a request still running when
            its lease ends may no longer be counted.
        priorities: serve this process's ``interactive`` waiters before its ``bulk`` ones
            and make other workers' bulk traffic leave them a slot (default), or serve in
            arrival order (also settable through :attr:`priorities_enabled`).
        hint_cap: the longest wait a server's reset hint is believed, seconds (default
            three windows of ``rate``).
        client: a ``redis.asyncio.Redis`` to use instead of connecting to ``url`` (not
            closed by :meth:`aclose`; :class:`RedisBackend` shares one this way).
        outage_log: shared with the other limiters of ``client`` so that an outage is
            logged once (:class:`RedisBackend` passes its own).

    Counters (cheap, for a periodic summary): :attr:`grants`, :attr:`waits` and
    :attr:`total_wait`.
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
        lease: float = 120.0,
        priorities: bool = True,
        hint_cap: float | None = None,
        client: aioredis.Redis | None = None,
        outage_log: OutageLog | None = None,
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
        self.lease = _positive("lease", lease)
        #: How long, at most, a server's reset hint is believed (seconds).
        self.hint_cap = (
            3.0 * rate.seconds if hint_cap is None else _positive("hint_cap", hint_cap)
        )
        #: The Redis URL without its password, for messages.
        self.display_url = redact_url(url)
        self.name = f"{api} limiter (Redis {self.display_url}, store {store_hash})"
        base = f"{key_prefix}:{{{store_hash}}}:{api}"
        #: The Redis keys of this store's and API's state.
        self.keys = RedisKeys(f"{base}:window", f"{base}:server", f"{base}:seq",
                              f"{base}:interactive", f"{base}:inflight")
        #: Grants so far (shared and, during an outage, local).
        self.grants = 0
        #: Grants that had to wait.
        self.waits = 0
        #: Seconds spent waiting, summed over every grant.
        self.total_wait = 0.0
        self._owns_client = client is None
        self._redis: aioredis.Redis = client if client is not None else _make_client(
            url, self._timeout
        )
        self._outage = outage_log if outage_log is not None else OutageLog()
        self._window_us = round((rate.seconds + rate.effective_margin) * 1e6)
        self._lease_us = round(self.lease * 1e6)
        self._hint_cap_us = round(self.hint_cap * 1e6)
        self._waiter_ttl_us = round(max(2.0, 4 * self._max_poll + self._timeout) * 1e6)
        self._sha: dict[str, str] = {}
        self._ready = False
        self._closed = False
        self._connect_lock = asyncio.Lock()
        self._instance = uuid.uuid4().hex[:16]
        self._counter = 0
        self._queue = WaiterQueue(priorities=priorities)
        self._tasks: set[asyncio.Task[None]] = set()
        # This process's requests: grant time (monotonic) of each one not completed yet,
        # by member; completions not written to Redis yet (member, monotonic completion
        # time, shared rate headers or None); completion times of the last window.
        self._open: dict[str, float] = {}
        self._pending: deque[tuple[str, float, list[str | int] | None]] = deque(
            maxlen=_MAX_PENDING
        )
        self._recent: deque[float] = deque(maxlen=rate.requests)
        self._flusher: asyncio.Task[None] | None = None
        # What the last refusal said about the server's block (monotonic end, uncapped
        # end), so that queued waiters refuse a long wait without asking Redis.
        self._srv_until = 0.0
        self._srv_asked_until = 0.0
        # Outage state: the in-process limiter, its holds for requests that were in
        # flight when it took over, the members of its own grants, the probe task.
        self._degraded = False
        self._local: Limiter | None = None
        self._holds: dict[str, tuple[Permit, Limiter]] = {}
        self._local_members: dict[int, tuple[str, Limiter]] = {}
        self._probe: asyncio.Task[None] | None = None

    # -- introspection -----------------------------------------------------------------
    @property
    def shared(self) -> bool:
        """True while grants go through Redis (False before :meth:`connect` and during an
        outage, when the in-process fallback limiter serves)."""
        return self._ready and not self._degraded

    @property
    def priorities_enabled(self) -> bool:
        """Serve ``interactive`` before ``bulk`` (True) or in arrival order (False)."""
        return self._queue.priorities_enabled

    @priorities_enabled.setter
    def priorities_enabled(self, enabled: bool) -> None:
        self._queue.priorities_enabled = bool(enabled)
        if self._local is not None:
            self._local.priorities_enabled = bool(enabled)
        self._queue.wake_heads()

    @property
    def in_flight(self) -> int:
        """Requests of this process granted and not yet handed back to :meth:`observe`."""
        return len(self._open)

    def waiting(self, priority: Priority | None = None) -> int:
        """How many acquisitions of this process are queued for Redis (one priority or all)."""
        return self._queue.count(priority)

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
        """Write the completions still queued (so other workers get those slots back),
        stop background work and close the Redis connection (unless it was passed in)."""
        if self._closed:
            return
        if self._ready and not self._degraded:
            with contextlib.suppress(*_UNAVAILABLE, TimeoutError):
                await asyncio.wait_for(self._final_flush(), 2 * self._timeout)
        self._closed = True
        tasks = list(self._tasks)
        for task in (self._probe, self._flusher):
            if task is not None:
                tasks.append(task)
        self._probe = self._flusher = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            with contextlib.suppress(*_UNAVAILABLE):
                await self._redis.aclose()

    async def _final_flush(self) -> None:
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait([flusher])  # its batch is on its way
        await self._drain()

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
        self._sha["complete"] = str(await self._redis.script_load(_COMPLETE_LUA))

    async def _eval(self, script: str, keys: list[str], args: list[str | int]) -> Any:
        """EVALSHA, loading the scripts again when Redis lost them (restart, flush)."""
        try:
            return await self._redis.evalsha(self._sha[script], len(keys), *keys, *args)
        except NoScriptError:
            await self._load_scripts()
            return await self._redis.evalsha(self._sha[script], len(keys), *keys, *args)

    async def _try_acquire(self, priority: Priority, member: str, waiter_id: str) -> _Reply:
        keys = self.keys
        reply = await self._eval(
            "acquire",
            [keys.window, keys.inflight, keys.server, keys.interactive, keys.seq],
            [
                self.rate.requests,
                self._window_us,
                self.rate.reserved_requests,
                priority,
                member,
                waiter_id if self._queue.priorities_enabled else "",
                self._waiter_ttl_us,
                self._lease_us,
            ],
        )
        wait_ms, seq, now_us, srv_ms, asked_ms = (int(x) for x in cast(list[Any], reply))
        wait = math.inf if wait_ms < 0 else wait_ms / 1000.0
        return _Reply(wait, seq, now_us, srv_ms / 1000.0, asked_ms / 1000.0)

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

    # -- completions -------------------------------------------------------------------
    def _schedule_flush(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            return  # the running flush picks the new completions up
        try:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        except RuntimeError:  # no running loop: written by the next flush
            self._flusher = None

    async def _flush(self) -> None:
        try:
            await self._drain()
        except _UNAVAILABLE as err:
            if self.fallback:
                self._enter_fallback(err)
            else:
                log.debug("%s: could not write completions (%s)", self.name, err)

    async def _drain(self, *, resync: bool = False) -> None:
        """Write every queued completion to Redis (raises when Redis fails; the batch that
        failed stays queued). Stops when an outage begins, unless ``resync``."""
        while self._pending and (resync or not self._degraded):
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), _MAX_BATCH))]
            now = time.monotonic()
            args: list[str | int] = [self._window_us, self._hint_cap_us, self._lease_us,
                                     len(batch)]
            for member, done_at, headers in batch:
                args.append(member)
                args.append(max(0, round((now - done_at) * 1e6)))
                args.extend(headers or ("-", 0, -1, 0, 0))
            try:
                await self._eval(
                    "complete",
                    [self.keys.window, self.keys.inflight, self.keys.server, self.keys.seq],
                    args,
                )
            except BaseException:
                self._pending.extendleft(reversed(batch))
                raise
            self._queue.wake_heads()  # slots may have come back

    def _shared_headers(
        self, permit: SharedPermit, headers: Mapping[str, str], status: int | None
    ) -> list[str | int] | None:
        """The fields of a response's rate headers for the complete script, or None."""
        info = parse_rate_headers(headers)
        if info.reset_after is None:
            return None  # no usable hint (e.g. a 429 of platform load)
        throttled = status == 429
        if not throttled and info.remaining is None:
            return None
        window = info.window or self.rate.seconds
        return [
            "t" if throttled else "o",
            permit.seq,
            -1 if info.remaining is None else info.remaining,
            round(info.reset_after * 1e6),
            round(window * 1e6),
        ]

    # -- outage handling ---------------------------------------------------------------
    def _new_local(self) -> Limiter:
        """An in-process limiter that knows this process's requests of the last window
        and holds a slot for each one still in flight."""
        local = Limiter(self.fallback_rate, name=f"{self.api} (local fallback)",
                        priorities=self._queue.priorities_enabled, hint_cap=self.hint_cap)
        for done_at in self._recent:
            local.occupy(completed_at=done_at)
        for member in self._open:
            self._holds[member] = (local.occupy(), local)
        return local

    def _enter_fallback(self, err: BaseException) -> None:
        if self._degraded or self._closed:
            return
        self._degraded = True
        self._local = self._new_local()
        if not self._outage.down:
            self._outage.down = True
            log.warning(
                "Redis rate limiter at %s unreachable (%s: %s); %s of store %s falls back "
                "to an in-process limiter and retries Redis every %.1f s",
                self.display_url, type(err).__name__, err, self.api, self.store_hash,
                self._retry_interval,
            )
        else:
            log.debug("%s: Redis still unreachable (%s); in-process fallback", self.name, err)
        self._queue.wake_all()
        if self._probe is None or self._probe.done():
            with contextlib.suppress(RuntimeError):
                self._probe = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        while self._degraded and not self._closed:
            await asyncio.sleep(self._retry_interval)
            try:
                await self._load_scripts()
                await self._resync()
            except _UNAVAILABLE as err:
                log.debug("%s: Redis still unreachable (%s)", self.name, err)
                continue
            self._degraded = False
            if self._outage.down:
                self._outage.down = False
                log.info("Redis rate limiter at %s is back; shared limiting resumed",
                         self.display_url)
            else:
                log.debug("%s: shared limiting resumed", self.name)
            self._queue.wake_heads()
            if self._pending:
                self._schedule_flush()

    async def _resync(self) -> None:
        """Put this process's requests of the outage into Redis, on Redis's clock: those
        in flight into ``inflight`` (a Redis that restarted empty forgot them), those
        completed into the window."""
        if self._open:
            secs, micros = await self._redis.time()
            redis_now = int(secs) * 1_000_000 + int(micros)
            now = time.monotonic()
            mapping = {
                member: redis_now - round((now - granted) * 1e6) + self._lease_us
                for member, granted in self._open.items()
            }
            await self._redis.zadd(self.keys.inflight, mapping)
            await self._redis.pexpire(
                self.keys.inflight, (self._window_us + self._lease_us) // 1000 + 1000
            )
        await self._drain(resync=True)

    async def _local_acquire(
        self, priority: Priority, deadline: float | None, max_wait: float | None, start: float
    ) -> Permit:
        local = self._local
        if local is None:  # fallback entered without a running loop
            local = self._local = self._new_local()
        permit = await local.acquire(priority, deadline, max_wait=max_wait)
        self._counter += 1
        member = f"{self._instance}:{self._counter}"
        self._local_members[id(permit)] = (member, local)
        self._open[member] = permit.granted_at
        permit.waited = permit.granted_at - start
        self._count_grant(permit.waited)
        return permit

    def _count_grant(self, waited: float) -> None:
        self.grants += 1
        if waited > 0:
            self.waits += 1
            self.total_wait += waited

    # -- acquire -----------------------------------------------------------------------
    def _server_block(self, now: float) -> tuple[float, float]:
        """(seconds the server's last known block lasts, seconds it asked for)."""
        if now >= self._srv_until:
            return 0.0, 0.0
        return self._srv_until - now, max(self._srv_until, self._srv_asked_until) - now

    async def acquire(
        self,
        priority: Priority = "bulk",
        deadline: float | None = None,
        *,
        max_wait: float | None = None,
    ) -> Permit:
        """Wait for a send slot of the store's shared quota, by priority, within ``deadline``.

        ``deadline`` is a ``time.monotonic()`` reading. Raises
        :class:`~bcb2b_async.DeadlineExceededError` as soon as the slot cannot be had
        before it (nothing is counted then),
        :class:`~bcb2b_async.ServerWaitTooLongError` at once when the server's reset
        hint (seen by any worker) would make it wait more than ``max_wait`` seconds, and
        :class:`LimiterUnavailableError` when Redis is unreachable on first use (or at
        any time with ``fallback=False``).
        """
        prio = check_priority(priority)
        if self._closed:
            raise LimiterUnavailableError(f"{self.name}: closed", url=self.display_url)
        if not self._ready:
            await self.connect()
        start = time.monotonic()
        if deadline is not None and start > deadline:
            raise DeadlineExceededError(f"{self.name}: the deadline has passed")
        if self._degraded:
            return await self._local_acquire(prio, deadline, max_wait, start)
        queue = self._queue
        waiter = queue.join(prio)
        waiter_id = f"{self._instance}:w{waiter.seq}"
        registered = False
        granted = False
        try:
            while not self._degraded:
                now = time.monotonic()
                if max_wait is not None:
                    blocked, asked = self._server_block(now)
                    if blocked > max_wait:
                        raise server_wait_error(self.name, asked=asked, imposed=blocked,
                                                allowed=max_wait)
                if not queue.is_head(waiter):
                    if deadline is not None and now >= deadline:
                        raise DeadlineExceededError(f"{self.name}: deadline passed while queued")
                    await queue.wait(waiter, None if deadline is None else deadline - now)
                    continue
                self._counter += 1
                member = f"{self._instance}:{self._counter}"
                try:
                    reply = await self._try_acquire(prio, member, waiter_id)
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
                if reply.wait == 0:
                    granted = True
                    self._srv_until = 0.0  # whatever the server said no longer blocks
                    self._open[member] = now
                    self._count_grant(now - start)
                    return SharedPermit(
                        seq=reply.seq, priority=prio, granted_at=now, waited=now - start,
                        redis_time=reply.redis_us / 1e6, member=member,
                    )
                registered = registered or prio == "interactive"
                self._srv_until = now + reply.server_wait
                self._srv_asked_until = now + reply.server_asked
                if max_wait is not None and reply.server_wait > max_wait:
                    raise server_wait_error(self.name, asked=reply.server_asked,
                                            imposed=reply.server_wait, allowed=max_wait)
                delay = reply.wait
                if deadline is not None and now + delay > deadline and not (
                    math.isinf(delay) and now < deadline
                ):
                    raise DeadlineExceededError(
                        f"{self.name}: no send slot before the deadline (next slot in "
                        f"{delay:.2f} s, deadline in {max(0.0, deadline - now):.2f} s)"
                    )
                sleep = min(delay, self._max_poll)
                if deadline is not None:
                    sleep = min(sleep, max(0.0, deadline - now))
                await queue.wait(waiter, sleep)
        finally:
            queue.leave(waiter)
            if registered and not granted and not self._degraded:
                self._spawn(self._unregister(waiter_id))
        return await self._local_acquire(prio, deadline, max_wait, start)

    # -- observe -----------------------------------------------------------------------
    def observe(
        self, permit: Permit, headers: Mapping[str, str] | None, status: int | None = None
    ) -> None:
        """The permit's request completed: release its slot one window from now, for
        every worker, and share the response's rate headers through Redis.

        Call it exactly once per permit, with ``headers=None`` when no response arrived
        (error, cancellation): the slot stays occupied until then. The server's remaining
        count, less the grants made (by anyone) after ``permit``, and its reset time (as
        absolute Redis time, capped at :attr:`hint_cap`) are stored; at or below the bulk
        reserve, bulk requests everywhere wait for the reset. A 429 sets the remaining
        count to zero. Written in the background (this method does not block).
        """
        now = time.monotonic()
        local = self._local
        shared: list[str | int] | None = None
        if isinstance(permit, SharedPermit):
            member = permit.member
            if headers is not None and not self._degraded:
                shared = self._shared_headers(permit, headers, status)
        else:
            # Granted by the in-process fallback: it learns from its own responses.
            entry = self._local_members.pop(id(permit), None)
            if entry is None:
                return
            member, granted_by = entry
            granted_by.observe(permit, headers, status)
        hold = self._holds.pop(member, None)
        if hold is not None and hold[1] is local and local is not None:
            local.observe(hold[0], headers, status)
        if self._open.pop(member, None) is None:
            return  # not ours, or observed twice
        self._recent.append(now)
        self._pending.append((member, now, shared))
        if self._ready and not self._degraded and not self._closed:
            self._schedule_flush()


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
        self._outage = OutageLog()
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
            outage_log=self._outage,
        )
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
