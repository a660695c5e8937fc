"""Cached msgspec decoders and B2B envelope handling.

One ``msgspec.json.Decoder`` per target type, built on first use and reused for every
response. A body is decoded exactly once; what does not fit raises :class:`DecodeError`
naming the endpoint.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from .errors import DecodeError
from .models.common import Envelope

__all__ = ["decoder_for", "envelope_decoder", "one"]

T = TypeVar("T")


@cache
def decoder_for(tp: Any) -> msgspec.json.Decoder[Any]:
    """The cached decoder for ``tp``."""
    return msgspec.json.Decoder(tp)


#: ids of the envelope decoders (cached for the process, so their ids are stable).
_ENVELOPES: set[int] = set()


@cache
def envelope_decoder(data_type: Any) -> msgspec.json.Decoder[Any]:
    """The cached decoder for a B2B envelope whose ``data`` is ``data_type``.

    A 2xx envelope whose ``data`` is missing or null decodes to a :class:`DecodeError`
    marked ``malformed`` (retried for idempotent calls), never to an empty result.
    """
    decoder = msgspec.json.Decoder(Envelope[data_type])
    _ENVELOPES.add(id(decoder))
    return decoder


def decode(
    decoder: msgspec.json.Decoder[Any], body: bytes, *, method: str, url: str, status: int
) -> Any:
    """Decode ``body`` or raise :class:`DecodeError` naming the request."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as err:
        # msgspec stops at the first mismatch, before it would notice the body is cut
        # short: only valid JSON of the wrong shape is "not malformed" (not worth a retry).
        if id(decoder) in _ENVELOPES and _no_data(body):
            raise DecodeError(
                "the envelope's 'data' is missing or null (a 2xx must carry data)",
                method=method, url=url, status=status, body=body, malformed=True,
            ) from err
        if _is_json(body):
            raise DecodeError(
                f"response does not match the expected shape: {err}",
                method=method,
                url=url,
                status=status,
                body=body,
                malformed=False,
            ) from err
        raise DecodeError(
            f"response is not valid JSON ({err})", method=method, url=url, status=status,
            body=body,
        ) from err
    except (msgspec.DecodeError, RecursionError, ValueError) as err:
        raise DecodeError(
            f"response is not valid JSON: {err}", method=method, url=url, status=status, body=body
        ) from err


def _no_data(body: bytes) -> bool:
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("data") is None


def _is_json(body: bytes) -> bool:
    try:
        msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return False
    return True


def one(value: T | list[T], *, method: str, url: str, status: int, body: bytes) -> T:
    """``data`` documented as an object or as a one-item list: return the object."""
    if isinstance(value, list):
        if len(value) != 1:
            raise DecodeError(
                f"expected one item in 'data', got {len(value)}",
                method=method,
                url=url,
                status=status,
                body=body,
            )
        item: T = value[0]
        return item
    return value
