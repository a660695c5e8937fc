"""B2BClient: configuration, lifecycle and the resource attributes of one store.

The client builds one :class:`~bcb2b_async._pipeline.Pipeline` (limiters, connection pool,
retry policy, hooks, counters) and hands it to its resources; every call goes
``resource method -> Pipeline.request -> Transport.send -> aiohttp``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
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
from ._pipeline import Deadline, Pipeline, Secret
from ._ratelimit import Limiter, LimiterBackend
from ._retry import RetryPolicy
from ._stats import ClientStats, Hooks
from ._transport import Transport
from ._validate import int_range
from ._validate import priority as check_priority
from ._version import __version__
from .errors import InvalidArgumentError
from .resources.b2b_orders import B2BOrders
from .resources.channels import Channels

if TYPE_CHECKING:
    from .resources.v2_orders import V2

__all__ = ["ENV_VARS", "B2BClient", "Deadline"]

USER_AGENT = f"bcb2b_async/{__version__} (+aiohttp/{aiohttp.__version__})"

#: The environment variables :meth:`B2BClient.from_env` (and the ``bcb2b`` CLI) read.
ENV_VARS = {
    "store_hash": "BCB2B_STORE_HASH",
    "access_token": "BCB2B_ACCESS_TOKEN",
    "b2b_base_url": "BCB2B_B2B_URL",
    "v2_base_url": "BCB2B_V2_URL",
}


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
        math.isfinite(timeout) and timeout > 0
    ):
        raise InvalidArgumentError("timeout must be a positive number of seconds")
    return float(timeout)


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
        _check_timeout(timeout)
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise InvalidArgumentError("retry_policy must be a RetryPolicy")
        if hooks is not None and not isinstance(hooks, Hooks):
            raise InvalidArgumentError("hooks must be a Hooks")
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
        limiters: dict[API, LimiterBackend | None] = {
            "b2b": b2b_limiter
            or (Limiter(b2b_rate_limit, name="b2b") if b2b_rate_limit else None),
            "v2": v2_limiter or (Limiter(v2_rate_limit, name="v2") if v2_rate_limit else None),
        }
        transport = Transport(
            session,
            timeout=float(timeout),
            max_body_bytes=max_body_bytes,
            connection_limit=connection_limit,
        )
        self._owner = True
        self._setup(Pipeline(
            self._config,
            Secret(access_token),
            transport=transport,
            limiters=limiters,
            policy=retry_policy or RetryPolicy(max_retries=max_retries),
            hooks=hooks or Hooks(),
            stats=ClientStats(),
            user_agent=USER_AGENT,
        ))

    def _setup(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        #: Counters of requests, retries, 429s and limiter waits (shared by ``with_options``).
        self.stats: ClientStats = pipeline.stats
        #: B2B Edition orders: ``/api/v3/io/orders…``.
        self.orders = B2BOrders(pipeline)
        #: B2B Edition channels: ``/api/v3/io/channels`` (``channel_ids="all"`` uses it).
        self.channels = Channels(pipeline)
        self._v2: V2 | None = None

    @property
    def v2(self) -> V2:
        """V2 orders (``client.v2.orders``): list, count, products, shipping addresses,
        shipments, updates."""
        if self._v2 is None:
            # Loaded on first use: a B2B walk never pays for the V2 models and validators.
            from .resources.v2_orders import V2

            self._v2 = V2(self._pipeline)
        return self._v2

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> B2BClient:
        """Build a client from ``BCB2B_STORE_HASH`` and ``BCB2B_ACCESS_TOKEN``.

        ``BCB2B_B2B_URL`` and ``BCB2B_V2_URL`` override the API hosts (the sandbox uses
        them). ``environ`` defaults to ``os.environ``; ``options`` are any other keyword
        argument of the constructor. A missing variable raises
        :class:`InvalidArgumentError` naming it.
        """
        env = os.environ if environ is None else environ
        missing = [
            ENV_VARS[key] for key in ("store_hash", "access_token")
            if key not in options and not env.get(ENV_VARS[key], "").strip()
        ]
        if missing:
            raise InvalidArgumentError(
                f"missing environment variable(s): {', '.join(missing)} (B2BClient.from_env)"
            )
        kwargs: dict[str, Any] = {}
        for key, var in ENV_VARS.items():
            value = env.get(var, "").strip()
            if value:
                kwargs[key] = value
        kwargs.update(options)
        store_hash = kwargs.pop("store_hash")
        access_token = kwargs.pop("access_token")
        return cls(store_hash, access_token, **kwargs)

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        priority: Priority | None = None,
    ) -> B2BClient:
        """A client for the same store with other per-call options.

        The new client shares this one's connection pool, limiters, counters and hooks, so
        its calls count against the same quota: ``await client.with_options(timeout=5,
        max_retries=0).orders.get(123)``. ``timeout`` is seconds for one attempt,
        ``max_retries`` replaces the retry count of the current policy (``retry_policy``
        replaces the policy), ``priority`` the default priority. Closing the derived
        client does nothing; close the client it came from.
        """
        policy = retry_policy
        if policy is not None and not isinstance(policy, RetryPolicy):
            raise InvalidArgumentError("retry_policy must be a RetryPolicy")
        base = policy or self._pipeline.policy
        if max_retries is not None:
            int_range("max_retries", max_retries, 0, 100)
            policy = RetryPolicy(
                max_retries=max_retries, base_delay=base.base_delay, max_delay=base.max_delay,
                max_wait=base.max_wait, max_time=base.max_time,
            )
        derived = object.__new__(B2BClient)
        derived._config = self._config
        derived._owner = False
        derived._setup(self._pipeline.derive(
            timeout=None if timeout is None else _check_timeout(timeout),
            policy=policy,
            priority=None if priority is None else check_priority(priority),
        ))
        return derived

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
        """Close the connection pool (unless the session was passed in).

        Later calls raise :class:`~bcb2b_async.ClientClosedError`. On a client made by
        :meth:`with_options` this does nothing: close the client it came from.
        """
        if self._owner:
            await self._pipeline.transport.aclose()

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
        return self._pipeline.priority

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy of this client's calls."""
        return self._pipeline.policy

    def limiter(self, api: API) -> LimiterBackend | None:
        """The limiter of ``api`` (``"b2b"`` or ``"v2"``), or None when unlimited."""
        return self._pipeline.limiter(api)

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
        deadline: Deadline = None,
        allow_empty: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one raw call through the client's pipeline (limiter, retries, typed errors).

        For endpoints the resources do not cover. ``path`` is relative to the API's prefix
        (``/api/v3/io`` for ``"b2b"``, ``/stores/{hash}/v2`` for ``"v2"``) and already
        quoted; ``decoder`` a ``msgspec.json.Decoder`` (without one the raw response is
        returned). See :meth:`Pipeline.request <bcb2b_async._pipeline.Pipeline.request>`.
        """
        return await self._pipeline.request(
            api, method, path, params=params, json=json, decoder=decoder, priority=priority,
            deadline=deadline, allow_empty=allow_empty, headers=headers,
        )
