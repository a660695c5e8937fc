"""Argument checks shared by the resources: every failure is an InvalidArgumentError that
names the argument, raised before anything is sent."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from ._config import PRIORITIES, Priority
from .errors import InvalidArgumentError
from .models.b2b_orders import ExtraField

MAX_ID = 2**63 - 1


def positive_id(name: str, value: object) -> int:
    """An id must be an int > 0 (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be a positive int, got {type(value).__name__}")
    if value <= 0 or value > MAX_ID:
        raise InvalidArgumentError(f"{name} must be a positive int, got {value}")
    return value


def optional_positive_id(name: str, value: object) -> int | None:
    """``None`` or a positive int."""
    return None if value is None else positive_id(name, value)


def unix_seconds(name: str, value: object) -> int | None:
    """Int Unix seconds or an aware datetime → int seconds; naive datetimes are refused."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgumentError(
                f"{name} must be timezone-aware (a naive datetime is ambiguous); "
                "use datetime(..., tzinfo=timezone.utc)"
            )
        # The same range as for ints: a date before 1970 is not Unix seconds the API takes.
        value = math.floor(value.timestamp())
    elif isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{name} must be int Unix seconds or an aware datetime, got {type(value).__name__}"
        )
    if value < 0 or value > 2**40:
        raise InvalidArgumentError(f"{name} is out of range: {value}")
    return value


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """``value`` must be one of ``allowed``."""
    options = tuple(allowed)
    if not isinstance(value, str) or value not in options:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return value


def int_range(name: str, value: object, low: int, high: int | None = None) -> int:
    """An int in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidArgumentError(f"{name} must be {bound}, got {value}")
    return value


def priority(value: object) -> Priority:
    """``"interactive"`` or ``"bulk"``."""
    if value not in PRIORITIES:
        raise InvalidArgumentError(f"priority must be 'interactive' or 'bulk', got {value!r}")
    return "interactive" if value == "interactive" else "bulk"


def channel_ids(value: object) -> list[int] | None:
    """``None`` or a non-empty list of positive channel ids (duplicates removed, order kept)."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidArgumentError("channel_ids must be a list of positive ints")
    ids = [positive_id("channel_ids[]", v) for v in value]
    if not ids:
        raise InvalidArgumentError(
            "channel_ids must not be empty (omit it for the API's default, channel 1)"
        )
    return list(dict.fromkeys(ids))


def po_number(value: object) -> str | None:
    """``None`` or a string PO number."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"po_number must be a str, got {type(value).__name__}")
    return value


def extra_fields(value: object) -> list[dict[str, Any]] | None:
    """``None`` or a list of ``ExtraField``/``{"fieldName", "fieldValue"}`` → wire dicts."""
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidArgumentError(
            "extra_fields must be a list of ExtraField or {'fieldName', 'fieldValue'} dicts"
        )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        if isinstance(item, ExtraField):
            name, val = item.field_name, item.field_value
        elif isinstance(item, Mapping):
            unknown = set(item) - {"fieldName", "fieldValue", "field_name", "field_value"}
            if unknown:
                raise InvalidArgumentError(
                    f"extra_fields[{i}] has unknown keys {sorted(map(str, unknown))}; "
                    "expected 'fieldName' and 'fieldValue'"
                )
            name = item.get("fieldName", item.get("field_name"))
            val = item.get("fieldValue", item.get("field_value"))
        else:
            raise InvalidArgumentError(
                f"extra_fields[{i}] must be an ExtraField or a dict, got {type(item).__name__}"
            )
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"extra_fields[{i}].fieldName must be a non-empty str")
        if isinstance(val, bool) or not isinstance(val, str | int | float):
            raise InvalidArgumentError(
                f"extra_fields[{i}].fieldValue must be a str (or number), "
                f"got {type(val).__name__}"
            )
        if isinstance(val, float) and not math.isfinite(val):
            raise InvalidArgumentError(f"extra_fields[{i}].fieldValue must be finite")
        if name in seen:
            raise InvalidArgumentError(f"extra_fields has {name!r} twice")
        seen.add(name)
        out.append({"fieldName": name, "fieldValue": str(val)})
    return out


def to_builtins(value: Any) -> Any:
    """Structs and other msgspec-encodable values → plain JSON values."""
    return msgspec.to_builtins(value)
