"""The one home of generic argument checks: ids, int ranges, strings, booleans, mappings
and lists, "did you mean" hints, unique ids, batch ids, concurrency, priorities, Unix
timestamps, plus the B2B Edition body fields (PO number, extra fields).

Every failure is an :class:`~bcb2b_async.errors.InvalidArgumentError` whose message names
the argument, raised before anything is sent. API-specific rules (the V2 spec tables and
body builders) live next to their API (``_v2_validate.py``) and call these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ._config import PRIORITIES, Priority
from .errors import InvalidArgumentError
from .models.b2b_orders import ExtraField

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_ID",
    "batch_ids",
    "boolean",
    "channel_ids",
    "check_keys",
    "choice",
    "concurrency",
    "did_you_mean",
    "extra_fields",
    "int_range",
    "invalid_items",
    "is_int",
    "mapping",
    "non_empty_string",
    "optional_positive_id",
    "po_number",
    "positive_id",
    "priority",
    "sequence",
    "string",
    "type_name",
    "unique",
    "unix_seconds",
]

K = TypeVar("K")

MAX_ID = 2**63 - 1
#: Most calls in flight in one batch, list or export (``concurrency=``), everywhere.
MAX_CONCURRENCY = 64
#: Items of a batch spelled out in its InvalidArgumentError (the rest are counted).
MAX_LISTED_PROBLEMS = 20


def type_name(value: object) -> str:
    """The type's name, for messages."""
    return type(value).__name__


def is_int(value: object) -> bool:
    """A real int: bools (an int subclass to Python) are not."""
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: object) -> str:
    return f"{type_name(value)} {value!r:.80}"


def positive_id(name: str, value: object) -> int:
    """An id must be an int in 1..2**63-1 (bools, floats and numeric strings are refused:
    ids come from decoded responses, where they already are ints). An int subclass (an
    IntEnum) comes back as a plain int."""
    if not is_int(value):
        raise InvalidArgumentError(f"{name} must be a positive int, got {_shown(value)}")
    assert isinstance(value, int)
    if value <= 0 or value > MAX_ID:
        raise InvalidArgumentError(f"{name} must be a positive int, got {value}")
    return int(value)


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
    """An int in ``[low, high]`` (``high`` None: no upper bound); bools are refused and an
    int subclass comes back as a plain int."""
    bound = f"{low}..{high}" if high is not None else f">= {low}"
    if not is_int(value):
        raise InvalidArgumentError(f"{name} must be an int {bound}, got {_shown(value)}")
    assert isinstance(value, int)
    if value < low or (high is not None and value > high):
        raise InvalidArgumentError(f"{name} must be an int {bound}, got {value}")
    return int(value)


def concurrency(value: object) -> int:
    """``concurrency=`` of a batch, a list or an export: an int in 1..64."""
    return int_range("concurrency", value, 1, MAX_CONCURRENCY)


def string(name: str, value: object, max_len: int | None = None) -> str:
    """A str of at most ``max_len`` characters (``None``: no limit)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type_name(value)}")
    if max_len is not None and len(value) > max_len:
        raise InvalidArgumentError(
            f"{name} is {len(value)} characters long, the limit is {max_len}"
        )
    return value


def non_empty_string(name: str, value: object, max_len: int | None = None) -> str:
    """A str with something other than whitespace in it, at most ``max_len`` characters."""
    text = string(name, value, max_len)
    if not text.strip():
        raise InvalidArgumentError(f"{name} must not be empty")
    return text


def boolean(name: str, value: object) -> bool:
    """``True`` or ``False`` (not 0/1, not "true")."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be true or false, got {type_name(value)}")
    return value


def mapping(name: str, value: object) -> Mapping[object, object]:
    """A mapping (a dict)."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a mapping (dict), got {type_name(value)}")
    return value


def sequence(name: str, value: object) -> Sequence[object]:
    """A list or tuple (not a str, bytes or mapping)."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Sequence):
        raise InvalidArgumentError(f"{name} must be a list, got {type_name(value)}")
    return value


def did_you_mean(word: object, options: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the option closest to ``word``, or ``""``."""
    if not isinstance(word, str):
        return ""
    import difflib  # only a bad argument needs it

    close = difflib.get_close_matches(word, sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(prefix: str, data: Mapping[Any, object], allowed: Iterable[str]) -> None:
    """Every key of ``data`` must be in ``allowed``; the first that is not is reported as
    ``unknown field <prefix>'<key>'`` with a "did you mean" hint."""
    names = frozenset(allowed)
    for key in data:
        if not isinstance(key, str) or key not in names:
            shown = key if isinstance(key, str) else repr(key)
            raise InvalidArgumentError(
                f"unknown field {prefix}{shown!r}{did_you_mean(key, names)}"
            )


def unique(seen: set[K], name: str, value: K, *, hint: str = "") -> K:
    """``value``, recorded in ``seen``; a value seen before is refused as
    ``"<name> <value> is given twice"`` (plus ``hint``)."""
    if value in seen:
        raise InvalidArgumentError(f"{name} {value} is given twice{hint}")
    seen.add(value)
    return value


def invalid_items(name: str, problems: Sequence[str]) -> InvalidArgumentError:
    """One error for every bad item of a batch (the first 20 spelled out)."""
    shown = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    tail = f" (+{more} more)" if more > 0 else ""
    return InvalidArgumentError(f"{name}: {len(problems)} invalid item(s): {shown}{tail}")


def batch_ids(
    name: str, ids: object, validate: Callable[[object], object] | None = None
) -> list[int]:
    """The ids of a batch as a list, in input order: an iterable (not a str, bytes or
    mapping) of unique positive ints, or what ``validate`` accepts. Every bad or repeated
    id is reported, by id, in one InvalidArgumentError."""
    if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Iterable):
        raise InvalidArgumentError(f"{name} must be an iterable of positive ints")
    check = validate or (lambda v: positive_id("id", v))
    items = list(ids)
    problems: list[str] = []
    seen: set[object] = set()
    for raw in items:
        try:
            check(raw)
        except InvalidArgumentError as err:
            problems.append(f"{raw!r}: {err.message}")
            continue
        if raw in seen:
            problems.append(f"{raw!r}: duplicate id")
        seen.add(raw)
    if problems:
        raise invalid_items(name, problems)
    return items


def priority(value: object) -> Priority:
    """``"interactive"`` or ``"bulk"``."""
    if value not in PRIORITIES:
        raise InvalidArgumentError(f"priority must be 'interactive' or 'bulk', got {value!r}")
    return "interactive" if value == "interactive" else "bulk"


def optional_priority(value: object) -> Priority | None:
    """``None`` (the client's default) or a valid priority."""
    return None if value is None else priority(value)


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
