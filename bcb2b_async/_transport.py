"""The only module that imports aiohttp: ``send()`` one request, get ``RawResponse`` back.

Network failures become :mod:`bcb2b_async.errors` types here, with ``sent`` telling the
retry policy whether a request may have reached the server. Redirects are never followed
(the access token must not travel to a host we were not configured for) and bodies are
read up to a size cap.

aiohttp silently sends an idempotent request a second time when a kept-alive connection
turns out to be closed (RFC 9112 section 9.3.1). That second request would reach the
server without passing the rate limiter, so it is switched off on the session in use:
the pipeline's own retry (counted, through the limiter) handles the dropped connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from typing import Protocol

import aiohttp
import msgspec

from .errors import (
    APIConnectionError,
    APITimeoutError,
    BigCommerceError,
    BodyTooLargeError,
    ClientClosedError,
    WrongEventLoopError,
)

__all__ = ["RawResponse", "Transport", "settle_allocator"]

#: Whether this process's allocator has been settled (see :func:`settle_allocator`).
_SETTLED = False
#: One freed block of this size moves glibc's mmap threshold above asyncio's read buffer.
_SETTLE_BYTES = 1 << 20


def settle_allocator() -> None:
    """Free one 1 MiB block, once per process, so that glibc stops mmapping read buffers.

    asyncio reads a socket into a 256 KiB buffer. glibc's malloc serves a request above
    its mmap threshold (128 KiB at start) with fresh pages from the kernel and gives them
    back on free, so every response of a list walk cost about 30 page faults (measured:
    30,000 to 60,000 faults for a 300,000-order walk, against 7,000 after this). glibc
    raises the threshold by itself once a larger block has been freed; this frees one
    such block up front (``bytes`` of zeros from ``calloc``: the pages are never
    touched). A process that set its own threshold (``mallopt``, ``MALLOC_MMAP_THRESHOLD_``)
    keeps it; other allocators are unaffected.
    """
    global _SETTLED
    if not _SETTLED:
        _SETTLED = True
        block = bytes(_SETTLE_BYTES)
        del block


class RawResponse(msgspec.Struct):
    """Status, case-insensitive headers and the whole body of one response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport:
    """Sends requests over one pooled ``aiohttp.ClientSession``.

    A session passed in is used as is and never closed here; otherwise one is created on
    first use (keep-alive, bounded connector) and closed by :meth:`aclose`.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        timeout: float,
        max_body_bytes: int,
        connection_limit: int,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        if session is not None:
            _no_silent_resend(session)
            settle_allocator()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_body = max_body_bytes
        self._connection_limit = connection_limit
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def check_usable(self) -> None:
        """Raise a typed error when this transport cannot serve the running event loop.

        A closed transport raises :class:`ClientClosedError`; one first used from another
        event loop (its pool and the limiters belong to that loop) raises
        :class:`WrongEventLoopError`.
        """
        if self._closed:
            raise ClientClosedError(
                "this client is closed (aclose() was called or its 'async with' block ended); "
                "create a new B2BClient"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise WrongEventLoopError(
                "B2BClient calls must be awaited inside a running event loop"
            ) from None
        if self._loop is None:
            session_loop = getattr(self._session, "_loop", None)
            self._loop = session_loop if session_loop is not None else loop
        if loop is not self._loop:
            raise WrongEventLoopError(
                "this client was first used from another event loop; a client (its connection "
                "pool and limiters) belongs to one loop: create one client per event loop"
            )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session in use, created on first access when the client owns it."""
        if self._closed:
            raise ClientClosedError(
                "this client is closed (aclose() was called or its 'async with' block ended); "
                "create a new B2BClient"
            )
        if self._session is None:
            settle_allocator()
            connector = aiohttp.TCPConnector(
                limit=self._connection_limit,
                limit_per_host=self._connection_limit,
                keepalive_timeout=30.0,
                enable_cleanup_closed=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=True,
                raise_for_status=False,
            )
            _no_silent_resend(self._session)
        return self._session

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str],
        body: bytes | None,
        display_url: str | _HasDisplayURL,
        time_limit: float | None = None,
    ) -> RawResponse:
        """Send one request and read the whole response.

        ``display_url`` is what errors show (the URL with its query, never a secret), or an
        object whose ``display_url`` builds it, so that it is only built for an error.
        ``time_limit`` (seconds for the whole exchange) overrides the transport's default.
        """
        limit = self._timeout if time_limit is None else aiohttp.ClientTimeout(total=time_limit)
        session = self.session
        try:
            async with session.request(
                method,
                url,
                params=params,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=limit,
            ) as resp:
                length = resp.content_length
                if length is not None and length > self._max_body:
                    raise _Failure("too_large", status=resp.status, size=length,
                                   cap=self._max_body).error(method, _shown(display_url))
                if length is not None:
                    data = await resp.read()
                else:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_any():
                        size += len(chunk)
                        if size > self._max_body:
                            raise _Failure("too_large", status=resp.status, size=None,
                                           cap=self._max_body).error(method,
                                                                     _shown(display_url))
                        chunks.append(chunk)
                    data = b"".join(chunks)
                return RawResponse(resp.status, resp.headers, data)
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            failure = _Failure("timeout")
            cause: BaseException = err
        except aiohttp.ClientConnectorError as err:
            # The connection was never established: the request did not leave.
            failure = _Failure(
                "dns" if _is_dns_failure(err) else "connect",
                detail=f"{type(err).__name__}: {err.os_error.strerror or err.os_error}",
            )
            cause = err
        except aiohttp.ClientPayloadError as err:
            failure, cause = _Failure("payload", detail=type(err).__name__), err
        except aiohttp.ServerDisconnectedError as err:
            failure, cause = _Failure("disconnected", detail=type(err).__name__), err
        except (aiohttp.ClientError, OSError) as err:
            failure, cause = _Failure("connection", detail=type(err).__name__), err
        raise failure.error(method, _shown(display_url)) from cause


def _shown(display_url: str | _HasDisplayURL) -> str:
    return display_url if isinstance(display_url, str) else display_url.display_url


class _HasDisplayURL(Protocol):
    @property
    def display_url(self) -> str: ...


class _Failure:
    """What went wrong, before the (lazily built) URL is put into the public error."""

    def __init__(
        self,
        kind: str,
        *,
        detail: str = "",
        status: int = 0,
        size: int | None = None,
        cap: int = 0,
    ) -> None:
        self.kind = kind
        self.detail = detail
        self.status = status
        self.size = size
        self.cap = cap

    def error(self, method: str, url: str) -> BigCommerceError:
        if self.kind == "too_large":
            what = f"body of {self.size} bytes" if self.size is not None else "body"
            return BodyTooLargeError(
                f"{method} {url} -> {self.status}: {what} exceeds the {self.cap}-byte cap"
            )
        if self.kind == "timeout":
            return APITimeoutError(f"{method} {url}: timed out", method=method, url=url,
                                   sent=True, kind="timeout")
        if self.kind == "dns":
            return APIConnectionError(
                f"{method} {url}: the host name does not resolve ({self.detail}); check the "
                "base URL and the network's DNS",
                method=method, url=url, sent=False, kind="dns",
            )
        if self.kind == "connect":
            return APIConnectionError(f"{method} {url}: cannot connect ({self.detail})",
                                      method=method, url=url, sent=False, kind="connect")
        if self.kind == "payload":
            return APIConnectionError(
                f"{method} {url}: response body cut short ({self.detail})",
                method=method, url=url, sent=True, kind="payload",
            )
        if self.kind == "disconnected":
            return APIConnectionError(
                f"{method} {url}: the server closed the connection without answering",
                method=method, url=url, sent=True, kind="disconnected",
            )
        return APIConnectionError(f"{method} {url}: connection failed ({self.detail})",
                                  method=method, url=url, sent=True)


def _is_dns_failure(err: aiohttp.ClientConnectorError) -> bool:
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(err, dns_error):
        return True
    return isinstance(err.os_error, socket.gaierror)


def _no_silent_resend(session: aiohttp.ClientSession) -> None:
    """Turn off aiohttp's one silent resend of an idempotent request on a stale connection."""
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
