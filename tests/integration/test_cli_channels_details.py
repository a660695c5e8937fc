"""The CLI exports every channel by default (and says so) and writes V2 details on demand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bcb2b_async.cli import CSV_COLUMNS, DETAIL_COLUMNS
from bcb2b_async.testing import SandboxStore

from .test_cli import run_cli, store_env


async def test_without_channel_every_enabled_channel_is_exported(tmp_path: Path) -> None:
    async with SandboxStore(orders=600, b2b_rate=None, v2_rate=None) as store:
        out = tmp_path / "orders.jsonl"
        code, _, err = await run_cli("export", "orders", "--out", str(out),
                                     env=store_env(store))
        assert code == 0, err
        ids = [json.loads(line)["bcOrderId"] for line in out.read_text().splitlines()]
        assert len(ids) == len(set(ids))
        assert set(ids) == set(store.order_ids(channel_ids=[1, 2, 3]))
        assert "channels: 1, 2, 3 (every enabled channel" in err


async def test_a_single_storefront_store_exports_channel_1(tmp_path: Path) -> None:
    async with SandboxStore(orders=300, multi_storefront=False, b2b_rate=None,
                            v2_rate=None) as store:
        out = tmp_path / "orders.jsonl"
        code, _, err = await run_cli("export", "orders", "--out", str(out),
                                     env=store_env(store))
        assert code == 0, err
        ids = {json.loads(line)["bcOrderId"] for line in out.read_text().splitlines()}
        assert ids == set(store.order_ids(channel_ids=[1]))
        assert "channels: 1 (every enabled channel" in err


async def test_with_details_jsonl_and_csv(tmp_path: Path) -> None:
    async with SandboxStore(orders=400, b2b_rate=None, v2_rate=None) as store:
        jsonl = tmp_path / "orders.jsonl"
        code, _, err = await run_cli("export", "orders", "--out", str(jsonl),
                                     "--with-products", "--with-details", env=store_env(store))
        assert code == 0, err
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert {r["bcOrderId"] for r in rows} == set(store.order_ids(channel_ids=[1, 2, 3]))
        for row in rows:
            v2 = store.v2_order(row["bcOrderId"])
            assert row["details"]["id"] == row["bcOrderId"]
            assert row["details"]["total_inc_tax"] == v2["total_inc_tax"]
            assert row["details"]["billing_address"]["email"] == v2["billing_address"]["email"]
            assert row["details"]["shipping_addresses"]
            assert len(row["products"]) == len(store.v2_products(row["bcOrderId"]))

        table = tmp_path / "orders.csv"
        code, _, err = await run_cli("export", "orders", "--out", str(table),
                                     "--with-details", env=store_env(store))
        assert code == 0, err
        with table.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            body = list(reader)
        assert tuple(header) == CSV_COLUMNS + DETAIL_COLUMNS
        assert len(body) == len(rows)
        col = header.index("details.billing_address.email")
        first = dict(zip(header, body[0], strict=True))
        v2 = store.v2_order(int(first["bcOrderId"]))
        assert body[0][col] == v2["billing_address"]["email"]
        assert json.loads(first["details.shipping_addresses"])


async def test_plain_csv_keeps_its_columns(tmp_path: Path) -> None:
    async with SandboxStore(orders=50, b2b_rate=None, v2_rate=None) as store:
        table = tmp_path / "orders.csv"
        code, _, err = await run_cli("export", "orders", "--out", str(table), "--channel", "1",
                                     env=store_env(store))
        assert code == 0, err
        assert table.read_text().splitlines()[0].split(",") == list(CSV_COLUMNS)
        assert "channels:" not in err
