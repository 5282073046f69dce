"""Running the bundled server: bind early, serve until told to stop, stop promptly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
from collections.abc import Callable

from aiohttp import web

from ._embedded import PARENT_PID

#: Queue of connections not yet accepted; the kernel caps it at net.core.somaxconn.
BACKLOG = 4096
#: Seconds in-flight requests get to finish when the server stops.
SHUTDOWN_TIMEOUT = 0.5


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before the event loop starts, so errors (port in use) come early.

    The host is resolved first: `create_server` would report an unknown one as a bind error
    with a negative errno, which `os.strerror` cannot name.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = socket.getaddrinfo(host or None, port, family=family, type=socket.SOCK_STREAM,
                                 flags=socket.AI_PASSIVE)[0][4]  # AI_PASSIVE: "" is every address
    return socket.create_server(address, family=family, backlog=BACKLOG)


def base_url(sock: socket.socket, tls: bool = False) -> str:
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{host}:{port}/flags"


def tls_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    """A server-side TLS context for the certificate chain in `certfile` and its private key
    (in `keyfile`, or else in `certfile` too)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


async def serve_until_stopped(
    app: web.Application,
    sock: socket.socket,
    on_ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
    tls: ssl.SSLContext | None = None,
) -> int | None:
    """Serve until `stop` is set: by default on SIGINT or SIGTERM, or once the client named by
    `PARENT_PID` is gone (killed outright, it could not stop its server); callers outside the
    main thread pass their own `stop`. Returns the signal that stopped the server, if one did."""
    # Stop promptly: a slow response still in flight (up to 5 s, or whatever --delay says) is
    # cut after a moment instead of holding the shutdown for aiohttp's default 60 s.
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    stopped_by: list[int] = []
    watch: asyncio.Task[None] | None = None
    try:
        await web.SockSite(runner, sock, backlog=BACKLOG, ssl_context=tls).start()
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, _stopper(stop, stopped_by), signum)
            if (parent := os.environ.pop(PARENT_PID, "")).isdigit():  # not for its children
                watch = asyncio.create_task(_stop_when_orphaned(int(parent), stop))
        on_ready(base_url(sock, tls is not None))
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
        await runner.cleanup()
    return stopped_by[0] if stopped_by else None


def _stopper(stop: asyncio.Event, stopped_by: list[int]) -> Callable[[int], None]:
    def on_signal(signum: int) -> None:
        stopped_by.append(signum)
        stop.set()

    return on_signal


async def _stop_when_orphaned(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:  # noqa: ASYNC110 (no event tells of a parent's end)
        await asyncio.sleep(0.5)
    stop.set()
