"""Types shared by every API area: a page of results and the B2B response envelope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Generic, TypeVar

import msgspec

__all__ = ["Page", "unix_to_datetime"]

T = TypeVar("T")


def unix_to_datetime(value: int | float | None) -> datetime | None:
    """Convert Unix seconds to an aware UTC ``datetime`` (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class Page(msgspec.Struct, Generic[T], frozen=True):
    """One page of a paginated list.

    ``items`` in server order; ``total`` is the server's total count (``None`` for V2
    lists, which do not report one); ``offset`` is the index of the first item in the whole
    result and ``limit`` the page size asked for.
    """

    items: list[T]
    total: int | None
    offset: int
    limit: int

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)


class Pagination(msgspec.Struct, rename="camel", gc=False):
    """``meta.pagination`` of a B2B list response."""

    total_count: int | None = None
    limit: int | None = None
    offset: int | None = None


class Meta(msgspec.Struct, rename="camel", gc=False):
    """``meta`` of a B2B response: ``message`` and pagination (nested or flat)."""

    message: str | None = None
    pagination: Pagination | None = None
    total_count: int | None = None
    limit: int | None = None
    offset: int | None = None

    @property
    def total(self) -> int | None:
        """``totalCount`` from ``meta.pagination``, or flat in ``meta`` (both are documented)."""
        if self.pagination is not None and self.pagination.total_count is not None:
            return self.pagination.total_count
        return self.total_count


class Envelope(msgspec.Struct, Generic[T]):
    """The B2B envelope ``{code, data, meta, message}``."""

    data: T
    code: int | None = None
    meta: Meta | None = None
    message: str | None = None
