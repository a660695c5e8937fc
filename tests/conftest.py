"""Shared fixtures for the unit and resource tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bcb2b_async import B2BClient, RetryPolicy


@pytest.fixture
async def client() -> AsyncIterator[B2BClient]:
    """A client for store ``abc123`` with token ``tok-SECRET-1234``: no rate limiting, two
    retries without backoff delay (tests never sleep for real). Built inside the test's
    event loop and closed after the test."""
    c = B2BClient(
        "abc123",
        "tok-SECRET-1234",
        b2b_rate_limit=None,
        v2_rate_limit=None,
        retry_policy=RetryPolicy(max_retries=2, base_delay=0.0),
    )
    try:
        yield c
    finally:
        await c.aclose()
