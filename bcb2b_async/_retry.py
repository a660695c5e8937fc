"""What is retryable and how long to wait: pure functions over (error, attempt, method).

The request pipeline wraps one attempt ("acquire a send slot, send, map the status, decode")
in a ``backoff.on_exception`` decorator built from a :class:`RetryPolicy` when the client is
built. This module decides; ``backoff`` does the looping and sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BigCommerceError,
    DecodeError,
    RateLimitError,
)

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "is_idempotent"]

#: Statuses that mean "try again later" for an idempotent request.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_idempotent(method: str) -> bool:
    """GET, PUT, DELETE, HEAD and OPTIONS may be repeated; POST may not."""
    return method.upper() in {"GET", "PUT", "DELETE", "HEAD", "OPTIONS"}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry and how long to wait.

    ``max_retries`` bounds the retries (so at most ``max_retries + 1`` attempts);
    ``base_delay``/``max_delay`` shape the exponential backoff with full jitter;
    ``max_wait`` caps any single wait, including one the server asks for; ``max_time``
    bounds the time spent in one call across all attempts.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 120.0
    max_time: float = 600.0

    def should_retry(self, error: BaseException, method: str) -> bool:
        """Whether ``error`` from a ``method`` request may be retried at all."""
        if isinstance(error, RateLimitError):
            return True  # refused: nothing happened on the server, even for a POST
        idempotent = is_idempotent(method)
        if isinstance(error, APITimeoutError):
            return idempotent or not error.sent
        if isinstance(error, APIConnectionError):
            return idempotent or not error.sent
        if isinstance(error, APIStatusError):
            return idempotent and error.status in RETRYABLE_STATUSES
        if isinstance(error, DecodeError):
            # A 2xx cut short or mangled on the way: the request itself succeeded, so
            # only repeat it when repeating is harmless. Valid JSON of the wrong shape will
            # not improve by asking again.
            return idempotent and error.malformed
        return False

    def backoff_delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (1-based)."""
        r: float = (rng or random).random()
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        return float(min(self.max_wait, ceiling * (0.5 + 0.5 * r)))

    def delay(
        self,
        error: BaseException,
        attempt: int,
        method: str,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or ``None`` to give up.

        A 429 with a reset hint waits for the reset (capped at ``max_wait``); a 429 without
        rate headers means platform load and backs off exponentially with jitter.
        """
        if attempt > self.max_retries or not self.should_retry(error, method):
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            jitter = (rng or random).random() * 0.05
            return min(self.max_wait, error.retry_after + 0.01 + jitter)
        return self.backoff_delay(attempt, rng)


def annotate_attempts(error: BigCommerceError, attempts: int) -> BigCommerceError:
    """Record on ``error`` how many attempts were made (shown in its message)."""
    error.attempts = attempts
    return error
