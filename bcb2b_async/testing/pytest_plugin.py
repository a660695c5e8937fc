"""pytest plugin: a ready ``sandbox_store`` fixture.

Enable it with ``pytest_plugins = ["bcb2b_async.testing.pytest_plugin"]``. The fixture
yields a started :class:`~bcb2b_async.testing.SandboxStore` with 500 orders and no
rate limits; configure it per test with the ``sandbox`` marker, whose keyword
arguments go to :class:`SandboxStore`::

    @pytest.mark.sandbox(orders=2000, b2b_rate=RateWindow(40, 1.0))
    async def test_walk(sandbox_store): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from ._store import SandboxStore

DEFAULTS: dict[str, Any] = {"orders": 500, "b2b_rate": None, "v2_rate": None}


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``sandbox`` marker."""
    config.addinivalue_line(
        "markers",
        "sandbox(**kwargs): keyword arguments for the sandbox_store fixture's SandboxStore "
        "(default orders=500, b2b_rate=None, v2_rate=None)",
    )


@pytest_asyncio.fixture
async def sandbox_store(request: pytest.FixtureRequest) -> AsyncIterator[SandboxStore]:
    """A started sandbox store (500 orders, no rate limits unless the marker says so)."""
    kwargs = dict(DEFAULTS)
    marker = request.node.get_closest_marker("sandbox")
    if marker is not None:
        if marker.args:
            kwargs["orders"] = marker.args[0]
        kwargs.update(marker.kwargs)
    async with SandboxStore(**kwargs) as store:
        yield store
