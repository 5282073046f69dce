"""`AiohttpTransport`: httpx's transport interface, carried by an aiohttp `ClientSession`.

This module is only the adapter: httpx still builds requests, follows redirects and keeps
cookies; aiohttp only moves bytes, with its own connection pool and C parser. Its failures
become the httpx exceptions they mean, so `_fetch` classifies them by type, whichever
transport raised them. docs/design.md says why this adapter is owned rather than taken from
the httpx-aiohttp package.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from aiohttp import client_exceptions as errors

#: aiohttp's failures and the httpx ones they mean, most specific first (subclasses come
#: before their bases: a `ClientConnectorError` is also a `ClientOSError`).
_TRANSLATIONS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (errors.ClientConnectorError, httpx.ConnectError),  # refused, unreachable, DNS, TLS
    (errors.ConnectionTimeoutError, httpx.ConnectTimeout),  # also: no pool slot in time
    (errors.SocketTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.ReadTimeout),
    (errors.ServerDisconnectedError, httpx.RemoteProtocolError),  # closed, no response
    (errors.ClientPayloadError, httpx.ReadError),  # a body cut short
    (errors.ClientOSError, httpx.ReadError),  # a reset on an open connection
    (errors.ClientConnectionError, httpx.ReadError),
    (errors.ClientResponseError, httpx.RemoteProtocolError),  # not HTTP at all
    (errors.InvalidURL, httpx.UnsupportedProtocol),
    (errors.NonHttpUrlClientError, httpx.UnsupportedProtocol),
)


def translate(exc: BaseException) -> httpx.TransportError:
    """The httpx exception an aiohttp failure stands for, keeping aiohttp's message."""
    for aiohttp_type, httpx_type in _TRANSLATIONS:
        if isinstance(exc, aiohttp_type):
            return httpx_type(str(exc) or type(exc).__name__)
    return httpx.TransportError(str(exc) or type(exc).__name__)


class _ResponseStream(httpx.AsyncByteStream):
    """The body, as aiohttp receives it; closing hands the connection back to the pool."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc) from exc

    async def aclose(self) -> None:
        # A body read to the end has already freed its connection; one cut short closes it.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session, with up to `limits.max_connections`
    connections (None: no limit), kept alive for `limits.keepalive_expiry` seconds; through
    `proxy` if given, else, with `trust_env`, through the environment's proxies."""

    def __init__(self, *, verify: ssl.SSLContext, limits: httpx.Limits,
                 proxy: str | None = None, trust_env: bool = True) -> None:
        self._ssl = verify
        self._limits = limits
        self._proxy = proxy
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        """Made on first use, because aiohttp binds it to the running event loop."""
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            auto_decompress=False,  # httpx decodes the content encoding
            trust_env=self._trust_env,  # the environment's proxies, as httpx reads them
        )

    @staticmethod
    def _timeout(extension: dict[str, float | None]) -> aiohttp.ClientTimeout:
        """httpx's per-phase timeouts as aiohttp's."""
        return aiohttp.ClientTimeout(total=None, connect=extension.get("pool"),
                                     sock_connect=extension.get("connect"),
                                     sock_read=extension.get("read"))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open_session()
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp does the chunked encoding
            data = request.stream
            request.headers.pop("transfer-encoding", None)
        url = request.url
        if url.userinfo:  # httpx has sent them as an Authorization header; aiohttp takes one
            url = url.copy_with(userinfo=b"")
        try:
            response = await self._session.request(
                request.method,
                str(url),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,  # httpx follows redirects itself
                timeout=self._timeout(request.extensions.get("timeout", {})),
                server_hostname=request.extensions.get("sni_hostname"),
                proxy=self._proxy,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc) from exc
        version = response.version
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response),
            request=request,
            extensions={
                "http_version": f"HTTP/{version.major}.{version.minor}".encode()
                if version else b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
