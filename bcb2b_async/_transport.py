"""The only module that imports aiohttp: ``send()`` one request, get ``RawResponse`` back.

Network failures become :mod:`bcb2b_async.errors` types here, with ``sent`` telling the
retry policy whether a request may have reached the server. Redirects are never followed
(the access token must not travel to a host we were not configured for) and bodies are
read up to a size cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from multidict import CIMultiDictProxy

from .errors import APIConnectionError, APITimeoutError, BigCommerceError, BodyTooLargeError

__all__ = ["RawResponse", "Transport"]


@dataclass(slots=True)
class RawResponse:
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
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_body = max_body_bytes
        self._connection_limit = connection_limit
        self._closed = False

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session in use, created on first access when the client owns it."""
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._session is None:
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
    ) -> RawResponse:
        """Send one request and read the whole response.

        ``display_url`` is what errors show (the URL with its query, never a secret), or an
        object whose ``display_url`` builds it, so that it is only built for an error.
        """
        try:
            return await self._send(method, url, params, headers, body)
        except _Failure as failure:
            shown = display_url if isinstance(display_url, str) else display_url.display_url
            raise failure.error(method, shown) from failure.__cause__

    async def _send(
        self,
        method: str,
        url: str,
        params: Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> RawResponse:
        session = self.session
        try:
            async with session.request(
                method,
                url,
                params=params,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self._timeout,
            ) as resp:
                length = resp.content_length
                if length is not None and length > self._max_body:
                    raise _Failure("too_large", status=resp.status, size=length,
                                   cap=self._max_body)
                if length is not None:
                    data = await resp.read()
                else:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_any():
                        size += len(chunk)
                        if size > self._max_body:
                            raise _Failure("too_large", status=resp.status, size=None,
                                           cap=self._max_body)
                        chunks.append(chunk)
                    data = b"".join(chunks)
                return RawResponse(resp.status, resp.headers, data)
        except _Failure:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise _Failure("timeout") from err
        except aiohttp.ClientConnectorError as err:
            # The connection was never established: the request did not leave.
            raise _Failure(
                "connect", detail=f"{type(err).__name__}: {err.os_error.strerror or err.os_error}"
            ) from err
        except aiohttp.ClientPayloadError as err:
            raise _Failure("payload", detail=type(err).__name__) from err
        except (aiohttp.ClientError, OSError) as err:
            raise _Failure("connection", detail=type(err).__name__) from err


class _HasDisplayURL(Protocol):
    @property
    def display_url(self) -> str: ...


class _Failure(Exception):
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
        super().__init__(kind)
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
                                   sent=True)
        if self.kind == "connect":
            return APIConnectionError(f"{method} {url}: cannot connect ({self.detail})",
                                      method=method, url=url, sent=False)
        if self.kind == "payload":
            return APIConnectionError(
                f"{method} {url}: response body cut short ({self.detail})",
                method=method, url=url, sent=True,
            )
        return APIConnectionError(f"{method} {url}: connection failed ({self.detail})",
                                  method=method, url=url, sent=True)


def freeze_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """A case-insensitive read-only copy of ``headers`` (for tests and fakes)."""
    from multidict import CIMultiDict

    return CIMultiDictProxy(CIMultiDict(headers))
