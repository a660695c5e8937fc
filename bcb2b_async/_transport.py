"""The only module that imports aiohttp: ``send()`` one request, get ``RawResponse`` back.

Network failures become :mod:`bcb2b_async.errors` types here, with ``sent`` telling the
retry policy whether a request may have reached the server. Redirects are never followed
(the access token must not travel to a host we were not configured for) and bodies are
read up to a size cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy

from .errors import APIConnectionError, APITimeoutError, BigCommerceError

__all__ = ["RawResponse", "Transport"]


@dataclass(slots=True)
class RawResponse:
    """Status, case-insensitive headers and the whole body of one response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class BodyTooLargeError(BigCommerceError):
    """A response body exceeded the configured size cap."""


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
        display_url: str,
    ) -> RawResponse:
        """Send one request and read the whole response.

        ``display_url`` is what errors show (the same URL; kept separate so that nothing
        secret can leak through it).
        """
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
                    raise BodyTooLargeError(
                        f"{method} {display_url} -> {resp.status}: body of {length} bytes "
                        f"exceeds the {self._max_body}-byte cap"
                    )
                if length is not None:
                    data = await resp.read()
                else:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_any():
                        size += len(chunk)
                        if size > self._max_body:
                            raise BodyTooLargeError(
                                f"{method} {display_url} -> {resp.status}: body exceeds the "
                                f"{self._max_body}-byte cap"
                            )
                        chunks.append(chunk)
                    data = b"".join(chunks)
                return RawResponse(resp.status, resp.headers, data)
        except BigCommerceError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise APITimeoutError(
                f"{method} {display_url}: timed out", method=method, url=display_url, sent=True
            ) from err
        except aiohttp.ClientConnectorError as err:
            # The connection was never established: the request did not leave.
            raise APIConnectionError(
                f"{method} {display_url}: cannot connect ({type(err).__name__}: "
                f"{err.os_error.strerror or err.os_error})",
                method=method,
                url=display_url,
                sent=False,
            ) from err
        except aiohttp.ClientPayloadError as err:
            raise APIConnectionError(
                f"{method} {display_url}: response body cut short ({type(err).__name__})",
                method=method,
                url=display_url,
                sent=True,
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            raise APIConnectionError(
                f"{method} {display_url}: connection failed ({type(err).__name__})",
                method=method,
                url=display_url,
                sent=True,
            ) from err


def freeze_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """A case-insensitive read-only copy of ``headers`` (for tests and fakes)."""
    from multidict import CIMultiDict

    return CIMultiDictProxy(CIMultiDict(headers))
