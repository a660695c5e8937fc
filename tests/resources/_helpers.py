"""Shared helpers for aioresponses endpoint tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from bcb2b_async import B2BClient, RetryPolicy

TOKEN = "tok-SECRET-1234"
STORE = "abc123"
B2B = "https://api-b2b.bigcommerce.com/api/v3/io"
V2 = f"https://api.bigcommerce.com/stores/{STORE}/v2"


@pytest.fixture
async def client() -> AsyncIterator[B2BClient]:
    c = B2BClient(STORE, TOKEN, b2b_rate_limit=None, v2_rate_limit=None,
                  retry_policy=RetryPolicy(max_retries=2, base_delay=0.0))
    yield c
    await c.aclose()


def calls(m: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request made, as (method, url-with-query, kwargs)."""
    out = []
    for (method, url), reqs in m.requests.items():
        for r in reqs:
            out.append((method, url, r.kwargs))
    return out


def only_call(m: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    made = calls(m)
    assert len(made) == 1, made
    return made[0]


def sent_json(kwargs: dict[str, Any]) -> Any:
    data = kwargs.get("data")
    return None if data is None else json.loads(data)


def query(url: URL, kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    """The query pairs sent, in order (as passed to aiohttp; aioresponses also merges them
    into the URL it records, without the order of repeated keys)."""
    params = kwargs.get("params")
    if params:
        return [(str(k), str(v)) for k, v in params]
    return list(url.query.items())


def b2b_error(status: int, message: str, err: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {} if err is None else {"errMsg": err}
    return {"code": status, "data": data, "meta": {"message": message}}
