"""httpx-aiohttp's transport, with its connection errors mapped faithfully.

httpx-aiohttp 0.2.0 maps every `aiohttp.ClientConnectionError` to `httpx.ConnectTimeout`, and
that broad entry wins over the specific ones, so a refused connection or a server that hangs
up mid-body looks like a timeout (see openai/openai-python#3594, which hit the same map). We
re-map by the original exception, kept as `__cause__`, so all modes report the same reasons.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator

import httpx
from httpx_aiohttp import AiohttpTransport


def _faithful(exc: httpx.ConnectTimeout) -> httpx.TransportError:
    cause = exc.__cause__
    if cause is None or isinstance(cause, TimeoutError):
        return exc  # a real timeout
    if isinstance(cause, OSError) and cause.errno == errno.ECONNRESET:
        return httpx.ReadError(str(exc))  # the peer reset an open connection
    if isinstance(cause, OSError):
        return httpx.ConnectError(str(exc))  # refused, unreachable, DNS failure
    return httpx.ReadError(str(exc))  # for example ServerDisconnectedError


class _FaithfulStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.ConnectTimeout as exc:
            raise _faithful(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._stream.aclose()


class FaithfulAiohttpTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            raise _faithful(exc) from exc.__cause__
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _FaithfulStream(response.stream)
        return response
