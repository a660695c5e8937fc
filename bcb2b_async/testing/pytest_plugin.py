"""pytest plugin: a sandbox store, a client for it and its environment, for your own tests.

Install the extra and enable the plugin in your ``conftest.py``; then ask for a fixture::

    pip install 'bcb2b_async[testing]'          # pytest + pytest-asyncio

    # conftest.py
    pytest_plugins = ["bcb2b_async.testing.pytest_plugin"]

    # test_orders.py
    async def test_reads_an_order(sandbox_client):
        assert (await sandbox_client.orders.get(100)).bc_order_id == 100

Fixtures (each test gets its own store, started on 127.0.0.1 and closed after it):

``sandbox_store``
    A started :class:`~bcb2b_async.testing.SandboxStore`: 500 orders (bcOrderId 100..599)
    and no rate limits unless the ``sandbox`` marker says otherwise.
``sandbox_client``
    A :class:`~bcb2b_async.B2BClient` pointed at that store, with the store's quotas as its
    rate limits; closed after the test.
``sandbox_env``
    Sets ``BCB2B_STORE_HASH``, ``BCB2B_ACCESS_TOKEN``, ``BCB2B_B2B_URL`` and ``BCB2B_V2_URL``
    for the test (``B2BClient.from_env()`` and the ``bcb2b`` command then use the store) and
    returns them as a dict.

Configure the store per test with the ``sandbox`` marker, whose keyword arguments go to
:class:`SandboxStore` (a positional argument is the number of orders)::

    @pytest.mark.sandbox(orders=2000, b2b_rate=RateWindow(40, 1.0))
    async def test_walk(sandbox_store): ...

A misspelt or invalid marker argument fails the test with a sentence saying which.

Async tests that use these fixtures run under pytest-asyncio whatever its mode: in the
default strict mode the plugin marks them ``@pytest.mark.asyncio`` itself (tests marked
for another async framework, anyio or trio, are left alone).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError as err:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "bcb2b_async.testing.pytest_plugin needs pytest-asyncio; install it with "
        "pip install 'bcb2b_async[testing]'"
    ) from err

from .._client import ENV_VARS, B2BClient
from .._config import RateLimit
from ._ratelimit import RateWindow
from ._store import SandboxStore

__all__ = ["DEFAULTS", "SANDBOX_FIXTURES", "sandbox_client", "sandbox_env", "sandbox_store"]

#: What ``sandbox_store`` builds without a marker (a small store, no rate limits).
DEFAULTS: dict[str, Any] = {"orders": 500, "b2b_rate": None, "v2_rate": None}
#: The fixtures that make an async test run under pytest-asyncio.
SANDBOX_FIXTURES = frozenset({"sandbox_store", "sandbox_client", "sandbox_env"})
_OTHER_ASYNC_MARKS = ("asyncio", "anyio", "trio")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``sandbox`` marker."""
    config.addinivalue_line(
        "markers",
        "sandbox(orders=None, **kwargs): keyword arguments for the sandbox_store fixture's "
        "SandboxStore (default orders=500, b2b_rate=None, v2_rate=None)",
    )


def _wants_sandbox(collector: pytest.Module | pytest.Class, obj: object) -> bool:
    try:
        params = inspect.signature(obj).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    if SANDBOX_FIXTURES & set(params):
        return True
    marks = list(getattr(obj, "pytestmark", []))
    if any(m.name == "sandbox" for m in marks):
        return True
    if any(m.name == "usefixtures" and SANDBOX_FIXTURES & set(m.args) for m in marks):
        return True
    return any(True for _ in collector.iter_markers(name="sandbox"))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    """Mark async tests that use a sandbox fixture ``asyncio`` (strict mode needs it).

    Runs before the test item is built, so pytest-asyncio sees the mark as if the test
    were decorated; returns None so that collection goes on as usual.
    """
    if not inspect.iscoroutinefunction(obj) or not collector.istestfunction(obj, name):
        return
    marks = list(getattr(obj, "pytestmark", []))
    if any(m.name in _OTHER_ASYNC_MARKS for m in marks):
        return
    if any(True for m in _OTHER_ASYNC_MARKS for _ in collector.iter_markers(name=m)):
        return
    if _wants_sandbox(collector, obj):
        pytest.mark.asyncio(obj)


def _store_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    """``DEFAULTS`` updated by the closest ``sandbox`` marker, checked argument by argument."""
    kwargs = dict(DEFAULTS)
    marker = request.node.get_closest_marker("sandbox")
    if marker is None:
        return kwargs
    if len(marker.args) > 1:
        pytest.fail(
            f"@pytest.mark.sandbox takes at most one positional argument (orders), got "
            f"{len(marker.args)}: {marker.args!r}",
            pytrace=False,
        )
    if marker.args:
        kwargs["orders"] = marker.args[0]
    accepted = [p for p in inspect.signature(SandboxStore).parameters if p != "self"]
    for key in marker.kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            pytest.fail(
                f"@pytest.mark.sandbox: unknown argument {key!r}{hint} (SandboxStore takes "
                f"{', '.join(accepted)})",
                pytrace=False,
            )
    kwargs.update(marker.kwargs)
    return kwargs


def _build(kwargs: dict[str, Any]) -> SandboxStore:
    try:
        return SandboxStore(**kwargs)
    except (TypeError, ValueError) as err:
        pytest.fail(f"@pytest.mark.sandbox: {err}", pytrace=False)


@pytest_asyncio.fixture
async def sandbox_store(request: pytest.FixtureRequest) -> AsyncIterator[SandboxStore]:
    """A started sandbox store (500 orders, no rate limits unless the marker says so)."""
    async with _build(_store_kwargs(request)) as store:
        yield store


def _limit(window: object) -> RateLimit | None:
    if isinstance(window, RateWindow):
        return RateLimit(window.requests, window.seconds)
    return None


@pytest_asyncio.fixture
async def sandbox_client(
    request: pytest.FixtureRequest, sandbox_store: SandboxStore
) -> AsyncIterator[B2BClient]:
    """A :class:`B2BClient` for ``sandbox_store``, its rate limits the store's quotas."""
    kwargs = _store_kwargs(request)
    client = B2BClient(
        sandbox_store.store_hash,
        sandbox_store.access_token,
        b2b_base_url=sandbox_store.b2b_base_url,
        v2_base_url=sandbox_store.v2_base_url,
        b2b_rate_limit=_limit(kwargs.get("b2b_rate")),
        v2_rate_limit=_limit(kwargs.get("v2_rate")),
    )
    async with client:
        yield client


@pytest.fixture
def sandbox_env(
    sandbox_store: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The ``BCB2B_*`` variables of ``sandbox_store``, set in ``os.environ`` for the test.

    Use it from an async test: the store answers while the test's event loop runs.
    """
    env = {
        ENV_VARS["store_hash"]: sandbox_store.store_hash,
        ENV_VARS["access_token"]: sandbox_store.access_token,
        ENV_VARS["b2b_base_url"]: sandbox_store.b2b_base_url,
        ENV_VARS["v2_base_url"]: sandbox_store.v2_base_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
