"""bcb2b_async: the asyncio client for the BigCommerce B2B Edition Orders API and the V2
order endpoints that change an order.

>>> from bcb2b_async import B2BClient, RateLimit
>>> async with B2BClient(store_hash, access_token) as client:
...     async for order in client.orders.list(min_created=0, channel_ids=[1, 2]):
...         ...
"""

from typing import TYPE_CHECKING, Any

from ._batch import BatchResult
from ._client import B2BClient, Deadline
from ._config import Priority, RateLimit
from ._pagination import AsyncPaginator
from ._ratelimit import Limiter, LimiterBackend, Permit, RateHeaders, parse_rate_headers
from ._retry import RetryPolicy
from ._stats import APIStats, ClientStats, Event, Hooks
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BigCommerceError,
    BodyTooLargeError,
    ClientClosedError,
    ConflictError,
    DeadlineExceededError,
    DecodeError,
    InvalidArgumentError,
    NotFoundError,
    PaginationDriftError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    ServerWaitTooLongError,
    StateLockedError,
    UnprocessableEntityError,
    WrongEventLoopError,
)
from .models.b2b_orders import (
    ExtraField,
    ExtraFieldConfig,
    ExtraInfo,
    Money,
    Order,
    OrderProduct,
    OrderProductOption,
    OrderUpdate,
)
from .models.channels import Channel
from .models.common import Page

if TYPE_CHECKING:
    from .export import ExportedOrder, SyncState
    from .models.v2_orders import (
        OrderStatus,
        OrderUpdateResult,
        Shipment,
        ShipmentItem,
        V2BillingAddress,
        V2Order,
        V2OrderProduct,
        V2ShippingAddress,
    )
    from .resources.v2_orders import V2OrderQuery

# The export module and the V2 models (and what they import) load on first use: a plain
# B2B walk does not pay for them at import time.
_LAZY = {
    "ExportedOrder": "export",
    "SyncState": "export",
    "OrderStatus": "models.v2_orders",
    "OrderUpdateResult": "models.v2_orders",
    "Shipment": "models.v2_orders",
    "ShipmentItem": "models.v2_orders",
    "V2BillingAddress": "models.v2_orders",
    "V2Order": "models.v2_orders",
    "V2OrderProduct": "models.v2_orders",
    "V2ShippingAddress": "models.v2_orders",
    "V2OrderQuery": "resources.v2_orders",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bcb2b_async' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "APIConnectionError",
    "APIStats",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPaginator",
    "AuthenticationError",
    "B2BClient",
    "BadRequestError",
    "BatchResult",
    "BigCommerceError",
    "BodyTooLargeError",
    "Channel",
    "ClientClosedError",
    "ClientStats",
    "ConflictError",
    "Deadline",
    "DeadlineExceededError",
    "DecodeError",
    "Event",
    "ExportedOrder",
    "ExtraField",
    "ExtraFieldConfig",
    "ExtraInfo",
    "Hooks",
    "InvalidArgumentError",
    "Limiter",
    "LimiterBackend",
    "Money",
    "NotFoundError",
    "Order",
    "OrderProduct",
    "OrderProductOption",
    "OrderStatus",
    "OrderUpdate",
    "OrderUpdateResult",
    "Page",
    "PaginationDriftError",
    "PermissionDeniedError",
    "Permit",
    "Priority",
    "RateHeaders",
    "RateLimit",
    "RateLimitError",
    "RequestTooLargeError",
    "RetryPolicy",
    "ServerError",
    "ServerWaitTooLongError",
    "Shipment",
    "ShipmentItem",
    "StateLockedError",
    "SyncState",
    "UnprocessableEntityError",
    "V2BillingAddress",
    "V2Order",
    "V2OrderProduct",
    "V2OrderQuery",
    "V2ShippingAddress",
    "WrongEventLoopError",
    "__version__",
    "parse_rate_headers",
]
