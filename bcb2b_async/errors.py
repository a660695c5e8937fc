"""The exception hierarchy of bcb2b_async and the table that maps an HTTP status to it.

Every error the library raises is a :class:`BigCommerceError`. Errors that come from a
response keep the method, the URL (which never contains the access token), the status, the
request id and a short excerpt of the body, so a log line is enough to find the request.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BigCommerceError",
    "BodyTooLargeError",
    "ClientClosedError",
    "ConflictError",
    "DeadlineExceededError",
    "DecodeError",
    "InvalidArgumentError",
    "NotFoundError",
    "PaginationDriftError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "ServerWaitTooLongError",
    "StateLockedError",
    "UnprocessableEntityError",
    "WrongEventLoopError",
    "error_for_status",
]

#: How many characters of a response body an error keeps.
BODY_EXCERPT_CHARS = 500


def excerpt(body: bytes | str | None, limit: int = BODY_EXCERPT_CHARS) -> str:
    """Return at most ``limit`` characters of ``body`` as text, marking a cut with ``…``."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body)
    if len(text) > limit:
        return text[:limit] + "…"
    return text


class BigCommerceError(Exception):
    """Base class of every error raised by bcb2b_async."""

    #: How many attempts were made before this error was raised (1 when not retried).
    attempts: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (after {self.attempts} attempts)"
        return self.message


class InvalidArgumentError(BigCommerceError, ValueError):
    """An argument was rejected before any request was sent."""


class PaginationDriftError(BigCommerceError):
    """The result set changed during an offset walk (its total count moved).

    Offsets shift when orders enter or leave the result while it is being walked, so the
    walk could skip or repeat items; rather than do that silently it stops here. Use
    :func:`bcb2b_async.export.export_orders` for an exact snapshot of a changing store.
    """

    def __init__(self, message: str, *, first_total: int | None, new_total: int | None,
                 offset: int) -> None:
        super().__init__(message)
        self.first_total = first_total
        self.new_total = new_total
        self.offset = offset


class DeadlineExceededError(BigCommerceError, TimeoutError):
    """A call could not be sent (or retried) before its deadline; nothing was sent late."""


class ServerWaitTooLongError(BigCommerceError):
    """The server asked the client to wait longer than the retry policy allows.

    Raised instead of sleeping when a 429's reset hint (or the rate headers of an earlier
    response) asks for a wait over ``RetryPolicy.max_wait``, or one that would carry the call
    past ``RetryPolicy.max_time``. ``requested`` is the wait the server asked for, in seconds;
    ``allowed`` the longest wait the policy accepts.
    """

    def __init__(self, message: str, *, requested: float, allowed: float) -> None:
        super().__init__(message)
        self.requested = requested
        self.allowed = allowed


class ClientClosedError(BigCommerceError, RuntimeError):
    """The client was used after ``aclose()`` (or after its ``async with`` block ended)."""


class WrongEventLoopError(BigCommerceError, RuntimeError):
    """The client was used from an event loop other than the one it first ran on.

    A client (its connection pool and limiters) belongs to one event loop: create one client
    per loop (per thread), or use it only from the loop that created its session.
    """


class StateLockedError(BigCommerceError):
    """Another run holds the lock of this sync state file; only one run may use it at once."""


class BodyTooLargeError(BigCommerceError):
    """A response body exceeded the client's ``max_body_bytes`` cap; it was not read whole."""


class APIConnectionError(BigCommerceError):
    """The request did not produce an HTTP response (DNS, refused, reset, TLS...).

    ``sent`` tells whether the request may have reached the server: ``False`` only when the
    connection could not be established at all, which makes even a POST safe to retry.
    ``kind`` says what failed: ``"dns"`` (the host name did not resolve; not retried),
    ``"connect"`` (refused or unreachable), ``"disconnected"`` (the server closed the
    connection before answering), ``"payload"`` (the body was cut short), ``"timeout"`` or
    ``"connection"`` (anything else).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        sent: bool = True,
        kind: str = "connection",
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.sent = sent
        self.kind = kind


class APITimeoutError(APIConnectionError):
    """The request timed out before a complete response arrived."""


class DecodeError(BigCommerceError):
    """A successful (2xx) response whose body could not be decoded into the expected type."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int,
        body: bytes | str | None,
        malformed: bool = True,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = excerpt(body)
        #: True when the body is not even valid JSON (cut short or mangled on the way), which
        #: a retry may fix; False when valid JSON has the wrong shape, which it will not.
        self.malformed = malformed
        super().__init__(f"{method} {url} -> {status}: {message}; body: {self.body!r}")


class APIStatusError(BigCommerceError):
    """The server answered with an error status.

    Attributes: ``status``, ``method``, ``url`` (no token in it), ``request_id`` (the
    ``X-Request-Id`` header, if any), ``body`` (a short excerpt), ``server_message`` (the
    message the server gave, parsed from the B2B or V2 error body), and ``retry_after``
    (seconds the server asked us to wait, for 429s).
    """

    status: int = 0

    def __init__(
        self,
        *,
        status: int,
        method: str,
        url: str,
        body: bytes | str | None = None,
        request_id: str | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.body = excerpt(body)
        self.request_id = request_id
        self.server_message = server_message
        self.retry_after = retry_after
        detail = server_message if server_message else self.body
        text = f"{method} {url} -> {status}"
        if detail:
            text += f": {detail}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class BadRequestError(APIStatusError):
    """HTTP 400: the server found the request malformed."""


class AuthenticationError(APIStatusError):
    """HTTP 401: missing or invalid access token."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the token lacks a scope, or the store hash does not match it."""


class NotFoundError(APIStatusError):
    """HTTP 404: the order (or customer, shipment...) does not exist."""


class ConflictError(APIStatusError):
    """HTTP 409: the change conflicts with the resource's state."""


class RequestTooLargeError(APIStatusError):
    """HTTP 413: too many objects requested (e.g. ``limit`` over the maximum)."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: missing or invalid data (e.g. a required extra field)."""


class RateLimitError(APIStatusError):
    """HTTP 429: the store's quota is spent (or, without rate headers, the platform is loaded)."""


class ServerError(APIStatusError):
    """HTTP 5xx: the server failed."""


_STATUS_TABLE: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[APIStatusError]:
    """Return the error class for an HTTP status (``APIStatusError`` for unlisted ones)."""
    cls = _STATUS_TABLE.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return ServerError
    return APIStatusError


def error_for_status(
    status: int,
    *,
    method: str,
    url: str,
    body: bytes | None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the typed error for an error response, parsing the server's message from ``body``.

    B2B bodies look like ``{"code", "data": {"errMsg"}, "meta": {"message"}}`` (errMsg a string
    or an object keyed by field; message sometimes at the top level); V2 bodies are a list of
    ``{"status", "message"}`` objects. Anything else keeps just the excerpt.
    """
    cls = error_class_for_status(status)
    return cls(
        status=status,
        method=method,
        url=url,
        body=body,
        request_id=request_id,
        server_message=server_message(body),
        retry_after=retry_after,
    )


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def server_message(body: bytes | None) -> str | None:
    """Extract a human message from a B2B or V2 error body; ``None`` when there is none."""
    if not body:
        return None
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    parts: list[str] = []
    if isinstance(doc, dict):
        meta = doc.get("meta")
        msg = _text(meta.get("message")) if isinstance(meta, dict) else None
        msg = msg or _text(doc.get("message")) or _text(doc.get("title"))
        if msg:
            parts.append(msg)
        data = doc.get("data")
        err = data.get("errMsg") if isinstance(data, dict) else None
        if err is None:
            err = doc.get("errMsg")
        if isinstance(err, str):
            if err.strip() and err.strip() not in parts:
                parts.append(err.strip())
        elif isinstance(err, dict):
            fields = "; ".join(f"{k}: {v}" for k, v in list(err.items())[:20])
            if fields:
                parts.append(fields)
    elif isinstance(doc, list):
        for item in doc[:20]:
            if isinstance(item, dict):
                msg = _text(item.get("message"))
                if msg:
                    st = item.get("status")
                    parts.append(f"[{st}] {msg}" if isinstance(st, int) else msg)
    if not parts:
        return None
    return excerpt(" | ".join(parts))
