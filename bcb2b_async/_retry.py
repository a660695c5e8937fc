"""What is retryable and how long to wait: pure functions over (error, attempt, method).

The request pipeline runs every attempt of a call, the first included, in one loop
(``_pipeline.Pipeline.request``) and asks a :class:`RetryPolicy` what to do after each
failure. The exponential schedule is ``backoff``'s own wait generator (:func:`backoff.expo`),
one per call, with equal jitter; a 429's reset hint replaces it for that retry. The policy
never sleeps: it only decides.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from typing import Any

import msgspec

from .errors import (
    APIConnectionError,
    APIStatusError,
    DecodeError,
    InvalidArgumentError,
    RateLimitError,
)

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "is_idempotent"]

#: Statuses that mean "try again later" for an idempotent request.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

#: The most retries a policy may ask for (a larger number is a typo, not a plan).
MAX_RETRIES_LIMIT = 100


def is_idempotent(method: str) -> bool:
    """GET, PUT, DELETE, HEAD and OPTIONS may be repeated; POST may not."""
    return method.upper() in {"GET", "PUT", "DELETE", "HEAD", "OPTIONS"}


def _seconds(name: str, value: object, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"RetryPolicy.{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise InvalidArgumentError(f"RetryPolicy.{name} must be {bound} seconds, got {value!r}")
    return float(value)


class RetryPolicy(msgspec.Struct, frozen=True):
    """When to retry and how long to wait.

    ``max_retries`` (0..100) bounds the retries (so at most ``max_retries + 1`` attempts);
    ``base_delay``/``max_delay`` shape the exponential backoff (``backoff.expo``) with equal
    jitter; ``max_wait`` caps any single wait: a server that asks for a longer one (a 429's
    reset hint) gets :class:`~bcb2b_async.ServerWaitTooLongError` instead of a sleep;
    ``max_time`` bounds the time spent in one call across all attempts and waits.
    Every field is validated when the policy is built (:class:`InvalidArgumentError`).
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 120.0
    max_time: float = 600.0

    def __post_init__(self) -> None:
        r = self.max_retries
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r <= MAX_RETRIES_LIMIT:
            raise InvalidArgumentError(
                f"RetryPolicy.max_retries must be an int in 0..{MAX_RETRIES_LIMIT}, got {r!r}"
            )
        base = _seconds("base_delay", self.base_delay, allow_zero=True)
        top = _seconds("max_delay", self.max_delay, allow_zero=True)
        if top < base:
            raise InvalidArgumentError(
                f"RetryPolicy.max_delay ({top}) must not be below base_delay ({base})"
            )
        _seconds("max_wait", self.max_wait, allow_zero=False)
        _seconds("max_time", self.max_time, allow_zero=False)

    def should_retry(self, error: BaseException, method: str) -> bool:
        """Whether ``error`` from a ``method`` request may be retried at all."""
        if isinstance(error, RateLimitError):
            return True  # refused: nothing happened on the server, even for a POST
        idempotent = is_idempotent(method)
        if isinstance(error, APIConnectionError):  # timeouts included
            if error.kind == "dns":
                return False  # a name that does not resolve will not resolve in a second
            return idempotent or not error.sent
        if isinstance(error, APIStatusError):
            return idempotent and error.status in RETRYABLE_STATUSES
        if isinstance(error, DecodeError):
            # A 2xx cut short or mangled on the way: the request itself succeeded, so
            # only repeat it when repeating is harmless. Valid JSON of the wrong shape will
            # not improve by asking again.
            return idempotent and error.malformed
        return False

    def schedule(self) -> Generator[float, Any, None]:
        """A fresh exponential schedule for one call: ``backoff.expo``, primed, capped."""
        import backoff  # only a call that fails needs it: kept off the import of a walk

        waits = backoff.expo(base=2, factor=self.base_delay, max_value=self.max_delay)
        next(waits)  # backoff's generators start with a bare ``yield`` for ``send()``
        return waits

    def backoff_delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The backoff before retry number ``attempt`` (1-based), without a schedule at hand."""
        waits = self.schedule()
        for _ in range(max(0, min(attempt, 64) - 1)):
            next(waits)
        return self._jitter(next(waits), rng)

    def _jitter(self, ceiling: float, rng: random.Random | None) -> float:
        r: float = (rng or random).random()
        return float(min(self.max_wait, ceiling * (0.5 + 0.5 * r)))

    def delay(
        self,
        error: BaseException,
        attempt: int,
        method: str,
        rng: random.Random | None = None,
        schedule: Generator[float, Any, None] | None = None,
    ) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or ``None`` to give up.

        A 429 with a reset hint waits for the reset (uncapped here: the caller compares it
        with ``max_wait``); a 429 without rate headers means platform load and backs off
        like any other retryable failure, on ``schedule`` (a call's :meth:`schedule`) when
        given.
        """
        if attempt > self.max_retries or not self.should_retry(error, method):
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            jitter = (rng or random).random() * 0.05
            return error.retry_after + 0.01 + jitter
        if schedule is not None:
            return self._jitter(next(schedule), rng)
        return self.backoff_delay(attempt, rng)

