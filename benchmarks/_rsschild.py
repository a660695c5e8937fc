"""Run one command from a small process and report the command's peak RSS.

``python -I -S benchmarks/_rsschild.py TIMEOUT CMD ARGS...`` prints one JSON line:
``exit``, ``maxrss_kib`` (``wait4`` rusage of the command), ``hwm_kib`` (the largest
``VmHWM`` polled from /proc every 10 ms while it ran) and ``launcher_kib`` (this process's
RSS when it spawned the command).

Why a launcher: on Linux a child's ``ru_maxrss`` includes the RSS of the process it was
forked from (the pre-exec image counts), so measuring straight from the benchmark
process would report the benchmark's own size whenever it is the larger. Started with
``-I -S``, this launcher imports next to nothing and stays small.
"""

import json
import os
import sys
import time


def _kib(path: str, key: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def main() -> int:
    timeout = float(sys.argv[1])
    argv = sys.argv[2:]
    launcher = _kib("/proc/self/status", "VmRSS:")
    devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=devnull)
    deadline = time.monotonic() + timeout
    hwm = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        hwm = max(hwm, _kib(f"/proc/{pid}/status", "VmHWM:"))
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.wait4(pid, 0)
            print(json.dumps({"timeout": True}))
            return 1
        time.sleep(0.01)
    print(json.dumps({
        "exit": os.waitstatus_to_exitcode(status),
        "maxrss_kib": usage.ru_maxrss,
        "hwm_kib": hwm,
        "launcher_kib": launcher,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
