"""``bcb2b export orders --state``: commit order, the run lock, flags, products, no-op runs.

The real CLI as a subprocess against a small sandbox store served by the test.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bcb2b_async.testing import SandboxStore
from tests.integration.test_cli import base_env, run_cli, store_env

pytestmark = pytest.mark.timeout(120)

CHANNELS = ["--channel", "1", "--channel", "2", "--channel", "3"]


@pytest.fixture
async def store() -> AsyncIterator[SandboxStore]:
    async with SandboxStore(orders=400, b2b_rate=None, v2_rate=None) as s:
        yield s


def sync_args(state: Path, out: str | Path, *extra: str) -> list[str]:
    return ["export", "orders", "--state", str(state), "--out", str(out), "--b2b-rate", "off",
            "--v2-rate", "off", "--margin", "1", *CHANNELS, *extra]


def ids(path: Path) -> list[int]:
    return sorted(json.loads(x)["bcOrderId"] for x in path.read_text().splitlines())


async def change(store: SandboxStore, order_ids: list[int]) -> None:
    """Update orders after the last run's range and wait until a run sees them.

    A run covers up to ``now - margin`` (``--margin 1`` here): an update made in the second
    after the last run ended is in the next run's range one second later.
    """
    await asyncio.sleep(1.05)
    for oid in order_ids:
        store.update_order(oid, po_number=f"CHANGED-{oid}")
    await asyncio.sleep(1.05)


async def test_failed_commit_leaves_the_state_as_it_was(store: SandboxStore,
                                                        tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    code, _, err = await run_cli(*sync_args(state, tmp_path / "a.jsonl", "--quiet"),
                                 env=store_env(store))
    assert code == 0, err
    saved = state.read_bytes()
    every = store.order_ids(channel_ids=[1, 2, 3])
    changed = [every[10], every[150], every[230]]
    await change(store, changed)
    # --out names a directory: refused before anything is fetched, the state untouched.
    folder = tmp_path / "folder"
    folder.mkdir()
    code, _, err = await run_cli(*sync_args(state, folder), env=store_env(store))
    assert code == 5, err
    assert "is a directory" in err and "Traceback" not in err
    assert state.read_bytes() == saved
    # The output fails mid-write (a full device): nothing committed, the state untouched.
    full = tmp_path / "full"
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        full = Path("/dev/full")
    code, _, err = await run_cli(*sync_args(state, full, "--format", "jsonl"),
                                 env=store_env(store))
    assert code == 5, err
    assert "No space left on device" in err
    assert state.read_bytes() == saved
    # The next good run exports every changed order.
    code, _, err = await run_cli(*sync_args(state, tmp_path / "b.jsonl", "--quiet"),
                                 env=store_env(store))
    assert code == 0, err
    assert ids(tmp_path / "b.jsonl") == changed
    assert state.read_bytes() != saved


async def test_a_locked_state_fails_at_once_with_its_own_code(store: SandboxStore,
                                                              tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    lock = tmp_path / "state.json.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = tmp_path / "o.jsonl"
        code, _, err = await run_cli(*sync_args(state, out), env=store_env(store), timeout=20)
        assert code == 6, err
        assert "in use by another bcb2b run" in err and str(state) in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists() and not state.exists()
        assert store.stats.b2b.requests == 0
    finally:
        os.close(fd)
    code, _, err = await run_cli(*sync_args(state, tmp_path / "o.jsonl", "--quiet"),
                                 env=store_env(store))
    assert code == 0, err


async def test_two_overlapping_runs_one_refused(tmp_path: Path) -> None:
    async with SandboxStore(orders=400, b2b_rate=None, v2_rate=None, latency=0.05) as slow:
        state = tmp_path / "state.json"
        env = {**base_env(), **store_env(slow)}
        first = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bcb2b_async",
            *sync_args(state, tmp_path / "a.jsonl", "--quiet", "--with-products"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
        try:
            for _ in range(1200):  # the first run is under way once the store sees it
                if slow.stats.b2b.requests >= 2:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the first run did not start: {first.returncode}")
            code, _, err = await run_cli(*sync_args(state, tmp_path / "b.jsonl"),
                                         env=store_env(slow), timeout=30)
            assert code == 6, err
            assert not (tmp_path / "b.jsonl").exists()
        finally:
            _, first_err = await asyncio.wait_for(first.communicate(), 100)
        assert first.returncode == 0, first_err
        assert len(ids(tmp_path / "a.jsonl")) == 400


@pytest.mark.parametrize("flag", [["--since", "2020-01-01"], ["--until", "2030-01-01"]])
async def test_since_until_refused_with_state(store: SandboxStore, tmp_path: Path,
                                              flag: list[str]) -> None:
    code, _, err = await run_cli(*sync_args(tmp_path / "s.json", tmp_path / "o.jsonl", *flag),
                                 env=store_env(store))
    assert code == 2, err
    assert flag[0] in err and "--state" in err
    assert store.stats.b2b.requests == 0


async def test_products_use_both_quotas(store: SandboxStore, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli(
        *sync_args(tmp_path / "s.json", out, "--with-products", "--quiet",
                   "--concurrency", "8"),
        env=store_env(store))
    assert code == 0, err
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 400 and all(r["products"] for r in rows)
    # Products are fetched through the B2B and the V2 quotas (the export's fast path),
    # not one order at a time on the B2B quota only.
    assert store.stats.v2.requests > 50
    b2b_product_calls = sum(1 for r in store.stats.log
                            if r.api == "b2b" and r.path.endswith("/products"))
    assert b2b_product_calls > 50


async def test_total_is_shown(store: SandboxStore, tmp_path: Path) -> None:
    code, _, err = await run_cli(*sync_args(tmp_path / "s.json", tmp_path / "o.jsonl"),
                                 env=store_env(store))
    assert code == 0, err
    assert "400 orders to export" in err


async def test_nothing_changed_leaves_out_untouched(store: SandboxStore,
                                                    tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli(*sync_args(state, out, "--quiet"), env=store_env(store))
    assert code == 0, err
    before = out.read_bytes()
    mtime = out.stat().st_mtime_ns
    code, _, err = await run_cli(*sync_args(state, out), env=store_env(store))
    assert code == 0, err
    assert "nothing changed" in err and "left untouched" in err
    assert out.read_bytes() == before and out.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl", "state.json",
                                                         "state.json.lock"]


async def test_state_naming_a_directory_is_one_sentence(store: SandboxStore,
                                                        tmp_path: Path) -> None:
    code, _, err = await run_cli(*sync_args(tmp_path, tmp_path / "o.jsonl"),
                                 env=store_env(store))
    assert code == 5, err
    assert "is a directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()


async def test_corrupt_state_is_one_sentence(store: SandboxStore, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    code, _, err = await run_cli(*sync_args(state, tmp_path / "o.jsonl"),
                                 env=store_env(store))
    assert code == 5, err
    assert "not a valid sync state" in err and "Traceback" not in err
    assert state.read_text() == "{not json"
    assert store.stats.b2b.requests == 0


async def test_state_and_lock_files_get_the_umask_mode(store: SandboxStore,
                                                       tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    code, _, err = await run_cli(*sync_args(state, tmp_path / "o.jsonl", "--quiet"),
                                 env=store_env(store), preexec_fn=lambda: os.umask(0o022))
    assert code == 0, err
    for name in ("state.json", "state.json.lock", "o.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    state.chmod(0o640)
    await change(store, [store.order_ids(channel_ids=[1, 2, 3])[0]])
    code, _, err = await run_cli(*sync_args(state, tmp_path / "o.jsonl", "--quiet"),
                                 env=store_env(store), preexec_fn=lambda: os.umask(0o077))
    assert code == 0, err
    assert len(ids(tmp_path / "o.jsonl")) == 1
    assert stat.S_IMODE(state.stat().st_mode) == 0o640
