"""Shared pieces: server subprocesses, CPU readings, statistics, result rows."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORE_HASH = "sandbox"
TOKEN = "sandbox-token"


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (from /proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


class ForeignLoad:
    """How much CPU processes other than ours used while a step ran: other sessions'
    test runs on the same machine make raw-speed rows noisy, so the report says so."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.busy0 = system_busy_seconds()
        self.own = 0.0

    def add_own(self, seconds: float) -> None:
        """CPU seconds used by our own processes (this one, the servers) during the step."""
        self.own += seconds

    def share(self) -> float:
        """Foreign CPU as a fraction of one core over the step's wall time."""
        wall = max(1e-9, time.monotonic() - self.t0)
        return max(0.0, system_busy_seconds() - self.busy0 - self.own) / wall


class ServerProc:
    """A server in its own process: started, awaited until it prints ``PREFIX url``, and
    stopped with SIGTERM (SIGKILL after a grace period)."""

    def __init__(self, argv: Sequence[str], prefix: str, *, ready_timeout: float = 120.0,
                 env: dict[str, str] | None = None) -> None:
        self.argv = [PY, *argv]
        self.prefix = prefix
        self.ready_timeout = ready_timeout
        self.env = env
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        # The server's stderr, shown if it fails to start; closed in __exit__.
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115

    def __enter__(self) -> ServerProc:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=self._err, text=True, cwd=ROOT,
            env=self.env,
        )
        line: list[str] = []

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            line.append(self.proc.stdout.readline())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.ready_timeout)
        text = line[0].strip() if line else ""
        if not text.startswith(self.prefix + " "):
            self.stop()
            self._err.seek(0)
            raise RuntimeError(
                f"server {' '.join(self.argv)} did not start (got {text!r}); stderr:\n"
                f"{self._err.read()[-2000:]}"
            )
        self.url = text.split(" ", 1)[1]
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        """CPU seconds the server has used so far."""
        return proc_cpu_seconds(self.pid)

    def get_json(self, path: str, *, method: str = "GET", timeout: float = 30.0) -> Any:
        """A small control request to the server (stats endpoints of the bench sandbox)."""
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method ==
                                     "POST" else None)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


def sandbox(orders: int, *, b2b_rate: str = "off", v2_rate: str = "off",
            extra: tuple[str, ...] = ()) -> ServerProc:
    """The library's sandbox store in its own process (with a stats endpoint added);
    ``extra`` are more flags of ``python -m bcb2b_async.testing``."""
    return ServerProc(
        ["-m", "benchmarks._sandbox", "--orders", str(orders), "--port", "0",
         "--b2b-rate", b2b_rate, "--v2-rate", v2_rate, *extra],
        "SANDBOX",
    )


def bytecode_env(cache_dir: str) -> dict[str, str]:
    """The environment of timed children: this one, with byte-code caching on and kept in
    ``cache_dir``.

    An installed package is imported from the ``.pyc`` files written at install time; a
    child started with ``PYTHONDONTWRITEBYTECODE=1`` (a common development setting) would
    compile every module of the repository's library from source on every start, which
    is not the cost a user pays. A private cache (filled by the warm-up runs) keeps the
    comparison fair and writes nothing into the repository.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    return env


def page_server(orders: int, details: int) -> ServerProc:
    """The pre-serialized page server in its own process (order details for the first
    ``details`` orders)."""
    return ServerProc(["-m", "benchmarks._pageserver", "--orders", str(orders), "--details",
                       str(details), "--port", "0"], "PAGES")


@dataclass(frozen=True)
class ProcRun:
    """One child process timed whole: wall seconds from spawn to exit (interpreter start,
    imports and exit included), its CPU seconds (user + system, from ``wait4``), its peak
    RSS, what it printed on stdout and its minor page faults."""

    wall: float
    cpu: float
    maxrss_mib: float
    stdout: str
    minflt: int = 0


def run_process(args: Sequence[str], *, timeout: float,
                env: dict[str, str] | None = None) -> ProcRun:
    """Run ``python ARGS`` from the repository root and time it as a whole process.

    The child is waited for with ``waitid(WNOWAIT)`` (no polling delay in the wall time),
    then reaped with ``wait4`` for its resource usage; a timer kills it after ``timeout``
    seconds (it cannot hit a recycled pid: the child is not reaped before the timer is
    disarmed).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        lock = threading.Lock()
        state = {"done": False, "killed": False}
        t0 = time.perf_counter()
        proc = subprocess.Popen([PY, *args], stdout=out, stderr=err, cwd=ROOT, env=env)

        def kill() -> None:
            with lock:
                if not state["done"]:
                    state["killed"] = True
                    os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            wall = time.perf_counter() - t0
        finally:
            with lock:
                state["done"] = True
            timer.cancel()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if state["killed"]:
            raise TimeoutError(f"python {' '.join(args)}: over {timeout:.0f} s")
        out.seek(0)
        stdout = out.read()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"python {' '.join(args)} exited {proc.returncode}:\n"
                               f"{err.read()[-2000:]}")
    return ProcRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout,
                   usage.ru_minflt)


@dataclass
class Series:
    """Per-round values of one measured side."""

    unit: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def lo(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def hi(self) -> float:
        return max(self.values) if self.values else float("nan")

    def fmt(self, digits: int = 0) -> str:
        if not self.values:
            return "-"
        f = f"{{:,.{digits}f}}"
        return (f"{f.format(self.median)} {self.unit} "
                f"({f.format(self.lo)}–{f.format(self.hi)})")


@dataclass
class Row:
    """One line of the results table."""

    key: str
    what: str
    library: Series
    baseline: Series
    baseline_name: str
    ratio: float
    ratio_rounds: list[float]
    target: str
    passed: bool | None
    digits: int = 0
    notes: list[str] = field(default_factory=list)
    rounds: int = 0

    @property
    def status(self) -> str:
        if self.passed is None:
            return "info"
        return "PASS" if self.passed else "MISS"

    def ratio_text(self) -> str:
        if not self.ratio_rounds or len(self.ratio_rounds) == 1:
            return f"{self.ratio:.2f}"
        return f"{self.ratio:.2f} ({min(self.ratio_rounds):.2f}–{max(self.ratio_rounds):.2f})"


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-round ratios a/b of interleaved rounds (neighbours in time share the load)."""
    return [x / y for x, y in zip(a, b, strict=True)]


def interleave(n_rounds: int, sides: Sequence[str]) -> list[list[str]]:
    """Round orders that rotate which side goes first (A B C, B C A, ...)."""
    out = []
    for r in range(n_rounds):
        k = r % len(sides)
        out.append([*sides[k:], *sides[:k]])
    return out


class Deadline:
    """A bound on a whole benchmark step, checked between requests."""

    def __init__(self, seconds: float, what: str) -> None:
        self.end = time.monotonic() + seconds
        self.what = what

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise TimeoutError(f"{self.what}: over its time budget")

