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
import time
from collections.abc import Mapping

from aiohttp import web

from ._catalogue import Entry, load_catalogue
from ._faults import Faults

#: What a captive portal or a confused proxy sends instead of a GIF.
GARBAGE = b"<html><body><h1>Sign in to continue</h1></body></html>\n"
#: Seconds a throttled client is told to wait.
RETRY_AFTER = 1


class Limiter:
    """A token bucket for each client address, as nginx's `limit_req`: `rate` requests a
    second, up to `burst` at once; `refused` counts the requests beyond."""

    def __init__(self, rate: float, burst: int, headers: str = "none") -> None:
        self.rate, self.burst, self.headers = rate, burst, headers
        self.refused = 0
        self._buckets: dict[str, tuple[float, float]] = {}  # address: tokens, when

    def refusal(self, client: str) -> web.Response | None:
        """None if `client` may ask now (a token is taken), else the 429 to answer."""
        now = time.monotonic()
        tokens, then = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
        if tokens >= 1:
            return None
        self.refused += 1
        wait = math.ceil((1 - tokens) / self.rate)  # whole seconds, as both headers take
        quota, window = (round(self.rate), 1) if self.rate >= 1 else (1, round(1 / self.rate))
        headers = {"retry-after": {"Retry-After": str(wait)},
                   "ratelimit": {"RateLimit-Policy": f'"default";q={quota};w={window}',
                                 "RateLimit": f'"default";r=0;t={wait}'}}.get(self.headers)
        return web.Response(status=429, text="Too many requests\n", headers=headers)


#: The app's `Limiter`, with `faults.rate_limit`.
LIMITER = web.AppKey("limiter", Limiter)


def make_app(faults: Faults, catalogue: Mapping[str, Entry] | None = None,
             rng: random.Random | None = None) -> web.Application:
    """An app serving `/flags/<cc>/<file>` from the catalogue, and 404 for anything else."""
    files = load_catalogue() if catalogue is None else catalogue
    chance = rng or random.Random()
    limiter = None if faults.rate_limit is None else Limiter(
        faults.rate_limit, faults.burst, faults.limit_headers)

    async def flag_file(request: web.Request) -> web.StreamResponse:
        if limiter is not None and (refusal := limiter.refusal(request.remote or "")):
            return refusal
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
    if limiter is not None:
        app[LIMITER] = limiter
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
