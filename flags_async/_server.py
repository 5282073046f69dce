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
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ._catalogue import Entry, build_catalogue

#: Queue of connections not yet accepted; the kernel caps it at net.core.somaxconn.
BACKLOG = 4096
#: Seconds in-flight requests get to finish when the server stops.
SHUTDOWN_TIMEOUT = 0.5


#: What a captive portal or a confused proxy sends instead of a GIF.
GARBAGE = b"<html><body><h1>Sign in to continue</h1></body></html>\n"
#: Seconds a throttled client is told to wait.
RETRY_AFTER = 1


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour applied to requests. Every request waits `delay`, then at most one fault
    is drawn by its rate (rates are exclusive, so they add up to at most 1)."""

    delay: tuple[float, float] | None = None
    error_rate: float = 0.0  # 418 I'm a teapot, as the book's slow_server
    throttle_rate: float = 0.0  # 429 with Retry-After
    garbage_rate: float = 0.0  # 200 with an HTML page labelled image/gif
    truncate_rate: float = 0.0  # half the body promised by Content-Length, then hang up
    reset_rate: float = 0.0  # reset the connection (TCP RST) without answering
    trickle: float | None = None  # send every body at this many bytes per second

    def __post_init__(self) -> None:
        if self.delay is not None:
            low, high = self.delay
            if not 0 <= low <= high:
                raise ValueError("delay needs 0 <= MIN <= MAX")
        rates = self._rates()
        if not all(0 <= rate <= 1 for _, rate in rates):
            raise ValueError("each fault rate must be between 0 and 1")
        if sum(rate for _, rate in rates) > 1:
            raise ValueError("fault rates add up to more than 1")
        if self.trickle is not None and self.trickle <= 0:
            raise ValueError("trickle needs a positive number of bytes per second")

    def _rates(self) -> list[tuple[str, float]]:
        return [("error", self.error_rate), ("throttle", self.throttle_rate),
                ("garbage", self.garbage_rate), ("truncate", self.truncate_rate),
                ("reset", self.reset_rate)]

    def pick(self, draw: float) -> str | None:
        """The fault for a request, given a uniform random `draw` in [0, 1)."""
        for name, rate in self._rates():
            if draw < rate:
                return name
            draw -= rate
        return None


@dataclass(frozen=True, slots=True)
class Preset:
    port: int
    faults: Faults


PRESETS = {
    "local": Preset(8000, Faults()),
    "delay": Preset(8001, Faults(delay=(0.5, 5.0))),
    "error": Preset(8002, Faults(delay=(0.5, 5.0), error_rate=0.25)),
    "chaos": Preset(8003, Faults(delay=(0.0, 0.2), error_rate=0.05, throttle_rate=0.1,
                                 garbage_rate=0.05, truncate_rate=0.1, reset_rate=0.1)),
}


def make_app(faults: Faults, catalogue: dict[str, Entry] | None = None,
             rng: random.Random | None = None) -> web.Application:
    """An app serving `/flags/<cc>/<file>` from the catalogue, and 404 for anything else."""
    files = build_catalogue() if catalogue is None else catalogue
    chance = rng or random.Random()

    async def flag_file(request: web.Request) -> web.StreamResponse:
        if faults.delay is not None:
            await asyncio.sleep(chance.uniform(*faults.delay))
        fault = faults.pick(chance.random())
        if fault == "error":
            return web.Response(status=418, text="I'm a teapot\n")
        if fault == "throttle":
            return web.Response(status=429, text="Too many requests\n",
                                headers={"Retry-After": str(RETRY_AFTER)})
        key = f"{request.match_info['cc']}/{request.match_info['name']}"
        entry = files.get(key)
        if entry is None:
            raise web.HTTPNotFound
        if fault == "garbage":
            return web.Response(body=GARBAGE, content_type=entry.content_type)
        if fault == "reset":
            return _reset(request)
        if fault == "truncate":
            return await _stream(request, entry, entry.body[: len(entry.body) // 2])
        if faults.trickle is not None:
            return await _stream(request, entry, entry.body, faults.trickle)
        return web.Response(body=entry.body, content_type=entry.content_type)

    app = web.Application()
    app.router.add_get("/flags/{cc}/{name}", flag_file)
    return app


def _reset(request: web.Request) -> web.Response:
    """Drop the connection with a TCP RST (SO_LINGER 0), answering nothing."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response()  # never sent: the connection is gone


async def _stream(request: web.Request, entry: Entry, data: bytes,
                  rate: float | None = None) -> web.StreamResponse:
    """Promise the whole body in Content-Length, send `data` (at `rate` bytes/s), and hang up
    if `data` is short of it. A client that gives up mid-way is not an error here."""
    response = web.StreamResponse(headers={"Content-Type": entry.content_type})
    response.content_length = len(entry.body)
    step = len(data) if rate is None else max(1, int(rate / 10))
    try:
        await response.prepare(request)
        for start in range(0, len(data), step):
            await response.write(data[start:start + step])
            if rate is not None:
                await asyncio.sleep(step / rate)
        if len(data) < len(entry.body) and request.transport is not None:
            request.transport.close()  # truncated: fewer bytes than Content-Length
        else:
            await response.write_eof()
    except ConnectionError:
        pass  # the client hung up first
    return response


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before the event loop starts, so errors (port in use) come early.

    The host is resolved first: `create_server` would report an unknown one as a bind error
    with a negative errno, which `os.strerror` cannot name.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = socket.getaddrinfo(host or None, port, family=family, type=socket.SOCK_STREAM,
                                 flags=socket.AI_PASSIVE)[0][4]  # AI_PASSIVE: "" is every address
    return socket.create_server(address, family=family, backlog=BACKLOG)


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
    # Stop promptly: a slow response still in flight (up to 5 s, or whatever --delay says) is
    # cut after a moment instead of holding the shutdown for aiohttp's default 60 s.
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
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
