"""Compact per-order core columns and the list query engine of the sandbox.

Every order is a position ``i`` (``bcOrderId == i + ID_BASE``) in a few parallel
``array`` columns. ``created`` (the B2B createdAt) never changes and never decreases with
``i``, so position order *is* (createdAt, id) order. ``b2b`` marks the orders in the B2B
Edition list (consumer orders exist in V2 only); ``lag`` (optional) is how many seconds
the B2B record came after the store order, so V2 ``date_created`` is ``created - lag``.

Sorted views of the B2B orders are kept per channel and per (channel, company): positions
in createdAt order and in (updatedAt, id) order, patched incrementally on every change. A list
query whose only time bounds are on its sort key (every keyset walk, every offset
walk) is answered by bisecting those views: no scan, whatever the store size. Other
queries (for example the default one-year window, a bound on updatedAt while sorting
by createdAt) are built once into a cached result, which is also patched on every
change so walking it page by page stays cheap while orders are being updated.

The V2 list sees every order. Its per-channel views (:class:`V2Views`: all orders by
position, by (date_modified, id) and, with a lag, by (V2 date_created, id)) are built on
the first V2 list request and patched like the others. ``version`` counts changes, so
V2 results cached for uncommon filters are rebuilt after any change.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Generic, Literal, TypeAlias, TypeVar

ID_BASE = 100
STREAM_LIMIT = 5_000  # beyond this offset a multi-view page comes from a cached result

SortKey = Literal["createdAt", "updatedAt"]
K = TypeVar("K", bound=Hashable)
View: TypeAlias = "tuple[array[int], int, int]"  # sorted positions, [lo, hi) of interest


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

    def matches(self, created: int, updated: int, channel: int, company: int, b2b: int = 1) -> bool:
        """Whether one order's values pass this filter (consumer orders never do)."""
        if not b2b:
            return False
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


class _Buckets(Generic[K]):
    """Per-key sorted position lists: by position (createdAt) and by (updatedAt, id)."""

    __slots__ = ("by_created", "by_updated", "updated")

    def __init__(self, updated: array[int]) -> None:
        self.updated = updated
        self.by_created: dict[K, array[int]] = {}
        self.by_updated: dict[K, array[int]] = {}

    def _ukey(self) -> Callable[[int], tuple[int, int]]:
        upd = self.updated
        return lambda j: (upd[j], j)

    def add(self, key: K, i: int, *, created: bool = True, updated: bool = True) -> None:
        """Insert position ``i`` (at its current updatedAt) under ``key``."""
        if created:
            bc = self.by_created.setdefault(key, array("q"))
            if not bc or bc[-1] < i:
                bc.append(i)
            else:
                bc.insert(bisect_left(bc, i), i)
        if updated:
            bu = self.by_updated.setdefault(key, array("q"))
            bu.insert(bisect_left(bu, (self.updated[i], i), key=self._ukey()), i)

    def remove(self, key: K, i: int, *, created: bool = True, updated: bool = True) -> None:
        """Remove position ``i`` (located at its current updatedAt) from ``key``."""
        if created:
            bc = self.by_created[key]
            pos = bisect_left(bc, i)
            if pos < len(bc) and bc[pos] == i:
                del bc[pos]
        if updated:
            bu = self.by_updated[key]
            pos = bisect_left(bu, (self.updated[i], i), key=self._ukey())
            if pos < len(bu) and bu[pos] == i:
                del bu[pos]


class OrderIndex:
    """Parallel columns of per-order core values plus the sorted views and query cache."""

    __slots__ = (
        "_cache",
        "_v2",
        "b2b",
        "builds",
        "by_channel",
        "by_channel_company",
        "channel",
        "company",
        "created",
        "customer",
        "lag",
        "max_cached",
        "perm",
        "status",
        "updated",
        "version",
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
        b2b: array[int] | None = None,
        lag: array[int] | None = None,
        max_cached: int = 8,
    ) -> None:
        self.created = created
        self.updated = updated
        self.channel = channel
        self.company = company
        self.customer = customer
        self.status = status
        n = len(created)
        self.b2b: array[int] = b2b if b2b is not None else array("b", b"\x01") * n
        self.lag: array[int] | None = lag
        if len(self.b2b) != n or (lag is not None and len(lag) != n):
            raise ValueError("every column needs one value per order")
        self.version = 0
        self._v2: V2Views | None = None
        # Stable sort of positions by updatedAt: ties stay in position (= id) order.
        self.perm: array[int] = array("q", sorted(range(n), key=updated.__getitem__))
        self.by_channel: _Buckets[int] = _Buckets(updated)
        self.by_channel_company: _Buckets[tuple[int, int]] = _Buckets(updated)
        self._fill()
        self._cache: OrderedDict[Filter, array[int]] = OrderedDict()
        self.max_cached = max_cached
        self.builds = 0

    def _fill(self) -> None:
        ch, co, b2b = self.channel, self.company, self.b2b
        every = 0 not in b2b
        for name, order in (("by_created", range(len(ch))), ("by_updated", self.perm)):
            one: dict[int, list[int]] = {}
            two: dict[tuple[int, int], list[int]] = {}
            for i in order:
                if not every and not b2b[i]:
                    continue
                c = ch[i]
                one.setdefault(c, []).append(i)
                two.setdefault((c, co[i]), []).append(i)
            setattr(self.by_channel, name, {k: array("q", v) for k, v in one.items()})
            setattr(self.by_channel_company, name, {k: array("q", v) for k, v in two.items()})

    def __len__(self) -> int:
        return len(self.created)

    def v2_created(self, i: int) -> int:
        """V2 ``date_created`` of order ``i`` (Unix seconds)."""
        lag = self.lag
        return self.created[i] - lag[i] if lag is not None else self.created[i]

    def v2_views(self) -> V2Views:
        """The per-channel views of every order for the V2 list (built on first use)."""
        if self._v2 is None:
            self._v2 = V2Views(self)
        return self._v2

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
        self,
        created: int,
        updated: int,
        channel: int,
        company: int,
        customer: int,
        status: int,
        *,
        b2b: bool = True,
        lag: int = 0,
    ) -> int:
        """Add a new order (its createdAt must not be below the last one); returns its position.

        ``b2b=False`` adds a consumer order (V2 only); ``lag`` needs a store built with lags.
        """
        if len(self.created) and created < self.created[-1]:
            raise ValueError("createdAt must not decrease with the order id")
        if lag and self.lag is None:
            raise ValueError("this index keeps no lag column")
        self.version += 1
        i = len(self.created)
        self.created.append(created)
        self.updated.append(updated)
        self.channel.append(channel)
        self.company.append(company)
        self.customer.append(customer)
        self.status.append(status)
        self.b2b.append(1 if b2b else 0)
        if self.lag is not None:
            self.lag.append(lag)
        self.perm.insert(self._locate(self.perm, i, "updatedAt"), i)
        if b2b:
            self.by_channel.add(channel, i)
            self.by_channel_company.add((channel, company), i)
            for f, ids in self._cache.items():
                if f.matches(created, updated, channel, company):
                    ids.insert(self._locate(ids, i, f.sort), i)
        if self._v2 is not None:
            self._v2.append(i)
        return i

    def change(
        self,
        i: int,
        *,
        updated: int | None = None,
        channel: int | None = None,
        company: int | None = None,
        b2b: bool | None = None,
    ) -> None:
        """Change the sortable/filterable values of order ``i``, keeping every view sorted.

        ``b2b=True`` moves a consumer order into the B2B list (``False``: out of it).
        Every call counts as a change of the order (``version``), even when no sortable
        value moves: its status or other fields may have changed.
        """
        self.version += 1
        old = (self.created[i], self.updated[i], self.channel[i], self.company[i], self.b2b[i])
        new = (
            old[0],
            old[1] if updated is None else updated,
            old[2] if channel is None else channel,
            old[3] if company is None else company,
            old[4] if b2b is None else int(b2b),
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
        moved_u = new[1] != old[1]
        flipped = new[4] != old[4]  # into or out of the B2B list
        moved_ch = new[2] != old[2] or flipped
        moved_pair = moved_ch or new[3] != old[3]
        v2 = self._v2
        if v2 is not None:
            v2.remove(i, channel=new[2] != old[2], updated=moved_u)
        if old[4] and (moved_ch or moved_u):
            self.by_channel.remove(old[2], i, created=moved_ch)
        if old[4] and (moved_pair or moved_u):
            self.by_channel_company.remove((old[2], old[3]), i, created=moved_pair)
        if moved_u:
            pos = self._locate(self.perm, i, "updatedAt")
            if pos < len(self.perm) and self.perm[pos] == i:
                del self.perm[pos]
        self.updated[i] = new[1]
        self.channel[i] = new[2]
        self.company[i] = new[3]
        self.b2b[i] = new[4]
        if moved_u:
            self.perm.insert(self._locate(self.perm, i, "updatedAt"), i)
        if new[4] and (moved_ch or moved_u):
            self.by_channel.add(new[2], i, created=moved_ch)
        if new[4] and (moved_pair or moved_u):
            self.by_channel_company.add((new[2], new[3]), i, created=moved_pair)
        if v2 is not None:
            v2.add(i, channel=new[2] != old[2], updated=moved_u)
        for f, ids in touched:
            ids.insert(self._locate(ids, i, f.sort), i)

    # -- queries ------------------------------------------------------------------------

    def first_updated_at_or_after(self, ts: int) -> int | None:
        """The smallest updatedAt value >= ``ts`` present in the store, if any."""
        perm = self.perm
        pos = bisect_left(perm, ts, key=self.updated.__getitem__)
        return self.updated[perm[pos]] if pos < len(perm) else None

    def _bucket_lists(self, f: Filter, which: str) -> list[array[int]]:
        if f.company is None:
            lists: dict[int, array[int]] = getattr(self.by_channel, which)
            keys = list(lists) if f.channels is None else [c for c in f.channels if c in lists]
            return [lists[c] for c in sorted(keys)]
        pairs: dict[tuple[int, int], array[int]] = getattr(self.by_channel_company, which)
        chans = {c for c, _ in pairs} if f.channels is None else f.channels
        return [pairs[(c, f.company)] for c in sorted(chans) if (c, f.company) in pairs]

    def _position_range(self, f: Filter) -> tuple[int, int]:
        n = len(self.created)
        a = 0 if f.c_lo is None else bisect_left(self.created, f.c_lo)
        b = n if f.c_hi is None else bisect_right(self.created, f.c_hi)
        return a, b

    def _views(self, f: Filter) -> list[View] | None:
        """Sorted views whose concatenated ranges are exactly the result, or None."""
        ukey = self.updated.__getitem__
        out: list[View] = []
        if f.sort == "createdAt":
            if f.u_lo is not None or f.u_hi is not None:
                return None
            a, b = self._position_range(f)
            for arr in self._bucket_lists(f, "by_created"):
                lo, hi = bisect_left(arr, a), bisect_left(arr, b)
                if lo < hi:
                    out.append((arr, lo, hi))
            return out
        if f.c_lo is not None or f.c_hi is not None:
            return None
        for arr in self._bucket_lists(f, "by_updated"):
            lo = 0 if f.u_lo is None else bisect_left(arr, f.u_lo, key=ukey)
            hi = len(arr) if f.u_hi is None else bisect_right(arr, f.u_hi, key=ukey)
            if lo < hi:
                out.append((arr, lo, hi))
        return out

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
        """Drop every cached result."""
        self._cache.clear()

    def _build(self, f: Filter) -> array[int]:
        upd = self.updated
        ukey = upd.__getitem__
        a, b = self._position_range(f)
        u_lo = -(1 << 62) if f.u_lo is None else f.u_lo
        u_hi = 1 << 62 if f.u_hi is None else f.u_hi
        u_bounded = f.u_lo is not None or f.u_hi is not None
        c_bounded = f.c_lo is not None or f.c_hi is not None
        parts: list[list[int]] = []
        by_created = self._bucket_lists(f, "by_created")
        by_updated = self._bucket_lists(f, "by_updated")
        sources: list[str] = []
        for bc, bu in zip(by_created, by_updated, strict=True):
            ca, cb = bisect_left(bc, a), bisect_left(bc, b)
            ua = 0 if f.u_lo is None else bisect_left(bu, f.u_lo, key=ukey)
            ub = len(bu) if f.u_hi is None else bisect_right(bu, f.u_hi, key=ukey)
            if cb - ca <= ub - ua:
                window = bc[ca:cb]
                part = [i for i in window if u_lo <= upd[i] <= u_hi] if u_bounded else list(window)
                sources.append("createdAt")
            else:
                window = bu[ua:ub]
                part = [i for i in window if a <= i < b] if c_bounded else list(window)
                sources.append("updatedAt")
            parts.append(part)
        if len(parts) == 1 and sources[0] == f.sort:
            return array("q", parts[0])
        merged = [i for part in parts for i in part]
        merged.sort()
        if f.sort == "updatedAt":
            merged.sort(key=ukey)  # stable: ties keep id order
        return array("q", merged)

    def page(self, f: Filter, offset: int, limit: int, descending: bool) -> tuple[int, list[int]]:
        """(totalCount, positions of one page) for ``f``; ties always by id ascending."""
        key = self.created.__getitem__ if f.sort == "createdAt" else self.updated.__getitem__
        views = self._views(f)
        if views is None:
            ids = self.result(f)
            views = [(ids, 0, len(ids))]
        total = sum(hi - lo for _, lo, hi in views)
        if offset >= total or limit <= 0:
            return total, []
        if len(views) == 1:
            arr, lo, hi = views[0]
            return total, _slice(arr, lo, hi, offset, limit, descending, key)
        if offset + limit <= STREAM_LIMIT:
            stream = _desc_stream(views, key) if descending else _asc_stream(views, key)
            return total, list(islice(stream, offset, offset + limit))
        ids = self.result(f)
        return total, _slice(ids, 0, len(ids), offset, limit, descending, key)


class V2Views:
    """Every order (B2B and consumer) per channel, for the V2 list, kept sorted.

    ``by_pos[ch]``: positions ascending (id order; also date_created order when the index
    keeps no lag). ``by_upd[ch]``: by (date_modified, id). With a lag, ``by_v2c[ch]`` and
    ``all_v2c`` (every channel): by (V2 date_created, id).
    """

    __slots__ = ("all_v2c", "by_pos", "by_upd", "by_v2c", "ix")

    def __init__(self, ix: OrderIndex) -> None:
        self.ix = ix
        ch = ix.channel
        pos: dict[int, list[int]] = {}
        for i in range(len(ch)):
            pos.setdefault(ch[i], []).append(i)
        upd: dict[int, list[int]] = {}
        for i in ix.perm:
            upd.setdefault(ch[i], []).append(i)
        self.by_pos: dict[int, array[int]] = {k: array("q", v) for k, v in pos.items()}
        self.by_upd: dict[int, array[int]] = {k: array("q", v) for k, v in upd.items()}
        self.all_v2c: array[int] | None = None
        self.by_v2c: dict[int, array[int]] | None = None
        if ix.lag is not None:
            # A stable sort on the value alone keeps ties in position (= id) order.
            every = sorted(range(len(ch)), key=ix.v2_created)
            per: dict[int, list[int]] = {}
            for i in every:
                per.setdefault(ch[i], []).append(i)
            self.all_v2c = array("q", every)
            self.by_v2c = {k: array("q", v) for k, v in per.items()}

    def ckey(self) -> Callable[[int], tuple[int, int]]:
        """Sort key of the date_created views: (V2 date_created, position)."""
        v2c = self.ix.v2_created
        return lambda j: (v2c(j), j)

    def ukey(self) -> Callable[[int], tuple[int, int]]:
        """Sort key of the date_modified views: (date_modified, position)."""
        upd = self.ix.updated
        return lambda j: (upd[j], j)

    def remove(self, i: int, *, channel: bool, updated: bool) -> None:
        """Take ``i`` out of the views its channel/date_modified change moves it in
        (called before the columns change)."""
        c = self.ix.channel[i]
        if channel:
            _drop(self.by_pos.get(c), i, lambda arr: bisect_left(arr, i))
            if self.by_v2c is not None:
                ck = self.ckey()
                _drop(self.by_v2c.get(c), i, lambda arr: bisect_left(arr, ck(i), key=ck))
        if channel or updated:
            uk = self.ukey()
            _drop(self.by_upd.get(c), i, lambda arr: bisect_left(arr, uk(i), key=uk))

    def add(self, i: int, *, channel: bool = True, updated: bool = True) -> None:
        """Put ``i`` back (called after the columns changed)."""
        c = self.ix.channel[i]
        if channel:
            arr = self.by_pos.setdefault(c, array("q"))
            if not arr or arr[-1] < i:
                arr.append(i)
            else:
                arr.insert(bisect_left(arr, i), i)
            if self.by_v2c is not None:
                ck = self.ckey()
                arr = self.by_v2c.setdefault(c, array("q"))
                arr.insert(bisect_left(arr, ck(i), key=ck), i)
        if channel or updated:
            uk = self.ukey()
            arr = self.by_upd.setdefault(c, array("q"))
            arr.insert(bisect_left(arr, uk(i), key=uk), i)

    def append(self, i: int) -> None:
        """Add a new order."""
        self.add(i)
        if self.all_v2c is not None:
            ck = self.ckey()
            self.all_v2c.insert(bisect_left(self.all_v2c, ck(i), key=ck), i)


def _drop(arr: array[int] | None, i: int, locate: Callable[[array[int]], int]) -> None:
    if arr is None:
        return
    pos = locate(arr)
    if pos < len(arr) and arr[pos] == i:
        del arr[pos]


def _slice(
    arr: array[int],
    lo: int,
    hi: int,
    offset: int,
    limit: int,
    descending: bool,
    key: Callable[[int], int],
) -> list[int]:
    """One page of ``arr[lo:hi]`` (sorted by (key, id)); descending keeps ties id-ascending."""
    if not descending:
        return arr[lo + offset : min(hi, lo + offset + limit)].tolist()
    out: list[int] = []
    d = offset
    n = hi - lo
    while len(out) < limit and d < n:
        pos = hi - 1 - d  # lies in the same tie group as descending position d
        k = key(arr[pos])
        lo_same = pos > lo and key(arr[pos - 1]) == k
        hi_same = pos + 1 < hi and key(arr[pos + 1]) == k
        g_lo = bisect_left(arr, k, lo, pos, key=key) if lo_same else pos
        g_hi = bisect_right(arr, k, pos + 1, hi, key=key) if hi_same else pos + 1
        j = g_lo + d - (hi - g_hi)
        take = min(limit - len(out), g_hi - j)
        out.extend(arr[j : j + take])
        d += take
    return out


def _iter_view(view: View) -> Iterator[int]:
    arr, lo, hi = view
    for k in range(lo, hi):
        yield arr[k]


def _asc_stream(views: list[View], key: Callable[[int], int]) -> Iterator[int]:
    return heapq.merge(*(_iter_view(v) for v in views), key=lambda j: (key(j), j))


def _groups_desc(view: View, key: Callable[[int], int]) -> Iterator[tuple[int, list[int]]]:
    arr, lo, hi = view
    pos = hi
    while pos > lo:
        k = key(arr[pos - 1])
        if pos - 2 < lo or key(arr[pos - 2]) != k:
            start = pos - 1
        else:
            start = bisect_left(arr, k, lo, pos - 1, key=key)
        yield k, arr[start:pos].tolist()
        pos = start


def _desc_stream(views: list[View], key: Callable[[int], int]) -> Iterator[int]:
    gens = [_groups_desc(v, key) for v in views]
    heads = [next(g, None) for g in gens]
    while True:
        live = [h[0] for h in heads if h is not None]
        if not live:
            return
        best = max(live)
        items: list[int] = []
        for n, h in enumerate(heads):
            if h is not None and h[0] == best:
                items.extend(h[1])
                heads[n] = next(gens[n], None)
        items.sort()
        yield from items
