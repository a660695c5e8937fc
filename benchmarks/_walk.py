"""Rows 1, 2, 6 and 7: raw speed against the pre-serialized page server, and decoding."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import timeit
from typing import Any

import aiohttp
import msgspec
import requests

from bcb2b_async import B2BClient
from bcb2b_async._decode import envelope_decoder
from bcb2b_async.models.b2b_orders import Order

from ._common import STORE_HASH, TOKEN, Deadline

PAGE = 200
HEADERS = {"X-Auth-Token": TOKEN, "X-Store-Hash": STORE_HASH, "Accept": "application/json"}
#: The query the library's ``list(min_created=0, page_size=200)`` sends, minus limit/offset.
QUERY = [("minCreated", "0"), ("sortBy", "updatedAt"), ("orderBy", "DESC")]


def _client(url: str) -> B2BClient:
    return B2BClient(STORE_HASH, TOKEN, b2b_base_url=url, v2_base_url=url,
                     b2b_rate_limit=None, v2_rate_limit=None)


# -- walks (rows 1 and 2) -------------------------------------------------------------------
async def lib_walk(url: str, concurrency: int, budget: float) -> tuple[float, int]:
    """``client.orders.list(...)`` item by item; returns (seconds, orders)."""
    deadline = Deadline(budget, "library walk")
    async with _client(url) as client:
        await client.orders.get(100)  # open the connection pool outside the timing
        n = 0
        t0 = time.perf_counter()
        async for _order in client.orders.list(min_created=0, page_size=PAGE,
                                               concurrency=concurrency):
            n += 1
            if not n % 20_000:
                deadline.check()
        return time.perf_counter() - t0, n


async def raw_walk(
    url: str, concurrency: int, budget: float, decoder: msgspec.json.Decoder[Any]
) -> tuple[float, int]:
    """What a user would write by hand: aiohttp + msgspec, ``concurrency`` workers pulling
    offsets once the first page gave the total."""
    deadline = Deadline(budget, "raw aiohttp walk")
    endpoint = url + "/api/v3/io/orders"
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:
        async with session.get(url + "/api/v3/io/orders/100") as r:
            await r.read()
        t0 = time.perf_counter()

        async def fetch(offset: int) -> tuple[int, int]:
            params = [("limit", str(PAGE)), ("offset", str(offset)), *QUERY]
            async with session.get(endpoint, params=params) as r:
                if r.status != 200:
                    raise RuntimeError(f"raw walk: HTTP {r.status}")
                env: RawDictEnvelope = decoder.decode(await r.read())
            count = 0
            for _order in env.data:
                count += 1
            return count, env.meta.pagination.totalCount

        count, total = await fetch(0)
        offsets = iter(range(PAGE, total, PAGE))
        counts = [count]

        async def worker() -> None:
            for off in offsets:
                deadline.check()
                counts.append((await fetch(off))[0])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, sum(counts)


def requests_walk(url: str, budget: float) -> tuple[float, int]:
    """How the official synchronous client works: one requests.Session, json, in order."""
    deadline = Deadline(budget, "requests walk")
    endpoint = url + "/api/v3/io/orders"
    with requests.Session() as s:
        s.headers.update(HEADERS)
        s.get(url + "/api/v3/io/orders/100", timeout=30).raise_for_status()
        t0 = time.perf_counter()
        n = 0
        offset = 0
        total = None
        while total is None or offset < total:
            deadline.check()
            r = s.get(endpoint, params=[("limit", str(PAGE)), ("offset", str(offset)), *QUERY],
                      timeout=30)
            r.raise_for_status()
            doc = json.loads(r.content)
            total = doc["meta"]["pagination"]["totalCount"]
            for _order in doc["data"]:
                n += 1
            offset += PAGE
        return time.perf_counter() - t0, n


class _Pag(msgspec.Struct):
    totalCount: int


class _Meta(msgspec.Struct):
    pagination: _Pag


class RawDictEnvelope(msgspec.Struct):
    """Raw baseline: orders as plain dicts (all data kept, like the library's models)."""

    data: list[dict[str, Any]]
    meta: _Meta


# -- small requests (row 6) -----------------------------------------------------------------
async def lib_small(url: str, n: int, concurrency: int, budget: float) -> float:
    """``client.orders.get(id)`` ``n`` times by ``concurrency`` tasks; returns seconds."""
    deadline = Deadline(budget, "library small requests")
    async with _client(url) as client:
        await client.orders.get(100)
        ids = iter(range(100, 100 + n))
        t0 = time.perf_counter()

        async def worker() -> None:
            for oid in ids:
                deadline.check()
                order = await client.orders.get(oid)
                assert order.bc_order_id == oid

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0


async def raw_small(url: str, n: int, concurrency: int, budget: float) -> float:
    """The same GETs with aiohttp + msgspec by hand."""
    deadline = Deadline(budget, "raw small requests")
    decoder = msgspec.json.Decoder(_OneEnvelope)
    base = url + "/api/v3/io/orders/"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32),
                                     headers=HEADERS) as session:
        async with session.get(base + "100") as r:
            await r.read()
        ids = iter(range(100, 100 + n))
        t0 = time.perf_counter()

        async def worker() -> None:
            for oid in ids:
                deadline.check()
                async with session.get(base + str(oid)) as r:
                    if r.status != 200:
                        raise RuntimeError(f"raw small: HTTP {r.status}")
                    env = decoder.decode(await r.read())
                assert env.data[0]["bcOrderId"] == oid

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0


class _OneEnvelope(msgspec.Struct):
    data: list[dict[str, Any]]


# -- decode (row 7) -------------------------------------------------------------------------
def decode_us(page: bytes, rounds: int, number: int) -> tuple[list[float], list[float]]:
    """µs per page: the library's decoder vs json.loads, interleaved rounds."""
    dec = envelope_decoder(list[Order] | None)
    assert len(dec.decode(page).data) == PAGE
    lib: list[float] = []
    base: list[float] = []
    gc.collect()
    for r in range(rounds):
        pair = [("lib", lambda: dec.decode(page)), ("json", lambda: json.loads(page))]
        if r % 2:
            pair.reverse()
        for name, fn in pair:
            t = timeit.timeit(fn, number=number) / number * 1e6
            (lib if name == "lib" else base).append(t)
    return lib, base
