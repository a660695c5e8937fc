"""Small pure helpers shared by the sandbox modules: hashing, money, dates, statuses."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

_M64 = (1 << 64) - 1

DAY = 86_400
YEAR = 365 * DAY

#: V2 order statuses (id -> name), as in the API README's table.
STATUS_NAMES: dict[int, str] = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}

#: A few merchants rename statuses; B2B Edition reports the renamed label as customStatus.
CUSTOM_STATUS: dict[int, str] = {7: "Invoice Sent", 11: "Processing", 9: "Ready to Ship"}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

MONEY_SCALE = 10_000  # V2 money strings carry four decimal places


def mix(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def uuid_from(a: int, b: int) -> str:
    """Format two 64-bit hashes as a version-4 style UUID string."""
    hi = (a & 0xFFFFFFFFFFFF0FFF) | 0x4000
    lo = (b & 0x3FFFFFFFFFFFFFFF) | 0x8000000000000000
    h = f"{hi:016x}{lo:016x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def rfc2822(ts: int) -> str:
    """Format a Unix timestamp the way the V2 API does: ``Tue, 05 Mar 2019 21:40:11 +0000``."""
    t = time.gmtime(ts)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def money(units: int) -> str:
    """Render integer ten-thousandths as a V2 money string (``"12.3400"``)."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    return f"{sign}{units // MONEY_SCALE}.{units % MONEY_SCALE:04d}"


def money_float(units: int) -> float:
    """Render integer ten-thousandths as a float rounded to cents (B2B ``totalIncTax``)."""
    return round(units / MONEY_SCALE, 2)


def with_tax(units: int, tax_bp: int) -> int:
    """Add a tax rate given in basis points, rounding half up to the unit."""
    return units + (units * tax_bp + 5_000) // 10_000


def parse_money(value: Any) -> int | None:
    """Parse a V2 money value (number or numeric string, non-negative) into units; else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not dec.is_finite() or dec < 0:
        return None
    return int((dec * MONEY_SCALE).to_integral_value())


def fmt_seconds(value: float) -> str:
    """Format a window length the way B2B headers do: ``60`` when integral, else ``1.5``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def is_int(value: Any) -> TypeGuard[int]:
    """True for JSON integers (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool)
