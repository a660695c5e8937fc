"""Argument checks: every refusal is an InvalidArgumentError naming the argument, and the
client methods make them before any request is sent."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from aioresponses import aioresponses

from bcb2b_async import B2BClient, ExtraField, InvalidArgumentError
from bcb2b_async._validate import (
    MAX_CONCURRENCY,
    MAX_ID,
    batch_ids,
    boolean,
    channel_ids,
    check_keys,
    choice,
    concurrency,
    did_you_mean,
    extra_fields,
    int_range,
    invalid_items,
    mapping,
    non_empty_string,
    optional_positive_id,
    po_number,
    positive_id,
    priority,
    sequence,
    string,
    unique,
    unix_seconds,
)
from bcb2b_async.models.v2_orders import OrderStatus
from bcb2b_async.resources.b2b_orders import OrderQuery, build_update_body


def raises(name: str) -> Any:
    """``pytest.raises(InvalidArgumentError)`` whose message must name ``name``."""
    return pytest.raises(InvalidArgumentError, match=re.escape(name))


# -- ids -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1, 123, MAX_ID])
def test_positive_id_accepts(value: int) -> None:
    assert positive_id("bc_order_id", value) == value


@pytest.mark.parametrize("value", [0, -1, MAX_ID + 1, True, False, 1.0, 1.5, math.nan, "1",
                                   b"1", None, [1]])
def test_positive_id_refuses(value: Any) -> None:
    with raises("bc_order_id"):
        positive_id("bc_order_id", value)


def test_positive_id_returns_a_plain_int() -> None:
    """An IntEnum is an int subclass: accepted, and handed on as a plain int."""
    result = positive_id("status", OrderStatus.PENDING)
    assert result == 1 and type(result) is int


@pytest.mark.parametrize("value", ["12345", Decimal(3), 1.0])
def test_positive_id_message_shows_the_value(value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        positive_id("order_id", value)
    assert f"got {type(value).__name__} {value!r}" in str(info.value)


def test_optional_positive_id() -> None:
    assert optional_positive_id("company_id", None) is None
    assert optional_positive_id("company_id", 7) == 7
    with raises("company_id"):
        optional_positive_id("company_id", 0)


# -- timestamps ------------------------------------------------------------------------------
def test_unix_seconds_accepts() -> None:
    assert unix_seconds("min_created", None) is None
    assert unix_seconds("min_created", 0) == 0
    assert unix_seconds("min_created", 1744735719) == 1744735719
    assert unix_seconds("min_created", datetime(2025, 1, 1, tzinfo=UTC)) == 1735689600
    plus2 = timezone(timedelta(hours=2))
    assert unix_seconds("min_created", datetime(2025, 1, 1, 2, tzinfo=plus2)) == 1735689600
    # Fractions are floored (never rounded up past the instant given).
    assert unix_seconds("min_created",
                        datetime(2025, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC)) == 1735689600
    assert unix_seconds("min_created", datetime(1970, 1, 1, tzinfo=UTC)) == 0


@pytest.mark.parametrize(
    "value",
    [datetime(2025, 1, 1), -1, 2**41, 1.5, "1744735719", True,
     datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)],
)
def test_unix_seconds_refuses(value: Any) -> None:
    with raises("max_modified"):
        unix_seconds("max_modified", value)


def test_naive_datetime_message_says_why() -> None:
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        unix_seconds("min_created", datetime(2025, 1, 1))


# -- choices and ranges ----------------------------------------------------------------------
def test_choice() -> None:
    assert choice("sort_by", "createdAt", ("createdAt", "updatedAt")) == "createdAt"
    for bad in ("createdat", "", None, 1):
        with raises("sort_by"):
            choice("sort_by", bad, ("createdAt", "updatedAt"))


def test_int_range() -> None:
    assert int_range("page_size", 1, 1, 200) == 1
    assert int_range("page_size", 200, 1, 200) == 200
    assert int_range("max_body_bytes", 10**9, 1024) == 10**9
    for bad in (0, 201, True, 2.0, "5", None):
        with raises("page_size"):
            int_range("page_size", bad, 1, 200)


def test_priority() -> None:
    assert priority("interactive") == "interactive" and priority("bulk") == "bulk"
    for bad in ("urgent", None, 1):
        with raises("priority"):
            priority(bad)


# -- channel ids -----------------------------------------------------------------------------
def gen() -> Iterator[int]:
    yield from (3, 1)


def test_channel_ids_accepts() -> None:
    assert channel_ids(None) is None
    assert channel_ids([1, 2]) == [1, 2]
    assert channel_ids((2, 1, 2)) == [2, 1]  # duplicates dropped, order kept
    assert channel_ids(gen()) == [3, 1]


@pytest.mark.parametrize("value", [[], (), "1", b"1", 1, [0], [-1], [True], [1.0], ["1"]])
def test_channel_ids_refuses(value: Any) -> None:
    with raises("channel_ids"):
        channel_ids(value)


# -- PO number and extra fields --------------------------------------------------------------
def test_po_number() -> None:
    assert po_number(None) is None and po_number("") == "" and po_number("PO-1") == "PO-1"
    for bad in (1, b"PO", ["PO"]):
        with raises("po_number"):
            po_number(bad)


def test_extra_fields_accepts() -> None:
    assert extra_fields(None) is None
    assert extra_fields([]) == []
    assert extra_fields([
        ExtraField("A", "1"),
        ExtraField("B", 2),
        {"fieldName": "C", "fieldValue": 2.5},
        {"field_name": "D", "field_value": "x"},
    ]) == [
        {"fieldName": "A", "fieldValue": "1"}, {"fieldName": "B", "fieldValue": "2"},
        {"fieldName": "C", "fieldValue": "2.5"}, {"fieldName": "D", "fieldValue": "x"},
    ]
    assert extra_fields(f for f in [ExtraField("A", "")]) == [
        {"fieldName": "A", "fieldValue": ""}]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("A=1", "extra_fields"),
        (b"A=1", "extra_fields"),
        ({"fieldName": "A", "fieldValue": "1"}, "extra_fields"),
        (5, "extra_fields"),
        ([1], "extra_fields[0]"),
        ([("A", "1")], "extra_fields[0]"),
        ([ExtraField("A", "1"), "B"], "extra_fields[1]"),
        ([{"fieldValue": "1"}], "extra_fields[0].fieldName"),
        ([{"fieldName": "", "fieldValue": "1"}], "extra_fields[0].fieldName"),
        ([{"fieldName": 5, "fieldValue": "1"}], "extra_fields[0].fieldName"),
        ([{"fieldName": "A"}], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": None}], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": True}], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": ["1"]}], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": {"v": 1}}], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": math.inf}], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": math.nan}], "extra_fields[0].fieldValue"),
        ([ExtraField("A", None)], "extra_fields[0].fieldValue"),
        ([{"fieldName": "A", "fieldValue": "1", "extra": 1}], "extra_fields[0]"),
        ([{"name": "A", "value": "1"}], "extra_fields[0]"),
        ([ExtraField("A", "1"), {"fieldName": "A", "fieldValue": "2"}], "extra_fields"),
    ],
)
def test_extra_fields_refuses(value: Any, name: str) -> None:
    with raises(name):
        extra_fields(value)


def test_unknown_keys_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="'oops'"):
        extra_fields([{"fieldName": "A", "fieldValue": "1", "oops": 1}])


# -- update body -----------------------------------------------------------------------------
def test_update_needs_po_number_or_extra_fields() -> None:
    with pytest.raises(InvalidArgumentError, match="po_number or extra_fields"):
        build_update_body(1, None, None)


def test_update_body() -> None:
    assert build_update_body(1, "PO", None) == (1, {"poNumber": "PO"})
    assert build_update_body(2, None, [ExtraField("A", 1)]) == (
        2, {"extraFields": [{"fieldName": "A", "fieldValue": "1"}]})
    assert build_update_body(3, "PO", [ExtraField("A", "x")]) == (
        3, {"poNumber": "PO", "extraFields": [{"fieldName": "A", "fieldValue": "x"}]})


def test_update_checks_the_id_first() -> None:
    with raises("bc_order_id"):
        build_update_body(True, None, None)


# -- the orders list query -------------------------------------------------------------------
def test_order_query_defaults() -> None:
    q = OrderQuery.build()
    assert q.page_size == 200
    assert q.params == [("sortBy", "updatedAt"), ("orderBy", "DESC")]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"page_size": 0}, "page_size"), ({"page_size": 201}, "page_size"),
        ({"sort_by": "id"}, "sort_by"), ({"order_by": "desc"}, "order_by"),
        ({"channel_ids": []}, "channel_ids"),
        ({"min_created": datetime(2025, 1, 1)}, "min_created"),
        ({"max_created": datetime(2025, 1, 1)}, "max_created"),
        ({"min_modified": datetime(2025, 1, 1)}, "min_modified"),
        ({"max_modified": datetime(2025, 1, 1)}, "max_modified"),
        ({"min_created": 2, "max_created": 1}, "min_created must not be after max_created"),
        ({"min_modified": 2, "max_modified": 1},
         "min_modified must not be after max_modified"),
        ({"company_id": 0}, "company_id"), ({"bc_order_id": -3}, "bc_order_id"),
        ({"show_extra": None}, "show_extra"),
    ],
)
def test_order_query_refuses(kwargs: dict[str, Any], name: str) -> None:
    with raises(name):
        OrderQuery.build(**kwargs)


def test_order_query_equal_bounds_allowed() -> None:
    q = OrderQuery.build(min_created=5, max_created=5)
    assert ("minCreated", "5") in q.params and ("maxCreated", "5") in q.params


# -- the client refuses before sending -------------------------------------------------------
async def test_update_without_fields_sends_nothing(client: B2BClient) -> None:
    with aioresponses() as m:
        with pytest.raises(InvalidArgumentError, match="po_number or extra_fields"):
            await client.orders.update(123)
        with pytest.raises(InvalidArgumentError, match="po_number or extra_fields"):
            await client.orders.update(123, po_number=None, extra_fields=None)
        assert m.requests == {}


@pytest.mark.parametrize("value", [None, 0, -9, True, 9.0, "9"])
async def test_bc_group_id_refused_before_sending(client: B2BClient, value: Any) -> None:
    with aioresponses() as m:
        with raises("bc_group_id"):
            await client.orders.reassign_customer_orders(321, bc_group_id=value)
        assert m.requests == {}


@pytest.mark.parametrize(
    "kwargs",
    [{"page_size": 0}, {"page_size": 201}, {"sort_by": "created"}, {"order_by": "asc"},
     {"concurrency": 0}, {"channel_ids": []}, {"min_created": datetime(2025, 1, 1)}],
)
async def test_list_refused_when_called(client: B2BClient, kwargs: dict[str, Any]) -> None:
    with aioresponses() as m:
        with raises(next(iter(kwargs))):
            client.orders.list(**kwargs)  # a plain call: refused before any iteration
        assert m.requests == {}


@pytest.mark.parametrize("kwargs", [{"store_hash": ""}, {"store_hash": "a/b"},
                                    {"access_token": ""}, {"access_token": "a\r\nb"},
                                    {"max_retries": -1}, {"timeout": 0},
                                    {"b2b_rate_limit": 5}, {"session": "s"}])
def test_client_config_refused(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"store_hash": "abc123", "access_token": "tok-SECRET-1234", **kwargs}
    with pytest.raises(InvalidArgumentError) as info:
        B2BClient(args.pop("store_hash"), args.pop("access_token"), **args)
    assert "tok-SECRET-1234" not in str(info.value)
    name = next(iter(kwargs))
    assert name in str(info.value)


# -- the generic checks every resource shares (issue 15) --------------------------------------
def test_concurrency_is_one_range_everywhere() -> None:
    """1..64 for batches, lists and exports alike (batches used to allow 256)."""
    assert MAX_CONCURRENCY == 64
    assert concurrency(1) == 1 and concurrency(64) == 64
    for bad in (0, 65, 256, -1, True, 4.0, "8", None):
        with raises("concurrency"):
            concurrency(bad)


def test_strings_booleans_mappings_sequences() -> None:
    assert string("note", "x" * 5, 5) == "xxxxx"
    with raises("note is 6 characters long, the limit is 5"):
        string("note", "x" * 6, 5)
    with raises("note must be a string, got int"):
        string("note", 5)
    assert non_empty_string("name", " a ") == " a "
    for blank in ("", "   ", "\t"):
        with raises("name must not be empty"):
            non_empty_string("name", blank)
    assert boolean("flag", False) is False
    for bad in (0, 1, "true", None):
        with raises("flag must be true or false"):
            boolean("flag", bad)
    assert mapping("m", {"a": 1}) == {"a": 1}
    with raises("m must be a mapping"):
        mapping("m", [("a", 1)])
    assert sequence("s", (1, 2)) == (1, 2)
    for bad in ("ab", b"ab", {"a": 1}, {1, 2}, None):
        with raises("s must be a list"):
            sequence("s", bad)


def test_did_you_mean_and_check_keys() -> None:
    assert did_you_mean("stauts_id", ["status_id", "staff_notes"]) == (
        " (did you mean 'status_id'?)")
    assert did_you_mean("zzz", ["status_id"]) == ""
    assert did_you_mean(5, ["status_id"]) == ""
    check_keys("x.", {"a": 1}, ["a", "b"])
    with raises("unknown field x.'c'"):
        check_keys("x.", {"a": 1, "c": 2}, ["a", "b"])
    with raises("(did you mean 'quantity'?)"):
        check_keys("", {"quantty": 1}, ["quantity"])
    with raises("unknown field '1'"):
        check_keys("", {1: 1}, ["quantity"])


def test_unique() -> None:
    seen: set[int] = set()
    assert unique(seen, "items[0].id", 3) == 3
    assert unique(seen, "items[1].id", 4) == 4
    with raises("items[2].id 3 is given twice; add them"):
        unique(seen, "items[2].id", 3, hint="; add them")


def test_batch_ids_report_every_bad_and_repeated_id() -> None:
    assert batch_ids("ids", iter([3, 1, 2])) == [3, 1, 2]
    with pytest.raises(InvalidArgumentError) as info:
        batch_ids("ids", [1, 0, "2", 1, 5])
    message = str(info.value)
    assert message.startswith("ids: 3 invalid item(s)")
    assert "0: " in message and "'2': " in message and "1: duplicate id" in message
    for bad in ("123", b"1", {1: 2}, 5, None):
        with raises("ids must be an iterable"):
            batch_ids("ids", bad)
    # A custom check replaces the positive-id one.
    assert batch_ids("codes", ["a", "b"], lambda v: string("code", v)) == ["a", "b"]


def test_invalid_items_spells_out_20_and_counts_the_rest() -> None:
    err = invalid_items("updates", [f"{i}: bad" for i in range(25)])
    assert isinstance(err, InvalidArgumentError)
    text = str(err)
    assert text.startswith("updates: 25 invalid item(s): 0: bad; 1: bad")
    assert "19: bad" in text and "20: bad" not in text and text.endswith("(+5 more)")
