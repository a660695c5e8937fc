"""Rows 1, 2, 6 and 7: raw speed against the pre-serialized page server, and decoding.

The walks of rows 1 and 2 run as child processes (``_row1_library``,
``_row1_handwritten``, ``_row2_requests``); this module checks their output and holds the
in-process pieces of rows 6 and 7.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import timeit
from typing import Any

import aiohttp
import msgspec

from bcb2b_async import B2BClient, RateLimit
from bcb2b_async._decode import envelope_decoder
from bcb2b_async.models.b2b_orders import Order

from ._common import STORE_HASH, TOKEN, Deadline, ProcRun
from ._pageserver import ID_BASE

PAGE = 200
HEADERS = {"X-Auth-Token": TOKEN, "X-Store-Hash": STORE_HASH, "Accept": "application/json"}
#: A quota far above any rate these benchmarks reach: the default ``Limiter`` runs (its
#: bookkeeping is part of the measured cost) but never makes a request wait.
UNBINDING = RateLimit(1_000_000, 1.0)


def _client(url: str) -> B2BClient:
    return B2BClient(STORE_HASH, TOKEN, b2b_base_url=url, v2_base_url=url,
                     b2b_rate_limit=UNBINDING)


# -- row 1: the hand-written baseline mirrors the library's models ---------------------
def _strip_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_docs(v) for k, v in value.items() if k not in ("title", "description")}
    if isinstance(value, list):
        return [_strip_docs(v) for v in value]
    return value


def _config(cls: type[Any]) -> dict[str, Any]:
    conf = cls.__struct_config__
    return {k: getattr(conf, k) for k in dir(conf) if not k.startswith("_")}


def check_mirror() -> None:
    """Raise unless ``benchmarks._row1_handwritten`` decodes into Structs equivalent to the
    library's: the same fields, wire names, types and defaults (JSON schemas equal but for
    docstrings) and the same Struct options (``gc``, ``omit_defaults``, ...)."""
    from bcb2b_async.models import b2b_orders, common

    from . import _row1_handwritten as hw

    pairs = [
        (b2b_orders.Order, hw.Order), (b2b_orders.Money, hw.Money),
        (b2b_orders.ExtraInfo, hw.ExtraInfo), (b2b_orders.ExtraField, hw.ExtraField),
        (common.Meta, hw.Meta), (common.Pagination, hw.Pagination),
        (common.Envelope, hw.Envelope),
    ]
    for lib, mine in pairs:
        if _config(lib) != _config(mine):
            raise RuntimeError(f"row 1 baseline: {mine.__name__} options differ from the "
                               f"library's: {_config(mine)} != {_config(lib)}")
    # One schema covers the envelope and every Struct under it (fields, wire names,
    # types, defaults); only the generic envelope's own name differs.
    schemas = []
    for tp in (common.Envelope[list[b2b_orders.Order]], hw.Envelope):
        schema = _strip_docs(msgspec.json.schema(tp))
        top = schema.pop("$ref").rsplit("/", 1)[1]
        defs = schema["$defs"]
        defs["Envelope"] = defs.pop(top)
        schemas.append(schema)
    if schemas[0] != schemas[1]:
        raise RuntimeError("row 1 baseline: its Structs differ from the library's models "
                           "(update benchmarks/_row1_handwritten.py)")


def walk_report(run: ProcRun, expected: int) -> tuple[float, float]:
    """Check a walk child's ``ROW1 orders id_sum setup_s walk_s`` line: every order seen
    exactly once (count and the sum of ids); returns (setup seconds, walk seconds)."""
    line = next((x for x in run.stdout.splitlines() if x.startswith("ROW1 ")), "")
    parts = line.split()
    if len(parts) != 5:
        raise RuntimeError(f"walk child printed {run.stdout[-500:]!r}")
    n, ids = int(parts[1]), int(parts[2])
    want = expected * ID_BASE + expected * (expected - 1) // 2
    if n != expected or ids != want:
        raise RuntimeError(f"walk child saw {n} orders (id sum {ids}), not {expected} "
                           f"(id sum {want}): an order was lost or duplicated")
    return float(parts[3]), float(parts[4])


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
