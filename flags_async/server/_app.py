"""The bundled flag server's app, on aiohttp.web: fast by default, slow or faulty on request.

Delays are `asyncio.sleep`, so one process holds thousands of slow requests at once, which is
the point of the book's DELAY and ERROR servers: they make concurrency visible.
"""

from __future__ import annotations

import asyncio
import math
import random
import socket
import struct
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import web

from ._catalogue import Entry, build_catalogue

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
            if not 0 <= low <= high < math.inf:
                raise ValueError("delay needs 0 <= MIN <= MAX, in seconds")
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


def make_app(faults: Faults, catalogue: Mapping[str, Entry] | None = None,
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
    app.cleanup_ctx.append(lambda app: _making_ahead(files))
    return app


async def _making_ahead(files: Mapping[str, Entry]) -> AsyncIterator[None]:
    """While the server runs, make every file not asked for yet, one at a time between
    requests: a server that has just started answers at once, and soon without drawing."""

    async def make_all() -> None:
        for path in files:
            files.get(path)
            await asyncio.sleep(0)  # let requests in

    task = asyncio.create_task(make_all())
    yield
    task.cancel()


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
