"""Fixtures for tests against the sandbox store (a real aiohttp server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bcb2b_async import B2BClient, RateLimit, RetryPolicy
from bcb2b_async.testing import SandboxStore

ClientFactory = Callable[..., B2BClient]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Build clients pointed at a store; all are closed after the test."""
    made: list[B2BClient] = []

    def factory(store: SandboxStore, **kwargs: Any) -> B2BClient:
        kwargs.setdefault("b2b_rate_limit", None)
        kwargs.setdefault("v2_rate_limit", None)
        kwargs.setdefault("retry_policy", RetryPolicy(max_retries=6, base_delay=0.01,
                                                      max_delay=0.2))
        client = B2BClient(store.store_hash, store.access_token, b2b_base_url=store.base_url,
                           v2_base_url=store.base_url, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


__all__ = ["ClientFactory", "RateLimit"]
