"""Export a store's orders with a fleet of worker processes that share one rate limit.

    python examples/worker_fleet.py --sandbox                    # self-contained demo
    python examples/worker_fleet.py --redis redis://localhost:6379/0 \\
        --store-hash abc123 --channels 1,2 --workers 4 --out export/   # a real store
        # (access token from $BIGCOMMERCE_ACCESS_TOKEN)

What it does:

1. Plans partitions: every channel x ``--windows`` created-at windows between the
   channel's first order and ``--created-to`` (default: one second ago, so no order can
   still appear inside the range). Partitions are disjoint, so their union is the export.
2. Runs ``--workers`` processes. Each takes the next partition, exports it with
   :func:`bcb2b_async.export.export_orders` to a JSONL part file, and goes on to the
   next. Every worker's client uses a :class:`~bcb2b_async.redis_limiter.RedisLimiter`
   on the same Redis, so all of them together stay within the store's one quota.
3. Merges the parts into ``orders.jsonl`` and checks the union is exact: no order twice,
   and per channel exactly as many orders as the API counts for the whole range.

``--sandbox`` starts the sandbox store (``python -m bcb2b_async.testing``, B2B quota 30
requests/s so the demo takes seconds) and, if the ``redis-server`` binary is installed, a
throwaway Redis on a free port; both are stopped at the end.

Scheduling: a ``multiprocessing`` pool hands out partitions here, which is enough on one
machine. In production you would enqueue one job per partition with a task queue such as
arq (asyncio-native, Redis-backed: it can share the limiter's Redis) or Celery, and run
workers on as many hosts as you like: the limiter only needs every worker to point at the
same Redis URL, store hash and quota. A worker killed mid-request (OOM, a deploy) leaves
its requests' slots taken in Redis until their lease ends (``RedisLimiter(lease=...)``,
120 s by default), so the rest of the fleet never overshoots the quota on its account.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bcb2b_async import AsyncPaginator, B2BClient, Order, Page, RateLimit, RetryPolicy
from bcb2b_async.export import probe_bounds
from bcb2b_async.redis_limiter import LimiterUnavailableError, RedisBackend


@dataclass(frozen=True)
class Target:
    """Where the store and Redis are, and the quota every worker shares."""

    redis_url: str
    store_hash: str
    access_token: str
    b2b_base_url: str
    v2_base_url: str
    b2b_rate: RateLimit
    key_prefix: str = "bcb2b"


@dataclass(frozen=True)
class Partition:
    """One unit of work: the orders of one channel created in ``[lo, hi]`` (inclusive)."""

    channel: int
    lo: int
    hi: int

    @property
    def name(self) -> str:
        return f"c{self.channel}-{self.lo}-{self.hi}"


@dataclass(frozen=True)
class Job:
    """What a worker process receives (picklable: no client, no connection)."""

    target: Target
    partition: Partition
    out_dir: str
    concurrency: int


def make_client(backend: RedisBackend, target: Target) -> B2BClient:
    """A client whose B2B (and V2) quota is shared through Redis."""
    return B2BClient(
        target.store_hash,
        target.access_token,
        b2b_base_url=target.b2b_base_url,
        v2_base_url=target.v2_base_url,
        b2b_rate_limit=target.b2b_rate,
        b2b_limiter=backend.limiter(target.b2b_rate, store_hash=target.store_hash, api="b2b"),
        v2_limiter=backend.limiter(RateLimit(150, 30.0), store_hash=target.store_hash,
                                   api="v2"),
        retry_policy=RetryPolicy(max_retries=8),
    )


# -- the worker ------------------------------------------------------------------------

async def export_partition(job: Job) -> dict[str, object]:
    """Export one partition to ``part-<name>.jsonl`` (written atomically)."""
    from bcb2b_async.export import export_orders

    target, part = job.target, job.partition
    final = Path(job.out_dir) / f"part-{part.name}.jsonl"
    tmp = final.with_suffix(".tmp")
    count = 0
    async with (
        RedisBackend(target.redis_url, key_prefix=target.key_prefix) as backend,
        make_client(backend, target) as client,
    ):
        with tmp.open("w", encoding="utf-8") as fh:
            async for item in export_orders(
                client, channel_ids=[part.channel], created_from=part.lo,
                created_to=part.hi, concurrency=job.concurrency,
            ):
                fh.write(json.dumps(item.to_json_dict(), separators=(",", ":")) + "\n")
                count += 1
        stats = client.stats.b2b
    tmp.replace(final)
    return {"partition": part.name, "orders": count, "requests": stats.requests,
            "rate_limited": stats.rate_limited, "pid": os.getpid()}


def run_job(job: Job) -> dict[str, object]:
    """Process-pool entry point: one partition, one event loop."""
    return asyncio.run(export_partition(job))


# -- planning and checking ---------------------------------------------------------------

async def first_page(paginator: AsyncPaginator[Order]) -> Page[Order]:
    """The first page of a list (one request)."""
    return await anext(paginator.pages())


async def plan(
    target: Target, channels: list[int], windows: int, created_to: int
) -> tuple[list[Partition], dict[int, int]]:
    """Partitions (channel x created-at windows) and the exact order count per channel."""
    async with (
        RedisBackend(target.redis_url, key_prefix=target.key_prefix) as backend,
        make_client(backend, target) as client,
    ):
        first: dict[int, int] = {}
        for ch in channels:
            # Oldest order of the channel (bounds widened by a second: exact whatever
            # the bound semantics, see below).
            page = await first_page(client.orders.list(
                channel_ids=[ch], min_created=0, max_created=created_to + 1,
                sort_by="createdAt", order_by="ASC", page_size=1, concurrency=1,
            ))
            if page.items and page.items[0].created_at is not None:
                first[ch] = int(page.items[0].created_at)
        if not first:
            return [], dict.fromkeys(channels, 0)
        # Whether minCreated/maxCreated include the bound is not documented; find out
        # once, so the expected counts below are exact.
        ch0 = next(iter(first))
        semantics = await probe_bounds(client, "createdAt", first[ch0],
                                       [("channelIds[]", str(ch0))])
        expected = dict.fromkeys(channels, 0)
        parts: list[Partition] = []
        for ch, lo in first.items():
            params = dict(semantics.params("createdAt", lo, created_to))
            page = await first_page(client.orders.list(
                channel_ids=[ch], min_created=int(params["minCreated"]),
                max_created=int(params["maxCreated"]), page_size=1, concurrency=1,
            ))
            expected[ch] = page.total or 0
            span = created_to - lo + 1
            n = max(1, min(windows, span))
            cuts = [lo + span * k // n for k in range(n + 1)]
            parts += [Partition(ch, cuts[k], cuts[k + 1] - 1) for k in range(n)]
    return parts, expected


def merge(out_dir: Path, parts: list[Partition], expected: dict[int, int]) -> int:
    """Concatenate the parts into orders.jsonl; raise if the union is not exact."""
    seen: Counter[int] = Counter()
    per_channel: Counter[int] = Counter()
    with (out_dir / "orders.jsonl").open("w", encoding="utf-8") as out:
        for part in parts:
            path = out_dir / f"part-{part.name}.jsonl"
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    order = json.loads(line)
                    seen[order["bcOrderId"]] += 1
                    per_channel[part.channel] += 1
                    out.write(line)
            path.unlink()
    dupes = [oid for oid, n in seen.items() if n > 1]
    if dupes:
        raise SystemExit(f"NOT EXACT: {len(dupes)} orders exported twice, e.g. {dupes[:5]}")
    for ch, want in expected.items():
        if per_channel[ch] != want:
            raise SystemExit(
                f"NOT EXACT: channel {ch}: exported {per_channel[ch]}, the API counts {want}"
            )
    return sum(seen.values())


# -- sandbox mode: a local store and a local Redis ------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway redis-server (no persistence) on a free port; waits for PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--sandbox needs redis-server (apt-get install redis-server) "
                         "or an existing Redis via --redis URL")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            pass
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def start_sandbox(orders: int, quota: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m bcb2b_async.testing`` in a child process; returns it and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bcb2b_async.testing", "--orders", str(orders),
         "--b2b-rate", quota, "--v2-rate", "none"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("SANDBOX "):
        proc.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return proc, line.split()[1]


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- main ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sandbox", action="store_true",
                   help="start a sandbox store and a local redis-server")
    p.add_argument("--sandbox-orders", type=int, default=30_000)
    p.add_argument("--redis", help="Redis URL shared by every worker")
    p.add_argument("--store-hash")
    p.add_argument("--b2b-base-url", default="https://api-b2b.bigcommerce.com")
    p.add_argument("--v2-base-url", default="https://api.bigcommerce.com")
    p.add_argument("--channels", default="1", help="comma-separated channel ids")
    p.add_argument("--windows", type=int, default=4, help="created-at windows per channel")
    p.add_argument("--created-to", type=int, help="Unix seconds (default: one second ago)")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=4, help="walkers per partition")
    p.add_argument("--out", default="fleet-export", help="output directory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    channels = [int(c) for c in args.channels.split(",") if c.strip()]
    created_to = args.created_to or int(time.time()) - 1
    redis_proc: subprocess.Popen[bytes] | None = None
    sandbox: subprocess.Popen[str] | None = None
    with tempfile.TemporaryDirectory(prefix="fleet-redis-") as workdir:
        try:
            if args.sandbox:
                sandbox, base_url = start_sandbox(args.sandbox_orders, "30/1")
                if args.redis is None:
                    redis_proc, args.redis = start_redis(workdir)
                if args.channels == "1":
                    channels = [1, 2, 3]  # the sandbox spreads orders over three channels
                # The store's exact quota: no margin is needed, since every slot is held
                # until one window after its response, across the whole fleet.
                target = Target(args.redis, "sandbox", "sandbox-token", base_url, base_url,
                                RateLimit(30, 1.0))
            else:
                token = os.environ.get("BIGCOMMERCE_ACCESS_TOKEN")
                if not (args.redis and args.store_hash and token):
                    raise SystemExit("need --redis, --store-hash and $BIGCOMMERCE_ACCESS_TOKEN "
                                     "(or --sandbox)")
                target = Target(args.redis, args.store_hash, token, args.b2b_base_url,
                                args.v2_base_url, RateLimit(150, 60.0))
            return run(target, channels, args, created_to)
        except LimiterUnavailableError as err:
            raise SystemExit(f"error: {err}") from None
        finally:
            stop(sandbox)
            stop(redis_proc)


def run(target: Target, channels: list[int], args: argparse.Namespace, created_to: int) -> int:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    parts, expected = asyncio.run(plan(target, channels, args.windows, created_to))
    print(f"{len(parts)} partitions over channels {channels}; expecting "
          f"{sum(expected.values())} orders")
    jobs = [Job(target, part, str(out_dir), args.concurrency) for part in parts]
    requests = throttled = 0
    # spawn: each worker starts a fresh interpreter (no event loop or socket inherited).
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for result in pool.imap_unordered(run_job, jobs):
            requests += int(str(result["requests"]))
            throttled += int(str(result["rate_limited"]))
            print(f"  worker {result['pid']}: {result['partition']}: {result['orders']} orders, "
                  f"{result['requests']} requests")
    total = merge(out_dir, parts, expected)
    elapsed = time.monotonic() - started
    quota = target.b2b_rate.requests / target.b2b_rate.seconds
    print(f"exact: {total} orders in {out_dir / 'orders.jsonl'}; {requests} requests in "
          f"{elapsed:.1f} s ({requests / elapsed:.1f}/s, quota {quota:.1f}/s), 429s: {throttled}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
