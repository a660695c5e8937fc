"""Incremental sync against the sandbox store: ids and versions are counted across runs.

The invariant under test (see :mod:`bcb2b_async.export`): a run covers ``updatedAt`` in
``(watermark, hi]`` with ``hi`` a settled second in the past; it delivers every order that
stays in that range while it runs, each id once; an order that leaves the range during the
run was changed after ``hi`` and is delivered by the next run; no version is delivered twice.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bcb2b_async.errors import InvalidArgumentError
from bcb2b_async.export import SyncState, sync_orders
from bcb2b_async.testing import SandboxStore

from .conftest import ClientFactory
from .scripted import Clock, ScriptedStore

ALL_CHANNELS = [1, 2, 3]
MARGIN = 1  # seconds: a run ends its range at now - MARGIN


async def run_sync(client: Any, state: SyncState, **kwargs: Any) -> list[tuple[int, int]]:
    """One run: (id, updatedAt) of every delivered order, in order."""
    kwargs.setdefault("margin", MARGIN)
    kwargs.setdefault("channel_ids", ALL_CHANNELS)
    return [(o.bc_order_id, int(o.updated_at or 0))
            async for o in sync_orders(client, state, **kwargs)]


async def settle() -> None:
    """Let the clock pass the margin, so the next run's range covers every change so far."""
    await asyncio.sleep(MARGIN + 0.1)


def no_duplicates(run: list[tuple[int, int]]) -> None:
    dupes = [i for i, n in Counter(i for i, _ in run).items() if n > 1]
    assert not dupes, f"delivered twice in one run: {dupes[:10]}"


def versions_once(*runs: list[tuple[int, int]]) -> None:
    """No (id, updatedAt) delivered twice, and a re-delivered id always comes newer."""
    last: dict[int, int] = {}
    for run in runs:
        for oid, t in run:
            assert oid not in last or t > last[oid], f"order {oid} re-delivered unchanged"
            last[oid] = t


def latest_versions_delivered(store: SandboxStore, *runs: list[tuple[int, int]]) -> None:
    newest: dict[int, int] = {}
    for run in runs:
        for oid, t in run:
            newest[oid] = max(t, newest.get(oid, 0))
    expected = store.order_ids(channel_ids=ALL_CHANNELS)
    missing = [o for o in expected if o not in newest]
    assert not missing, f"never delivered: {len(missing)} orders, e.g. {missing[:10]}"
    stale = [o for o in expected if newest[o] != store.updated_at(o)]
    assert not stale, f"latest version not delivered: {stale[:10]}"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("inclusive", [True, False])
async def test_a_read_order_leaving_a_crowded_second_loses_nothing(
    make_client: ClientFactory, inclusive: bool
) -> None:
    """The issue's reproduction: 450 orders share one updatedAt second; after 200 of them
    were read, one already-read order is updated. Two runs must deliver every order,
    whether the server's bounds include themselves or not."""
    clock = Clock()
    async with ScriptedStore(orders=1000, b2b_rate=None, v2_rate=None, now=clock,
                             bounds_inclusive=inclusive) as store:
        crowd_second = int(time.time()) - 30
        clock.fixed = float(crowd_second)
        crowd = store.order_ids(channel_ids=ALL_CHANNELS)[100:550]
        for oid in crowd:
            store.update_order(oid, po_number=f"BULK-{oid}")
        clock.fixed = None
        served: list[int] = []
        moved: list[int] = []

        def after(_n: int, _req: object, doc: dict[str, Any]) -> None:
            served.extend(o["bcOrderId"] for o in doc["data"] if o["updatedAt"] == crowd_second)
            if len(served) >= 200 and not moved:
                moved.append(served[0])
                store.update_order(served[0], po_number="CHANGED")

        store.after = after
        client = make_client(store)
        state = SyncState()
        first = await run_sync(client, state)
        assert moved
        no_duplicates(first)
        await settle()
        if not inclusive:
            await asyncio.sleep(1)  # an exclusive maximum ends the range one second earlier
        second = await run_sync(client, state)
        assert [i for i, _ in second] == moved
        versions_once(first, second)
        latest_versions_delivered(store, first, second)


@pytest.mark.timeout(30)
async def test_two_runs_under_live_updates_miss_nothing(make_client: ClientFactory) -> None:
    """25 updates and 3 creates after every list request during the first run."""
    async with ScriptedStore(orders=1500, b2b_rate=None, v2_rate=None) as store:
        await settle()  # the seeded orders' last second is settled
        store.mutate_every(1, updates=25, creates=3)
        client = make_client(store)
        state = SyncState()
        first = await run_sync(client, state)
        store.stop_mutations()
        existing = store.order_ids(channel_ids=ALL_CHANNELS)
        assert len(existing) > 1500  # orders were created during the run
        no_duplicates(first)
        requests_first = store.list_requests
        await settle()
        second = await run_sync(client, state)
        no_duplicates(second)
        versions_once(first, second)
        delivered = {i for i, _ in first} | {i for i, _ in second}
        missing = set(existing) - delivered
        assert not missing, f"lost {len(missing)} orders: {sorted(missing)[:10]}"
        latest_versions_delivered(store, first, second)
        # Re-reads are bounded: at most a few requests beyond one per 199 new orders.
        assert requests_first <= 3 * math.ceil(len(existing) / 199) + 10
        # A third run with nothing changed delivers nothing.
        await settle()
        assert await run_sync(client, state) == []


@pytest.mark.timeout(30)
async def test_three_runs_with_changes_during_two_deliver_each_version_once(
    make_client: ClientFactory,
) -> None:
    async with ScriptedStore(orders=1200, b2b_rate=None, v2_rate=None) as store:
        await settle()
        store.mutate_every(1, updates=25, creates=3)
        client = make_client(store)
        state = SyncState()
        runs = [await run_sync(client, state)]
        await settle()
        runs.append(await run_sync(client, state))
        store.stop_mutations()
        await settle()
        runs.append(await run_sync(client, state))
        for run in runs:
            no_duplicates(run)
        versions_once(*runs)
        latest_versions_delivered(store, *runs)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("crowd_size", [199, 200, 201, 450])
async def test_a_second_holding_more_than_a_page(
    make_client: ClientFactory, crowd_size: int
) -> None:
    clock = Clock()
    async with ScriptedStore(orders=800, b2b_rate=None, v2_rate=None, now=clock) as store:
        clock.fixed = float(int(time.time()) - 20)
        for oid in store.order_ids(channel_ids=ALL_CHANNELS)[:crowd_size]:
            store.update_order(oid, po_number="BULK")
        clock.fixed = None
        # Live changes too: 5 updates (some of the page just served) after every request.
        store.mutate_every(1, updates=5, creates=0)
        client = make_client(store)
        state = SyncState()
        first = await run_sync(client, state)
        store.stop_mutations()
        await settle()
        second = await run_sync(client, state)
        for run in (first, second):
            no_duplicates(run)
        versions_once(first, second)
        latest_versions_delivered(store, first, second)


@pytest.mark.timeout(20)
async def test_more_than_a_page_in_the_current_second_is_bounded(
    make_client: ClientFactory,
) -> None:
    """300 orders updated in the current second: the run neither loops nor loses them."""
    clock = Clock()
    async with ScriptedStore(orders=1000, b2b_rate=None, v2_rate=None, now=clock) as store:
        await settle()
        client = make_client(store)
        state = SyncState()
        totals: list[int] = []
        first = await run_sync(client, state, on_total=totals.append)
        no_duplicates(first)
        assert len(first) == 1000 and totals == [1000]
        await settle()
        clock.fixed = float(int(time.time()))
        crowd = store.order_ids(channel_ids=ALL_CHANNELS)[200:500]
        for oid in crowd:
            store.update_order(oid, po_number="NOW")
        clock.fixed = None
        before = store.list_requests
        second = await run_sync(client, state)  # the crowd is in the current second
        assert len(second) <= 300
        assert store.list_requests - before <= 6
        await settle()
        before = store.list_requests
        third = await run_sync(client, state)
        assert store.list_requests - before <= 6
        assert sorted(i for i, _ in second + third) == sorted(crowd)
        versions_once(first, second, third)
        latest_versions_delivered(store, first, second, third)


@pytest.mark.timeout(20)
async def test_unchanged_runs_deliver_nothing_even_with_an_overlap(
    make_client: ClientFactory,
) -> None:
    async with ScriptedStore(orders=1500, b2b_rate=None, v2_rate=None) as store:
        await settle()
        client = make_client(store)
        state = SyncState()
        first = await run_sync(client, state, overlap=60)
        assert sorted(i for i, _ in first) == store.order_ids(channel_ids=ALL_CHANNELS)
        await settle()
        assert await run_sync(client, state, overlap=60) == []
        assert await run_sync(client, SyncState.from_json(state.to_json())) == []
        # The overlap's (id, updatedAt) pairs survive a save and a load.
        saved = SyncState.from_json(state.to_json())
        assert saved == state and saved.recent
        assert await run_sync(client, saved, overlap=60) == []


@pytest.mark.timeout(20)
async def test_the_overlap_catches_a_late_visible_change(
    make_client: ClientFactory,
) -> None:
    """A change that becomes visible stamped a few seconds in the past (behind the
    watermark) is delivered by a run with an overlap covering it, once."""
    clock = Clock()
    async with ScriptedStore(orders=600, b2b_rate=None, v2_rate=None, now=clock) as store:
        await settle()
        client = make_client(store)
        state = SyncState()
        await run_sync(client, state, overlap=30)
        plain = SyncState.from_json(state.to_json())
        clock.fixed = float(state.watermark - 10)
        store.update_order(300, po_number="LATE")
        clock.fixed = None
        assert [i for i, _ in await run_sync(client, state, overlap=30)] == [300]
        assert await run_sync(client, state, overlap=30) == []
        assert await run_sync(client, plain) == []  # without an overlap: not seen


@pytest.mark.timeout(20)
async def test_old_state_files_still_load_and_resume(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    async with ScriptedStore(orders=800, b2b_rate=None, v2_rate=None) as store:
        await settle()
        ids = store.order_ids(channel_ids=ALL_CHANNELS)
        by_time = sorted(ids, key=lambda o: (store.updated_at(o), o))
        mark = store.updated_at(by_time[400])
        at_mark = [o for o in by_time if store.updated_at(o) == mark]
        done_at_mark = at_mark[: max(1, len(at_mark) // 2)]
        path = tmp_path / "state.json"
        path.write_text(json.dumps({"watermark": mark, "ids_at_watermark": done_at_mark,
                                    "runs": 3}))
        state = SyncState.load(path)
        assert (state.watermark, state.ids_at_watermark, state.runs) == (mark, done_at_mark, 3)
        client = make_client(store)
        got = await run_sync(client, state, on_checkpoint=lambda s: s.save(path))
        expected = [o for o in by_time
                    if store.updated_at(o) > mark or (store.updated_at(o) == mark
                                                      and o not in done_at_mark)]
        assert sorted(i for i, _ in got) == sorted(expected)
        assert SyncState.load(path) == state and state.runs == 4


@pytest.mark.timeout(20)
async def test_interrupted_run_resumes_from_its_checkpoint(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    async with ScriptedStore(orders=3000, b2b_rate=None, v2_rate=None) as store:
        await settle()
        store.mutate_every(2, updates=5, creates=1)
        client = make_client(store)
        path = tmp_path / "state.json"
        state = SyncState.load(path)
        got: list[tuple[int, int]] = []
        gen = sync_orders(client, state, channel_ids=ALL_CHANNELS, margin=MARGIN,
                          on_checkpoint=lambda s: s.save(path))
        async for order in gen:
            got.append((order.bc_order_id, int(order.updated_at or 0)))
            if len(got) == 1234:
                break
        await gen.aclose()
        store.stop_mutations()
        await settle()
        resumed = SyncState.load(path)
        rest = await run_sync(client, resumed, on_checkpoint=lambda s: s.save(path))
        no_duplicates(rest)
        latest_versions_delivered(store, got, rest)
        # Re-delivered unchanged: only what came after the last checkpoint (one page).
        again = {(i, t) for i, t in got} & {(i, t) for i, t in rest}
        assert len(again) <= 200


# -- bad input: typed errors before any request ---------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"watermark": "x"},
    {"watermark": math.nan},
    {"watermark": 1.5},
    {"watermark": -1},
    {"watermark": True},
    {"watermark": 2**41},
    {"ids_at_watermark": ["a"]},
    {"ids_at_watermark": [0]},
    {"ids_at_watermark": 5},
    {"runs": -1},
    {"runs": "1"},
    {"recent": [[1]]},
    {"recent": [[1, "x"]]},
])
def test_sync_state_refuses_bad_fields(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        SyncState(**kwargs)


@pytest.mark.parametrize("text", [
    '{"watermark": "x"}',
    '{"watermark": NaN}',
    '{"watermark": 1.5}',
    '{"watermark": 10, "ids_at_watermark": "abc"}',
    '[1, 2]',
    'not json',
    '{"watermark": 10, "recent": {"1": 2}}',
])
def test_sync_state_load_refuses_bad_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(InvalidArgumentError):
        SyncState.load(path)


@pytest.mark.parametrize("kwargs", [
    {"priority": "urgent"},
    {"priority": 1},
    {"overlap": -1},
    {"overlap": 86_401},
    {"margin": 0},
    {"margin": 3601},
    {"margin": 1.5},
    {"on_checkpoint": 5},
    {"on_total": "x"},
    {"company_id": 0},
])
async def test_sync_bad_arguments_raise_before_any_request(
    make_client: ClientFactory, kwargs: dict[str, Any]
) -> None:
    async with ScriptedStore(orders=10, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        with pytest.raises(InvalidArgumentError):
            await run_sync(client, SyncState(), **kwargs)
        assert store.list_requests == 0 and client.stats.b2b.requests == 0


async def test_sync_without_a_state_is_a_typed_error(make_client: ClientFactory) -> None:
    async with ScriptedStore(orders=10, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        for bad in (None, {"watermark": 0}, 5):
            with pytest.raises(InvalidArgumentError):
                async for _ in sync_orders(client, bad):  # type: ignore[arg-type]
                    pass
        assert store.list_requests == 0


async def test_sync_every_channel_with_extra_fields(make_client: ClientFactory) -> None:
    async with SandboxStore(orders=700, b2b_rate=None, v2_rate=None) as store:
        client = make_client(store)
        await settle()
        orders = [o async for o in sync_orders(client, SyncState(), margin=MARGIN,
                                               channel_ids="all")]
        ids = [o.bc_order_id for o in orders]
        assert len(ids) == len(set(ids))
        assert set(ids) == set(store.order_ids(channel_ids=ALL_CHANNELS))
        assert any(o.extra_fields for o in orders)  # show_extra=True by default


def test_sync_state_save_keeps_a_files_mode_and_uses_the_umask(tmp_path: Path) -> None:
    import os

    new = tmp_path / "new.json"
    old_umask = os.umask(0o022)
    try:
        SyncState(watermark=5).save(new)
    finally:
        os.umask(old_umask)
    assert new.stat().st_mode & 0o777 == 0o644
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    SyncState(watermark=7).save(kept)
    assert kept.stat().st_mode & 0o777 == 0o640
    assert SyncState.load(kept).watermark == 7
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
