"""Row 2, baseline side: how the official synchronous client walks, one
``requests.Session`` and ``json``, page after page.

``python -m benchmarks._row2_requests URL`` prints ``ROW1 orders id_sum setup_s walk_s``
like the row 1 scripts (it runs in the same rounds); row 2 compares walk times
(``walk_s``), not process times.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

import requests  # noqa: E402

_T1 = time.perf_counter()

STORE_HASH = "sandbox"
TOKEN = "sandbox-token"
PAGE = 200
QUERY = [("minCreated", "0"), ("sortBy", "updatedAt"), ("orderBy", "DESC")]


def walk(url: str) -> tuple[int, int]:
    """Every order, in order: (count, sum of bcOrderId)."""
    endpoint = url + "/api/v3/io/orders"
    n = ids = offset = 0
    total: int | None = None
    with requests.Session() as s:
        s.headers.update({"X-Auth-Token": TOKEN, "X-Store-Hash": STORE_HASH,
                          "Accept": "application/json"})
        while total is None or offset < total:
            r = s.get(endpoint, params=[("limit", str(PAGE)), ("offset", str(offset)), *QUERY],
                      timeout=30)
            r.raise_for_status()
            doc = json.loads(r.content)
            total = doc["meta"]["pagination"]["totalCount"]
            for order in doc["data"]:
                n += 1
                ids += order["bcOrderId"]
            offset += PAGE
    return n, ids


def main() -> int:
    t = time.perf_counter()
    n, ids = walk(sys.argv[1])
    print(f"ROW1 {n} {ids} {_T1 - _T0:.6f} {time.perf_counter() - t:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
