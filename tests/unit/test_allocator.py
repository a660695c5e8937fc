"""``settle_allocator``: after it, a process reading 256 KiB socket buffers no longer pays
page faults for fresh mmapped memory on every response (glibc; see ``_transport.py``).

Each case runs in a fresh interpreter: the setting is per process and one-way.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
    reason="glibc's dynamic mmap threshold",
)

# Read 200 responses of 112 KB the way asyncio does (``recv`` into a 256 KiB buffer, which
# is then shrunk to what came), one at a time, and print the minor page faults that cost.
PROBE = r"""
import resource, socket
{setup}
a, b = socket.socketpair()
a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
body = b"x" * 112_000
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    a.sendall(body)
    got = 0
    while got < len(body):
        got += len(b.recv(256 * 1024))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
"""


def faults(setup: str, *env_extra: str) -> int:
    env = dict(e.split("=", 1) for e in env_extra)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)], capture_output=True, text=True,
        check=True, timeout=60, env={**_base_env(), **env},
    ).stdout
    return int(out)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}


def test_without_settling_every_block_faults() -> None:
    # The cost the library avoids: the pages of each buffer fresh from the kernel each time
    # (about 28 a response).
    assert faults("pass") > 200 * 20


def test_settled_blocks_are_reused_without_faults() -> None:
    n = faults("from bcb2b_async._transport import settle_allocator; settle_allocator()")
    assert n < 200 * 4


@pytest.mark.parametrize("own_session", [True, False])
def test_a_client_settles_it_once_when_its_pool_opens(own_session: bool) -> None:
    code = (
        "import asyncio, aiohttp\n"
        "from bcb2b_async import B2BClient, _transport\n"
        "async def main():\n"
        "    session = None if OWN else aiohttp.ClientSession()\n"
        "    client = B2BClient('abc', 'tok', session=session)\n"
        "    before = _transport._SETTLED\n"
        "    client._pipeline.transport.session\n"
        "    print(before, _transport._SETTLED)\n"
        "    await client.aclose()\n"
        "    if session is not None:\n"
        "        await session.close()\n"
        "asyncio.run(main())\n"
    ).replace("OWN", str(own_session))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    # An owned pool settles when it is created; a session passed in, when the client is.
    assert out == (["False", "True"] if own_session else ["True", "True"])


def test_a_threshold_the_process_chose_is_kept() -> None:
    # MALLOC_MMAP_THRESHOLD_ fixes glibc's threshold: settling must not (and cannot) move it.
    setup = "from bcb2b_async._transport import settle_allocator; settle_allocator()"
    assert faults(setup, "MALLOC_MMAP_THRESHOLD_=131072") > 200 * 20
