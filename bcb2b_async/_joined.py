"""Joining B2B orders with the V2 orders list: lines and details at list speed.

``GET /v2/orders?include=consignments.line_items&consignment_structure=object`` returns up
to 250 full store orders a page, each with its consignments' line items. An export that
needs the lines of B2B orders walks, for each B2B created-at slice, the V2 list over the
same time span and joins by id (a B2B order's ``bcOrderId`` is its V2 ``id``), instead of
one ``/orders/{id}/products`` call per order.

What the join must survive (nothing here trusts a timestamp to be equal across the APIs):

- B2B ``createdAt`` is the time of the B2B record, which Create Order attaches up to 10 s
  after the store order; the V2 window of a slice therefore starts :data:`B2B_LAG` seconds
  earlier (plus :data:`SLACK` on both sides for second rounding and undocumented bound
  inclusivity). An order assigned to a company later has a much later B2B ``createdAt``:
  it is simply not found in the window and falls back to a per-order call.
- Embedded lines are not always complete (a consignment over 50 lines is cut, with a
  ``__warning__``; some orders come back with none): :attr:`V2Order.lines_complete`
  decides, and an order whose lines are not trusted falls back to a per-order call.
- Orders deleted or changed during the walk may shift V2 pages: anything not found is
  fetched per order, so the result stays exact.

Cost: the V2 walk of a span costs ``ceil(v2_orders / 250)`` requests against one request
per B2B order for the per-order path. On a store where B2B orders are a small share, the
V2 span can hold many consumer orders; :func:`plan_join` counts the V2 orders of the whole
export range once and each slice takes the cheaper path.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from ._config import Priority
from .models.v2_orders import V2Order
from .resources.v2_orders import V2OrderQuery, V2Orders

__all__ = ["B2B_LAG", "SLACK", "V2_PAGE", "JoinPlan", "plan_join", "v2_orders_for"]

#: Seconds a B2B ``createdAt`` may follow its store order's V2 ``date_created``.
B2B_LAG = 10
#: Seconds added on both sides of a V2 window (second rounding, bound inclusivity).
SLACK = 2
#: Orders per V2 list page (the API's maximum).
V2_PAGE = 250


def v2_window(lo: int, hi: int) -> tuple[int, int]:
    """The V2 ``date_created`` span holding the store orders of B2B orders created in
    ``[lo, hi]`` (unless assigned to a company long after their creation)."""
    return max(0, lo - B2B_LAG - SLACK), hi + SLACK


@dataclass(frozen=True, slots=True)
class JoinPlan:
    """How dense V2 orders are around B2B orders: ``v2_per_b2b`` V2 orders per B2B order
    over the export's range (``None``: unknown, assume the V2 walk pays)."""

    v2_per_b2b: float | None

    def v2_walk_pays(self, b2b_orders: int) -> bool:
        """Whether walking the V2 list for a slice of ``b2b_orders`` B2B orders costs fewer
        requests than one per-order call each (the per-order path is today's cost)."""
        if b2b_orders <= 1:
            return False
        if self.v2_per_b2b is None:
            return True
        pages = math.ceil((b2b_orders * self.v2_per_b2b + 1) / V2_PAGE)
        return pages < b2b_orders


async def plan_join(
    orders: V2Orders, lo: int, hi: int, b2b_total: int, *, priority: Priority | None
) -> JoinPlan:
    """Count the V2 orders of the export's span once (one request) and compare.

    Skipped (no request) when the export has at most one B2B order: then the per-order
    path is never more expensive.
    """
    if b2b_total <= 1:
        return JoinPlan(v2_per_b2b=math.inf)
    w_lo, w_hi = v2_window(lo, hi)
    query = V2OrderQuery.build(min_date_created=w_lo, max_date_created=w_hi)
    count = await orders.count_query(query, priority=priority)
    return JoinPlan(v2_per_b2b=count / b2b_total)


async def v2_orders_for(
    orders: V2Orders,
    ids: Collection[int],
    lo: int,
    hi: int,
    *,
    include_lines: bool,
    priority: Priority | None,
    max_pages: int = 100_000,
) -> dict[int, V2Order]:
    """The V2 orders among ``ids`` found in the V2 list over :func:`v2_window` of
    ``[lo, hi]``, with their lines embedded when ``include_lines``.

    Consumer orders and orders outside ``ids`` are dropped as pages arrive (memory: the
    slice's orders only). Walks ``sort=date_created:asc`` pages until a short or empty
    page. An id missing from the result is for the caller to fetch one by one.
    """
    w_lo, w_hi = v2_window(lo, hi)
    query = V2OrderQuery.build(
        min_date_created=w_lo, max_date_created=w_hi, sort="date_created:asc",
        include_lines=include_lines, page_size=V2_PAGE,
    )
    wanted = set(ids)
    found: dict[int, V2Order] = {}
    for number in range(1, max_pages + 1):
        page = await orders.page(query, page=number, priority=priority)
        for order in page:
            oid = order.id
            if oid is not None and oid in wanted:
                found[oid] = order
        if len(page) < V2_PAGE or len(found) == len(wanted):
            break
    return found
