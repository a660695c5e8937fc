"""The library's sandbox store in its own process, plus two control routes for the suite.

``python -m benchmarks._sandbox`` takes the flags of ``python -m bcb2b_async.testing``
(its own argument parser is reused) and prints the same ``SANDBOX http://127.0.0.1:PORT``
line. It adds ``GET /__bench__/stats`` (per-API requests and 429s as the store counted them,
and the most admitted requests in any window) and ``POST /__bench__/reset`` (fresh
counters between rounds); the suite reads the server's own 429 count from there, since
``store.stats`` lives in this process.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from aiohttp import web

from bcb2b_async.testing import SandboxStore
from bcb2b_async.testing.__main__ import build_parser, store_options
from bcb2b_async.testing._store import SandboxStats


class BenchStore(SandboxStore):
    """A sandbox store with the suite's control routes."""

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_get("/__bench__/stats", self._bench_stats)
        app.router.add_post("/__bench__/reset", self._bench_reset)
        return app

    def _api_stats(self, api: Any) -> dict[str, Any]:
        s = self.stats[api]
        lim = self._limits.get(api)
        return {
            "requests": s.requests,
            "throttled": s.throttled,
            "max_in_window": self.max_requests_in_any_window(api) if lim is not None else None,
        }

    async def _bench_stats(self, request: web.Request) -> web.Response:
        return web.json_response({"b2b": self._api_stats("b2b"), "v2": self._api_stats("v2")})

    async def _bench_reset(self, request: web.Request) -> web.Response:
        self.stats = SandboxStats()
        return web.json_response({"ok": True})


async def serve(argv: list[str] | None) -> None:
    args = build_parser().parse_args(argv)
    store = BenchStore(
        args.orders,
        seed=args.seed,
        store_hash=args.store_hash,
        access_token=args.access_token,
        b2b_rate=args.b2b_rate,
        v2_rate=args.v2_rate,
        bounds_inclusive=not args.exclusive_bounds,
        companies=args.companies,
        old_fraction=args.old_fraction,
        latency=args.latency,
        port=args.port,
        host=args.host,
        required_extra_fields=getattr(args, "required_extra_fields", False),
        **store_options(args),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with store:
        sys.stdout.write(f"SANDBOX {store.base_url}\n")
        sys.stdout.flush()
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1:]))
