"""Where ``bcb2b export orders --out`` writes: stdout, devices, FIFOs, regular files.

Every test runs the real CLI as a subprocess against a small sandbox store served by the
test. Device nodes are private copies made with ``mknod`` in ``tmp_path`` when the test
runs as root (so a regression cannot replace the machine's own ``/dev/full``); without
root the real ``/dev`` nodes are used, which an unprivileged process cannot replace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bcb2b_async.testing import SandboxStore
from tests.integration.test_cli import run_cli, store_env

pytestmark = pytest.mark.timeout(120)

CHANNELS = ["--channel", "1", "--channel", "2", "--channel", "3"]
N = 300


@pytest.fixture
async def store() -> AsyncIterator[SandboxStore]:
    async with SandboxStore(orders=N, b2b_rate=None, v2_rate=None) as s:
        yield s


def device(tmp_path: Path, name: str, minor: int) -> Path:
    """A private copy of /dev/<name> (char 1,minor) when allowed, else the real node."""
    node = tmp_path / name
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        assert os.geteuid() != 0
        return Path("/dev") / name
    return node


def export_args(out: str | Path, *extra: str) -> list[str]:
    return ["export", "orders", "--out", str(out), "--b2b-rate", "off", "--v2-rate", "off",
            *CHANNELS, *extra]


def one_sentence(err: str) -> str:
    """The stderr of a refused run: exactly one line, no traceback."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


async def test_dash_streams_to_stdout(store: SandboxStore, tmp_path: Path) -> None:
    code, out, err = await run_cli(*export_args("-"), env=store_env(store), cwd=tmp_path)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["bcOrderId"] for r in rows) == store.order_ids(channel_ids=[1, 2, 3])
    assert "exported 300 orders to stdout" in err
    assert list(tmp_path.iterdir()) == []  # no file named "-"


async def test_dash_csv_streams_header_and_rows(store: SandboxStore, tmp_path: Path) -> None:
    code, out, err = await run_cli(*export_args("-", "--format", "csv", "--quiet"),
                                   env=store_env(store), cwd=tmp_path)
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith("bcOrderId,id,companyId")
    assert len(lines) == N + 1


async def test_device_is_written_directly_never_replaced(store: SandboxStore,
                                                         tmp_path: Path) -> None:
    null = device(tmp_path, "null", 3)
    code, _, err = await run_cli(*export_args(null), env=store_env(store))
    assert code == 0, err
    assert stat.S_ISCHR(null.stat().st_mode)
    assert parts(tmp_path) == []


async def test_symlink_to_proc_stdout_is_written_through(store: SandboxStore,
                                                         tmp_path: Path) -> None:
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    code, out, err = await run_cli(*export_args(link), env=store_env(store))
    assert code == 0, err
    assert len(out.splitlines()) == N
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert parts(tmp_path) == []


async def test_dev_stdout_redirected_to_a_file(store: SandboxStore, tmp_path: Path) -> None:
    """``--out /dev/stdout > file``: written through the shell's file, the link kept.

    Through a private link to /dev/stdout (the same chain of links to /proc/self/fd/1), so
    that a regression replaces the test's link, never the machine's /dev/stdout.
    """
    link = tmp_path / "to-dev-stdout"
    link.symlink_to("/dev/stdout")
    target = tmp_path / "redirected.jsonl"
    target.write_text("")
    with target.open("wb") as fh:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bcb2b_async", *export_args(link, "--quiet"),
            stdout=fh, stderr=asyncio.subprocess.PIPE, env={**os.environ, **store_env(store)},
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert len(target.read_text().splitlines()) == N
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    assert parts(tmp_path) == []


async def test_fifo_read_by_another_process(store: SandboxStore, tmp_path: Path) -> None:
    fifo = tmp_path / "orders.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with fifo.open("rb") as fh:
            got.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    code, _, err = await run_cli(*export_args(fifo, "--format", "jsonl"),
                                 env=store_env(store))
    assert code == 0, err
    await asyncio.to_thread(thread.join, 10)
    assert len(got[0].splitlines()) == N
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert parts(tmp_path) == []


@pytest.mark.parametrize(
    ("target", "code", "needle"),
    [
        ("{tmp}", 5, "is a directory"),
        ("{tmp}/no/such/folder/o.jsonl", 5, "does not exist"),
        ("/sys/bcb2b-cannot-write-here.jsonl", 5, "cannot create a file in /sys"),
        ("/dev/bcb2b-no-such-device", 5, "does not exist"),
        ("{tmp}/a-file/o.jsonl", 5, "not a folder"),
        ("", 2, "--out"),
    ],
)
async def test_bad_target_refused_before_any_request(
    store: SandboxStore, tmp_path: Path, target: str, code: int, needle: str
) -> None:
    out = target.format(tmp=tmp_path)
    (tmp_path / "a-file").write_text("")
    before = sorted(tmp_path.iterdir())
    got, _, err = await run_cli(*export_args(out), env=store_env(store))
    assert got == code, err
    assert needle in one_sentence(err)
    assert store.stats.b2b.requests == 0 and store.stats.v2.requests == 0
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
async def test_new_file_gets_the_umask_mode(store: SandboxStore, tmp_path: Path, umask: int,
                                            mode: int) -> None:
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli(*export_args(out, "--quiet"), env=store_env(store),
                                 preexec_fn=lambda: os.umask(umask))
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == mode


async def test_overwritten_file_keeps_its_mode(store: SandboxStore, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text("old\n")
    out.chmod(0o640)
    code, _, err = await run_cli(*export_args(out, "--quiet"), env=store_env(store),
                                 preexec_fn=lambda: os.umask(0o077))
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert len(out.read_text().splitlines()) == N


async def test_disk_full_device_one_sentence_exit_5(store: SandboxStore,
                                                    tmp_path: Path) -> None:
    full = device(tmp_path, "full", 7)
    code, _, err = await run_cli(*export_args(full, "--with-products", "--quiet"),
                                 env=store_env(store))
    assert code == 5, err
    line = one_sentence(err)
    assert "No space left on device" in line
    assert stat.S_ISCHR(full.stat().st_mode)
    assert parts(tmp_path) == []


def _limit_file_size(limit: int) -> Callable[[], None]:
    def pre() -> None:
        # A write past RLIMIT_FSIZE fails with EFBIG (Python ignores SIGXFSZ): the same
        # path through the code as a full disk, without filling one.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


async def test_write_error_mid_export_keeps_previous_file(store: SandboxStore,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text("previous export\n")
    code, _, err = await run_cli(*export_args(out, "--with-products", "--quiet"),
                                 env=store_env(store), preexec_fn=_limit_file_size(100_000))
    assert code == 5, err
    line = one_sentence(err)
    assert "File too large" in line and str(out) in line
    assert out.read_text() == "previous export\n"
    assert parts(tmp_path) == []


async def test_stale_part_files_of_dead_runs_are_removed(store: SandboxStore,
                                                         tmp_path: Path) -> None:
    from bcb2b_async.cli import temp_name

    out = tmp_path / "o.jsonl"
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    stale = tmp_path / temp_name(out.name, dead.pid)
    live = tmp_path / temp_name(out.name, os.getpid())
    other = tmp_path / ".o.jsonl.backup.part"  # not one of ours: kept
    for p in (stale, live, other):
        p.write_text("partial")
    code, _, err = await run_cli(*export_args(out, "--quiet"), env=store_env(store))
    assert code == 0, err
    assert not stale.exists()
    assert live.exists() and other.exists()
    assert re.fullmatch(r"\.o\.jsonl\..+\.\d+\.[0-9a-f]{8}\.part", stale.name)


@pytest.mark.parametrize("name", ["orders.xlsx", "orders.json", "orders.csv.gz"])
async def test_unknown_extension_refused_unless_format(store: SandboxStore, tmp_path: Path,
                                                       name: str) -> None:
    out = tmp_path / name
    code, _, err = await run_cli(*export_args(out), env=store_env(store))
    assert code == 2, err
    assert "--format" in one_sentence(err)
    assert not out.exists()
    assert store.stats.b2b.requests == 0
    code, _, err = await run_cli(*export_args(out, "--format", "csv", "--quiet"),
                                 env=store_env(store))
    assert code == 0, err
    assert out.read_text().startswith("bcOrderId,")


async def test_broken_pipe_is_one_sentence(tmp_path: Path) -> None:
    async with SandboxStore(orders=3000, b2b_rate=None, v2_rate=None) as big:
        r, w = os.pipe()
        os.close(r)  # nobody reads: the first write fails with EPIPE
        with contextlib.ExitStack() as stack:
            stack.callback(os.close, w)
            code, _, err = await run_cli(*export_args("-", "--quiet"), env=store_env(big),
                                         stdout=w, cwd=tmp_path)
        assert code == 5, err
        assert "closed" in one_sentence(err)
        assert list(tmp_path.iterdir()) == []


async def test_a_killed_run_leaves_a_part_file_the_next_run_removes(tmp_path: Path) -> None:
    async with SandboxStore(orders=2000, b2b_rate=None, v2_rate=None, latency=0.03) as slow:
        out = tmp_path / "o.jsonl"
        out.write_text("previous\n")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bcb2b_async", *export_args(out, "--quiet"),
            stderr=asyncio.subprocess.DEVNULL, env={**os.environ, **store_env(slow)})
        try:
            for _ in range(1500):
                if slow.stats.b2b.requests >= 8:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the export did not start")
            proc.kill()  # SIGKILL: no clean-up possible
        finally:
            await asyncio.wait_for(proc.wait(), 30)
        left = parts(tmp_path)
        assert len(left) == 1 and f".{proc.pid}." in left[0]
        assert out.read_text() == "previous\n"
    async with SandboxStore(orders=50, b2b_rate=None, v2_rate=None) as store:
        code, _, err = await run_cli(*export_args(out, "--quiet"), env=store_env(store))
    assert code == 0, err
    assert parts(tmp_path) == []
    assert len(out.read_text().splitlines()) == 50
