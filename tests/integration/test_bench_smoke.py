"""The benchmark suite's quick mode runs end to end (a smoke test: it checks that every row
is measured and printed, never a timing; timings are for `make bench` on a quiet machine)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_quick_benchmarks_print_every_row() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks", "--quick", "--no-write",
        cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 240)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode()
    assert proc.returncode == 0, err.decode()[-2000:]
    rows = [line.split()[0] for line in text.splitlines() if line[:1].isdigit()]
    assert rows[:7] == ["1", "2", "3", "4", "5", "6", "7"], text[-3000:]
