"""The one HTTP client a run shares, and what carries its bytes.

Every mode talks through httpx's API; only the transport underneath is swapped, behind httpx's
own tiny interface (`handle_async_request`), so respx and test doubles plug in too.
"""

from __future__ import annotations

import ssl
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from .._models import Options, TransportName
from ._fetch import MAX_REDIRECTS
from ._server_url import environment_proxies, proxy_for


@cache
def ssl_context(cacert: Path | None) -> ssl.SSLContext:
    """The TLS trust store: httpx's default, certifi's CA bundle (or the one `SSL_CERT_FILE` or
    `SSL_CERT_DIR` names), plus the CA certificates in `cacert`; loaded once per process and
    per `cacert` (always given, so that one store has one cache key) and shared by every
    client.
    Raises `OSError` or `ssl.SSLError` if `cacert` cannot be read."""
    context = httpx.create_ssl_context()
    if cacert is not None:
        try:
            context.load_verify_locations(cafile=cacert)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise type(exc)(exc.errno, exc.strerror, str(cacert)) from None  # ssl's has no name
    return context


def load_transport(transport: TransportName) -> None:
    """Import the engine under `transport` now, so the download phase does not pay for it."""
    if transport is TransportName.AIOHTTP:
        from . import _aiohttp  # noqa: F401


def async_client(options: Options) -> httpx.AsyncClient:
    """The async client: aiohttp's engine with its pool sized to `max_req`, or httpx's own
    transport (the book's), kept for comparison (docs/design.md says why aiohttp's is the
    default). `timeout` bounds each wait, `_fetch.check_progress` the attempt. Proxies: see
    `Options.proxy`."""
    settings: dict[str, Any] = {"timeout": options.timeout, "follow_redirects": True,
                                "max_redirects": MAX_REDIRECTS}
    if options.transport is TransportName.AIOHTTP:
        from ._aiohttp import AiohttpTransport  # imported here: aiohttp is heavy

        limits = httpx.Limits(max_connections=options.max_req)
        # The environment's proxy is read once, here, not by aiohttp for every request: its
        # look-ups run in threads, whose wake-ups can crowd out a Ctrl-C (see `_signals`).
        proxy = None if options.direct else proxy_for(options.base_url, options.proxy)
        transport = AiohttpTransport(verify=ssl_context(options.cacert), limits=limits,
                                     proxy=proxy, trust_env=False)
        return httpx.AsyncClient(transport=transport, **settings)
    check_environment_proxies(options)
    return httpx.AsyncClient(verify=ssl_context(options.cacert), proxy=options.proxy,
                             trust_env=not options.direct, **settings)


def sync_client(options: Options) -> httpx.Client:
    """One pooled client for the threaded and sequential modes, sized to `max_req` workers.
    Proxies: see `Options.proxy`."""
    limits = httpx.Limits(
        max_connections=options.max_req, max_keepalive_connections=options.max_req
    )
    check_environment_proxies(options)
    return httpx.Client(
        verify=ssl_context(options.cacert), limits=limits, proxy=options.proxy,
        trust_env=not options.direct, timeout=options.timeout, follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )


def check_environment_proxies(options: Options) -> None:
    """A `ServerError` now, naming the variable, for an unusable proxy in the environment
    that httpx is about to read (it would raise its own error, or import a SOCKS library)."""
    if not options.direct and options.proxy is None:
        environment_proxies()
