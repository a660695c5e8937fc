"""The B2B Create Order webhook flow, inside its 10-second window.

BigCommerce sends ``store/order/created`` when an order is placed; to attach B2B data (PO
number, extra fields) the service must call B2B Edition's Create Order **within 10 seconds
of the order's creation**, or the call fails and the data is lost. When a bulk export or a
sync worker keeps the store's quota busy, that call must not queue behind bulk reads:
:func:`handle_order_created` runs it at ``interactive`` priority with a deadline of
``created_at + 10 s`` (covering limiter waits and retries), and fails fast rather than
sending late.

::

    async def b2b_fields(order: V2Order) -> B2BFields | None:
        return B2BFields(po_number=lookup_po(order), extra_fields=[...])  # None: skip

    app.router.add_post("/webhooks/orders", make_handler(client, secret=SECRET,
                                                         callback=b2b_fields))
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from ._client import B2BClient
from .errors import BigCommerceError, DeadlineExceededError, InvalidArgumentError
from .models.b2b_orders import ExtraField, Order
from .models.v2_orders import V2Order

__all__ = [
    "CREATE_WINDOW_SECONDS",
    "B2BFields",
    "CreateOrderResult",
    "OrderCreatedWebhook",
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

Outcome = Literal["created", "skipped", "deadline_missed", "api_error", "rejected"]


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

    ``outcome``: ``created``, ``skipped`` (the callback returned None, or a guest order),
    ``deadline_missed`` (could not be sent before ``created_at + 10 s``; nothing was sent
    late), ``api_error`` (the API refused or failed), ``rejected`` (bad secret or payload;
    no API call was made). ``latency`` is seconds from the order's ``created_at`` to the
    end of the handling.
    """

    outcome: Outcome
    order_id: int | None = None
    latency: float | None = None
    order: Order | None = None
    error: BaseException | None = field(default=None, repr=False)
    message: str = ""


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
) -> CreateOrderResult:
    """Verify, fetch the V2 order, ask ``callback`` for the B2B fields, Create Order.

    Every API call runs at ``interactive`` priority with the deadline ``created_at +
    10 s``. A bad or missing secret, or a malformed payload, is rejected before any API
    call. The result is also logged.
    """
    if not verify_secret(headers, secret=secret, header_name=header_name):
        log.warning("webhook rejected: bad or missing secret header %s", header_name)
        return CreateOrderResult("rejected", message="bad or missing secret")
    try:
        hook = parse_order_created(payload)
    except WebhookError as err:
        log.warning("webhook rejected: %s", err)
        return CreateOrderResult("rejected", error=err, message=str(err))
    deadline = hook.deadline
    oid = hook.order_id

    def done(outcome: Outcome, **kw: Any) -> CreateOrderResult:
        result = CreateOrderResult(outcome, oid, clock() - hook.created_at, **kw)
        level = logging.INFO if outcome in ("created", "skipped") else logging.WARNING
        log.log(level, "order %d: %s after %.2f s%s", oid, outcome, result.latency,
                f" ({result.message})" if result.message else "")
        return result

    try:
        v2_order = await client.v2.orders.get(oid, priority="interactive", deadline=deadline)
        customer_id = int(v2_order.customer_id or 0)
        if customer_id <= 0:
            return done("skipped", message="guest order: no customer to attach")
        fields = await callback(v2_order)
        if fields is None:
            return done("skipped", message="callback returned None")
        created = await client.orders.create(
            bc_order_id=oid,
            customer_id=customer_id,
            po_number=fields.po_number,
            extra_fields=fields.extra_fields,
            priority="interactive",
            deadline=deadline,
        )
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
) -> Callable[[Any], Awaitable[Any]]:
    """An ``aiohttp.web`` handler for the webhook's destination URL.

    401 for a bad secret, 400 for a malformed payload (both without any API call), 200
    with the outcome as JSON otherwise (including a missed deadline: BigCommerce retrying
    the delivery later could not succeed either).
    """
    if not isinstance(secret, str) or not secret:
        raise InvalidArgumentError("secret must be a non-empty string")
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        result = await handle_order_created(
            client, body, request.headers, secret=secret, callback=callback,
            header_name=header_name,
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
