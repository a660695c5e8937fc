"""Fixed-window request quotas, one per API, shared by every caller of a sandbox store."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._util import fmt_seconds


@dataclass(frozen=True, slots=True)
class RateWindow:
    """A quota of ``requests`` per fixed window of ``seconds``.

    BigCommerce defaults: B2B Edition ``RateWindow(150, 60.0)``, V2 on Standard/Plus
    plans ``RateWindow(150, 30.0)`` (Pro: ``RateWindow(450, 30.0)``).
    """

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0:
            raise ValueError("RateWindow needs requests >= 1 and seconds > 0")

    @classmethod
    def parse(cls, text: str) -> RateWindow | None:
        """Parse ``"150/60"`` (requests/seconds); ``"none"`` or ``"off"`` gives None."""
        if text.strip().lower() in ("none", "off", "0", ""):
            return None
        left, sep, right = text.partition("/")
        if not sep:
            raise ValueError(f"expected REQUESTS/SECONDS, got {text!r}")
        return cls(int(left), float(right))


class FixedWindow:
    """A window opens at the first request after the previous one ended; requests over
    the quota inside a window are refused."""

    __slots__ = ("_clock", "count", "neighbour", "rate", "start")

    def __init__(self, rate: RateWindow, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self.start: float | None = None
        self.count = 0
        self.neighbour = 0.0  # fraction of each window a noisy neighbour spends at its start

    def _roll(self, now: float) -> None:
        if self.start is None or now >= self.start + self.rate.seconds:
            self.start = now
            self.count = 0
            if self.neighbour > 0:
                self.count = min(self.rate.requests, int(self.rate.requests * self.neighbour))

    def would_allow(self) -> bool:
        """Roll the window if it has ended and tell whether one more request fits."""
        self._roll(self._clock())
        return self.count < self.rate.requests

    def take(self) -> None:
        """Count one accepted request in the current window."""
        self._roll(self._clock())
        self.count += 1

    def consume(self, n: int) -> int:
        """Spend up to ``n`` units of the current window as another client would."""
        self._roll(self._clock())
        spent = max(0, min(n, self.rate.requests - self.count))
        self.count += spent
        return spent

    def reset_in(self) -> float:
        """Seconds until the current window ends (0 when none is open)."""
        if self.start is None:
            return 0.0
        return max(0.0, self.start + self.rate.seconds - self._clock())

    def expired(self) -> bool:
        """Whether no window is currently open."""
        return self.start is None or self._clock() >= self.start + self.rate.seconds

    def open_now(self) -> None:
        """Open a new window now if the previous one ended (the neighbour's own traffic)."""
        self._roll(self._clock())

    def remaining(self) -> int:
        """Requests left in the current window."""
        return max(0, self.rate.requests - self.count)

    def b2b_headers(self) -> dict[str, str]:
        """B2B Edition rate headers, units included as text."""
        return {
            "X-Requests-Allocated": (
                f"{self.rate.requests} times/{fmt_seconds(self.rate.seconds)} s"
            ),
            "X-Requests-Remaining": f"{self.remaining()} times",
            "X-Request-Window-Resets-After": f"{round(self.reset_in(), 3)} s",
            "X-Requests-Window-Length": f"{self.count} times",
        }

    def v2_headers(self) -> dict[str, str]:
        """V2 (BigCommerce platform) rate headers."""
        return {
            "X-Rate-Limit-Requests-Left": str(self.remaining()),
            "X-Rate-Limit-Requests-Quota": str(self.rate.requests),
            "X-Rate-Limit-Time-Reset-Ms": str(math.ceil(self.reset_in() * 1000)),
            "X-Rate-Limit-Time-Window-Ms": str(round(self.rate.seconds * 1000)),
        }
