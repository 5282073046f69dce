"""Building the one HTTP client a run shares, and choosing what carries its bytes.

Every mode talks through the httpx API; only the transport underneath is swapped. Transports
are httpx's own tiny interface (`handle_async_request`), so respx and test doubles plug in too.

The clients are httpx's, minus two costs httpx 0.28 pays on every response, which on loopback
are a fifth of a run's CPU in every mode (measured against nginx, 676 codes):
- Cookies: httpx hands each response to `http.cookiejar` through urllib look-alikes, parsing
  the URL once more and copying every header into an `email.message.Message`, even when there
  is no `Set-Cookie` (about 14% of a run). `SetCookieOnly` skips those responses, as
  pydantic/httpx2#1107 does.
- A reference cycle: httpx's stream wrapper points back at its response, so a finished
  response and everything it holds (the request, headers, aiohttp's objects: about 45 objects)
  waits for the cycle collector, which then ran about every other run, 21 ms each time.
  The clients drop the wrapper once the response is closed (`_LetGoAsync`, `_LetGoSync`), so
  reference counting frees it at once, as encode/httpx#3733 and pydantic/httpx2#948 do inside
  httpx.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import httpx

from ._fetching import MAX_REDIRECTS
from ._models import Options, TransportName


@cache
def ssl_context() -> ssl.SSLContext:
    """The TLS trust store, loaded once per process (about 25 ms) and shared by every client."""
    return httpx.create_ssl_context()


def async_transport(options: Options) -> httpx.AsyncBaseTransport:
    """aiohttp's engine with its pool sized to `max_req`, or httpx's own with default limits.

    httpx's own transport is the book's design and is kept for comparison: on loopback it is
    several times slower than aiohttp's connection handling at high concurrency.
    """
    if options.transport is TransportName.AIOHTTP:
        from ._aiohttp import AiohttpTransport  # imported here: aiohttp is heavy

        limits = httpx.Limits(max_connections=options.max_req)
        return AiohttpTransport(verify=ssl_context(), limits=limits)
    return httpx.AsyncHTTPTransport(verify=ssl_context())


class SetCookieOnly(httpx.Cookies):
    """httpx's cookie store, reading only the responses that set a cookie.

    Without a `Set-Cookie` (or the obsolete `Set-Cookie2`) header a response cannot change the
    jar: `http.cookiejar` would build its look-alike objects only to return no cookies.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _LetGoAsync(httpx.AsyncByteStream):
    """A response's stream that lets go of httpx's wrapper (which points back at the response)
    once it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream: httpx.AsyncByteStream | None = stream

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            raise httpx.StreamClosed
        return self._stream.__aiter__()  # the wrapped stream's own iterator: no extra layer

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()


class _LetGoSync(httpx.SyncByteStream):
    """`_LetGoAsync` for the sync client."""

    def __init__(self, stream: httpx.SyncByteStream) -> None:
        self._stream: httpx.SyncByteStream | None = stream

    def __iter__(self) -> Iterator[bytes]:
        if self._stream is None:
            raise httpx.StreamClosed
        return self._stream.__iter__()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


class _SetCookieOnlyJar:
    """The clients' `cookies`: a `SetCookieOnly` store, made from the `cookies` argument."""

    _jar: httpx.Cookies

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = SetCookieOnly(cookies)


class AsyncClient(_SetCookieOnlyJar, httpx.AsyncClient):
    """`httpx.AsyncClient` that skips cookie parsing without `Set-Cookie`, and whose responses
    are freed as soon as they are closed (see the module's docstring)."""

    def __init__(self, *, cookies: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = cookies

    async def send(self, request: httpx.Request, *, stream: bool = False,
                   **kwargs: Any) -> httpx.Response:
        # As httpx's own `send`: ask for the stream, then read it unless the caller streams.
        response = await super().send(request, stream=True, **kwargs)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _LetGoAsync(response.stream)
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response


class Client(_SetCookieOnlyJar, httpx.Client):
    """`httpx.Client`, with the same two savings as `AsyncClient`."""

    def __init__(self, *, cookies: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = cookies

    def send(self, request: httpx.Request, *, stream: bool = False,
             **kwargs: Any) -> httpx.Response:
        response = super().send(request, stream=True, **kwargs)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _LetGoSync(response.stream)
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response


def async_client(options: Options) -> httpx.AsyncClient:
    """The async client. It has no timeouts of its own: each attempt runs under one deadline
    (`asyncio.timeout` in `_async.get`) that covers connect, headers and body together.
    httpx's per-phase timeouts of the same length could never fire first, and aiohttp re-arms
    a timer for each read under them (without them, async runs against nginx took 4% less:
    0.175 s against 0.183 s, medians of 60 shuffled runs)."""
    return AsyncClient(
        transport=async_transport(options),
        timeout=None,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )


def sync_client(options: Options) -> httpx.Client:
    """One pooled client for the threaded and sequential modes, sized to `max_req` workers."""
    limits = httpx.Limits(
        max_connections=options.max_req, max_keepalive_connections=options.max_req
    )
    return Client(
        transport=httpx.HTTPTransport(verify=ssl_context(), limits=limits),
        timeout=options.timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )
