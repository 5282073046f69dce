"""Building the one HTTP client a run shares, and choosing what carries its bytes.

Every mode talks through the httpx API; only the transport underneath is swapped. Transports
are httpx's own tiny interface (`handle_async_request`), so respx and test doubles plug in too.
"""

from __future__ import annotations

import ssl
from functools import cache

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


def async_client(options: Options) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=async_transport(options),
        timeout=options.timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )


def sync_client(options: Options) -> httpx.Client:
    """One pooled client for the threaded and sequential modes, sized to `max_req` workers."""
    limits = httpx.Limits(
        max_connections=options.max_req, max_keepalive_connections=options.max_req
    )
    return httpx.Client(
        transport=httpx.HTTPTransport(verify=ssl_context(), limits=limits),
        timeout=options.timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )
