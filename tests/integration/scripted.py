"""A sandbox store whose B2B list answers a test can script, plus a controllable clock.

``ScriptedStore`` adds an outermost middleware to the sandbox's app: it counts B2B list
requests (``GET /api/v3/io/orders``), can replace an answer (a 403, a 5xx, a 2xx with
``"data": null``) and can run a callback after each list answer is built and before it is
sent (to change the store "between two requests" exactly where a test wants).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bcb2b_async.testing import SandboxStore

LIST_PATH = "/api/v3/io/orders"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: ``answer(n, request)``: the n-th list request (1-based) → a replacement answer or None.
Answer = Callable[[int, web.Request], web.Response | None]
#: ``after(n, request, doc)``: runs after the n-th list answer (its decoded JSON) is built.
After = Callable[[int, web.Request, dict[str, Any]], None]


class Clock:
    """Real time, or a fixed second while ``fixed`` is set (the store stamps with it)."""

    def __init__(self) -> None:
        self.fixed: float | None = None

    def __call__(self) -> float:
        return time.time() if self.fixed is None else self.fixed


def b2b_error(status: int, message: str) -> web.Response:
    body = {"code": status, "data": {"errMsg": message}, "meta": {"message": message}}
    return web.json_response(body, status=status)


def null_data(n: int) -> web.Response:
    """A 2xx whose ``data`` is null, as the issue reported it."""
    body = {"code": 200, "data": None,
            "meta": {"message": "SUCCESS", "pagination": {"totalCount": 0, "limit": 200,
                                                          "offset": 0}}}
    return web.json_response(body)


class ScriptedStore(SandboxStore):
    """:class:`SandboxStore` with scripted list answers (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_requests = 0
        self.products_requests = 0
        self.answer: Answer | None = None
        self.after: After | None = None
        self.answer_products: Callable[[int], web.Response | None] | None = None
        self.list_queries: list[dict[str, str]] = []

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.middlewares.insert(0, self._script)
        return app

    @web.middleware
    async def _script(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "GET" and request.path.startswith(LIST_PATH + "/") and \
                request.path.endswith("/products"):
            self.products_requests += 1
            if self.answer_products is not None:
                replaced = self.answer_products(self.products_requests)
                if replaced is not None:
                    return replaced
            return await handler(request)
        if request.method != "GET" or request.path != LIST_PATH:
            return await handler(request)
        self.list_requests += 1
        n = self.list_requests
        self.list_queries.append(dict(request.query))
        if self.answer is not None:
            replaced = self.answer(n, request)
            if replaced is not None:
                return replaced
        resp = await handler(request)
        if self.after is not None and isinstance(resp, web.Response) and resp.status == 200:
            body = resp.body
            doc = json.loads(body if isinstance(body, bytes) else b"{}")
            self.after(n, request, doc)
        return resp
