"""The ``bcb2b`` command line: bulk order export and incremental sync.

``bcb2b export orders --out FILE [--format jsonl|csv] [--channel N]... [--company-id N]
[--since T] [--until T] [--with-products] [--state FILE] [--sandbox [--sandbox-orders N]]``

Exit codes: 0 done; 2 bad usage; 3 missing or invalid configuration (credentials, URLs);
4 API or network error; 5 output could not be written; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from . import __version__
from ._client import B2BClient
from ._config import RateLimit
from .errors import BigCommerceError, InvalidArgumentError
from .export import ExportedOrder, SyncState, export_orders, sync_orders

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_API = 4
EXIT_OUTPUT = 5
EXIT_INTERRUPTED = 130

#: CSV columns, in order. Nested values (extra fields, products) are JSON strings.
CSV_COLUMNS = (
    "bcOrderId", "id", "companyId", "channelId", "channelName", "poNumber", "status",
    "statusCode", "customStatus", "totalIncTax", "usdIncTax", "currencyCode", "items",
    "cartId", "isArchived", "createdAt", "updatedAt", "createdAtIso", "updatedAtIso",
    "extraFields", "productCount", "products",
)


class UsageError(Exception):
    """A flag value the parser accepted but that makes no sense."""


def parse_time(text: str) -> int:
    """Unix seconds, or an ISO 8601 date/datetime (UTC when no offset is given)."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use Unix seconds or ISO 8601, e.g. 2025-01-31T00:00:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def positive_int(text: str) -> int:
    """An int > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def parse_rate(text: str) -> RateLimit | None:
    """``REQUESTS/SECONDS`` (e.g. ``150/60``) or ``off`` (no client-side limit)."""
    if text.strip().lower() in ("off", "none", "0"):
        return None
    try:
        req, secs = text.split("/", 1)
        return RateLimit(int(req), float(secs))
    except (ValueError, InvalidArgumentError):
        raise argparse.ArgumentTypeError(
            f"not a rate: {text!r} (use REQUESTS/SECONDS such as 150/60, or off)"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bcb2b``."""
    parser = argparse.ArgumentParser(
        prog="bcb2b",
        description="Export BigCommerce B2B Edition orders (exact, rate-limit aware).",
    )
    parser.add_argument("--version", action="version", version=f"bcb2b {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="export data")
    what = export.add_subparsers(dest="what", required=True)
    orders = what.add_parser(
        "orders",
        help="export orders to JSONL or CSV",
        description=(
            "Export every order (or, with --state, what changed since the last run). "
            "Credentials come from flags or BCB2B_STORE_HASH / BCB2B_ACCESS_TOKEN; "
            "BCB2B_B2B_URL / BCB2B_V2_URL override the API hosts. With --sandbox, a local "
            "sandbox store is started and exported instead."
        ),
    )
    orders.add_argument("--out", required=True, help="output file (written atomically)")
    orders.add_argument("--format", choices=("jsonl", "csv"), default=None,
                        help="output format (default: from the file name, else jsonl)")
    orders.add_argument("--channel", type=positive_int, action="append", dest="channels",
                        metavar="N", help="channel id (repeat for several; default: channel 1)")
    orders.add_argument("--company-id", type=positive_int, default=None)
    orders.add_argument("--since", type=parse_time, default=None,
                        help="created at or after (Unix seconds or ISO 8601)")
    orders.add_argument("--until", type=parse_time, default=None,
                        help="created at or before (Unix seconds or ISO 8601)")
    orders.add_argument("--with-products", action="store_true",
                        help="attach each order's products")
    orders.add_argument("--state", default=None,
                        help="incremental sync state file: export what changed since last run")
    orders.add_argument("--concurrency", type=positive_int, default=4)
    orders.add_argument("--b2b-rate", type=parse_rate, default=RateLimit(150, 60.0),
                        metavar="N/S", help="B2B quota to stay under (default 150/60; 'off')")
    orders.add_argument("--v2-rate", type=parse_rate, default=RateLimit(150, 30.0),
                        metavar="N/S", help="V2 quota (default 150/30, Pro plans 450/30; 'off')")
    orders.add_argument("--store-hash", default=None)
    orders.add_argument("--access-token", default=None)
    orders.add_argument("--b2b-url", default=None)
    orders.add_argument("--v2-url", default=None)
    orders.add_argument("--sandbox", action="store_true",
                        help="start the built-in sandbox store and export from it")
    orders.add_argument("--sandbox-orders", type=positive_int, default=20_000)
    orders.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    return parser


class Progress:
    """Progress on stderr: a rich bar when rich is installed and stderr is a terminal,
    else a line every few seconds."""

    def __init__(self, quiet: bool, client: B2BClient) -> None:
        self.quiet = quiet
        self.client = client
        self.total: int | None = None
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._printed = self.started
        self._bar: Any = None
        self._task: Any = None
        if quiet or not sys.stderr.isatty():
            return
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )
        except ImportError:  # pragma: no cover - the cli extra brings rich
            return
        self._bar = RichProgress(
            TextColumn("orders"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8} /s"), TimeRemainingColumn(),
            TextColumn("retries {task.fields[retries]} · 429s {task.fields[r429]}"),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("export", total=None, rate="-", retries=0, r429=0)

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last < 0.2 and self.total != self.done:
            return
        self._last = now
        rate = self.done / max(1e-6, now - self.started)
        stats = self.client.stats
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=f"{rate:,.0f}",
                             retries=stats.retries, r429=stats.rate_limited)
        elif not self.quiet and now - self._printed >= 5.0:
            self._printed = now
            total = f"/{self.total}" if self.total is not None else ""
            print(f"bcb2b: {self.done}{total} orders, {rate:,.0f}/s, retries "
                  f"{stats.retries}, 429s {stats.rate_limited}", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _row_csv(doc: dict[str, Any]) -> list[str]:
    def iso(ts: Any) -> str:
        if isinstance(ts, int | float):
            return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
        return ""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | dict):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return str(value)

    products = doc.get("products")
    row = {
        **doc,
        "createdAtIso": iso(doc.get("createdAt")),
        "updatedAtIso": iso(doc.get("updatedAt")),
        "productCount": len(products) if isinstance(products, list) else None,
    }
    return [cell(row.get(col)) for col in CSV_COLUMNS]


class AtomicOutput:
    """An output file written to a temp file beside it and renamed into place on success."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                        dir=str(path.parent))
        self.fh: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


async def _sandbox(n_orders: int) -> Any:
    from .testing import SandboxStore

    store = SandboxStore(orders=n_orders)
    await store.start()
    return store


async def run_export(args: argparse.Namespace) -> int:
    """Run ``bcb2b export orders`` with parsed arguments; returns the exit code."""
    store_hash = args.store_hash or os.environ.get("BCB2B_STORE_HASH")
    token = args.access_token or os.environ.get("BCB2B_ACCESS_TOKEN")
    b2b_url = args.b2b_url or os.environ.get("BCB2B_B2B_URL")
    v2_url = args.v2_url or os.environ.get("BCB2B_V2_URL")
    sandbox: Any = None
    if args.sandbox:
        if not args.quiet:
            print(f"bcb2b: starting the sandbox store with {args.sandbox_orders:,} orders…",
                  file=sys.stderr)
        sandbox = await _sandbox(args.sandbox_orders)
        store_hash, token = sandbox.store_hash, sandbox.access_token
        if not args.channels:
            # The sandbox's orders live on several channels; export them all.
            args.channels = sorted(sandbox.channels)
        b2b_url, v2_url = sandbox.b2b_base_url, sandbox.v2_base_url
    elif not store_hash or not token:
        print(
            "bcb2b: no credentials: set BCB2B_STORE_HASH and BCB2B_ACCESS_TOKEN (or pass "
            "--store-hash/--access-token), or add --sandbox to export from the built-in "
            "sandbox store",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    fmt = args.format or ("csv" if str(args.out).lower().endswith(".csv") else "jsonl")
    kwargs: dict[str, Any] = {"b2b_rate_limit": args.b2b_rate, "v2_rate_limit": args.v2_rate}
    if b2b_url:
        kwargs["b2b_base_url"] = b2b_url
    if v2_url:
        kwargs["v2_base_url"] = v2_url
    try:
        try:
            client = B2BClient(store_hash or "", token or "", **kwargs)
        except InvalidArgumentError as err:
            print(f"bcb2b: invalid configuration: {err}", file=sys.stderr)
            return EXIT_CONFIG
        try:
            out = AtomicOutput(Path(args.out))
        except OSError as err:
            print(f"bcb2b: cannot write {args.out}: {err}", file=sys.stderr)
            return EXIT_OUTPUT
        progress = Progress(args.quiet, client)
        started = time.monotonic()
        count = 0
        try:
            async with client:
                count = await _write(client, args, fmt, out.fh, progress)
            out.commit()
        except BaseException:
            out.abort()
            raise
        finally:
            progress.close()
        if not args.quiet:
            elapsed = time.monotonic() - started
            s = client.stats
            print(
                f"bcb2b: exported {count:,} orders to {args.out} ({fmt}) in {elapsed:.1f} s "
                f"({count / max(elapsed, 1e-6) * 60:,.0f} orders/min); requests "
                f"{s.requests:,}, retries {s.retries}, 429s {s.rate_limited}",
                file=sys.stderr,
            )
        return EXIT_OK
    except InvalidArgumentError as err:
        print(f"bcb2b: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BigCommerceError as err:
        print(f"bcb2b: export failed, nothing written: {err}", file=sys.stderr)
        return EXIT_API
    finally:
        if sandbox is not None:
            await sandbox.close()


async def _write(
    client: B2BClient, args: argparse.Namespace, fmt: str, fh: IO[str], progress: Progress
) -> int:
    encoder = msgspec.json.Encoder()
    writer = csv.writer(fh) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    count = 0
    buf = io.StringIO()

    def emit(doc: dict[str, Any]) -> None:
        if writer is not None:
            writer.writerow(_row_csv(doc))
        else:
            buf.write(encoder.encode(doc).decode("utf-8"))
            buf.write("\n")

    state: SyncState | None = None
    items: AsyncIterator[ExportedOrder]
    if args.state:
        state = SyncState.load(args.state)
        items = _sync_items(client, args, state)
    else:
        items = export_orders(
            client,
            channel_ids=args.channels,
            company_id=args.company_id,
            created_from=args.since,
            created_to=args.until,
            with_products=args.with_products,
            concurrency=args.concurrency,
            on_total=progress.set_total,
        )
    async for item in items:
        emit(item.to_json_dict())
        count += 1
        if buf.tell() > 1 << 16:
            fh.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
        progress.advance()
    fh.write(buf.getvalue())
    if state is not None:
        # The output is complete: only now may the state move forward.
        state.save(args.state)
    return count


async def _sync_items(
    client: B2BClient, args: argparse.Namespace, state: SyncState
) -> AsyncIterator[ExportedOrder]:
    async for order in sync_orders(
        client, state, channel_ids=args.channels, company_id=args.company_id
    ):
        products = None
        if args.with_products:
            products = await client.orders.products(order.bc_order_id, priority="bulk")
        yield ExportedOrder(order=order, products=products)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bcb2b`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.what == "orders":
        if args.since is not None and args.until is not None and args.since > args.until:
            parser.error("--since must not be after --until")
        if args.sandbox_orders != 20_000 and not args.sandbox:
            parser.error("--sandbox-orders needs --sandbox")
        try:
            return asyncio.run(run_export(args))
        except KeyboardInterrupt:
            print("bcb2b: interrupted; nothing written", file=sys.stderr)
            return EXIT_INTERRUPTED
    parser.error("unknown command")  # pragma: no cover - argparse enforces choices
    return EXIT_USAGE


__all__ = ["CSV_COLUMNS", "build_parser", "main", "parse_time", "run_export"]
