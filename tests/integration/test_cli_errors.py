"""Failures that say what to do: network, credentials, configuration, time flags, signals.

The real CLI as a subprocess (a pty where a terminal matters) against a sandbox store
served by the test, or against addresses that fail on purpose (a closed local port, a
``.invalid`` host name, which never resolves).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bcb2b_async.testing import SandboxStore
from tests.integration.test_cli import base_env, run_cli, store_env

pytestmark = pytest.mark.timeout(120)

CHANNELS = ["--channel", "1", "--channel", "2", "--channel", "3"]


@pytest.fixture
async def store() -> AsyncIterator[SandboxStore]:
    async with SandboxStore(orders=200, b2b_rate=None, v2_rate=None) as s:
        yield s


def lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.strip()]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- network ---------------------------------------------------------------------------
async def test_connect_errors_are_reported_while_retrying(tmp_path: Path) -> None:
    port = closed_port()
    env = {"BCB2B_STORE_HASH": "abc", "BCB2B_ACCESS_TOKEN": "tok-SECRET",
           "BCB2B_B2B_URL": f"http://127.0.0.1:{port}",
           "BCB2B_V2_URL": f"http://127.0.0.1:{port}"}
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli("export", "orders", "--out", str(out), "--max-retries", "2",
                                 env=env, timeout=60)
    assert code == 4, err
    got = lines(err)
    retries = [ln for ln in got if "retrying in" in ln]
    assert len(retries) == 2, err
    assert all(f"127.0.0.1:{port}" in ln for ln in retries)
    assert "cannot connect" in got[-1] and "BCB2B_B2B_URL" in got[-1]
    assert "after 3 attempts" in got[-1]
    assert "tok-SECRET" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


async def test_dns_failure_is_one_sentence_not_retried(tmp_path: Path) -> None:
    env = {"BCB2B_STORE_HASH": "abc", "BCB2B_ACCESS_TOKEN": "tok-SECRET",
           "BCB2B_B2B_URL": "https://no-such-host.invalid"}
    started = time.monotonic()
    code, _, err = await run_cli("export", "orders", "--out", str(tmp_path / "o.jsonl"),
                                 env=env, timeout=60)
    assert code == 4, err
    (line,) = lines(err)[-1:]
    assert "retrying" not in err
    assert "no-such-host.invalid" in line and "does not resolve" in line
    assert "BCB2B_B2B_URL" in line
    assert time.monotonic() - started < 30


# -- credentials -----------------------------------------------------------------------
async def test_401_names_the_variable_and_the_scope(store: SandboxStore,
                                                    tmp_path: Path) -> None:
    env = {**store_env(store), "BCB2B_ACCESS_TOKEN": "wrong-token-XYZ"}
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli("export", "orders", "--out", str(out), env=env)
    assert code == 3, err
    line = lines(err)[-1]
    assert "401" in line and "BCB2B_ACCESS_TOKEN" in line and "B2B Edition" in line
    assert "wrong-token-XYZ" not in err
    assert list(tmp_path.iterdir()) == []


async def test_403_names_the_store_hash(store: SandboxStore, tmp_path: Path) -> None:
    env = {**store_env(store), "BCB2B_STORE_HASH": "otherstore"}
    code, _, err = await run_cli("export", "orders", "--out", str(tmp_path / "o.jsonl"),
                                 env=env)
    assert code == 3, err
    line = lines(err)[-1]
    assert "403" in line and "BCB2B_STORE_HASH" in line and "scope" in line


@pytest.mark.parametrize(
    ("env", "named", "not_named"),
    [
        ({"BCB2B_STORE_HASH": "abc"}, "BCB2B_ACCESS_TOKEN", "BCB2B_STORE_HASH"),
        ({"BCB2B_ACCESS_TOKEN": "tok"}, "BCB2B_STORE_HASH", "BCB2B_ACCESS_TOKEN"),
        ({}, "BCB2B_STORE_HASH and BCB2B_ACCESS_TOKEN", "no credentials"),
    ],
)
async def test_missing_variables_are_named(tmp_path: Path, env: dict[str, str], named: str,
                                           not_named: str) -> None:
    code, _, err = await run_cli("export", "orders", "--out", str(tmp_path / "o.jsonl"),
                                 env=env)
    assert code == 3, err
    (line,) = lines(err)
    assert named in line and not_named not in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["https://user:s3cr3t-PASS@api.example.com",
                                 "http://user:s3cr3t-PASS@api.example.com",
                                 "https://s3cr3t-PASS@api.example.com/api/v3/io"])
async def test_credentials_in_a_base_url_are_never_printed(tmp_path: Path, url: str) -> None:
    env = {"BCB2B_STORE_HASH": "abc", "BCB2B_ACCESS_TOKEN": "tok", "BCB2B_B2B_URL": url}
    code, _, err = await run_cli("export", "orders", "--out", str(tmp_path / "o.jsonl"),
                                 env=env)
    assert code == 3, err
    (line,) = lines(err)
    assert "BCB2B_B2B_URL" in line
    assert "s3cr3t-PASS" not in err


async def test_access_token_flag_warns(store: SandboxStore, tmp_path: Path) -> None:
    env = {**store_env(store)}
    token = env.pop("BCB2B_ACCESS_TOKEN")
    code, _, err = await run_cli("export", "orders", "--out", str(tmp_path / "o.jsonl"),
                                 "--quiet", "--access-token", token, *CHANNELS, env=env)
    assert code == 0, err
    (line,) = lines(err)
    assert "--access-token is visible to other users" in line
    assert "BCB2B_ACCESS_TOKEN" in line and "--access-token-file" in line


async def test_access_token_file(store: SandboxStore, tmp_path: Path) -> None:
    env = {**store_env(store)}
    token = env.pop("BCB2B_ACCESS_TOKEN")
    secret = tmp_path / "token"
    secret.write_text(token + "\n")
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli("export", "orders", "--out", str(out), "--quiet",
                                 "--access-token-file", str(secret), *CHANNELS, env=env)
    assert code == 0, err
    assert err == ""
    assert len(out.read_text().splitlines()) == 200
    code, _, err = await run_cli("export", "orders", "--out", str(out), "--access-token-file",
                                 str(tmp_path / "missing"), env=env)
    assert code == 3, err
    (line,) = lines(err)
    assert "--access-token-file" in line and "No such file" in line


# -- time flags ------------------------------------------------------------------------
async def test_until_a_date_means_the_end_of_that_day(store: SandboxStore,
                                                      tmp_path: Path) -> None:
    import json

    # A day in the middle of the store's history.
    times = sorted(store.created_at(i) for i in store.order_ids(channel_ids=[1, 2, 3]))
    day = datetime.fromtimestamp(times[len(times) // 2], UTC).date()
    end = int(datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC).timestamp())
    start = end - 86_399
    expected = store.order_ids(channel_ids=[1, 2, 3], created_to=end)
    assert expected != store.order_ids(channel_ids=[1, 2, 3], created_to=start)
    out = tmp_path / "o.jsonl"
    code, _, err = await run_cli("export", "orders", "--out", str(out), "--quiet",
                                 "--until", day.isoformat(), "--b2b-rate", "off", *CHANNELS,
                                 env=store_env(store))
    assert code == 0, err
    got = sorted(json.loads(x)["bcOrderId"] for x in out.read_text().splitlines())
    assert got == expected
    code, _, err = await run_cli("export", "orders", "--out", str(out), "--quiet",
                                 "--since", day.isoformat(), "--until", day.isoformat(),
                                 "--b2b-rate", "off", *CHANNELS, env=store_env(store))
    assert code == 0, err
    got = sorted(json.loads(x)["bcOrderId"] for x in out.read_text().splitlines())
    assert got == store.order_ids(channel_ids=[1, 2, 3], created_from=start, created_to=end)


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--since", "2999-01-01"], ["--since", "future"]),
        (["--since", "2025-07-01", "--until", "2025-06-30"], ["--since", "--until"]),
        (["--concurrency", "500"], ["--concurrency", "64"]),
        (["--since", "yesterday"], ["--since", "not a time"]),
    ],
)
async def test_time_and_range_errors_name_the_flags(store: SandboxStore, tmp_path: Path,
                                                    flags: list[str],
                                                    needles: list[str]) -> None:
    code, _, err = await run_cli("export", "orders", "--out", str(tmp_path / "o.jsonl"),
                                 *flags, env=store_env(store))
    assert code == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err
    assert "created_from" not in err and "created_to" not in err
    assert store.stats.b2b.requests == 0
    assert list(tmp_path.iterdir()) == []


# -- signals ---------------------------------------------------------------------------
async def _interrupt(args: list[str], store: SandboxStore, tmp_path: Path,
                     sig: int = signal.SIGINT) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bcb2b_async", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**base_env(), **store_env(store)})
    try:
        for _ in range(1500):  # under way (past start-up) once the store sees requests
            if store.stats.b2b.requests + store.stats.v2.requests >= 8:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the export did not start")
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


@pytest.mark.parametrize("mode", [[], ["--with-products"], ["--state", "{tmp}/s.json"],
                                  ["--state", "{tmp}/s.json", "--with-products"]])
async def test_ctrl_c_is_clean(tmp_path: Path, mode: list[str]) -> None:
    async with SandboxStore(orders=2000, b2b_rate=None, v2_rate=None, latency=0.03) as slow:
        out = tmp_path / "o.jsonl"
        args = ["export", "orders", "--out", str(out), "--concurrency", "2", *CHANNELS,
                *[m.format(tmp=tmp_path) for m in mode]]
        code, err = await _interrupt(args, slow, tmp_path)
    assert code == 130, err
    got = lines(err)
    assert got[-1].startswith("bcb2b: interrupted")
    assert sum("interrupted" in ln for ln in got) == 1
    assert "aclose" not in err and "Error" not in err
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left in ([], ["s.json.lock"])  # no output, no .part, no state


async def test_sigterm_is_clean(tmp_path: Path) -> None:
    async with SandboxStore(orders=2000, b2b_rate=None, v2_rate=None, latency=0.03) as slow:
        out = tmp_path / "o.jsonl"
        code, err = await _interrupt(["export", "orders", "--out", str(out), *CHANNELS],
                                     slow, tmp_path, signal.SIGTERM)
    assert code == 143, err
    assert lines(err)[-1].startswith("bcb2b: terminated")
    assert list(tmp_path.iterdir()) == []


def _pty_run(args: list[str], env: dict[str, str], started: float) -> tuple[int, bytes]:
    """Run in a new session on a pty; type Ctrl-C once progress shows. Blocking."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "bcb2b_async", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, preexec_fn=controlling_tty,
                            close_fds=True)
    os.close(slave)
    seen = b""
    sent = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the pty
                break
            if not chunk:
                break
            seen += chunk
            if not sent and b"orders" in seen and time.monotonic() > started:
                os.write(master, b"\x03")  # the terminal turns it into SIGINT
                sent = True
        return proc.wait(timeout=30), seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


async def test_ctrl_c_on_a_terminal(tmp_path: Path) -> None:
    async with SandboxStore(orders=3000, b2b_rate=None, v2_rate=None, latency=0.03) as slow:
        out = tmp_path / "o.jsonl"
        env = {**base_env(), **store_env(slow), "TERM": "xterm", "COLUMNS": "120"}
        args = ["export", "orders", "--out", str(out), "--with-products", *CHANNELS]
        code, seen = await asyncio.to_thread(_pty_run, args, env, time.monotonic() + 0.5)
    text = seen.decode("utf-8", "replace")
    assert code == 130, text
    assert "interrupted" in text
    assert "Traceback" not in text and "aclose" not in text
    assert list(tmp_path.iterdir()) == []
