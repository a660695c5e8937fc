"""The sandbox store: a seeded BigCommerce look-alike served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self

from aiohttp import web

from ._b2b import PREFIX as B2B_PREFIX
from ._b2b import B2BRoutes
from ._data import (
    ADDED_LINE_ID_START,
    ADDED_SHIPMENT_ID_START,
    EXTRA_ADDRESS_ID_BASE,
    LATE_B2B_SHARE,
    Order,
    Seeded,
    b2b_lag,
    catalog_line,
    company_of_customer,
    consumer_customer,
    extra_field_configs,
    first_customer_of,
    generate,
    in_b2b_list,
)
from ._faults import FaultPlan
from ._http import ApiError, b2b_error, gateway_error, v2_error
from ._index import ID_BASE, OrderIndex
from ._ratelimit import FixedWindow, RateWindow
from ._util import STATUS_NAMES, mix, uuid_from
from ._v2 import V2Routes

_log = logging.getLogger(__name__)

Api = Literal["b2b", "v2"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DEFAULT_B2B = RateWindow(150, 60.0)
_DEFAULT_V2 = RateWindow(150, 30.0)


class RequestRecord(NamedTuple):
    """One request seen by the store: (monotonic time, api, method, path, status).

    ``time`` is when the request was admitted (counted against the window); ``status``
    is 0 for a dropped connection. ``api`` is ``"b2b"``, ``"v2"`` or ``"other"``.
    """

    time: float
    api: str
    method: str
    path: str
    status: int


@dataclass(slots=True)
class ApiStats:
    """Counters for one API: requests received, 429s served (``throttled``), injected
    faults, and quota spent through :meth:`SandboxStore.consume`."""

    requests: int = 0
    throttled: int = 0
    faults: int = 0
    consumed: int = 0

    @property
    def rate_limited(self) -> int:
        """Alias of ``throttled``: 429 responses served (with or without rate headers)."""
        return self.throttled


@dataclass(slots=True)
class SandboxStats:
    """Per-API counters plus the full request log."""

    b2b: ApiStats = field(default_factory=ApiStats)
    v2: ApiStats = field(default_factory=ApiStats)
    log: list[RequestRecord] = field(default_factory=list)

    def __getitem__(self, api: str) -> ApiStats:
        if api == "b2b":
            return self.b2b
        if api == "v2":
            return self.v2
        raise KeyError(api)


@dataclass(slots=True)
class _Mutations:
    every: int
    updates: int
    creates: int
    api: Api
    seen: int = 0


class SandboxStore:
    """A seeded, deterministic BigCommerce store (B2B Edition + V2 orders) on 127.0.0.1.

    Construct it (the data is generated immediately), then ``async with store:`` or
    ``await store.start()`` / ``await store.close()``. Point clients at
    :attr:`base_url`: B2B routes live under ``/api/v3/io``, V2 routes under
    ``/stores/{store_hash}/v2``.

    Args:
        orders: number of seeded orders (bcOrderId ``100 .. 100 + orders - 1``).
        seed: seeds every generated value; the same seed gives the same store.
        store_hash, access_token: credentials the store accepts.
        b2b_rate, v2_rate: fixed-window quotas; ``None`` disables limiting (and headers).
        bounds_inclusive: whether ``min*``/``max*`` list filters include the bound itself
            (B2B ``minCreated``... and V2 ``min_date_created``...; V2 ``min_id``/``max_id``
            always include it).
        channels: channel ids orders are spread over (most on the first one); default
            ``(1, 2, 3)``, or ``(1,)`` without multi-storefront.
        multi_storefront: ``False`` makes B2B ``GET /channels`` answer 403 "Multi
            storefront is not enabled" (the store then has channel 1 only).
        b2b_share: share of the orders that are B2B orders (in the B2B Edition list); the
            others are consumer orders that only V2 lists. ``1.0`` (default): every order.
        realistic: switch the documented platform quirks on (the defaults of
            ``b2b_lag``, ``empty_line_items`` and ``long_orders`` below).
        b2b_lag: B2B ``createdAt`` comes 0..10 s (seeded) after the V2 ``date_created``,
            and for ~1% of company orders (assigned to their company later) 1..180 days
            after. Default: on when ``realistic``, else off (the two are equal).
        late_b2b_share: with ``b2b_lag``, the share of company orders assigned to their
            company days later (default 0.01).
        empty_line_items: share of orders whose embedded consignment ``line_items`` come
            back empty although the order has items (bigcommerce/dev-docs#2052). Default
            0.02 when ``realistic``, else 0.
        long_orders: share of seeded orders with 51..120 lines. Default 0.002 when
            ``realistic``, else 0.
        line_item_cap: most line items an embedded consignment returns; beyond it the
            consignment gets a ``__warning__`` (bigcommerce/docs#960). ``None``: no cap.
        companies: number of B2B companies (ids ``1 .. companies``).
        old_fraction: share of orders created *and* last updated over a year ago.
        now: ``None`` for real time, a number for a frozen clock, or a callable.
        latency: seconds added to every API request.
        port: TCP port (0 picks a free one).
        host: interface to bind (keep the default loopback address).
        required_extra_fields: make the "Fintech ID" order extra field required.

    Attributes:
        clock: the store clock (Unix seconds); createdAt/updatedAt and the default
            one-year window follow it. Rate windows always use real monotonic time.
        built_at: ``int(clock())`` when the data was generated; seeded dates are
            relative to it.
        faults: the :class:`FaultPlan` applied to incoming requests.
        stats: request counters and the request log (:class:`SandboxStats`).
        extra_field_configs: the order extra field configurations served.

    Building is synchronous: about 3-4 s and ~150 MB for a million orders.
    """

    def __init__(
        self,
        orders: int = 1000,
        *,
        seed: int = 1,
        store_hash: str = "sandbox",
        access_token: str = "sandbox-token",
        b2b_rate: RateWindow | None = _DEFAULT_B2B,
        v2_rate: RateWindow | None = _DEFAULT_V2,
        bounds_inclusive: bool = True,
        channels: tuple[int, ...] | None = None,
        multi_storefront: bool = True,
        b2b_share: float = 1.0,
        realistic: bool = False,
        b2b_lag: bool | None = None,
        late_b2b_share: float = LATE_B2B_SHARE,
        empty_line_items: float | None = None,
        long_orders: float | None = None,
        line_item_cap: int | None = 50,
        companies: int = 20,
        old_fraction: float = 0.2,
        now: float | Callable[[], float] | None = None,
        latency: float = 0.0,
        port: int = 0,
        host: str = "127.0.0.1",
        required_extra_fields: bool = False,
    ) -> None:
        if orders < 0:
            raise ValueError("orders must be >= 0")
        if channels is None:
            channels = (1, 2, 3) if multi_storefront else (1,)
        if not channels:
            raise ValueError("at least one channel is needed")
        if not multi_storefront and tuple(channels) != (1,):
            raise ValueError("a store without multi-storefront has channel 1 only")
        if not 0 <= old_fraction <= 1:
            raise ValueError("old_fraction must be within [0, 1]")
        if not 0 <= b2b_share <= 1:
            raise ValueError("b2b_share must be within [0, 1]")
        if b2b_lag is None:
            b2b_lag = realistic
        if empty_line_items is None:
            empty_line_items = 0.02 if realistic else 0.0
        if long_orders is None:
            long_orders = 0.002 if realistic else 0.0
        for name, share in (("empty_line_items", empty_line_items), ("long_orders", long_orders)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be within [0, 1]")
        if line_item_cap is not None and line_item_cap < 1:
            raise ValueError("line_item_cap must be >= 1 or None")
        if now is None:
            self.clock: Callable[[], float] = time.time
        elif callable(now):
            self.clock = now
        else:
            frozen = float(now)
            self.clock = lambda: frozen
        self.seed = seed
        self.store_hash = store_hash
        self.access_token = access_token
        self.bounds_inclusive = bounds_inclusive
        self.channels: frozenset[int] = frozenset(channels)
        self.multi_storefront = multi_storefront
        self.b2b_share = b2b_share
        self.b2b_lag = b2b_lag
        self.line_item_cap = line_item_cap
        self.companies = companies
        self.latency = latency
        self.host = host
        self._port = port
        self.built_at = int(self.clock())
        self._index: OrderIndex = generate(
            orders,
            seed=seed,
            now=self.built_at,
            channels=tuple(channels),
            companies=companies,
            old_fraction=old_fraction,
            b2b_share=b2b_share,
            lag=b2b_lag,
            late_share=late_b2b_share,
        )
        self._seeded = Seeded(
            self._index,
            seed=seed,
            built_at=self.built_at,
            companies=companies,
            long_share=long_orders,
            empty_share=empty_line_items,
        )
        self._empty_overrides: dict[int, bool] = {}
        self._address_seq = EXTRA_ADDRESS_ID_BASE
        self._orders: dict[int, Order] = {}
        self.extra_field_configs: list[dict[str, Any]] = extra_field_configs(required_extra_fields)
        self.faults = FaultPlan()
        self.stats = SandboxStats()
        self._limits: dict[str, FixedWindow | None] = {
            "b2b": FixedWindow(b2b_rate) if b2b_rate is not None else None,
            "v2": FixedWindow(v2_rate) if v2_rate is not None else None,
        }
        self._neighbours: dict[str, asyncio.Task[None]] = {}
        self._mutations: _Mutations | None = None
        self._mut_rng = random.Random(seed * 31 + 7)
        self._last_page: list[int] = []
        self._line_seq = ADDED_LINE_ID_START
        self._shipment_seq = ADDED_SHIPMENT_ID_START
        self._request_seq = 0
        self._runner: web.AppRunner | None = None
        self._b2b = B2BRoutes(self)
        self._v2 = V2Routes(self)

    # -- lifecycle ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application serving this store (used by :meth:`start`)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024**2)
        self._b2b.register(app.router)
        self._v2.register(app.router)
        return app

    async def start(self) -> None:
        """Start serving on ``host:port`` (a free port when ``port`` is 0)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        await site.start()
        self._runner = runner
        addr = runner.addresses[0]
        self._port = int(addr[1])
        for api, lim in self._limits.items():
            if lim is not None and lim.neighbour > 0 and api not in self._neighbours:
                self._spawn_neighbour(api)

    async def close(self) -> None:
        """Stop background tasks and the server."""
        for api in list(self._neighbours):
            task = self._neighbours.pop(api)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The TCP port (meaningful once started)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._runner is None:
            raise RuntimeError("the sandbox store is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def b2b_base_url(self) -> str:
        """Same as :attr:`base_url`; B2B routes are under ``/api/v3/io``."""
        return self.base_url

    @property
    def v2_base_url(self) -> str:
        """Same as :attr:`base_url`; V2 routes are under ``/stores/{store_hash}/v2``."""
        return self.base_url

    @property
    def b2b_api_url(self) -> str:
        """Full B2B API root: ``{base_url}/api/v3/io``."""
        return f"{self.base_url}{B2B_PREFIX}"

    @property
    def v2_api_url(self) -> str:
        """Full V2 API root: ``{base_url}/stores/{store_hash}/v2``."""
        base = f"http://{self.host}:{self._port}"
        return f"{base}/stores/{self.store_hash}/v2"

    @property
    def orders_count(self) -> int:
        """Number of orders in the store (seeded and created)."""
        return len(self._index)

    # -- internals used by the route modules -------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _position(self, bc_id: int) -> int | None:
        i = bc_id - ID_BASE
        return i if 0 <= i < len(self._index) else None

    def _view(self, i: int) -> Order:
        order = self._orders.get(i)
        return order if order is not None else self._seeded.derive(i)

    def _materialize(self, i: int) -> Order:
        order = self._orders.get(i)
        if order is None:
            order = self._orders[i] = self._seeded.derive(i)
        return order

    def _touch(
        self,
        i: int,
        *,
        channel: int | None = None,
        company: int | None = None,
        b2b: bool | None = None,
    ) -> None:
        """Bump updatedAt (and date_modified) of order ``i`` to the store clock.

        ``b2b=True`` puts a consumer order into the B2B list (it was assigned to a company
        or got its B2B record).
        """
        ix = self._index
        self._index.change(
            i, updated=max(self._now(), ix.created[i]), channel=channel, company=company, b2b=b2b
        )

    def _empty_embedded(self, i: int) -> bool:
        forced = self._empty_overrides.get(i)
        return self._seeded.empty_embedded(i + ID_BASE) if forced is None else forced

    def _next_line_id(self) -> int:
        self._line_seq += 1
        return self._line_seq

    def _next_shipment_id(self) -> int:
        self._shipment_seq += 1
        return self._shipment_seq

    def _move_customer_orders(self, customer: int, company: int, *, only_unassigned: bool) -> int:
        ix = self._index
        cust = ix.customer
        mine = [i for i in range(len(cust)) if cust[i] == customer]
        for i in mine:
            if ix.company[i] != company and not (only_unassigned and ix.company[i] != 0):
                self._touch(i, company=company, b2b=True)
        return len(mine)

    def _after_list(self, page: list[int]) -> None:
        if page:
            self._last_page = page
        m = self._mutations
        if m is not None and m.api == "b2b":
            m.seen += 1
            if m.seen % m.every == 0:
                self._apply_random_mutations(m)

    def _apply_random_mutations(self, m: _Mutations) -> None:
        rnd = self._mut_rng
        n = len(self._index)
        for k in range(m.updates):
            if n == 0:
                break
            if k % 2 == 1 and self._last_page:
                i = self._last_page[rnd.randrange(len(self._last_page))]  # already seen
            else:
                i = rnd.randrange(n)
            self._random_update(i)
        chans = sorted(self.channels)
        for _ in range(m.creates):
            channel = chans[0] if rnd.random() < 0.7 or len(chans) == 1 else rnd.choice(chans[1:])
            self.create_order(channel_id=channel)

    def _random_update(self, i: int) -> None:
        rnd = self._mut_rng
        order = self._materialize(i)
        what = rnd.randrange(3)
        if what == 0:
            order.po_number = f"PO-{rnd.randrange(10**6):06d}"
        elif what == 1:
            st = self._index.status[i]
            nxt = {1: 7, 7: 11, 11: 9, 9: 2, 2: 10, 0: 1, 3: 2, 8: 10, 12: 11}.get(st, 10)
            self._index.status[i] = nxt
        else:
            order.v2["staff_notes"] = f"Checked by sandbox job {rnd.randrange(1000)}"
        self._touch(i)

    def _request_id(self) -> str:
        self._request_seq += 1
        h = mix(self.seed ^ (self._request_seq * 0x9E3779B97F4A7C15))
        return uuid_from(h, mix(h))

    # -- the request pipeline -----------------------------------------------------------

    def _error(self, api: str, status: int, message: str, err: Any = None) -> web.Response:
        if api == "v2":
            return v2_error(status, message)
        return b2b_error(status, message, err)

    def _auth(self, api: str, request: web.Request) -> web.Response | None:
        if api == "b2b":
            if request.headers.get("X-Auth-Token") != self.access_token:
                missing = "X-Auth-Token" not in request.headers
                msg = "Missing X-Auth-Token header" if missing else "Invalid access token"
                return b2b_error(401, "Unauthorized", msg)
            if request.headers.get("X-Store-Hash") != self.store_hash:
                return b2b_error(403, "Forbidden", "The store hash does not match this token")
            return None
        if request.match_info.get("store_hash", self._path_hash(request.path)) != self.store_hash:
            return v2_error(404, "Store not found.")
        if request.headers.get("X-Auth-Token") != self.access_token:
            return v2_error(401, "You are not authorized to access this resource.")
        return None

    @staticmethod
    def _path_hash(path: str) -> str:
        parts = path.split("/")
        return parts[2] if len(parts) > 2 else ""

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        method = request.method
        if path.startswith(B2B_PREFIX + "/") or path == B2B_PREFIX:
            api = "b2b"
        elif path.startswith("/stores/") and "/v2/" in path:
            api = "v2"
        else:
            resp = await self._plain(request, handler)
            resp.headers["X-Request-Id"] = self._request_id()
            self.stats.log.append(
                RequestRecord(time.monotonic(), "other", method, path, resp.status)
            )
            return resp
        stats = self.stats[api]
        stats.requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        lim = self._limits[api]
        rid = self._request_id()
        if lim is not None and not lim.would_allow():
            stats.throttled += 1
            resp = self._error(
                api, 429, "Too Many Requests", "Too many requests, please retry later"
            )
            self._finish(resp, api, lim, rid)
            self.stats.log.append(RequestRecord(time.monotonic(), api, method, path, 429))
            return resp
        fault = self.faults.pick(api, method, path)
        if fault == "429_no_headers":
            stats.throttled += 1
            stats.faults += 1
            resp = self._error(api, 429, "Too Many Requests", "The platform is under heavy load")
            resp.headers["X-Request-Id"] = rid
            self.stats.log.append(RequestRecord(time.monotonic(), api, method, path, 429))
            return resp
        if lim is not None:
            lim.take()
        admitted = time.monotonic()
        headers = self._rate_headers(api, lim)
        if fault is not None:
            stats.faults += 1
            if fault in ("500", "503"):
                code = int(fault)
                message = "Internal Server Error" if code == 500 else "Service Unavailable"
                resp = self._error(api, code, message, message)
                return self._done(resp, headers, rid, admitted, api, method, path)
            if fault in ("502", "504"):
                resp = gateway_error(int(fault))
                return self._done(resp, headers, rid, admitted, api, method, path)
            if fault == "drop":
                if request.transport is not None:
                    request.transport.abort()
                self.stats.log.append(RequestRecord(admitted, api, method, path, 0))
                return web.Response(status=500)
            if fault.startswith("latency:"):
                await asyncio.sleep(float(fault.split(":", 1)[1]))
        denied = self._auth(api, request)
        if denied is not None:
            return self._done(denied, headers, rid, admitted, api, method, path)
        try:
            resp = await handler(request)
        except ApiError as err:
            resp = self._error(api, err.status, err.message, err.err_msg)
        except web.HTTPException as exc:
            message = "Not Found" if exc.status == 404 else exc.reason
            resp = self._error(api, exc.status, message, message)
        except Exception:  # a sandbox bug: answer like the platform would, keep the log whole
            _log.exception("sandbox handler failed for %s %s", method, path)
            resp = self._error(api, 500, "Internal Server Error", "Internal Server Error")
        if fault == "truncate" and isinstance(resp, web.Response):
            return await self._truncate(request, resp, headers, rid, admitted, api, method, path)
        return self._done(resp, headers, rid, admitted, api, method, path)

    async def _plain(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return web.Response(status=exc.status, text=exc.reason)

    def _rate_headers(self, api: str, lim: FixedWindow | None) -> dict[str, str]:
        if lim is None:
            return {}
        return lim.b2b_headers() if api == "b2b" else lim.v2_headers()

    def _finish(
        self, resp: web.StreamResponse, api: str, lim: FixedWindow | None, rid: str
    ) -> None:
        resp.headers.update(self._rate_headers(api, lim))
        resp.headers["X-Request-Id"] = rid

    def _done(
        self,
        resp: web.StreamResponse,
        headers: dict[str, str],
        rid: str,
        admitted: float,
        api: str,
        method: str,
        path: str,
    ) -> web.StreamResponse:
        resp.headers.update(headers)
        resp.headers["X-Request-Id"] = rid
        self.stats.log.append(RequestRecord(admitted, api, method, path, resp.status))
        if api == "v2":
            m = self._mutations
            if m is not None and m.api == "v2":
                m.seen += 1
                if m.seen % m.every == 0:
                    self._apply_random_mutations(m)
        return resp

    async def _truncate(
        self,
        request: web.Request,
        full: web.Response,
        headers: dict[str, str],
        rid: str,
        admitted: float,
        api: str,
        method: str,
        path: str,
    ) -> web.StreamResponse:
        body = full.body if isinstance(full.body, bytes) else b""
        if not body:
            if request.transport is not None:
                request.transport.abort()
            self.stats.log.append(RequestRecord(admitted, api, method, path, 0))
            return web.Response(status=500)
        resp = web.StreamResponse(status=200)
        resp.content_type = full.content_type
        resp.headers.update(headers)
        resp.headers["X-Request-Id"] = rid
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        self.stats.log.append(RequestRecord(admitted, api, method, path, 200))
        return resp

    # -- rate limits ------------------------------------------------------------------

    def _limit(self, api: Api) -> FixedWindow:
        lim = self._limits.get(api)
        if lim is None:
            raise ValueError(f"rate limiting is disabled for {api!r}")
        return lim

    def consume(self, api: Api, n: int) -> int:
        """Spend ``n`` requests of the current ``api`` window as another integration would.

        Opens a window if none is open. Returns how many units were actually spent (the
        window never goes over its quota).
        """
        spent = self._limit(api).consume(n)
        self.stats[api].consumed += spent
        return spent

    def rate_remaining(self, api: Api) -> int:
        """Requests left in the current window of ``api`` (the full quota when none is open)."""
        lim = self._limit(api)
        return lim.rate.requests if lim.expired() else lim.remaining()

    def start_neighbour(self, api: Api, fraction: float = 0.5) -> None:
        """Start a noisy neighbour that spends ``fraction`` of every ``api`` window at its start.

        A background task keeps opening windows back to back while the store runs, so the
        neighbour's traffic exists even when your client is idle.
        """
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be within (0, 1]")
        lim = self._limit(api)
        lim.neighbour = fraction
        if not lim.expired() and lim.count < int(lim.rate.requests * fraction):
            lim.count = int(lim.rate.requests * fraction)
        if self._runner is not None and api not in self._neighbours:
            self._spawn_neighbour(api)

    def stop_neighbour(self, api: Api) -> None:
        """Stop the noisy neighbour of ``api``."""
        lim = self._limits.get(api)
        if lim is not None:
            lim.neighbour = 0.0
        task = self._neighbours.pop(api, None)
        if task is not None:
            task.cancel()

    def _spawn_neighbour(self, api: str) -> None:
        lim = self._limits[api]
        assert lim is not None

        async def run() -> None:
            while lim.neighbour > 0:
                lim.open_now()
                await asyncio.sleep(max(lim.reset_in(), 0.001))

        self._neighbours[api] = asyncio.get_running_loop().create_task(run())

    # -- stats ------------------------------------------------------------------------

    @property
    def log(self) -> list[RequestRecord]:
        """Every request seen, in completion order (see :class:`RequestRecord`)."""
        return self.stats.log

    def requests_count(self, api: Api) -> int:
        """How many requests ``api`` received (429s and faults included)."""
        return self.stats[api].requests

    def max_requests_in_any_window(self, api: Api, window: float | None = None) -> int:
        """The most admitted (non-429) requests of ``api`` within any sliding interval of
        length ``window`` (default: the API's rate window). Quota consumed via
        :meth:`consume` or the neighbour is not included."""
        if window is None:
            lim = self._limits.get(api)
            if lim is None:
                raise ValueError(f"rate limiting is disabled for {api!r}; pass window=")
            window = lim.rate.seconds
        times = sorted(r.time for r in self.stats.log if r.api == api and r.status != 429)
        best = 0
        for k, t in enumerate(times):
            best = max(best, bisect_left(times, t + window, lo=k) - k)
        return best

    # -- live mutations -----------------------------------------------------------------

    def update_order(self, bc_order_id: int, **changes: Any) -> None:
        """Change an order as the merchant would; bumps updatedAt/date_modified to now.

        Keywords: ``po_number``, ``extra_fields`` (list of {fieldName, fieldValue}),
        ``status_id``, ``staff_notes``, ``customer_message``, ``company_id``,
        ``customer_id``, ``channel_id``, ``is_archived``.
        """
        i = self._position(bc_order_id)
        if i is None:
            raise KeyError(f"order {bc_order_id} does not exist")
        allowed = {
            "po_number",
            "extra_fields",
            "status_id",
            "staff_notes",
            "customer_message",
            "company_id",
            "customer_id",
            "channel_id",
            "is_archived",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"unsupported order changes: {sorted(unknown)}")
        if "status_id" in changes and changes["status_id"] not in STATUS_NAMES:
            raise ValueError("status_id must be within 0..14")
        order = self._materialize(i)
        if "po_number" in changes:
            order.po_number = str(changes["po_number"])
        if "extra_fields" in changes:
            order.extra_fields = [dict(f) for f in changes["extra_fields"]]
        if "staff_notes" in changes:
            order.v2["staff_notes"] = str(changes["staff_notes"])
        if "customer_message" in changes:
            order.v2["customer_message"] = str(changes["customer_message"])
        if "is_archived" in changes:
            order.archived = bool(changes["is_archived"])
        ix = self._index
        if "status_id" in changes:
            ix.status[i] = int(changes["status_id"])
        if "customer_id" in changes:
            ix.customer[i] = int(changes["customer_id"])
        company = changes.get("company_id")
        self._touch(
            i,
            channel=changes.get("channel_id"),
            company=int(company) if company is not None else None,
            b2b=True if company else None,
        )

    def create_order(
        self,
        channel_id: int = 1,
        company_id: int | None = None,
        customer_id: int | None = None,
        *,
        status_id: int = 11,
        b2b: bool | None = None,
        lines: int | None = None,
        addresses: int = 1,
    ) -> int:
        """Create a store order now (new highest id, createdAt = now); returns its bcOrderId.

        Without ``customer_id`` a user of ``company_id`` is used (a random company when
        both are None); ``company_id=0`` with no customer makes a guest order.

        ``b2b=False`` makes a consumer order: in V2 only, not in the B2B list (a B2B
        ``POST /orders`` within 10 s, or assigning it to a company, moves it there).
        ``None``: a B2B order, or with ``b2b_share < 1`` a seeded draw (a company makes
        it B2B). ``lines`` gives the order that many lines (e.g. 60 to pass the 50-line
        consignment cap), spread round-robin over ``addresses`` shipping addresses
        (consignments); not with the shipped statuses 2 and 3.
        """
        if status_id not in STATUS_NAMES:
            raise ValueError("status_id must be within 0..14")
        if lines is not None and lines < 1:
            raise ValueError("lines must be >= 1")
        if addresses < 1 or (lines is not None and addresses > lines):
            raise ValueError("addresses must be within 1..lines")
        if (lines is not None or addresses != 1) and status_id in (2, 3):
            raise ValueError("lines/addresses cannot be set on a shipped order")
        ix = self._index
        pos = len(ix)
        if b2b is None:
            b2b = bool(company_id) or in_b2b_list(self.seed, pos, self.b2b_share)
        if not b2b:
            if company_id:
                raise ValueError("a consumer order has no company")
            company_id = 0
            if customer_id is None:
                customer_id = consumer_customer(self.seed, pos)
        rnd = self._mut_rng
        if customer_id is None:
            if company_id is None:
                company_id = 1 + rnd.randrange(self.companies) if self.companies else 0
            customer_id = first_customer_of(company_id) + rnd.randrange(5) if company_id else 0
        elif company_id is None:
            company_id = company_of_customer(customer_id, self.companies)
        now = self._now()
        created = max(now, ix.created[-1]) if len(ix) else now
        lag = b2b_lag(self.seed, pos, company_id, late=False) if b2b and self.b2b_lag else 0
        i = ix.append(
            created, created, channel_id, company_id, customer_id, status_id, b2b=b2b, lag=lag
        )
        if status_id in (2, 3):
            self._materialize(i)
        if lines is not None or addresses != 1:
            self._shape_order(i, lines, addresses)
        return i + ID_BASE

    def _shape_order(self, i: int, lines: int | None, addresses: int) -> None:
        order = self._materialize(i)
        first = order.addresses[0]
        for k in range(1, addresses):
            self._address_seq += 1
            extra = dict(first, form_fields=[])
            extra["id"] = self._address_seq
            extra["street_1"] = f"{10 + k} Dock Road"
            order.addresses.append(extra)
        ids = [a["id"] for a in order.addresses]
        if lines is None:
            for j, ln in enumerate(order.lines):
                ln.address_id = ids[j % addresses]
            return
        catalog = self._seeded.catalog
        made = []
        for j in range(lines):
            prod = catalog[j % len(catalog)]
            variant = (j // len(catalog)) % len(prod.option[2]) if prod.option else 0
            line_id = self._next_line_id()
            made.append(
                catalog_line(prod, variant, 1 + j % 3, line_id, ids[j % addresses], order.tax_bp)
            )
        order.lines = made

    def mutate_every(
        self, n_requests: int, *, updates: int = 1, creates: int = 0, api: Api = "b2b"
    ) -> None:
        """After every ``n_requests``-th list request (B2B ``GET /orders``; with ``api="v2"``
        any V2 request), update ``updates`` random orders (alternately any order and one
        from the last page served) and create ``creates`` new ones."""
        if n_requests < 1:
            raise ValueError("n_requests must be >= 1")
        self._mutations = _Mutations(n_requests, updates, creates, api)

    def stop_mutations(self) -> None:
        """Stop :meth:`mutate_every`."""
        self._mutations = None

    # -- inspection helpers ---------------------------------------------------------------

    def order_ids(
        self,
        *,
        channel_ids: tuple[int, ...] | list[int] | set[int] | frozenset[int] | None = None,
        company_id: int | None = None,
        created_from: int | None = None,
        created_to: int | None = None,
        updated_from: int | None = None,
        updated_to: int | None = None,
    ) -> list[int]:
        """Ground truth of the B2B list: bcOrderIds (ascending) of the B2B orders matching
        the filters, ignoring the API's default windows; every bound is inclusive and the
        times are B2B createdAt/updatedAt. Consumer orders are never included."""
        ix = self._index
        chans = None if channel_ids is None else set(channel_ids)
        b2b = ix.b2b
        out: list[int] = []
        for i in range(len(ix)):
            if not b2b[i]:
                continue
            if chans is not None and ix.channel[i] not in chans:
                continue
            if company_id is not None and ix.company[i] != company_id:
                continue
            c, u = ix.created[i], ix.updated[i]
            if created_from is not None and c < created_from:
                continue
            if created_to is not None and c > created_to:
                continue
            if updated_from is not None and u < updated_from:
                continue
            if updated_to is not None and u > updated_to:
                continue
            out.append(i + ID_BASE)
        return out

    def v2_order_ids(
        self,
        *,
        channel_id: int | None = None,
        created_from: int | None = None,
        created_to: int | None = None,
        modified_from: int | None = None,
        modified_to: int | None = None,
        b2b: bool | None = None,
    ) -> list[int]:
        """Ground truth of the V2 list: ids (ascending) of every store order matching the
        filters, consumer orders included (``b2b=True``/``False``: only B2B / only
        consumer orders); bounds are inclusive, on V2 ``date_created``/``date_modified``."""
        ix = self._index
        out: list[int] = []
        for i in range(len(ix)):
            if b2b is not None and bool(ix.b2b[i]) != b2b:
                continue
            if channel_id is not None and ix.channel[i] != channel_id:
                continue
            c, u = ix.v2_created(i), ix.updated[i]
            if created_from is not None and c < created_from:
                continue
            if created_to is not None and c > created_to:
                continue
            if modified_from is not None and u < modified_from:
                continue
            if modified_to is not None and u > modified_to:
                continue
            out.append(i + ID_BASE)
        return out

    @property
    def v2_result_builds(self) -> int:
        """How many V2 list/count results were built by scanning orders (cached until the
        next change); every other answer was paged straight from a sorted view."""
        return self._v2.engine.builds

    def is_b2b(self, bc_order_id: int) -> bool:
        """Whether the order is in the B2B list (else a consumer order, V2 only)."""
        return bool(self._index.b2b[self._require(bc_order_id)])

    def v2_created_at(self, bc_order_id: int) -> int:
        """V2 ``date_created`` (Unix seconds); B2B ``createdAt`` minus the lag."""
        return self._index.v2_created(self._require(bc_order_id))

    def has_empty_line_items(self, bc_order_id: int) -> bool:
        """Whether the order's embedded consignment ``line_items`` come back empty."""
        return self._empty_embedded(self._require(bc_order_id))

    def empty_line_item_orders(self) -> list[int]:
        """Ids (ascending) of every order whose embedded ``line_items`` come back empty."""
        return [i + ID_BASE for i in range(len(self._index)) if self._empty_embedded(i)]

    def set_empty_line_items(self, bc_order_id: int, empty: bool | None = True) -> None:
        """Force (``True``/``False``) or reset to the seeded draw (``None``) whether the
        order's embedded ``line_items`` come back empty."""
        i = self._require(bc_order_id)
        if empty is None:
            self._empty_overrides.pop(i, None)
        else:
            self._empty_overrides[i] = bool(empty)

    def _require(self, bc_order_id: int) -> int:
        i = self._position(bc_order_id)
        if i is None:
            raise KeyError(f"order {bc_order_id} does not exist")
        return i

    def b2b_order(self, bc_order_id: int) -> dict[str, Any]:
        """The B2B detail record of an order, as GET /orders/{bcOrderId} returns it."""
        i = self._require(bc_order_id)
        return self._seeded.b2b_record(i, self._orders.get(i), extra=True, detail=True)

    def v2_order(self, bc_order_id: int) -> dict[str, Any]:
        """The V2 order object, as GET /v2/orders/{id} returns it."""
        i = self._require(bc_order_id)
        return self._seeded.v2_order(i, self._view(i), self.v2_api_url)

    def v2_products(self, bc_order_id: int) -> list[dict[str, Any]]:
        """The V2 order products of an order."""
        i = self._require(bc_order_id)
        return self._seeded.v2_products(i, self._view(i))

    def shipping_addresses(self, bc_order_id: int) -> list[dict[str, Any]]:
        """The V2 shipping addresses of an order."""
        i = self._require(bc_order_id)
        return self._seeded.v2_addresses(i, self._view(i), self.v2_api_url)

    def shipments_of(self, bc_order_id: int) -> list[dict[str, Any]]:
        """The V2 shipments of an order (ascending id)."""
        i = self._require(bc_order_id)
        return sorted((dict(s) for s in self._view(i).shipments), key=lambda s: int(s["id"]))

    def created_at(self, bc_order_id: int) -> int:
        """B2B createdAt (Unix seconds) of an order (see :meth:`v2_created_at`)."""
        return self._index.created[self._require(bc_order_id)]

    def updated_at(self, bc_order_id: int) -> int:
        """updatedAt (Unix seconds) of an order."""
        return self._index.updated[self._require(bc_order_id)]

    def __repr__(self) -> str:
        where = self.base_url if self._runner is not None else "not started"
        return f"<SandboxStore orders={len(self._index)} seed={self.seed} {where}>"
