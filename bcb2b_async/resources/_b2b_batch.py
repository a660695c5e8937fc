"""Batch forms of the B2B order calls (mixed into ``client.orders``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._batch import (
    DEFAULT_CONCURRENCY,
    BatchResult,
    Progress,
    check_batch_ids,
    check_concurrency,
    invalid_items_error,
    run_batch,
    stream_batch,
)
from .._config import Priority
from .._validate import positive_id
from .._validate import priority as check_priority
from ..errors import BigCommerceError, InvalidArgumentError
from ..models.b2b_orders import Order, OrderProduct, OrderUpdate

__all__ = ["B2BOrdersBatch"]


def _ids(name: str, ids: object) -> list[int]:
    if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Iterable):
        raise InvalidArgumentError(f"{name} must be an iterable of positive ints")
    items = list(ids)
    check_batch_ids(name, items, lambda v: positive_id("bc_order_id", v))
    return items


def _update_kwargs(value: object) -> dict[str, Any]:
    if isinstance(value, OrderUpdate):
        return {"po_number": value.po_number, "extra_fields": value.extra_fields}
    if isinstance(value, Mapping):
        unknown = set(value) - {"po_number", "extra_fields"}
        if unknown:
            raise InvalidArgumentError(
                f"unknown update keys {sorted(map(str, unknown))}; expected po_number, "
                "extra_fields"
            )
        return {"po_number": value.get("po_number"), "extra_fields": value.get("extra_fields")}
    raise InvalidArgumentError(
        f"an update must be an OrderUpdate or a mapping, got {type(value).__name__}"
    )


class SeenIds:
    """The set of positive int ids seen so far, small for the usual runs of order ids.

    A plain ``set`` of a million ids takes tens of MB, which would defeat streaming.
    Ids are grouped in blocks of 4,096 consecutive values: a block holds one id as an
    int, a few as a set, and from 64 ids on a 512-byte bitmap. Consecutive ids cost
    about one bit each; scattered ids cost about what a set costs.
    """

    __slots__ = ("_blocks",)

    _SHIFT = 12
    _MASK = (1 << _SHIFT) - 1
    _SMALL = 64

    def __init__(self) -> None:
        self._blocks: dict[int, int | set[int] | bytearray] = {}

    def add(self, value: int) -> bool:
        """Record ``value``; return False if it had been recorded before."""
        key, low = value >> self._SHIFT, value & self._MASK
        block = self._blocks.get(key)
        if block is None:
            self._blocks[key] = low
            return True
        if isinstance(block, int):
            if block == low:
                return False
            self._blocks[key] = {block, low}
            return True
        if isinstance(block, set):
            if low in block:
                return False
            block.add(low)
            if len(block) >= self._SMALL:
                bits = bytearray((self._MASK + 1) >> 3)
                for v in block:
                    bits[v >> 3] |= 1 << (v & 7)
                self._blocks[key] = bits
            return True
        byte, bit = low >> 3, 1 << (low & 7)
        if block[byte] & bit:
            return False
        block[byte] |= bit
        return True

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return False
        block = self._blocks.get(value >> self._SHIFT)
        low = value & self._MASK
        if block is None:
            return False
        if isinstance(block, int):
            return block == low
        if isinstance(block, set):
            return low in block
        return bool(block[low >> 3] & (1 << (low & 7)))


class B2BOrdersBatch:
    """Batch calls: ``get_many``, ``products_many``, ``update_many``, ``iter_products``.

    Each item goes through the one request pipeline at ``bulk`` priority by default;
    at most ``concurrency`` are in flight. One failed item never stops the others
    (unless ``fail_fast=True``); results are per item in a :class:`BatchResult`.
    """

    if TYPE_CHECKING:  # provided by B2BOrders

        async def get(
            self, bc_order_id: int, *, priority: Priority | None = None, deadline: Any = None
        ) -> Order: ...

        async def products(
            self, bc_order_id: int, *, priority: Priority | None = None, deadline: Any = None
        ) -> list[OrderProduct]: ...

        async def update(
            self,
            bc_order_id: int,
            *,
            po_number: str | None = None,
            extra_fields: Any = None,
            priority: Priority | None = None,
            deadline: Any = None,
        ) -> Order: ...

    async def get_many(
        self,
        bc_order_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
    ) -> BatchResult[Order]:
        """``get()`` for many orders: ``BatchResult[Order]`` keyed by bc_order_id."""
        ids = _ids("bc_order_ids", bc_order_ids)
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        return await run_batch(
            ids, lambda oid: self.get(oid, priority=prio), concurrency=conc,
            fail_fast=fail_fast, progress=progress,
        )

    async def products_many(
        self,
        bc_order_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
    ) -> BatchResult[list[OrderProduct]]:
        """``products()`` for many orders."""
        ids = _ids("bc_order_ids", bc_order_ids)
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        return await run_batch(
            ids, lambda oid: self.products(oid, priority=prio), concurrency=conc,
            fail_fast=fail_fast, progress=progress,
        )

    async def update_many(
        self,
        updates: Mapping[int, OrderUpdate | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
        progress: Progress | None = None,
        priority: Priority = "bulk",
    ) -> BatchResult[Order]:
        """``update()`` for many orders: ``{bc_order_id: OrderUpdate | {"po_number": ...,
        "extra_fields": [...]}}``. Every body is validated before any request; all
        problems are reported by id in one :class:`InvalidArgumentError`."""
        from .b2b_orders import build_update_body

        if not isinstance(updates, Mapping):
            raise InvalidArgumentError("updates must be a mapping of bc_order_id to update")
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        kwargs: dict[int, dict[str, Any]] = {}
        problems: list[str] = []
        for oid, upd in updates.items():
            try:
                positive_id("bc_order_id", oid)
                kw = _update_kwargs(upd)
                build_update_body(oid, kw["po_number"], kw["extra_fields"])
                kwargs[oid] = kw
            except InvalidArgumentError as err:
                problems.append(f"{oid!r}: {err.message}")
        if problems:
            raise invalid_items_error("updates", problems)
        return await run_batch(
            list(kwargs),
            lambda oid: self.update(oid, priority=prio, **kwargs[oid]),
            concurrency=conc, fail_fast=fail_fast, progress=progress,
        )

    async def iter_products(
        self,
        bc_order_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        priority: Priority = "bulk",
    ) -> AsyncIterator[tuple[int, list[OrderProduct] | BigCommerceError]]:
        """Stream ``(bc_order_id, products_or_error)`` as they complete.

        For id sets too large to hold: ``bc_order_ids`` is read lazily and memory stays
        bounded by ``concurrency``, plus a compact record of the ids seen (to report
        repeats; about one bit per id for runs of order ids). An invalid or repeated id
        yields an :class:`InvalidArgumentError` for that id instead of a request.
        """
        conc = check_concurrency(concurrency)
        prio = check_priority(priority)
        seen = SeenIds()

        async def one(oid: Any) -> list[OrderProduct]:
            positive_id("bc_order_id", oid)
            if not seen.add(oid):
                raise InvalidArgumentError(f"bc_order_id {oid} appears twice")
            return await self.products(oid, priority=prio)

        # Closed explicitly: closing this generator must stop the workers now, not
        # whenever the garbage collector finalizes the inner one.
        async with contextlib.aclosing(stream_batch(bc_order_ids, one, concurrency=conc)) as items:
            async for item in items:
                yield item
