"""The bundled flag server, on aiohttp.web: fast by default, slow or faulty on request.

Delays are `asyncio.sleep`, so one process holds thousands of slow requests at once, which is
the point of the book's DELAY and ERROR servers: they make concurrency visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ._catalogue import Entry, build_catalogue

#: Queue of connections not yet accepted; the kernel caps it at net.core.somaxconn.
BACKLOG = 4096


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour applied to each request, as the book's slow_server does."""

    delay: tuple[float, float] | None = None
    error_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.delay is not None:
            low, high = self.delay
            if not 0 <= low <= high:
                raise ValueError("delay needs 0 <= MIN <= MAX")
        if not 0 <= self.error_rate <= 1:
            raise ValueError("error rate must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class Preset:
    port: int
    faults: Faults


PRESETS = {
    "local": Preset(8000, Faults()),
    "delay": Preset(8001, Faults(delay=(0.5, 5.0))),
    "error": Preset(8002, Faults(delay=(0.5, 5.0), error_rate=0.25)),
}


def make_app(faults: Faults, catalogue: dict[str, Entry] | None = None,
             rng: random.Random | None = None) -> web.Application:
    """An app serving `/flags/<cc>/<file>` from the catalogue, and 404 for anything else."""
    files = build_catalogue() if catalogue is None else catalogue
    chance = rng or random.Random()

    async def flag_file(request: web.Request) -> web.Response:
        if faults.delay is not None:
            await asyncio.sleep(chance.uniform(*faults.delay))
        if faults.error_rate and chance.random() < faults.error_rate:
            return web.Response(status=418, text="I'm a teapot\n")
        key = f"{request.match_info['cc']}/{request.match_info['name']}"
        entry = files.get(key)
        if entry is None:
            raise web.HTTPNotFound
        return web.Response(body=entry.body, content_type=entry.content_type)

    app = web.Application()
    app.router.add_get("/flags/{cc}/{name}", flag_file)
    return app


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before the event loop starts, so errors (port in use) come early."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/flags"


async def serve(
    app: web.Application,
    sock: socket.socket,
    on_ready: Callable[[str], None],
    stop_on_stdin_eof: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until `stop` is set: by default on SIGINT/SIGTERM, or when standard input closes
    (when a parent process owns us). Callers outside the main thread pass their own `stop`."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock, backlog=BACKLOG).start()
        loop = asyncio.get_running_loop()
        if stop is None:
            stop = asyncio.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
        if stop_on_stdin_eof:
            _stop_when_stdin_closes(loop, stop)
        on_ready(base_url(sock))
        await stop.wait()
    finally:
        await runner.cleanup()


def _stop_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """A parent that dies, even by SIGKILL, closes our stdin: never outlive it."""
    fd = sys.stdin.fileno()

    def on_readable() -> None:
        with contextlib.suppress(OSError):
            if os.read(fd, 4096):
                return
        loop.remove_reader(fd)
        stop.set()

    loop.add_reader(fd, on_readable)
