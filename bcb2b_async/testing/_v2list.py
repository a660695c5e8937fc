"""The V2 ``GET /orders`` and ``/orders/count`` query engine of the sandbox store.

A query is first narrowed by bisecting a sorted view (see :class:`._index.V2Views`):
positions for id order (and for date_created order when the store keeps no lag, since
positions are then in date_created order), (date_modified, id) for ``date_modified``,
(V2 date_created, id) with a lag, per channel when ``channel_id`` is given. A query with
no other constraint and a matching sort is paged straight from that range: no scan,
whatever the store size. Anything else (status, customer, email, ... or another sort) is
built once into a result list cached until the store next changes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ._store import SandboxStore

V2Sort = Literal[
    "id", "customer_id", "date_created", "date_modified", "status_id", "channel_id", "external_id"
]
V2_SORTS: tuple[V2Sort, ...] = (
    "id",
    "customer_id",
    "date_created",
    "date_modified",
    "status_id",
    "channel_id",
    "external_id",
)
_EMPTY: array[int] = array("q")


@dataclass(frozen=True, slots=True)
class V2Query:
    """A canonical V2 list filter; every bound inclusive, ids as store positions."""

    pos_lo: int | None = None
    pos_hi: int | None = None
    c_lo: int | None = None  # V2 date_created
    c_hi: int | None = None
    u_lo: int | None = None  # date_modified
    u_hi: int | None = None
    channel: int | None = None
    status: int | None = None
    customer: int | None = None
    email: str | None = None  # casefolded
    cart_id: str | None = None
    payment_method: str | None = None
    total_lo: int | None = None  # units
    total_hi: int | None = None
    external_order_id: str | None = None
    sort: V2Sort = "id"


@dataclass(frozen=True, slots=True)
class _Plan:
    seq: Sequence[int]
    lo: int
    hi: int
    handled: frozenset[str]
    order: Literal["pos", "v2c", "upd"]


class V2Engine:
    """Answers V2 list and count queries over every order of a store."""

    def __init__(self, store: SandboxStore, *, max_cached: int = 8) -> None:
        self.store = store
        self.max_cached = max_cached
        self._cache: OrderedDict[V2Query, tuple[int, list[int]]] = OrderedDict()
        self.builds = 0

    # -- planning ---------------------------------------------------------------------

    def _plan(self, q: V2Query) -> _Plan:
        ix = self.store._index
        n = len(ix)
        a = 0 if q.pos_lo is None else max(0, q.pos_lo)
        b = n if q.pos_hi is None else min(n, q.pos_hi + 1)
        b = max(a, b)
        lagged = ix.lag is not None
        ch = q.channel
        if q.sort == "date_modified":
            upd = ix.updated.__getitem__
            seq: Sequence[int] = ix.perm if ch is None else ix.v2_views().by_upd.get(ch, _EMPTY)
            lo = 0 if q.u_lo is None else bisect_left(seq, q.u_lo, key=upd)
            hi = len(seq) if q.u_hi is None else bisect_right(seq, q.u_hi, key=upd)
            return _Plan(seq, lo, max(lo, hi), frozenset({"updated", "channel"}), "upd")
        if q.sort == "date_created" and lagged:
            views = ix.v2_views()
            every = views.all_v2c
            per = views.by_v2c
            assert every is not None and per is not None
            seq = every if ch is None else per.get(ch, _EMPTY)
            v2c = ix.v2_created
            lo = 0 if q.c_lo is None else bisect_left(seq, q.c_lo, key=v2c)
            hi = len(seq) if q.c_hi is None else bisect_right(seq, q.c_hi, key=v2c)
            return _Plan(seq, lo, max(lo, hi), frozenset({"created", "channel"}), "v2c")
        handled = {"id", "channel"}
        if not lagged:
            # positions are in date_created order: a date range is a position range
            if q.c_lo is not None:
                a = max(a, bisect_left(ix.created, q.c_lo))
            if q.c_hi is not None:
                b = min(b, bisect_right(ix.created, q.c_hi))
            b = max(a, b)
            handled.add("created")
        if ch is None:
            return _Plan(range(n), a, b, frozenset(handled), "pos")
        arr = ix.v2_views().by_pos.get(ch, _EMPTY)
        lo, hi = bisect_left(arr, a), bisect_left(arr, b)
        return _Plan(arr, lo, hi, frozenset(handled), "pos")

    def _predicate(self, q: V2Query, handled: frozenset[str]) -> Callable[[int], bool] | None:
        store = self.store
        ix = store._index
        seeded = store._seeded
        orders = store._orders
        checks: list[Callable[[int], bool]] = []
        if "id" not in handled and (q.pos_lo is not None or q.pos_hi is not None):
            lo = -1 if q.pos_lo is None else q.pos_lo
            hi = 1 << 62 if q.pos_hi is None else q.pos_hi
            checks.append(lambda i: lo <= i <= hi)
        if "created" not in handled and (q.c_lo is not None or q.c_hi is not None):
            c_lo = -(1 << 62) if q.c_lo is None else q.c_lo
            c_hi = 1 << 62 if q.c_hi is None else q.c_hi
            v2c = ix.v2_created
            checks.append(lambda i: c_lo <= v2c(i) <= c_hi)
        if "updated" not in handled and (q.u_lo is not None or q.u_hi is not None):
            u_lo = -(1 << 62) if q.u_lo is None else q.u_lo
            u_hi = 1 << 62 if q.u_hi is None else q.u_hi
            upd = ix.updated
            checks.append(lambda i: u_lo <= upd[i] <= u_hi)
        if "channel" not in handled and q.channel is not None:
            chan, channels = q.channel, ix.channel
            checks.append(lambda i: channels[i] == chan)
        if q.status is not None:
            st, status = q.status, ix.status
            checks.append(lambda i: status[i] == st)
        if q.customer is not None:
            cu, customer = q.customer, ix.customer
            checks.append(lambda i: customer[i] == cu)
        if q.cart_id is not None:
            cart = q.cart_id
            checks.append(lambda i: seeded.cart_id(i, orders.get(i)) == cart)
        if q.payment_method is not None:
            pm = q.payment_method
            checks.append(lambda i: seeded.payment_method(i, orders.get(i)) == pm)
        if q.email is not None:
            email = q.email
            checks.append(lambda i: seeded.billing_email(i, orders.get(i)).casefold() == email)
        if q.external_order_id is not None:
            ext = q.external_order_id

            def has_external(i: int) -> bool:
                order = orders.get(i)
                return order is not None and order.v2.get("external_order_id") == ext

            checks.append(has_external)
        if q.total_lo is not None or q.total_hi is not None:
            t_lo = -(1 << 62) if q.total_lo is None else q.total_lo
            t_hi = 1 << 62 if q.total_hi is None else q.total_hi
            checks.append(lambda i: t_lo <= seeded.total_inc(i, orders.get(i)) <= t_hi)
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        return lambda i: all(check(i) for check in checks)

    def _sort_key(self, q: V2Query, order: str) -> Callable[[int], tuple[int, int]] | None:
        """The (key, position) to sort a result by, or None when ``order`` already is."""
        ix = self.store._index
        sort = q.sort
        if sort in ("id", "external_id"):  # external_id is never set in the store
            return None if order == "pos" else (lambda i: (0, i))
        if sort == "date_created":
            if order == "v2c" or (order == "pos" and ix.lag is None):
                return None
            v2c = ix.v2_created
            return lambda i: (v2c(i), i)
        if sort == "date_modified":
            if order == "upd":
                return None
            upd = ix.updated
            return lambda i: (upd[i], i)
        column = {"customer_id": ix.customer, "status_id": ix.status, "channel_id": ix.channel}[
            sort
        ]
        return lambda i: (column[i], i)

    def resolve(self, q: V2Query) -> tuple[Sequence[int], int, int]:
        """The sorted sequence and [lo, hi) range holding the query's result."""
        plan = self._plan(q)
        pred = self._predicate(q, plan.handled)
        key = self._sort_key(q, plan.order)
        if pred is None and key is None:
            return plan.seq, plan.lo, plan.hi
        version = self.store._index.version
        hit = self._cache.get(q)
        if hit is not None and hit[0] == version:
            self._cache.move_to_end(q)
            return hit[1], 0, len(hit[1])
        window = plan.seq[plan.lo : plan.hi]
        ids = list(window) if pred is None else [i for i in window if pred(i)]
        if key is not None:
            ids.sort(key=key)
        self.builds += 1
        self._cache[q] = (version, ids)
        self._cache.move_to_end(q)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return ids, 0, len(ids)

    # -- answers ----------------------------------------------------------------------

    def page(self, q: V2Query, page: int, limit: int, descending: bool) -> tuple[int, list[int]]:
        """(total, positions of page ``page``); a descending sort reverses the whole
        ascending result, so ties come id-descending."""
        seq, lo, hi = self.resolve(q)
        total = hi - lo
        offset = (page - 1) * limit
        if offset >= total:
            return total, []
        if not descending:
            return total, list(seq[lo + offset : min(hi, lo + offset + limit)])
        stop = hi - offset
        start = max(lo, stop - limit)
        return total, list(reversed(seq[start:stop]))

    def status_counts(self, q: V2Query) -> tuple[int, Counter[int]]:
        """(total, orders per status_id) of the query's result."""
        seq, lo, hi = self.resolve(q)
        status = self.store._index.status
        if isinstance(seq, range):
            r = seq[lo:hi]
            return hi - lo, Counter(status[r.start : r.stop])
        return hi - lo, Counter(map(status.__getitem__, seq[lo:hi]))
