"""``python -m bcb2b_async.testing``: serve a sandbox store until SIGTERM/SIGINT.

Once it is listening, prints to stdout a first line ``SANDBOX http://127.0.0.1:PORT`` (for
scripts that wait for it), then the store hash and access token, and the ``export
BCB2B_...=`` lines to paste into a shell so that ``bcb2b`` and ``B2BClient.from_env()``
use the sandbox::

    SANDBOX http://127.0.0.1:8765
    # store hash: sandbox, access token: sandbox-token; paste these lines into your shell:
    export BCB2B_STORE_HASH=sandbox
    export BCB2B_ACCESS_TOKEN=sandbox-token
    export BCB2B_B2B_URL=http://127.0.0.1:8765
    export BCB2B_V2_URL=http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from typing import Any

from .._client import ENV_VARS
from ._ratelimit import RateWindow
from ._store import SandboxStore


def _rate(text: str) -> RateWindow | None:
    try:
        return RateWindow.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def store_options(args: argparse.Namespace) -> dict[str, Any]:
    """The store's B2B-share, storefront and quirk options from the parsed flags."""
    options: dict[str, Any] = {
        "b2b_share": args.b2b_share,
        "multi_storefront": not args.single_storefront,
        "realistic": args.realistic,
    }
    if args.empty_line_items is not None:
        options["empty_line_items"] = args.empty_line_items
    if args.long_orders is not None:
        options["long_orders"] = args.long_orders
    if args.late_b2b_share is not None:
        options["late_b2b_share"] = args.late_b2b_share
    return options


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of the sandbox runner."""
    p = argparse.ArgumentParser(
        prog="python -m bcb2b_async.testing",
        description="Serve a seeded BigCommerce sandbox store (B2B Edition + V2 orders).",
    )
    p.add_argument("--orders", type=int, default=1000, help="number of seeded orders")
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind")
    p.add_argument("--seed", type=int, default=1, help="data seed")
    p.add_argument("--store-hash", default="sandbox")
    p.add_argument("--access-token", default="sandbox-token")
    p.add_argument(
        "--b2b-rate",
        type=_rate,
        default=RateWindow(150, 60.0),
        help="B2B quota as REQUESTS/SECONDS, or 'none' (default 150/60)",
    )
    p.add_argument(
        "--v2-rate",
        type=_rate,
        default=RateWindow(150, 30.0),
        help="V2 quota as REQUESTS/SECONDS, or 'none' (default 150/30)",
    )
    p.add_argument(
        "--exclusive-bounds",
        action="store_true",
        help="min*/max* list filters exclude the bound itself",
    )
    p.add_argument("--companies", type=int, default=20)
    p.add_argument("--old-fraction", type=float, default=0.2)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    p.add_argument("--b2b-share", type=float, default=1.0,
                   help="share of the orders that are B2B orders (the others are consumer "
                        "orders only V2 lists); default 1.0")
    p.add_argument("--single-storefront", action="store_true",
                   help="no multi-storefront: GET /channels answers 403, channel 1 only")
    p.add_argument("--realistic", action="store_true",
                   help="the documented quirks: B2B createdAt lagging the V2 date_created, "
                        "empty embedded line items, orders over 50 lines")
    p.add_argument("--empty-line-items", type=float, default=None, metavar="SHARE",
                   help="share of orders whose embedded line items come back empty")
    p.add_argument("--long-orders", type=float, default=None, metavar="SHARE",
                   help="share of orders with 51..120 lines")
    p.add_argument("--late-b2b-share", type=float, default=None, metavar="SHARE",
                   help="with --realistic: share of company orders assigned to their "
                        "company days after the order (default 0.01)")
    p.add_argument(
        "--required-extra-fields",
        action="store_true",
        help="make the 'Fintech ID' order extra field required",
    )
    return p


async def serve(args: argparse.Namespace) -> None:
    """Start the store, announce its URL and wait for SIGTERM/SIGINT."""
    store = SandboxStore(
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
        required_extra_fields=args.required_extra_fields,
        **store_options(args),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with store:
        sys.stdout.write(announcement(store))
        sys.stdout.flush()
        await stop.wait()


def announcement(store: SandboxStore) -> str:
    """What the runner prints once the store listens: its URL, credentials and exports."""
    env = {
        ENV_VARS["store_hash"]: store.store_hash,
        ENV_VARS["access_token"]: store.access_token,
        ENV_VARS["b2b_base_url"]: store.b2b_base_url,
        ENV_VARS["v2_base_url"]: store.v2_base_url,
    }
    lines = [
        f"SANDBOX {store.base_url}",
        f"# store hash: {store.store_hash}, access token: {store.access_token}; paste these "
        "lines into your shell:",
        *(f"export {key}={shlex.quote(value)}" for key, value in env.items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
