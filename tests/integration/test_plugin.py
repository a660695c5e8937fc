"""The sandbox for users' own tests, used the way the README tells them to.

Each test writes a tiny user project into ``tmp_path`` and runs ``python -m pytest`` on it
as a subprocess (its own rootdir and ini file, so this repository's settings do not leak
in), or runs ``python -m bcb2b_async.testing`` and uses what it prints.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import base_env, run_cli

pytestmark = pytest.mark.timeout(120)

CONFTEST = 'pytest_plugins = ["bcb2b_async.testing.pytest_plugin"]\n'

USER_TESTS = '''
import pytest
from bcb2b_async import B2BClient


async def test_store_fixture(sandbox_store):
    async with B2BClient(sandbox_store.store_hash, sandbox_store.access_token,
                         b2b_base_url=sandbox_store.base_url,
                         v2_base_url=sandbox_store.base_url) as client:
        order = await client.orders.get(100)
    assert order.bc_order_id == 100


async def test_client_fixture(sandbox_client):
    orders = await sandbox_client.orders.list(min_created=0).to_list()
    assert orders


@pytest.mark.sandbox(orders=7)
async def test_marker(sandbox_store):
    assert sandbox_store.orders_count == 7


@pytest.mark.asyncio
async def test_explicitly_marked(sandbox_store):
    assert sandbox_store.orders_count == 500


async def test_env_fixture(sandbox_env):
    import os
    assert os.environ["BCB2B_STORE_HASH"] == sandbox_env["BCB2B_STORE_HASH"]
    assert os.environ["BCB2B_B2B_URL"].startswith("http://127.0.0.1:")
    async with B2BClient.from_env() as client:
        assert (await client.orders.get(101)).bc_order_id == 101
'''


def user_project(tmp_path: Path, tests: str, ini: str) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "conftest.py").write_text(CONFTEST)
    (proj / "test_user.py").write_text(tests)
    (proj / "pytest.ini").write_text("[pytest]\n" + ini)
    return proj


def run_pytest(proj: Path, *args: str, prelude: str = "",
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys, pytest\nsys.exit(pytest.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "-q", "-p", "no:cacheprovider", "-p", "no:timeout",
         *args],
        cwd=proj, env={**base_env(), **(env or {})}, capture_output=True, text=True,
        timeout=90, check=False,
    )


@pytest.mark.parametrize("ini", ["", "asyncio_mode = strict\n", "asyncio_mode = auto\n"])
def test_plugin_works_in_every_asyncio_mode(tmp_path: Path, ini: str) -> None:
    proj = user_project(tmp_path, USER_TESTS, ini)
    res = run_pytest(proj)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "5 passed" in res.stdout


def test_bad_marker_argument_is_a_sentence(tmp_path: Path) -> None:
    proj = user_project(tmp_path, '''
import pytest

@pytest.mark.sandbox(order=5)
async def test_typo(sandbox_store):
    pass

@pytest.mark.sandbox(5, 6)
async def test_two_positionals(sandbox_store):
    pass
''', "")
    res = run_pytest(proj, "-rA")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "@pytest.mark.sandbox: unknown argument 'order'" in out
    assert "did you mean 'orders'" in out
    assert "@pytest.mark.sandbox takes at most one positional argument" in out
    assert "TypeError" not in out and "Traceback" not in out


def test_missing_pytest_asyncio_is_explained(tmp_path: Path) -> None:
    proj = user_project(tmp_path, "def test_nothing():\n    pass\n", "")
    # As if pytest-asyncio were not installed: not auto-loaded, and not importable.
    res = run_pytest(proj, prelude="import sys\nsys.modules['pytest_asyncio'] = None",
                     env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "pip install 'bcb2b_async[testing]'" in out


async def test_runner_prints_ready_to_paste_credentials(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bcb2b_async.testing", "--orders", "50", "--b2b-rate", "none",
        "--v2-rate", "none", "--access-token", "my token$1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=base_env())
    assert proc.stdout is not None
    try:
        printed: list[str] = []
        while len([p for p in printed if p.startswith("export ")]) < 4:
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert raw, printed
            printed.append(raw.decode().rstrip("\n"))
        assert printed[0].startswith("SANDBOX http://127.0.0.1:")
        text = "\n".join(printed)
        assert "store hash: sandbox" in text and "access token: my token$1" in text
        env: dict[str, str] = {}
        for line in printed:
            if line.startswith("export "):
                # What a shell does with the pasted line.
                (assignment,) = shlex.split(line[len("export "):])
                key, _, value = assignment.partition("=")
                env[key] = value
        assert env["BCB2B_ACCESS_TOKEN"] == "my token$1"
        assert set(env) == {"BCB2B_STORE_HASH", "BCB2B_ACCESS_TOKEN", "BCB2B_B2B_URL",
                            "BCB2B_V2_URL"}
        out = tmp_path / "o.jsonl"
        code, _, err = await run_cli("export", "orders", "--out", str(out), "--quiet",
                                     "--b2b-rate", "off", env=env)
        assert code == 0, err
        assert out.read_text().strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert os.path.exists(out)
