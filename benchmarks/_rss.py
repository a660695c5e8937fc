"""Row 4: peak RSS of the ``bcb2b`` CLI exporting from a sandbox process to JSONL."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from typing import Any

from ._common import PY, ROOT, STORE_HASH, TOKEN

LAUNCHER = os.path.join(ROOT, "benchmarks", "_rsschild.py")
#: Every sandbox channel (the CLI's default is channel 1 only, as the API's).
CHANNEL_ARGS = ["--channel", "1", "--channel", "2", "--channel", "3"]


def count_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def cli_export(url: str, expected: int, budget: float) -> dict[str, Any]:
    """Run one fresh CLI child (through the small launcher ``_rsschild.py``, see there why)
    and return its peak RSS in MiB, wall seconds and orders written.

    Rate limits are off on both sides (``--b2b-rate off --v2-rate off``): the default
    150/60 s quota would make a million orders take hours.
    """
    env = dict(os.environ, BCB2B_STORE_HASH=STORE_HASH, BCB2B_ACCESS_TOKEN=TOKEN,
               BCB2B_B2B_URL=url, BCB2B_V2_URL=url)
    with tempfile.TemporaryDirectory(prefix="bcb2b-bench-") as tmp, \
            tempfile.TemporaryFile("w+") as err:
        out = os.path.join(tmp, "orders.jsonl")
        argv = [PY, "-I", "-S", LAUNCHER, str(budget), PY, "-m", "bcb2b_async", "export",
                "orders", "--out", out, "--quiet", "--b2b-rate", "off", "--v2-rate", "off",
                *CHANNEL_ARGS]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=err,
                                  text=True, timeout=budget + 30, check=False)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"CLI export of {expected} orders over {budget:.0f} s") from None
        seconds = time.perf_counter() - t0
        report = json.loads(done.stdout.strip().splitlines()[-1])
        if report.get("timeout"):
            raise TimeoutError(f"CLI export of {expected} orders over {budget:.0f} s")
        if report["exit"] != 0:
            err.seek(0)
            raise RuntimeError(f"CLI exited {report['exit']}: {err.read()[-2000:]}")
        lines = count_lines(out)
    if lines != expected:
        raise RuntimeError(f"CLI wrote {lines} orders, expected {expected}")
    return {
        "rss_mib": report["maxrss_kib"] / 1024,  # Linux reports KiB
        "hwm_mib": report["hwm_kib"] / 1024,
        "launcher_mib": report["launcher_kib"] / 1024,
        "seconds": seconds,
        "orders": lines,
    }


def import_footprint() -> float:
    """Peak RSS (MiB) of a child that only imports what the CLI imports, then exits."""
    argv = [PY, "-I", "-S", LAUNCHER, "60", PY, "-c",
            "import bcb2b_async.cli, bcb2b_async.export"]
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=90,
                          check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return float(report["maxrss_kib"]) / 1024
