"""The B2B Create Order webhook flow, inside its 10-second window.

BigCommerce sends ``store/order/created`` when an order is placed; to attach B2B data (PO
number, extra fields) the service must call B2B Edition's Create Order **within 10 seconds
of the order's creation**, or the call fails and the data is lost. When a bulk export or a
sync worker keeps the store's quota busy, that call must not queue behind bulk reads:
:func:`handle_order_created` runs it at ``interactive`` priority with a deadline of
``created_at + 10 s`` (covering limiter waits and retries), and fails fast rather than
sending late: a delivery that arrives after the window (BigCommerce retries deliveries
minutes later), or whose window closes before Create Order could be sent, is reported
``deadline_missed`` without that request (and without the V2 lookup when the payload's
``created_at`` already tells).

BigCommerce also delivers the same webhook more than once. A :class:`ReplayGuard` (one
per client unless you pass your own) remembers the orders this process created recently
and the deliveries in flight: a replay is reported ``duplicate`` without any request, and
concurrent deliveries of one order make one V2 lookup and one Create Order.

::

    async def b2b_fields(order: V2Order) -> B2BFields | None:
        return B2BFields(po_number=lookup_po(order), extra_fields=[...])  # None: skip

    app.router.add_post("/webhooks/orders", make_handler(client, secret=SECRET,
                                                         callback=b2b_fields))
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from ._client import B2BClient
from ._validate import int_range
from .errors import (
    APIStatusError,
    BigCommerceError,
    DeadlineExceededError,
    InvalidArgumentError,
)
from .models.b2b_orders import ExtraField, Order
from .models.v2_orders import V2Order

__all__ = [
    "CREATE_WINDOW_SECONDS",
    "DEFAULT_REPLAY_MAX_ORDERS",
    "DEFAULT_REPLAY_TTL",
    "B2BFields",
    "CreateOrderResult",
    "OrderCreatedWebhook",
    "Outcome",
    "ReplayGuard",
    "WebhookError",
    "handle_order_created",
    "make_handler",
    "parse_order_created",
    "verify_secret",
]

log = logging.getLogger("bcb2b_async.webhooks")

#: B2B Edition accepts Create Order only this long after the store order was created.
CREATE_WINDOW_SECONDS = 10.0
DEFAULT_SECRET_HEADER = "X-Webhook-Secret"
#: How many created orders a :class:`ReplayGuard` remembers by default.
DEFAULT_REPLAY_MAX_ORDERS = 10_000
#: How long (seconds) a :class:`ReplayGuard` remembers a created order by default.
DEFAULT_REPLAY_TTL = 3600.0

#: What happened to one delivery; see :class:`CreateOrderResult`.
Outcome = Literal[
    "created", "duplicate", "skipped", "deadline_missed", "api_error", "rejected"
]


class WebhookError(InvalidArgumentError):
    """A webhook delivery that is not a well-formed ``store/order/created`` payload."""


class _Data(msgspec.Struct):
    type: str
    id: int


class _Payload(msgspec.Struct):
    scope: str
    store_id: str | int
    data: _Data
    created_at: int
    producer: str | None = None
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class OrderCreatedWebhook:
    """A parsed ``store/order/created`` delivery."""

    scope: str
    store_id: str
    order_id: int
    created_at: int
    producer: str | None = None

    @property
    def deadline(self) -> datetime:
        """When B2B Edition stops accepting Create Order for this order."""
        return datetime.fromtimestamp(self.created_at + CREATE_WINDOW_SECONDS, tz=UTC)


@dataclass(frozen=True, slots=True)
class B2BFields:
    """What the callback wants attached to the new order."""

    po_number: str | None = None
    extra_fields: Sequence[ExtraField | dict[str, Any]] | None = None


@dataclass(slots=True)
class CreateOrderResult:
    """What happened to one delivery.

    ``outcome``:

    - ``created``: Create Order succeeded; ``order`` is the B2B order.
    - ``duplicate``: the B2B order had already been created, so nothing was created twice.
      Either this process created it recently (a replayed delivery, or one that arrived
      while another delivery of the same order was in flight): no request was made, and
      ``error`` is None. Or Create Order answered that the order already exists (HTTP 400
      with the message "The order already exists.", matched case-insensitively because
      the API gives no error code): ``error`` is that :class:`BadRequestError`. B2B Edition
      gives that same answer once its 10-second window has closed, because it then creates
      the record itself (without your fields); the helper only sends before ``created_at +
      10 s`` by this host's clock, so with a synchronised clock it means another delivery
      (another worker, or one from before a restart) created it first.
    - ``skipped``: the callback returned None, or a guest order (no customer).
    - ``deadline_missed``: Create Order could not be sent before ``created_at + 10 s``
      (the delivery came late, or the window closed during the V2 lookup, the callback or a
      wait for a send slot); nothing was sent late. A delivery that arrives after the window
      makes no request at all.
    - ``api_error``: the API refused or failed (``error`` says how).
    - ``rejected``: bad secret or payload; no API call was made.

    ``latency`` is seconds from the order's ``created_at`` to the end of the handling.
    """

    outcome: Outcome
    order_id: int | None = None
    latency: float | None = None
    order: Order | None = None
    error: BaseException | None = field(default=None, repr=False)
    message: str = ""


class ReplayGuard:
    """Remembers which orders this process created, to recognise replayed deliveries.

    BigCommerce redelivers a webhook it considers failed (a timeout, a non-2xx answer), so
    one order can arrive several times, later or at the same moment. The guard keeps the
    ids of the orders created (or found already created) in the last ``ttl`` seconds, at
    most ``max_orders`` of them (the oldest are forgotten first), and the deliveries in
    flight: :func:`handle_order_created` answers a replay ``duplicate`` without any
    request, and makes a delivery that arrives while the same order is being handled wait
    for that one instead of calling the API again.

    Ids are kept per store (the client's store hash), so one guard may serve several
    clients. The memory is this process's only: deliveries spread over several workers are
    recognised by Create Order's own "already exists" answer instead. ``clock`` (monotonic
    seconds) can be replaced in tests. A guard belongs to one event loop.
    """

    def __init__(
        self,
        *,
        max_orders: int = DEFAULT_REPLAY_MAX_ORDERS,
        ttl: float = DEFAULT_REPLAY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_orders = int_range("max_orders", max_orders, 1, 10_000_000)
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not (
            math.isfinite(ttl) and ttl > 0
        ):
            raise InvalidArgumentError("ttl must be a positive number of seconds")
        self.ttl = float(ttl)
        self._clock = clock
        # key -> expiry time; insertion order is expiry order (one ttl for every entry).
        self._created: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._inflight: dict[tuple[str, int], asyncio.Future[CreateOrderResult | None]] = {}

    def __len__(self) -> int:
        self._expire(self._clock())
        return len(self._created)

    def __repr__(self) -> str:
        return (f"ReplayGuard(max_orders={self.max_orders}, ttl={self.ttl}, "
                f"remembered={len(self._created)}, in_flight={len(self._inflight)})")

    def was_created(self, store_hash: str, order_id: int) -> bool:
        """Whether this process created (or found created) that order within ``ttl``."""
        key = (store_hash, order_id)
        expires = self._created.get(key)
        if expires is None:
            return False
        if expires <= self._clock():
            del self._created[key]
            return False
        return True

    def remember(self, store_hash: str, order_id: int) -> None:
        """Record that the order's B2B record exists (it was created, or found created)."""
        now = self._clock()
        key = (store_hash, order_id)
        self._created.pop(key, None)
        self._created[key] = now + self.ttl
        self._expire(now)
        while len(self._created) > self.max_orders:
            self._created.popitem(last=False)

    def in_flight(self, store_hash: str, order_id: int) -> bool:
        """Whether a delivery of that order is being handled right now."""
        return (store_hash, order_id) in self._inflight

    def _expire(self, now: float) -> None:
        created = self._created
        while created:
            key, expires = next(iter(created.items()))
            if expires > now:
                break
            del created[key]


_default_guards: weakref.WeakKeyDictionary[B2BClient, ReplayGuard] = (
    weakref.WeakKeyDictionary()
)


def _guard_for(client: B2BClient) -> ReplayGuard:
    guard = _default_guards.get(client)
    if guard is None:
        guard = _default_guards[client] = ReplayGuard()
    return guard


_ALREADY_EXISTS = re.compile(r"\balready\s+exists\b", re.IGNORECASE)


def _already_exists(err: BaseException) -> bool:
    """Whether ``err`` is Create Order's answer for an order whose B2B record exists.

    The spec documents HTTP 400 ``{"code": 400, "data": {}, "meta": {"message": "The order
    already exists."}}`` and no error code, so the decision is: status 400 (or 409), no
    field errors (``data.errMsg`` as an object is a validation failure), and a message
    matching "already exists" case-insensitively.
    """
    if not isinstance(err, APIStatusError) or err.status not in (400, 409):
        return False
    try:
        doc = msgspec.json.decode(err.body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        # Not the JSON envelope (or cut short): the parsed message is all there is.
        return bool(err.server_message and _ALREADY_EXISTS.search(err.server_message))
    data = doc.get("data")
    err_msg = data.get("errMsg") if isinstance(data, dict) else None
    if isinstance(err_msg, dict):
        return False
    meta = doc.get("meta")
    texts = [meta.get("message") if isinstance(meta, dict) else None, doc.get("message"),
             err_msg]
    return any(isinstance(t, str) and _ALREADY_EXISTS.search(t) for t in texts)


def verify_secret(headers: Mapping[str, str], *, secret: str, header_name: str) -> bool:
    """Constant-time check of the shared secret header configured on the webhook."""
    if not secret:
        raise InvalidArgumentError("secret must be a non-empty string")
    got = headers.get(header_name)
    if got is None:
        got = headers.get(header_name.lower())
    if not isinstance(got, str):
        return False
    return hmac.compare_digest(got.encode("utf-8"), secret.encode("utf-8"))


_decoder = msgspec.json.Decoder(_Payload)


def parse_order_created(payload: bytes | str | Mapping[str, Any]) -> OrderCreatedWebhook:
    """Parse and check a ``store/order/created`` payload; :class:`WebhookError` otherwise."""
    try:
        if isinstance(payload, bytes | str):
            raw = _decoder.decode(payload)
        else:
            raw = msgspec.convert(dict(payload), _Payload)
    except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as err:
        raise WebhookError(f"not a store/order/created webhook payload: {err}") from None
    if raw.scope != "store/order/created":
        raise WebhookError(f"unexpected webhook scope {raw.scope!r}")
    if raw.data.type != "order" or raw.data.id <= 0:
        raise WebhookError("webhook data must be an order with a positive id")
    if raw.created_at <= 0:
        raise WebhookError("webhook created_at must be a positive Unix time")
    return OrderCreatedWebhook(
        scope=raw.scope,
        store_id=str(raw.store_id),
        order_id=raw.data.id,
        created_at=raw.created_at,
        producer=raw.producer,
    )


Callback = Callable[[V2Order], Awaitable[B2BFields | None]]


async def handle_order_created(
    client: B2BClient,
    payload: bytes | str | Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    secret: str,
    callback: Callback,
    header_name: str = DEFAULT_SECRET_HEADER,
    clock: Callable[[], float] = time.time,
    replay_guard: ReplayGuard | None = None,
) -> CreateOrderResult:
    """Verify, fetch the V2 order, ask ``callback`` for the B2B fields, Create Order.

    Every API call runs at ``interactive`` priority with the deadline ``created_at +
    10 s``. A bad or missing secret, or a malformed payload, is rejected before any API
    call. In order, without any request: a replay of an order this process created
    recently is ``duplicate``; a delivery of an order whose delivery is in flight waits for
    that one and shares its outcome (``duplicate`` when it created the order); a delivery
    that arrives after ``created_at + 10 s`` is ``deadline_missed``. The window is checked
    again just before Create Order (``deadline_missed`` without the POST when the lookup or
    the callback used it up), and a :class:`DeadlineExceededError` from the client is
    ``deadline_missed`` too. An "already exists" answer from Create Order is ``duplicate``.

    ``replay_guard``: the memory of created orders and deliveries in flight; by default one
    :class:`ReplayGuard` per client (10,000 orders, one hour). ``clock``: wall-clock Unix
    seconds (BigCommerce's ``created_at`` is one). The result is also logged.
    """
    if not verify_secret(headers, secret=secret, header_name=header_name):
        log.warning("webhook rejected: bad or missing secret header %s", header_name)
        return CreateOrderResult("rejected", message="bad or missing secret")
    try:
        hook = parse_order_created(payload)
    except WebhookError as err:
        log.warning("webhook rejected: %s", err)
        return CreateOrderResult("rejected", error=err, message=str(err))
    guard = replay_guard if replay_guard is not None else _guard_for(client)
    store, oid = client.store_hash, hook.order_id
    key = (store, oid)

    def done(outcome: Outcome, **kw: Any) -> CreateOrderResult:
        result = CreateOrderResult(outcome, oid, clock() - hook.created_at, **kw)
        level = (logging.INFO if outcome in ("created", "duplicate", "skipped")
                 else logging.WARNING)
        log.log(level, "order %d: %s after %.2f s%s", oid, outcome, result.latency,
                f" ({result.message})" if result.message else "")
        return result

    while True:
        if guard.was_created(store, oid):
            return done("duplicate", message="replayed delivery: this process already "
                                             "created the B2B order")
        pending = guard._inflight.get(key)
        if pending is None:
            break
        # Another delivery of this order is being handled: wait for its outcome (shielded:
        # this delivery's cancellation must not cancel the other's).
        first = await asyncio.shield(pending)
        if first is None:
            continue  # it ended without an outcome (cancelled, or the callback raised)
        if first.outcome in ("created", "duplicate"):
            return done("duplicate", message="concurrent delivery: another delivery of "
                                             "this order created the B2B order")
        return done(first.outcome, error=first.error,
                    message=f"concurrent delivery, outcome shared: {first.message}")

    if clock() >= hook.created_at + CREATE_WINDOW_SECONDS:
        return done("deadline_missed", message=f"delivered after the {CREATE_WINDOW_SECONDS:g}"
                                               f"-second window; nothing sent")
    future: asyncio.Future[CreateOrderResult | None] = (
        asyncio.get_running_loop().create_future()
    )
    guard._inflight[key] = future
    result: CreateOrderResult | None = None
    try:
        result = await _create(client, hook, callback, clock, done)
        if result.outcome in ("created", "duplicate"):
            guard.remember(store, oid)
        return result
    finally:
        if guard._inflight.get(key) is future:
            del guard._inflight[key]
        future.set_result(result)


async def _create(
    client: B2BClient,
    hook: OrderCreatedWebhook,
    callback: Callback,
    clock: Callable[[], float],
    done: Callable[..., CreateOrderResult],
) -> CreateOrderResult:
    """The V2 lookup, the callback and Create Order, each inside the window."""
    oid = hook.order_id
    closes = hook.created_at + CREATE_WINDOW_SECONDS
    try:
        # Deadlines go to the client as seconds from now, measured on ``clock``.
        v2_order = await client.v2.orders.get(oid, priority="interactive",
                                              deadline=closes - clock())
        customer_id = int(v2_order.customer_id or 0)
        if customer_id <= 0:
            return done("skipped", message="guest order: no customer to attach")
        fields = await callback(v2_order)
        if fields is None:
            return done("skipped", message="callback returned None")
        remaining = closes - clock()
        if remaining <= 0:
            return done("deadline_missed", message="the window closed before Create Order "
                                                   "could be sent; nothing sent")
        sent_after = clock() - hook.created_at
        try:
            created = await client.orders.create(
                bc_order_id=oid,
                customer_id=customer_id,
                po_number=fields.po_number,
                extra_fields=fields.extra_fields,
                priority="interactive",
                deadline=remaining,
            )
        except APIStatusError as err:
            if not _already_exists(err):
                raise
            return done("duplicate", error=err,
                        message=f"Create Order sent {sent_after:.1f} s after the order was "
                                f"created answered {err.status}: "
                                f"{err.server_message or err.body}")
        return done("created", order=created)
    except DeadlineExceededError as err:
        return done("deadline_missed", error=err, message=str(err))
    except BigCommerceError as err:
        return done("api_error", error=err, message=str(err))


def make_handler(
    client: B2BClient,
    *,
    secret: str,
    callback: Callback,
    header_name: str = DEFAULT_SECRET_HEADER,
    on_result: Callable[[CreateOrderResult], object] | None = None,
    replay_guard: ReplayGuard | None = None,
) -> Callable[[Any], Awaitable[Any]]:
    """An ``aiohttp.web`` handler for the webhook's destination URL.

    401 for a bad secret, 400 for a malformed payload (both without any API call), 200
    with the outcome as JSON otherwise (including ``duplicate``, and a missed deadline:
    BigCommerce retrying the delivery later could not succeed either). ``replay_guard`` as
    in :func:`handle_order_created` (default: the client's own).
    """
    if not isinstance(secret, str) or not secret:
        raise InvalidArgumentError("secret must be a non-empty string")
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        result = await handle_order_created(
            client, body, request.headers, secret=secret, callback=callback,
            header_name=header_name, replay_guard=replay_guard,
        )
        if on_result is not None:
            on_result(result)
        status = 200
        if result.outcome == "rejected":
            status = 401 if result.error is None else 400
        return web.json_response(
            {"outcome": result.outcome, "order_id": result.order_id,
             "latency": result.latency, "message": result.message},
            status=status,
        )

    return handler
