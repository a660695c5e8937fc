"""Shared constants and helpers of the aioresponses endpoint tests (the ``client`` fixture
itself is in tests/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

from aioresponses import aioresponses
from yarl import URL

# Re-exported only for tests/resources/test_v2_endpoints.py, which still imports it from
# here; it is the one fixture of tests/conftest.py, not another definition. Drop this line
# once that file is merged into test_v2_orders.py.
from ..conftest import client

__all__ = ["B2B", "STORE", "TOKEN", "UUID", "V2", "b2b_error", "calls", "client", "count",
           "only_call", "query", "sent_json"]

TOKEN = "tok-SECRET-1234"
STORE = "abc123"
B2B = "https://api-b2b.bigcommerce.com/api/v3/io"
V2 = f"https://api.bigcommerce.com/stores/{STORE}/v2"
UUID = "095a15a6-8a27-4c20-b357-36b82e9d5929"


def calls(m: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request made, as (method, URL with query, kwargs passed to aiohttp)."""
    return [(method, url, r.kwargs) for (method, url), reqs in m.requests.items()
            for r in reqs]


def count(m: aioresponses) -> int:
    """How many requests were made."""
    return sum(len(reqs) for reqs in m.requests.values())


def only_call(m: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    """The one request made (fails if there were more or none)."""
    made = calls(m)
    assert len(made) == 1, made
    return made[0]


def sent_json(kwargs: dict[str, Any]) -> Any:
    """The JSON body sent (None when no body); always sent as bytes."""
    data = kwargs.get("data")
    if data is None:
        return None
    assert isinstance(data, bytes)
    return json.loads(data)


def query(url: URL, kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    """The query pairs sent, in order (as passed to aiohttp; aioresponses also merges them
    into the URL it records, without the order of repeated keys)."""
    params = kwargs.get("params")
    if params:
        return [(str(k), str(v)) for k, v in params]
    return list(url.query.items())


def b2b_error(status: int, message: str, err: Any = None) -> dict[str, Any]:
    """A B2B error envelope: ``meta.message`` and, if given, ``data.errMsg``."""
    data: dict[str, Any] = {} if err is None else {"errMsg": err}
    return {"code": status, "data": data, "meta": {"message": message}}
