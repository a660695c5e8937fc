"""The bcb2b CLI run as a subprocess against a sandbox store served by the test."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bcb2b_async.cli import CSV_COLUMNS
from bcb2b_async.testing import SandboxStore

CHANNELS = [1, 2, 3]


def base_env() -> dict[str, str]:
    """The test runner's environment without any BCB2B_* variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BCB2B_")}


async def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
                  cwd: str | Path | None = None, **popen: Any) -> tuple[int, str, str]:
    """Run ``python -m bcb2b_async ARGS``; returns (exit code, stdout, stderr).

    Killed (and the test failed) when it runs longer than ``timeout`` seconds.
    """
    kwargs: dict[str, Any] = {"stdout": asyncio.subprocess.PIPE,
                              "stderr": asyncio.subprocess.PIPE,
                              "stdin": asyncio.subprocess.DEVNULL, **popen}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bcb2b_async", *args,
        env={**base_env(), **(env or {})}, cwd=cwd, **kwargs,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"bcb2b {' '.join(args)} ran over {timeout} s") from None
    assert proc.returncode is not None
    return proc.returncode, (out or b"").decode(), (err or b"").decode()


def store_env(store: SandboxStore) -> dict[str, str]:
    return {
        "BCB2B_STORE_HASH": store.store_hash,
        "BCB2B_ACCESS_TOKEN": store.access_token,
        "BCB2B_B2B_URL": store.base_url,
        "BCB2B_V2_URL": store.base_url,
    }


async def raw_orders(store: SandboxStore) -> dict[int, dict[str, Any]]:
    """Every order as the list endpoint returns it, straight from the server."""
    out: dict[int, dict[str, Any]] = {}
    headers = {"X-Auth-Token": store.access_token, "X-Store-Hash": store.store_hash}
    async with aiohttp.ClientSession() as s:
        for offset in range(0, 100_000, 200):
            params = [("limit", "200"), ("offset", str(offset)), ("minCreated", "0"),
                      ("showExtra", "true"), ("sortBy", "createdAt"), ("orderBy", "ASC"),
                      *[("channelIds[]", str(c)) for c in CHANNELS]]
            async with s.get(f"{store.base_url}/api/v3/io/orders", params=params,
                             headers=headers) as r:
                doc = await r.json()
            for item in doc["data"]:
                out[item["bcOrderId"]] = item
            if len(doc["data"]) < 200:
                return out
    raise AssertionError("unbounded")


async def test_jsonl_export_is_exactly_the_api_objects(tmp_path: Path) -> None:
    async with SandboxStore(orders=1500) as store:
        out = tmp_path / "orders.jsonl"
        code, _, err = await run_cli(
            "export", "orders", "--out", str(out), "--quiet",
            *[a for c in CHANNELS for a in ("--channel", str(c))], env=store_env(store))
        assert code == 0, err
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        raw = await raw_orders(store)
        assert sorted(r["bcOrderId"] for r in rows) == sorted(raw) == store.order_ids(
            channel_ids=CHANNELS)
        for row in rows:
            expected = {k: v for k, v in raw[row["bcOrderId"]].items() if v is not None}
            assert row == expected


async def test_csv_export_with_products(tmp_path: Path) -> None:
    async with SandboxStore(orders=300, b2b_rate=None, v2_rate=None) as store:
        out = tmp_path / "orders.csv"
        code, _, err = await run_cli(
            "export", "orders", "--out", str(out), "--quiet", "--with-products",
            "--b2b-rate", "off", "--v2-rate", "off",
            *[a for c in CHANNELS for a in ("--channel", str(c))], env=store_env(store))
        assert code == 0, err
        with out.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        assert tuple(header) == CSV_COLUMNS
        ids = [int(r[0]) for r in rows]
        assert sorted(ids) == store.order_ids(channel_ids=CHANNELS)
        col = {name: i for i, name in enumerate(header)}
        for r in rows:
            order = store.b2b_order(int(r[col["bcOrderId"]]))
            assert r[col["poNumber"]] == (order.get("poNumber") or "")
            assert int(r[col["productCount"]]) == len(json.loads(r[col["products"]])) > 0
            assert r[col["createdAtIso"]].endswith("Z")


async def test_sandbox_flag_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli("export", "orders", "--sandbox", "--sandbox-orders", "700",
                                 "--out", str(out))
    assert code == 0, err
    assert "exported 700 orders" in err
    assert len(out.read_text().splitlines()) == 700


async def test_incremental_state_runs(tmp_path: Path) -> None:
    async with SandboxStore(orders=400, b2b_rate=None, v2_rate=None) as store:
        state = tmp_path / "state.json"
        args = ["export", "orders", "--quiet", "--state", str(state), "--b2b-rate", "off",
                "--margin", "1", *[a for c in CHANNELS for a in ("--channel", str(c))]]
        code, _, err = await run_cli(*args, "--out", str(tmp_path / "a.jsonl"),
                                     env=store_env(store))
        assert code == 0, err
        assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 400
        await asyncio.sleep(1.05)
        store.update_order(150, po_number="CHANGED")
        await asyncio.sleep(1.05)  # past the one-second --margin
        code, _, err = await run_cli(*args, "--out", str(tmp_path / "b.jsonl"),
                                     env=store_env(store))
        assert code == 0, err
        rows = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
        assert [r["bcOrderId"] for r in rows] == [150]
        assert rows[0]["poNumber"] == "CHANGED"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["export", "orders"], 2, "--out"),
        (["export", "orders", "--out", "x.jsonl", "--format", "xml"], 2, "invalid choice"),
        (["export", "orders", "--out", "x.jsonl", "--channel", "0"], 2, "must be positive"),
        (["export", "orders", "--out", "x.jsonl", "--since", "yesterday"], 2, "not a time"),
        (["export", "orders", "--out", "x.jsonl", "--since", "200", "--until", "100"], 2,
         "--since must not be after --until"),
        (["export", "orders", "--out", "x.jsonl", "--b2b-rate", "fast"], 2, "not a rate"),
        (["export", "orders", "--out", "x.jsonl"], 3,
         "BCB2B_STORE_HASH and BCB2B_ACCESS_TOKEN are not set"),
    ],
)
async def test_bad_flags(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    env = {"BCB2B_STORE_HASH": "", "BCB2B_ACCESS_TOKEN": ""}
    got, _, err = await run_cli(*[a.replace("x.jsonl", str(tmp_path / "x.jsonl"))
                                  for a in args], env=env)
    assert got == code
    assert needle in err
    assert not (tmp_path / "x.jsonl").exists()


async def test_api_failure_leaves_no_file(tmp_path: Path) -> None:
    async with SandboxStore(orders=100) as store:
        env = {**store_env(store), "BCB2B_ACCESS_TOKEN": "wrong-token"}
        out = tmp_path / "o.jsonl"
        code, _, err = await run_cli("export", "orders", "--out", str(out), env=env)
        assert code == 3  # the store refused the credentials: a configuration problem
        assert "401" in err and "wrong-token" not in err
        assert not out.exists()
        assert not list(tmp_path.iterdir())
