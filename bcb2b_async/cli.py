"""The ``bcb2b`` command line: bulk order export and incremental sync.

Usage::

    bcb2b export orders --out FILE|- [--format jsonl|csv] [--channel N]... [--company-id N]
        [--since T] [--until T] [--with-products] [--with-details] [--concurrency N]
        [--state FILE [--margin S]] [--sandbox [--sandbox-orders N]] [--quiet]

Without ``--channel`` every enabled channel of the store is exported (``GET /channels``;
channel 1 on a store without multi-storefront), and stderr says which.
``--with-products`` and ``--with-details`` (the V2 store order: billing address, totals,
payment, notes, shipping addresses; JSONL ``"details"``, CSV ``details.*`` columns) come
from the V2 orders list in a full export, 250 orders a request.

Configuration comes from the environment: ``BCB2B_STORE_HASH``, ``BCB2B_ACCESS_TOKEN`` and,
to point elsewhere than BigCommerce (the sandbox does), ``BCB2B_B2B_URL`` and
``BCB2B_V2_URL``. ``--store-hash``, ``--b2b-url`` and ``--v2-url`` override them; the token
can also come from ``--access-token-file FILE`` (``--access-token TOKEN`` works but is
visible to every user of the machine in the process list, and says so).

Output
    ``--out FILE`` is written atomically: a temp file beside it (``.FILE.HOST.PID.RAND.part``),
    renamed over it once complete, with the umask's mode for a new file and the old mode
    (and owner, when run as root) for a replaced one; a failure leaves the old file as it
    was. ``--out -`` streams to stdout (progress and summary stay on stderr). A target that
    is not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO, a terminal) is written to
    directly, as shell redirection does, never replaced. A directory, a missing folder or
    an unwritable place is refused before any request. Temp files left by killed runs (their
    process gone) are removed by the next run writing the same file.

Incremental sync (``--state FILE``)
    Exports the orders changed since the last run. The state file is locked for the run
    (``FILE.lock``; a second run on it stops at once, exit 6). ``--out`` is committed first
    and the state saved second: a run that fails or is interrupted leaves the state as it
    was, so the next run exports the same changes again. When nothing changed, ``--out`` is
    left untouched. ``--since``/``--until`` are refused with ``--state`` (a sync covers
    every change, whenever the order was created; a narrower range would silently drop
    changes for good). ``--concurrency`` sets how many product fetches run at once with
    ``--with-products`` (products come through both the B2B and the V2 quota, as in a full
    export); the walk over changes itself is sequential.

Times
    ``--since``/``--until`` take Unix seconds or ISO 8601 (UTC unless an offset is given).
    A date alone covers the whole day: ``--since 2025-06-01`` starts at 00:00:00Z,
    ``--until 2025-06-30`` ends at 23:59:59Z. Both bounds are inclusive.

Exit codes:

=====  ====================================================================================
code   meaning
=====  ====================================================================================
0      done (with ``--state`` and nothing changed: done, ``--out`` left untouched)
1      internal error: a bug (rerun with ``BCB2B_DEBUG=1`` for the traceback and report it)
2      bad usage: a flag missing, malformed, or contradicting another (nothing was sent)
3      configuration: a variable or flag missing or invalid, or the store refused the
       credentials (401/403: the message names the variable and the scope to check)
4      the API or the network failed (after the retries); ``--out`` and the state were
       left as they were (a stream to stdout, a device or a FIFO is then incomplete)
5      a file could not be read or written: ``--out`` (disk full, permission, a directory,
       a missing folder, a closed pipe) or ``--state`` (unreadable, invalid, a directory)
6      another run holds the lock of the ``--state`` file
130    interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM); nothing committed
=====  ====================================================================================

No traceback is printed for any of these; ``BCB2B_DEBUG=1`` shows the library's log and
the traceback of an internal error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import errno
import fcntl
import io
import logging
import os
import re
import secrets
import signal
import socket
import stat
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from urllib.parse import urlsplit

import msgspec

from . import __version__
from ._client import ENV_VARS, B2BClient
from ._config import DEFAULT_B2B_BASE_URL, DEFAULT_V2_BASE_URL, RateLimit
from ._retry import RetryPolicy
from ._stats import Event, Hooks
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BigCommerceError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitError,
    StateLockedError,
)
from .export import ExportedOrder, SyncState, enrich_orders, export_orders, sync_orders

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_API = 4
EXIT_OUTPUT = 5
EXIT_LOCKED = 6
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: CSV columns, in order. Nested values (extra fields, products) are JSON strings.
CSV_COLUMNS = (
    "bcOrderId", "id", "companyId", "channelId", "channelName", "poNumber", "status",
    "statusCode", "customStatus", "totalIncTax", "usdIncTax", "currencyCode", "items",
    "cartId", "isArchived", "createdAt", "updatedAt", "createdAtIso", "updatedAtIso",
    "extraFields", "productCount", "products",
)

#: CSV columns added by ``--with-details``: the V2 order's own field names under
#: ``details.`` (``details.billing_address.email``); shipping addresses as JSON.
DETAIL_COLUMNS = (
    "details.status", "details.payment_method", "details.payment_status",
    "details.currency_code", "details.subtotal_ex_tax", "details.subtotal_inc_tax",
    "details.subtotal_tax", "details.shipping_cost_inc_tax", "details.handling_cost_inc_tax",
    "details.discount_amount", "details.coupon_discount", "details.total_ex_tax",
    "details.total_tax", "details.total_inc_tax", "details.refunded_amount",
    "details.items_total", "details.items_shipped", "details.date_created",
    "details.date_shipped", "details.customer_message", "details.staff_notes",
    "details.billing_address.first_name", "details.billing_address.last_name",
    "details.billing_address.company", "details.billing_address.email",
    "details.billing_address.phone", "details.billing_address.street_1",
    "details.billing_address.city", "details.billing_address.state",
    "details.billing_address.zip", "details.billing_address.country_iso2",
    "details.shipping_addresses",
)

#: Output formats by file extension (anything else needs ``--format``).
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

STORE_HASH_VAR = ENV_VARS["store_hash"]
TOKEN_VAR = ENV_VARS["access_token"]
B2B_URL_VAR = ENV_VARS["b2b_base_url"]
V2_URL_VAR = ENV_VARS["v2_base_url"]

_API_NAMES = {"b2b": "B2B Edition API", "v2": "V2 API"}
_WRITE_CHUNK = 1 << 16


class CliError(Exception):
    """A failure the user is told about in one sentence, with its exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Stop(BaseException):
    """A termination signal arrived outside the event loop."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# -- messages ------------------------------------------------------------------------------
_SECRETS: set[str] = set()
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")


def redact(text: str) -> str:
    """``text`` without URL credentials (``scheme://***@host``) and without known secrets."""
    text = _USERINFO.sub(r"\1***@", text)
    for secret in _SECRETS:
        if len(secret) >= 6:  # shorter ones would mangle words; tokens are long
            text = text.replace(secret, "***")
    return text


def say(message: str) -> None:
    """Print one ``bcb2b:`` line on stderr (redacted)."""
    with contextlib.suppress(OSError, ValueError):
        print(f"bcb2b: {redact(message)}", file=sys.stderr, flush=True)


def _strerror(err: OSError) -> str:
    if err.strerror:
        return err.strerror
    return os.strerror(err.errno) if err.errno else type(err).__name__


# -- flag parsing ----------------------------------------------------------------------------
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(text: str, *, end_of_day: bool = False) -> int:
    """Unix seconds, or an ISO 8601 date/datetime (UTC when no offset is given).

    A date alone is its first second, or its last one with ``end_of_day``.
    """
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use Unix seconds or ISO 8601, e.g. 2025-01-31 or "
            "2025-01-31T08:00:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int(value.timestamp())
    if end_of_day and _DATE_ONLY.match(text):
        seconds += 86_399
    return seconds


def _since(text: str) -> int:
    return parse_time(text)


def _until(text: str) -> int:
    return parse_time(text, end_of_day=True)


def positive_int(text: str) -> int:
    """An int > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


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
        help="export orders to JSON Lines or CSV",
        description=(
            f"Export every order (or, with --state, what changed since the last run). "
            f"Credentials come from {STORE_HASH_VAR} and {TOKEN_VAR} (or --store-hash and "
            f"--access-token-file); {B2B_URL_VAR} / {V2_URL_VAR} override the API hosts. "
            "With --sandbox, a local sandbox store is started and exported instead. "
            "Exit codes: 0 done, 2 usage, 3 configuration or credentials refused, "
            "4 API or network, 5 file, 6 state locked, 130 interrupted."
        ),
    )
    orders.add_argument("--out", required=True, metavar="FILE",
                        help="output file (written atomically), '-' for stdout, or a "
                             "device/FIFO (written directly)")
    orders.add_argument("--format", choices=("jsonl", "csv"), default=None,
                        help="output format (default: from the extension: .jsonl/.ndjson or "
                             ".csv; jsonl for stdout and names without one)")
    orders.add_argument("--channel", type=positive_int, action="append", dest="channels",
                        metavar="N", help="channel id (repeat for several; default: every "
                                          "enabled channel of the store)")
    orders.add_argument("--company-id", type=positive_int, default=None, metavar="N")
    orders.add_argument("--since", type=_since, default=None, metavar="T",
                        help="created at or after T (Unix seconds or ISO 8601; a date alone "
                             "starts at 00:00:00 UTC)")
    orders.add_argument("--until", type=_until, default=None, metavar="T",
                        help="created at or before T (a date alone ends at 23:59:59 UTC)")
    orders.add_argument("--with-products", action="store_true",
                        help="attach each order's products (a full export joins them from "
                             "the V2 orders list, 250 orders a request)")
    orders.add_argument("--with-details", action="store_true",
                        help="attach each order's V2 details: billing address, totals, tax, "
                             "payment, currency, notes, shipping addresses")
    orders.add_argument("--state", default=None, metavar="FILE",
                        help="incremental sync state file: export what changed since the "
                             "last run (locked for the run; saved after --out)")
    orders.add_argument("--margin", type=_bounded(1, 3600), default=None, metavar="S",
                        help="with --state: leave the changes of the last S seconds to the "
                             "next run (default 5)")
    orders.add_argument("--concurrency", type=_bounded(1, 64), default=4, metavar="N",
                        help="parallel walks / product fetches, 1..64 (default 4)")
    orders.add_argument("--b2b-rate", type=parse_rate, default=RateLimit(150, 60.0),
                        metavar="N/S", help="B2B quota to stay under (default 150/60; 'off')")
    orders.add_argument("--v2-rate", type=parse_rate, default=RateLimit(150, 30.0),
                        metavar="N/S", help="V2 quota (default 150/30, Pro plans 450/30; 'off')")
    orders.add_argument("--max-retries", type=_bounded(0, 100), default=5, metavar="N",
                        help="retries of a failed request (default 5)")
    orders.add_argument("--store-hash", default=None, help=f"default: ${STORE_HASH_VAR}")
    orders.add_argument("--access-token-file", default=None, metavar="FILE",
                        help=f"read the access token from FILE (default: ${TOKEN_VAR})")
    orders.add_argument("--access-token", default=None,
                        help="the access token (visible to other users in the process list: "
                             f"prefer ${TOKEN_VAR} or --access-token-file)")
    orders.add_argument("--b2b-url", default=None, help=f"default: ${B2B_URL_VAR}")
    orders.add_argument("--v2-url", default=None, help=f"default: ${V2_URL_VAR}")
    orders.add_argument("--sandbox", action="store_true",
                        help="start the built-in sandbox store and export from it")
    orders.add_argument("--sandbox-orders", type=positive_int, default=None, metavar="N",
                        help="orders in the sandbox store (default 20000)")
    orders.add_argument("--quiet", "-q", action="store_true",
                        help="no progress, no summary (errors and warnings only)")
    return parser


# -- output ----------------------------------------------------------------------------------
def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def temp_name(target_name: str, pid: int | None = None) -> str:
    """The temp file name a run with ``pid`` uses while writing ``target_name``.

    ``.NAME.HOST.PID.RAND.part``: the host and pid tell a later run whether the writer is
    gone (then the file is stale and removed).
    """
    pid = os.getpid() if pid is None else pid
    return f".{target_name[:100]}.{_host_tag()}.{pid}.{secrets.token_hex(4)}.part"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _remove_stale_parts(folder: str, target_name: str) -> None:
    """Remove temp files of runs writing ``target_name`` on this host whose process is gone."""
    pattern = re.compile(
        rf"\.{re.escape(target_name[:100])}\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)"
        r"\.[0-9a-f]{8}\.part"
    )
    host = _host_tag()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or m["host"] != host:
            continue
        pid = int(m["pid"])
        if pid != os.getpid() and not _pid_alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[Any]) -> AsyncIterator[None]:
    """Close an async generator on the way out (an iterator without ``aclose`` is left)."""
    try:
        yield
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class Output:
    """Where the export goes: :meth:`write` chunks, then :meth:`commit` or :meth:`abort`."""

    #: How messages name the target.
    display: str = ""
    #: True when writing replaces the target only at :meth:`commit` (a failure leaves it).
    atomic: bool = False
    #: True once something was written to a direct target (it is then incomplete on failure).
    touched: bool = False
    #: Whether the target existed before the run.
    existed: bool = True

    def write(self, data: bytes) -> None:
        """Write ``data``; :class:`CliError` (exit 5) on failure."""
        raise NotImplementedError

    def commit(self) -> None:
        """Make the output final; :class:`CliError` (exit 5) on failure."""

    def abort(self) -> None:
        """Give up: an atomic target is left as it was. Idempotent."""

    def left_as(self) -> str:
        """What a failed or interrupted run leaves, for the message."""
        if self.atomic:
            if self.existed:
                return f"{self.display} was left as it was"
            return f"{self.display} was not created"
        if self.touched:
            return f"the output on {self.display} is incomplete"
        return "nothing was written"


class DirectOutput(Output):
    """Writes straight to a file descriptor: stdout, a device, a FIFO; never replaced."""

    def __init__(self, fd: int, display: str, *, close: bool) -> None:
        self.fd = fd
        self.display = display
        self._close = close
        self._closed = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.touched = True
        try:
            _write_all(self.fd, data)
        except BrokenPipeError:
            raise CliError(EXIT_OUTPUT, f"cannot write to {self.display}: the reader closed "
                                        "the pipe before the export ended; the output is "
                                        "incomplete") from None
        except OSError as err:
            raise CliError(EXIT_OUTPUT, f"cannot write to {self.display}: {_strerror(err)}; "
                                        "the output is incomplete") from None

    def commit(self) -> None:
        if self._close and not self._closed:
            self._closed = True
            try:
                os.close(self.fd)
            except OSError as err:
                raise CliError(EXIT_OUTPUT, f"cannot write to {self.display}: "
                                            f"{_strerror(err)}") from None

    def abort(self) -> None:
        if self._close and not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)


class AtomicOutput(Output):
    """A regular file written to a temp file beside it and renamed over it on commit."""

    atomic = True

    def __init__(self, display: str, target: str, existing: os.stat_result | None) -> None:
        self.display = display
        self.target = target
        self.existed = existing is not None
        folder, name = os.path.split(target)
        self.folder = folder or "."
        _remove_stale_parts(self.folder, name)
        self.tmp = os.path.join(self.folder, temp_name(name))
        mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666
        try:
            # A new file gets 0o666 minus the umask, like any file a shell creates.
            self.fd: int | None = os.open(
                self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode
            )
        except OSError as err:
            raise CliError(EXIT_OUTPUT, f"cannot create a file in {self.folder} for --out "
                                        f"{display}: {_strerror(err)}") from None
        if existing is not None:
            # A replaced file keeps its mode (not reduced by the umask) and, for root,
            # its owner: a loader running as another user can still read it.
            with contextlib.suppress(OSError):
                os.fchmod(self.fd, mode)
            if os.geteuid() == 0:
                with contextlib.suppress(OSError):
                    os.fchown(self.fd, existing.st_uid, existing.st_gid)

    def _fail(self, what: str, err: OSError) -> NoReturn:
        self.abort()
        raise CliError(EXIT_OUTPUT, f"cannot {what} {self.display}: {_strerror(err)}; "
                                    f"{self.left_as()}") from None

    def write(self, data: bytes) -> None:
        assert self.fd is not None
        try:
            _write_all(self.fd, data)
        except OSError as err:
            self._fail("write", err)

    def commit(self) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.close(fd)
            self._fail("write", err)
        try:
            os.close(fd)
            os.replace(self.tmp, self.target)
        except OSError as err:
            self._fail("write", err)
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.folder, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def abort(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


def _through_proc(path: str) -> bool:
    """Whether ``path`` is, or links through, ``/proc`` or ``/dev/fd`` (e.g. /dev/stdout)."""
    current = os.path.abspath(path)
    for _ in range(40):
        if current.startswith(("/proc/", "/dev/fd/")):
            return True
        if not os.path.islink(current):
            return False
        target = os.readlink(current)
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
    return False


def output_format(out: str, flag: str | None) -> str:
    """The format to write: ``--format``, else from the extension of ``--out``."""
    if flag is not None:
        return flag
    if out == "-":
        return "jsonl"
    suffix = Path(out).suffix.lower()
    if not suffix:
        return "jsonl"
    fmt = EXTENSIONS.get(suffix)
    if fmt is None:
        raise CliError(
            EXIT_USAGE,
            f"--out {out}: bcb2b writes JSON Lines (.jsonl, .ndjson) or CSV (.csv), not "
            f"{suffix}; name the file accordingly or pass --format jsonl or --format csv",
        )
    return fmt


def open_output(out: str) -> Output:
    """Check and open ``--out`` before anything is sent; :class:`CliError` when unusable."""
    if out == "-":
        return DirectOutput(sys.stdout.fileno(), "stdout", close=False)
    try:
        st: os.stat_result | None = os.stat(out)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise CliError(EXIT_OUTPUT, f"--out {out}: a part of the path is not a folder") from None
    except OSError as err:
        raise CliError(EXIT_OUTPUT, f"--out {out}: {_strerror(err)}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise CliError(EXIT_OUTPUT, f"--out {out} is a directory; name a file in it (e.g. "
                                    f"{os.path.join(out, 'orders.jsonl')})")
    direct = st is not None and (not stat.S_ISREG(st.st_mode) or _through_proc(out))
    if direct:
        assert st is not None
        flags = os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY
        if stat.S_ISREG(st.st_mode):
            flags |= os.O_APPEND  # e.g. /dev/stdout redirected to a file: add, never clobber
        try:
            fd = _open_direct(out, flags, fifo=stat.S_ISFIFO(st.st_mode))
        except OSError as err:
            raise CliError(EXIT_OUTPUT, f"cannot open --out {out}: {_strerror(err)}") from None
        return DirectOutput(fd, out, close=True)
    if os.path.abspath(out).startswith(("/dev/", "/proc/")) and st is None:
        raise CliError(EXIT_OUTPUT, f"--out {out} does not exist, and bcb2b does not create "
                                    "files there")
    target = os.path.realpath(out)  # through symlinks: the link stays, its target is replaced
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        shown = os.path.dirname(out) or "."
        raise CliError(EXIT_OUTPUT, f"--out {out}: the folder {shown} does not exist")
    if st is not None and not os.access(target, os.W_OK):
        raise CliError(EXIT_OUTPUT, f"--out {out} is not writable")
    return AtomicOutput(out, target, st)


def _open_direct(path: str, flags: int, *, fifo: bool) -> int:
    if fifo:
        try:
            fd = os.open(path, flags | os.O_NONBLOCK)
        except OSError as err:
            if err.errno != errno.ENXIO:
                raise
            say(f"waiting for a reader on the FIFO {path}…")
        else:
            os.set_blocking(fd, True)
            return fd
    return os.open(path, flags)


# -- sync state ------------------------------------------------------------------------------
class StateFile:
    """The ``--state`` file: locked for the run, loaded before any request, saved last."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock_path = f"{path}.lock"
        self._lock_fd: int | None = None

    def open(self) -> SyncState:
        """Check the path, take the lock, load the state; :class:`CliError` when unusable."""
        path = self.path
        if os.path.isdir(path):
            raise CliError(EXIT_OUTPUT, f"--state {path} is a directory; name a file in it "
                                        f"(e.g. {os.path.join(path, 'bcb2b-state.json')})")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            shown = os.path.dirname(path) or "."
            raise CliError(EXIT_OUTPUT, f"--state {path}: the folder {shown} does not exist")
        self.lock()
        try:
            return SyncState.load(path)
        except InvalidArgumentError as err:
            raise CliError(EXIT_OUTPUT, f"--state {path} is not a valid sync state "
                                        f"({err.message}); move it aside to start over with "
                                        "a full export") from None
        except OSError as err:
            raise CliError(EXIT_OUTPUT, f"cannot read --state {path}: {_strerror(err)}") from None

    def lock(self) -> None:
        """Take the run lock (``flock`` on ``STATE.lock``); :class:`StateLockedError` if held."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as err:
            raise CliError(EXIT_OUTPUT, f"cannot create the lock file {self.lock_path} of "
                                        f"--state: {_strerror(err)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 32, 0).decode().strip()
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise CliError(EXIT_OUTPUT, f"cannot lock {self.lock_path}: "
                                            f"{_strerror(err)}") from None
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise StateLockedError(
                f"the state file {self.path} is in use by another bcb2b run{by}; wait for it "
                f"to finish (it holds {self.lock_path}), or use another --state file"
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def save(self, state: SyncState) -> None:
        """Write the state atomically, keeping the file's mode; :class:`CliError` on failure."""
        try:
            existing: os.stat_result | None = os.stat(self.path)
        except OSError:
            existing = None
        out = AtomicOutput(self.path, os.path.realpath(self.path), existing)
        try:
            out.write(state.to_json().encode())
            out.commit()
        except CliError:
            out.abort()
            raise

    def release(self) -> None:
        """Drop the lock (the lock file stays: removing it would race with a waiting run)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


# -- configuration ---------------------------------------------------------------------------
@dataclass(slots=True)
class Config:
    """Where to connect and with what, plus where each value came from (for messages)."""

    store_hash: str
    token: str
    b2b_url: str
    v2_url: str
    sources: dict[str, str] = field(default_factory=dict)


def _read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text("utf-8").strip()
    except OSError as err:
        raise CliError(EXIT_CONFIG, f"cannot read --access-token-file {path}: "
                                    f"{_strerror(err)}") from None
    except UnicodeDecodeError:
        raise CliError(EXIT_CONFIG, f"--access-token-file {path} is not text") from None
    if not token:
        raise CliError(EXIT_CONFIG, f"--access-token-file {path} is empty")
    return token


def resolve_config(args: argparse.Namespace, env: Mapping[str, str]) -> Config:
    """Credentials and URLs from flags and the environment; :class:`CliError` (exit 3)."""
    sources: dict[str, str] = {}
    store_hash = (args.store_hash or "").strip()
    sources["store_hash"] = "--store-hash"
    if not store_hash:
        store_hash = env.get(STORE_HASH_VAR, "").strip()
        sources["store_hash"] = STORE_HASH_VAR
    if args.access_token is not None and args.access_token_file is not None:
        raise CliError(EXIT_USAGE, "pass --access-token-file or --access-token, not both")
    if args.access_token is not None:
        token = args.access_token.strip()
        sources["token"] = "--access-token"
        say(f"warning: --access-token is visible to other users in the process list; set "
            f"{TOKEN_VAR} or use --access-token-file FILE instead")
    elif args.access_token_file is not None:
        token = _read_token_file(args.access_token_file)
        sources["token"] = f"--access-token-file {args.access_token_file}"
    else:
        token = env.get(TOKEN_VAR, "").strip()
        sources["token"] = TOKEN_VAR
    if token:
        _SECRETS.add(token)
    missing = [name for name, value in ((STORE_HASH_VAR, store_hash), (TOKEN_VAR, token))
               if not value]
    if missing:
        flags = {STORE_HASH_VAR: "--store-hash", TOKEN_VAR: "--access-token-file FILE"}
        verb = "is" if len(missing) == 1 else "are"
        them = "it" if len(missing) == 1 else "them"
        raise CliError(
            EXIT_CONFIG,
            f"{' and '.join(missing)} {verb} not set: export {them} (or pass "
            f"{' and '.join(flags[m] for m in missing)}), or add --sandbox to try the "
            "built-in sandbox store",
        )
    urls: dict[str, str] = {}
    for key, flag, var, default in (("b2b_url", "--b2b-url", B2B_URL_VAR, DEFAULT_B2B_BASE_URL),
                                    ("v2_url", "--v2-url", V2_URL_VAR, DEFAULT_V2_BASE_URL)):
        value = (getattr(args, key) or "").strip()
        source = flag
        if not value:
            value, source = env.get(var, "").strip(), var
        if not value:
            value, source = default, "the default host"
        if "@" in _netloc(value):
            raise CliError(
                EXIT_CONFIG,
                f"{source} must not contain credentials ({redact(value)}): give the host "
                f"only and put the token in {TOKEN_VAR}",
            )
        urls[key] = value
        sources[key] = source
    return Config(store_hash, token, urls["b2b_url"], urls["v2_url"], sources)


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:
        return url


def _flagify(message: str, sources: dict[str, str]) -> str:
    """Library argument names in ``message`` replaced by the flags or variables behind them."""
    names = {
        "b2b_base_url": sources.get("b2b_url", "--b2b-url"),
        "v2_base_url": sources.get("v2_url", "--v2-url"),
        "store_hash": sources.get("store_hash", "--store-hash"),
        "access_token": sources.get("token", TOKEN_VAR),
        "created_from": "--since",
        "created_to": "--until",
        "concurrency": "--concurrency",
        "channel_ids": "--channel",
        "company_id": "--company-id",
        "margin": "--margin",
    }
    return re.sub(r"\b(" + "|".join(names) + r")\b(\[\])?", lambda m: names[m[1]], message)


# -- progress and retry reports ----------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Progress on stderr: a rich bar when rich is installed and stderr is a terminal,
    else a line every few seconds (with the total and an ETA once the total is known)."""

    def __init__(self, quiet: bool, stats: Any, *, every: float = 5.0,
                 bar: bool = True) -> None:
        self.quiet = quiet
        self.stats = stats
        self.every = every
        self.total: int | None = None
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._printed = self.started
        self._bar: Any = None
        self._task: Any = None
        if quiet or not bar or not sys.stderr.isatty():
            return
        try:
            from rich.console import Console
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
            TextColumn("{task.fields[rate]:>8} /s"), TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("retries {task.fields[retries]} · 429s {task.fields[r429]}"),
            console=Console(file=sys.stderr), transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("export", total=None, rate="-", retries=0, r429=0)

    def set_total(self, total: int) -> None:
        """The number of orders to come (called once, when the first page tells)."""
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)
        elif not self.quiet:
            say(f"{total:,} orders to export" if total else "no orders to export")

    def advance(self, n: int = 1) -> None:
        """``n`` more orders written."""
        self.done += n
        now = time.monotonic()
        if now - self._last < 0.2 and self.total != self.done:
            return
        self._last = now
        rate = self.done / max(1e-6, now - self.started)
        stats = self.stats
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=f"{rate:,.0f}",
                             retries=stats.retries, r429=stats.rate_limited)
        elif not self.quiet and now - self._printed >= self.every:
            self._printed = now
            if self.total:
                left = max(0, self.total - self.done)
                pct = min(100, self.done * 100 // self.total)
                eta = f", ETA {_duration(left / rate)}" if rate > 0 else ""
                count = f"{self.done:,}/{self.total:,} orders ({pct}%)"
            else:
                eta = ""
                count = f"{self.done:,} orders"
            say(f"{count}, {rate:,.0f}/s{eta}; retries {stats.retries}, "
                f"429s {stats.rate_limited}")

    def close(self) -> None:
        """Stop the bar (idempotent)."""
        bar, self._bar = self._bar, None
        if bar is not None:
            with contextlib.suppress(Exception):
                bar.stop()


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "?"
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _api_of(url: str, api: str | None = None) -> str:
    if api in _API_NAMES:
        return api
    return "v2" if "/stores/" in url and "/api/v3/io" not in url else "b2b"


def _connection_reason(err: BaseException | None, timeout: float) -> str:
    if isinstance(err, APITimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(err, APIConnectionError):
        return {
            "dns": "the host name does not resolve",
            "connect": "connection refused or host unreachable",
            "disconnected": "the server closed the connection",
            "payload": "the answer was cut short",
        }.get(getattr(err, "kind", ""), "the connection failed")
    if isinstance(err, APIStatusError):
        return f"HTTP {err.status}"
    return type(err).__name__ if err is not None else "failed"


class RetryReporter:
    """Tells the user, as it happens, that requests fail and are retried (not 429s: normal)."""

    def __init__(self, quiet: bool, max_retries: int, timeout: float) -> None:
        self.quiet = quiet
        self.max_retries = max_retries
        self.timeout = timeout
        self._last: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        try:
            if self.quiet or isinstance(event.error, RateLimitError) or event.status == 429:
                return
            api = _API_NAMES[_api_of(event.url, event.api)]
            where = _origin(event.url)
            reason = _connection_reason(event.error, self.timeout)
            line = (f"{api} at {where}: {reason}; retrying in {event.wait or 0:.1f} s "
                    f"(attempt {event.attempt} of {self.max_retries + 1} failed)")
            key = f"{api}|{where}|{reason}|{event.attempt}"
            now = time.monotonic()
            if now - self._last.get(key, -1e9) < 1.0:
                return  # parallel calls failing the same way at once: one line
            self._last[key] = now
            say(line)
        except Exception:  # pragma: no cover - a report must never break a request
            return


def describe_error(err: BigCommerceError, cfg: Config, timeout: float) -> CliError:
    """One sentence (and its exit code) for an error the export ended with."""
    url = str(getattr(err, "url", "") or "")
    api = _api_of(url)
    name = _API_NAMES[api]
    url_source = cfg.sources.get("b2b_url" if api == "b2b" else "v2_url", "")
    token_source = cfg.sources.get("token", TOKEN_VAR)
    hash_source = cfg.sources.get("store_hash", STORE_HASH_VAR)
    tries = f" after {err.attempts} attempts" if err.attempts > 1 else ""
    scope = ("the B2B Edition scope" if api == "b2b"
             else "the Orders scope (read-only is enough; --with-products reads V2 order "
                  "products)")
    if isinstance(err, AuthenticationError):
        said = f": {err.server_message}" if err.server_message else ""
        return CliError(EXIT_CONFIG, (
            f"the {name} refused the access token (401 Unauthorized{said}): check "
            f"{token_source}; it must be the token of a store-level API account with {scope}"
        ))
    if isinstance(err, PermissionDeniedError):
        said = f": {err.server_message}" if err.server_message else ""
        return CliError(EXIT_CONFIG, (
            f"the {name} refused access (403 Forbidden{said}): check that {hash_source} is "
            f"the store of the token in {token_source} and that its API account has {scope}"
        ))
    if isinstance(err, APIConnectionError):
        where = _origin(err.url) if err.url else name
        src = f" (from {url_source})" if url_source else ""
        kind = getattr(err, "kind", "")
        if kind == "dns":
            host = urlsplit(err.url).hostname if err.url else "?"
            return CliError(EXIT_API, (
                f"the host name {host}{src} does not resolve: check the URL and the "
                "network's DNS"
            ))
        reason = _connection_reason(err, timeout)
        return CliError(EXIT_API, (
            f"cannot connect to the {name} at {where}{src}{tries}: {reason}; check the URL "
            "and the network"
        ))
    if isinstance(err, InvalidArgumentError):
        return CliError(EXIT_USAGE, _flagify(err.message, cfg.sources))
    return CliError(EXIT_API, f"the {name} failed: {err}")


# -- the run ---------------------------------------------------------------------------------
class Run:
    """One ``bcb2b export orders``: checked and opened before any request, then run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cfg: Config | None = None
        self.client: B2BClient | None = None
        self.output: Output | None = None
        self.state_file: StateFile | None = None
        self.state: SyncState | None = None
        self.fmt = "jsonl"
        self.policy = RetryPolicy(max_retries=args.max_retries)
        self.timeout = 30.0
        #: True once the output (and the state) are final: a late signal changes nothing.
        self.committed = False
        self.reporter = RetryReporter(args.quiet, args.max_retries, self.timeout)

    # Everything that can be refused is refused here, before any request.
    def prepare(self) -> None:
        """Check the flags, read the configuration, lock and load the state, open --out."""
        args = self.args
        if args.out == "":
            raise CliError(EXIT_USAGE, "--out is empty: name a file, or - for stdout")
        if args.state == "":
            raise CliError(EXIT_USAGE, "--state is empty: name a file")
        if args.sandbox_orders is not None and not args.sandbox:
            raise CliError(EXIT_USAGE, "--sandbox-orders needs --sandbox")
        if args.state is not None:
            given = [f for f, v in (("--since", args.since), ("--until", args.until))
                     if v is not None]
            if given:
                raise CliError(EXIT_USAGE, (
                    f"{' and '.join(given)} cannot be combined with --state: a sync exports "
                    "every order changed since its last run, whenever it was created (run a "
                    "full export for a date range, or keep one state file per range of "
                    "companies or channels instead)"
                ))
            if args.out != "-" and os.path.abspath(args.out) == os.path.abspath(args.state):
                raise CliError(EXIT_USAGE, "--out and --state must be different files")
        elif args.margin is not None:
            raise CliError(EXIT_USAGE, "--margin needs --state")
        now = int(time.time())
        if args.since is not None and args.since > now:
            raise CliError(EXIT_USAGE, "--since is in the future: no order was created yet")
        if args.since is not None and args.until is not None and args.since > args.until:
            raise CliError(EXIT_USAGE, "--since must not be after --until")
        self.fmt = output_format(args.out, args.format)
        if not args.sandbox:
            self.cfg = resolve_config(args, os.environ)
            self.client = self._client(self.cfg)
        if args.state is not None:
            self.state_file = StateFile(args.state)
            self.state = self.state_file.open()
        self.output = open_output(args.out)

    def _client(self, cfg: Config) -> B2BClient:
        try:
            return B2BClient(
                cfg.store_hash, cfg.token, b2b_base_url=cfg.b2b_url, v2_base_url=cfg.v2_url,
                b2b_rate_limit=self.args.b2b_rate, v2_rate_limit=self.args.v2_rate,
                retry_policy=self.policy, timeout=self.timeout,
                hooks=Hooks(on_retry=self.reporter),
            )
        except InvalidArgumentError as err:
            raise CliError(EXIT_CONFIG, "invalid configuration: "
                                        + _flagify(err.message, cfg.sources)) from None

    def release(self) -> None:
        """Undo what :meth:`prepare` opened and :meth:`run` did not commit."""
        if self.output is not None:
            self.output.abort()
        if self.state_file is not None:
            self.state_file.release()

    async def run(self) -> int:
        """Run the export with SIGINT/SIGTERM handled: the run is cancelled, not killed."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        stopped: list[int] = []

        def stop(code: int) -> None:
            if not stopped:
                stopped.append(code)
            task.cancel()

        sigs = []
        for sig, code in ((signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_TERMINATED)):
            try:
                loop.add_signal_handler(sig, stop, code)
            except (RuntimeError, ValueError, NotImplementedError):  # pragma: no cover
                continue  # not the main thread: the default handling stays
            sigs.append(sig)
        if not os.environ.get("BCB2B_DEBUG"):
            # Whatever a cancelled task or generator says while being torn down is noise.
            loop.set_exception_handler(lambda _loop, _context: None)
        try:
            return await self._run()
        except asyncio.CancelledError:
            if stopped:
                raise _Stop(stopped[0]) from None
            raise
        finally:
            for sig in sigs:
                loop.remove_signal_handler(sig)

    async def _run(self) -> int:
        args = self.args
        sandbox: Any = None
        try:
            if args.sandbox:
                sandbox = await self._start_sandbox()
            assert self.client is not None and self.cfg is not None
            client = self.client
            # No live bar when the rows themselves go to the terminal: they would mix.
            rows_on_tty = isinstance(self.output, DirectOutput) and os.isatty(self.output.fd)
            progress = Progress(args.quiet, client.stats, bar=not rows_on_tty)
            started = time.monotonic()
            try:
                async with client:
                    count = await self._export(client, progress)
            except BigCommerceError as err:
                told = describe_error(err, self.cfg, self.timeout)
                output = self.output
                assert output is not None
                raise CliError(told.code, f"{told.message}; {output.left_as()}"
                                          f"{self._state_left()}") from None
            except CliError as err:
                raise CliError(err.code, err.message + self._state_left()) from None
            finally:
                progress.close()
            return self._finish(count, time.monotonic() - started)
        finally:
            if sandbox is not None:
                await sandbox.close()

    async def _start_sandbox(self) -> Any:
        from .testing import SandboxStore

        args = self.args
        n = args.sandbox_orders if args.sandbox_orders is not None else 20_000
        if not args.quiet:
            say(f"starting the sandbox store with {n:,} orders…")
        store = SandboxStore(orders=n)
        await store.start()
        self.cfg = Config(store.store_hash, store.access_token, store.b2b_base_url,
                          store.v2_base_url, {"b2b_url": "the sandbox", "v2_url": "the sandbox",
                                              "token": "the sandbox",
                                              "store_hash": "the sandbox"})
        self.client = self._client(self.cfg)
        return store

    async def _export(self, client: B2BClient, progress: Progress) -> int:
        args = self.args
        output = self.output
        assert output is not None
        encoder = msgspec.json.Encoder()
        buf = io.StringIO()
        writer = csv.writer(buf) if self.fmt == "csv" else None
        header = False
        count = 0

        def flush() -> None:
            data = buf.getvalue()
            if data:
                output.write(data.encode("utf-8"))
                buf.seek(0)
                buf.truncate()

        if not args.channels:
            # Every enabled channel (channel 1 on a single-storefront store), said aloud:
            # the API's own default, channel 1 only, would lose the others without a word.
            args.channels = await client.channels.enabled_ids()
            if not args.quiet:
                say(f"channels: {', '.join(map(str, args.channels))} (every enabled channel "
                    "of the store; --channel N to choose)")
        columns = CSV_COLUMNS + (DETAIL_COLUMNS if args.with_details else ())
        items = self._sync_items(client, progress) if self.state is not None else export_orders(
            client,
            channel_ids=args.channels,
            company_id=args.company_id,
            created_from=args.since,
            created_to=args.until,
            with_products=args.with_products,
            with_details=args.with_details,
            concurrency=args.concurrency,
            on_total=progress.set_total,
        )
        async with _closing(items):
            async for item in items:
                doc = item.to_json_dict()
                if writer is not None:
                    if not header:
                        writer.writerow(columns)
                        header = True
                    writer.writerow(_row_csv(doc, columns))
                else:
                    buf.write(encoder.encode(doc).decode("utf-8"))
                    buf.write("\n")
                count += 1
                if buf.tell() >= _WRITE_CHUNK:
                    flush()
                progress.advance()
        if writer is not None and not header and self.state is None:
            writer.writerow(columns)  # an empty export is still a CSV with its header
        flush()
        return count

    async def _sync_items(self, client: B2BClient,
                          progress: Progress) -> AsyncIterator[ExportedOrder]:
        args = self.args
        assert self.state is not None
        kwargs: dict[str, Any] = {}
        if args.margin is not None:
            kwargs["margin"] = args.margin
        orders = sync_orders(client, self.state, channel_ids=args.channels,
                             company_id=args.company_id, on_total=progress.set_total,
                             show_extra=True, **kwargs)
        async with _closing(orders):
            if not (args.with_products or args.with_details):
                async for order in orders:
                    yield ExportedOrder(order=order)
                return
            # The export's own enrichment: calls spread over the B2B and V2 quotas.
            enriched = enrich_orders(client, orders, concurrency=args.concurrency,
                                     with_products=args.with_products,
                                     with_details=args.with_details)
            async with _closing(enriched):
                async for item in enriched:
                    yield item

    def _finish(self, count: int, elapsed: float) -> int:
        args = self.args
        output = self.output
        assert output is not None and self.client is not None
        where = "stdout" if args.out == "-" else args.out
        if self.state is not None and count == 0:
            output.abort()
            self._save_state()
            self.committed = True
            if not args.quiet:
                say(f"nothing changed since the last run; {where} left untouched")
            return EXIT_OK
        try:
            output.commit()  # first the output...
        except CliError as err:
            raise CliError(err.code, err.message + self._state_left()) from None
        if self.state is not None:
            self._save_state(committed=where)  # ...then the state that says it is done
        self.committed = True
        if not args.quiet:
            s = self.client.stats
            what = "changed orders" if self.state is not None else "orders"
            saved = f"; state saved to {args.state}" if self.state is not None else ""
            say(f"exported {count:,} {what} to {where} ({self.fmt}) in {elapsed:.1f} s "
                f"({count / max(elapsed, 1e-6) * 60:,.0f} orders/min); requests "
                f"{s.requests:,}, retries {s.retries}, 429s {s.rate_limited}{saved}")
        return EXIT_OK

    def _state_left(self) -> str:
        return "; the state was not changed" if self.state is not None else ""

    def _save_state(self, committed: str | None = None) -> None:
        assert self.state_file is not None and self.state is not None
        try:
            self.state_file.save(self.state)
        except CliError as err:
            if committed is None:
                raise
            raise CliError(EXIT_OUTPUT, (
                f"{committed} was written, but the state could not be saved ({err.message}); "
                "the next run exports these orders again"
            )) from None


def _row_csv(doc: dict[str, Any], columns: Sequence[str] = CSV_COLUMNS) -> list[str]:
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
            return msgspec.json.encode(value).decode("utf-8")
        return str(value)

    products = doc.get("products")
    row = {
        **doc,
        "createdAtIso": iso(doc.get("createdAt")),
        "updatedAtIso": iso(doc.get("updatedAt")),
        "productCount": len(products) if isinstance(products, list) else None,
    }
    details = doc.get("details")
    if isinstance(details, dict):
        for col in DETAIL_COLUMNS:
            path = col.split(".")[1:]
            value: Any = details
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            row[col] = value
    return [cell(row.get(col)) for col in columns]


class _OneLine(logging.Formatter):
    """Library log records as ``bcb2b: message`` lines, without tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        return f"bcb2b: {redact(record.getMessage())}"


def _setup_logging() -> None:
    log = logging.getLogger("bcb2b_async")
    if any(isinstance(h.formatter, _OneLine) for h in log.handlers):
        return
    if os.environ.get("BCB2B_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLine())
    log.addHandler(handler)
    log.propagate = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop(EXIT_TERMINATED)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bcb2b`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's message on bad flags
    if not (args.command == "export" and args.what == "orders"):  # pragma: no cover
        parser.error("unknown command")
    _setup_logging()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    run = Run(args)
    stop_words = {EXIT_INTERRUPTED: "interrupted", EXIT_TERMINATED: "terminated"}
    try:
        try:
            run.prepare()
            return asyncio.run(run.run())
        finally:
            run.release()
    except CliError as err:
        say(err.message)
        return err.code
    except StateLockedError as err:
        say(err.message)
        return EXIT_LOCKED
    except (KeyboardInterrupt, _Stop) as err:
        code = err.code if isinstance(err, _Stop) else EXIT_INTERRUPTED
        if run.committed:
            say(f"{stop_words[code]} while shutting down; the export was complete")
            return code
        left = run.output.left_as() if run.output is not None else "nothing was written"
        state = "; the state was not changed" if run.state is not None else ""
        say(f"{stop_words[code]}; {left}{state}")
        return code
    except Exception as err:
        if os.environ.get("BCB2B_DEBUG"):
            raise
        say(f"internal error: {type(err).__name__}: {err} (rerun with BCB2B_DEBUG=1 for the "
            "traceback, and please report it)")
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "CSV_COLUMNS",
    "DETAIL_COLUMNS",
    "EXIT_API",
    "EXIT_CONFIG",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "AtomicOutput",
    "CliError",
    "DirectOutput",
    "Output",
    "build_parser",
    "main",
    "open_output",
    "parse_time",
    "redact",
    "temp_name",
]
