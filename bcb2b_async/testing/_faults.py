"""Deterministic fault injection for the sandbox store."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Api = Literal["b2b", "v2"]

#: Fault kinds besides ``"latency:<seconds>"``.
FAULT_KINDS = ("500", "502", "503", "504", "429_no_headers", "drop", "truncate")


def _check_kind(kind: str) -> str:
    if kind in FAULT_KINDS:
        return kind
    if kind.startswith("latency:"):
        try:
            if float(kind.split(":", 1)[1]) >= 0:
                return kind
        except ValueError:
            pass
    raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS} or 'latency:<s>'")


@dataclass(slots=True)
class FaultRule:
    """One scheduled fault: which requests it matches and how many it still hits."""

    kind: str
    api: Api | None
    count: int | None
    every: int | None
    path: str | None
    method: str | None
    seen: int = 0
    fired: int = 0

    def matches(self, api: str, method: str, path: str) -> bool:
        """Whether a request is one this rule is watching."""
        if self.api is not None and self.api != api:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or self.path in path

    @property
    def exhausted(self) -> bool:
        """True once ``count`` hits have been delivered."""
        return self.count is not None and self.fired >= self.count


class FaultPlan:
    """Faults the store injects into matching requests.

    ``add(kind, ...)`` schedules a rule. Rules are checked in the order they were
    added: each live rule that matches counts the request, and the first one whose turn
    it is fires (``every=k`` fires on its k-th, 2k-th, ... matching request); rules after
    a firing one do not see that request.
    ``count`` limits how many requests a rule hits (``None`` = no limit). ``path`` is a
    substring of the request path; ``method`` an HTTP method.

    Kinds: ``"500"``, ``"502"``, ``"503"``, ``"504"`` (error status, handler not run),
    ``"429_no_headers"`` (platform-load 429 without rate headers; not counted in the
    rate window), ``"drop"`` (connection closed without a response, handler not run),
    ``"truncate"`` (handler runs, then a 200 whose body is cut in half; the declared
    Content-Length is the full length) and ``"latency:<seconds>"`` (delay, then normal).
    """

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._random: tuple[float, tuple[str, ...], random.Random, Api | None] | None = None
        self.injected: list[tuple[str, str, str, str]] = []  # (api, method, path, kind)

    def add(
        self,
        kind: str,
        *,
        api: Api | None = None,
        count: int | None = 1,
        every: int | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> FaultRule:
        """Schedule ``kind`` for ``count`` matching requests (every ``every``-th one)."""
        _check_kind(kind)
        if every is not None and every < 1:
            raise ValueError("every must be >= 1")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0 or None")
        rule = FaultRule(kind, api, count, every, path, method)
        self.rules.append(rule)
        return rule

    def random(
        self,
        rate: float = 0.05,
        kinds: tuple[str, ...] = ("500", "502", "503", "504", "drop"),
        *,
        seed: int = 0,
        api: Api | None = None,
    ) -> None:
        """Hit each request with probability ``rate`` with one of ``kinds`` (seeded)."""
        for k in kinds:
            _check_kind(k)
        if not 0 <= rate <= 1:
            raise ValueError("rate must be within [0, 1]")
        self._random = (rate, tuple(kinds), random.Random(seed), api)

    def clear(self) -> None:
        """Remove every scheduled rule and switch random mode off."""
        self.rules.clear()
        self._random = None

    @property
    def pending(self) -> int:
        """How many scheduled hits are still to be delivered (rules with a count)."""
        return sum(r.count - r.fired for r in self.rules if r.count is not None)

    def pick(self, api: str, method: str, path: str) -> str | None:
        """Decide the fault (if any) for one request, consuming it."""
        chosen: str | None = None
        for rule in self.rules:
            if rule.exhausted or not rule.matches(api, method, path):
                continue
            rule.seen += 1
            if rule.every is None or rule.seen % rule.every == 0:
                rule.fired += 1
                chosen = rule.kind
                break
        if chosen is None and self._random is not None:
            rate, kinds, rnd, rapi = self._random
            if (rapi is None or rapi == api) and rnd.random() < rate:
                chosen = kinds[rnd.randrange(len(kinds))]
        if chosen is not None:
            self.injected.append((api, method, path, chosen))
        return chosen
