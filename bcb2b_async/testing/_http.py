"""Response builders shared by the B2B and V2 handlers."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """Raised inside a handler to answer with an API-formatted error."""

    def __init__(
        self, status: int, message: str, err_msg: str | dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_msg = err_msg


def json_response(payload: Any, status: int = 200) -> web.Response:
    """Encode ``payload`` with msgspec into an ``application/json`` response."""
    return web.Response(
        body=_encoder.encode(payload), status=status, content_type="application/json"
    )


def b2b_error(
    status: int, message: str, err_msg: str | dict[str, str] | None = None
) -> web.Response:
    """The B2B Edition error envelope ``{code, data: {errMsg?}, meta: {message}}``."""
    data: dict[str, Any] = {} if err_msg is None else {"errMsg": err_msg}
    return json_response({"code": status, "data": data, "meta": {"message": message}}, status)


def v2_error(status: int, message: str) -> web.Response:
    """The V2 error body: a list of ``{status, message}``."""
    return json_response([{"status": status, "message": message}], status)


def gateway_error(status: int) -> web.Response:
    """An HTML error page as a load balancer in front of the API would send it."""
    reason = {502: "Bad Gateway", 504: "Gateway Time-out"}.get(status, "Error")
    title = f"{status} {reason}"
    html = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return web.Response(body=html.encode(), status=status, content_type="text/html")


def decode_body(raw: bytes) -> Any:
    """Decode a JSON request body; raises :class:`ApiError` 400 when it is not JSON."""
    if not raw.strip():
        raise ApiError(400, "The request body is empty.", "Request body is required")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as err:
        raise ApiError(400, "The request body is not valid JSON.", f"Invalid JSON: {err}") from err
