"""Compact per-order core columns and the list query engine of the sandbox.

Every order is a position ``i`` (``bcOrderId == i + ID_BASE``) in a few parallel
``array`` columns. ``created`` never changes and never decreases with ``i``, so
position order *is* (createdAt, id) order. ``perm`` holds the positions sorted by
(updatedAt, id) and is kept sorted incrementally on every change.

List queries are answered from cached result arrays (one per distinct filter),
which are also patched incrementally when an order changes, so walking a large
result page by page costs O(limit) per page even while orders are being updated.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

ID_BASE = 100

SortKey = Literal["createdAt", "updatedAt"]

_NEG = -(1 << 62)
_POS = 1 << 62


@dataclass(frozen=True, slots=True)
class Filter:
    """A canonical list filter: inclusive integer bounds, channels and company."""

    c_lo: int | None = None
    c_hi: int | None = None
    u_lo: int | None = None
    u_hi: int | None = None
    channels: frozenset[int] | None = None
    company: int | None = None
    sort: SortKey = "updatedAt"

    def matches(self, created: int, updated: int, channel: int, company: int) -> bool:
        """Whether one order's values pass this filter."""
        if self.c_lo is not None and created < self.c_lo:
            return False
        if self.c_hi is not None and created > self.c_hi:
            return False
        if self.u_lo is not None and updated < self.u_lo:
            return False
        if self.u_hi is not None and updated > self.u_hi:
            return False
        if self.channels is not None and channel not in self.channels:
            return False
        return self.company is None or company == self.company


class OrderIndex:
    """Parallel columns of per-order core values plus the sorted views and query cache."""

    __slots__ = (
        "_cache",
        "builds",
        "channel",
        "company",
        "created",
        "customer",
        "max_cached",
        "perm",
        "status",
        "updated",
    )

    def __init__(
        self,
        created: array[int],
        updated: array[int],
        channel: array[int],
        company: array[int],
        customer: array[int],
        status: array[int],
        *,
        max_cached: int = 8,
    ) -> None:
        self.created = created
        self.updated = updated
        self.channel = channel
        self.company = company
        self.customer = customer
        self.status = status
        upd = updated
        # Stable sort of positions by updatedAt: ties stay in position (= id) order.
        self.perm: array[int] = array("q", sorted(range(len(created)), key=upd.__getitem__))
        self._cache: OrderedDict[Filter, array[int]] = OrderedDict()
        self.max_cached = max_cached
        self.builds = 0

    def __len__(self) -> int:
        return len(self.created)

    # -- keys ---------------------------------------------------------------------------

    def _upd_key(self) -> Callable[[int], tuple[int, int]]:
        upd = self.updated
        return lambda j: (upd[j], j)

    def _locate(self, ids: array[int], i: int, sort: SortKey) -> int:
        """Position where ``i`` sits (or would sit) in a result sorted by ``sort``."""
        if sort == "createdAt":
            return bisect_left(ids, i)
        return bisect_left(ids, (self.updated[i], i), key=self._upd_key())

    # -- mutation -----------------------------------------------------------------------

    def append(
        self, created: int, updated: int, channel: int, company: int, customer: int, status: int
    ) -> int:
        """Add a new order (its createdAt must not be below the last one); returns its position."""
        if len(self.created) and created < self.created[-1]:
            raise ValueError("createdAt must not decrease with the order id")
        i = len(self.created)
        self.created.append(created)
        self.updated.append(updated)
        self.channel.append(channel)
        self.company.append(company)
        self.customer.append(customer)
        self.status.append(status)
        self.perm.insert(self._locate(self.perm, i, "updatedAt"), i)
        for f, ids in self._cache.items():
            if f.matches(created, updated, channel, company):
                ids.insert(self._locate(ids, i, f.sort), i)
        return i

    def change(
        self,
        i: int,
        *,
        updated: int | None = None,
        channel: int | None = None,
        company: int | None = None,
    ) -> None:
        """Change the sortable/filterable values of order ``i``, keeping every view sorted."""
        old = (self.created[i], self.updated[i], self.channel[i], self.company[i])
        new = (
            old[0],
            old[1] if updated is None else updated,
            old[2] if channel is None else channel,
            old[3] if company is None else company,
        )
        if new == old:
            return
        touched: list[tuple[Filter, array[int]]] = []
        for f, ids in self._cache.items():
            was = f.matches(*old)
            now = f.matches(*new)
            if was and now and (f.sort == "createdAt" or new[1] == old[1]):
                continue  # still present, same position
            if was:
                pos = self._locate(ids, i, f.sort)
                if pos < len(ids) and ids[pos] == i:
                    del ids[pos]
            if now:
                touched.append((f, ids))
        if new[1] != old[1]:
            pos = self._locate(self.perm, i, "updatedAt")
            if pos < len(self.perm) and self.perm[pos] == i:
                del self.perm[pos]
        self.updated[i] = new[1]
        self.channel[i] = new[2]
        self.company[i] = new[3]
        if new[1] != old[1]:
            self.perm.insert(self._locate(self.perm, i, "updatedAt"), i)
        for f, ids in touched:
            ids.insert(self._locate(ids, i, f.sort), i)

    # -- queries ------------------------------------------------------------------------

    def first_updated_at_or_after(self, ts: int) -> int | None:
        """The smallest updatedAt value >= ``ts`` present in the store, if any."""
        perm = self.perm
        pos = bisect_left(perm, ts, key=self.updated.__getitem__)
        return self.updated[perm[pos]] if pos < len(perm) else None

    def result(self, f: Filter) -> array[int]:
        """All positions matching ``f`` sorted by (sort key, id) ascending (cached)."""
        ids = self._cache.get(f)
        if ids is not None:
            self._cache.move_to_end(f)
            return ids
        ids = self._build(f)
        self.builds += 1
        self._cache[f] = ids
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return ids

    def invalidate(self) -> None:
        """Drop every cached result (used after bulk changes)."""
        self._cache.clear()

    def _build(self, f: Filter) -> array[int]:
        created, updated, perm = self.created, self.updated, self.perm
        n = len(created)
        a = 0 if f.c_lo is None else bisect_left(created, f.c_lo)
        b = n if f.c_hi is None else bisect_right(created, f.c_hi)
        ukey = updated.__getitem__
        p = 0 if f.u_lo is None else bisect_left(perm, f.u_lo, key=ukey)
        q = n if f.u_hi is None else bisect_right(perm, f.u_hi, key=ukey)
        if a >= b or p >= q:
            return array("q")
        if b - a <= q - p:
            # Walk the createdAt range; check updatedAt as a predicate.
            lo = _NEG if f.u_lo is None else f.u_lo
            hi = _POS if f.u_hi is None else f.u_hi
            if f.u_lo is None and f.u_hi is None:
                cands: Iterable[int] = range(a, b)
            else:
                cands = [i for i in range(a, b) if lo <= updated[i] <= hi]
            found = self._narrow(cands, f)
            if f.sort == "updatedAt":
                found.sort(key=ukey)  # stable: ties keep id order
        else:
            lo = _NEG if f.c_lo is None else f.c_lo
            hi = _POS if f.c_hi is None else f.c_hi
            window = perm[p:q]
            if f.c_lo is None and f.c_hi is None:
                cands = window
            else:
                cands = [i for i in window if lo <= created[i] <= hi]
            found = self._narrow(cands, f)
            if f.sort == "createdAt":
                found.sort()
        return array("q", found)

    def _narrow(self, cands: Iterable[int], f: Filter) -> list[int]:
        ch, co = self.channel, self.company
        chans, comp = f.channels, f.company
        if chans is not None and len(chans) == 1:
            (one,) = tuple(chans)
            if comp is None:
                return [i for i in cands if ch[i] == one]
            return [i for i in cands if ch[i] == one and co[i] == comp]
        if chans is not None:
            if comp is None:
                return [i for i in cands if ch[i] in chans]
            return [i for i in cands if ch[i] in chans and co[i] == comp]
        if comp is None:
            return list(cands)
        return [i for i in cands if co[i] == comp]

    def page(self, f: Filter, offset: int, limit: int, descending: bool) -> tuple[int, list[int]]:
        """(totalCount, positions of one page) for ``f``; ties always by id ascending."""
        ids = self.result(f)
        n = len(ids)
        if offset >= n or limit <= 0:
            return n, []
        if not descending:
            return n, ids[offset : offset + limit].tolist()
        key = self.created.__getitem__ if f.sort == "createdAt" else self.updated.__getitem__
        out: list[int] = []
        d = offset
        while len(out) < limit and d < n:
            pos = n - 1 - d  # lies in the same tie group as descending position d
            k = key(ids[pos])
            lo_same = pos > 0 and key(ids[pos - 1]) == k
            hi_same = pos + 1 < n and key(ids[pos + 1]) == k
            g_lo = bisect_left(ids, k, 0, pos, key=key) if lo_same else pos
            g_hi = bisect_right(ids, k, pos + 1, n, key=key) if hi_same else pos + 1
            j = g_lo + d - (n - g_hi)
            take = min(limit - len(out), g_hi - j)
            out.extend(ids[j : j + take])
            d += take
        return n, out
