"""The aiohttp transport: httpx requests in, httpx responses and httpx exceptions out."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import client_exceptions as errors
from aiohttp import web
from aiohttp.test_utils import TestServer

from flags_async.client._aiohttp import AiohttpTransport, translate
from flags_async.client._http import ssl_context


def transport(max_connections: int | None = 10) -> AiohttpTransport:
    return AiohttpTransport(verify=ssl_context(None),
                            limits=httpx.Limits(max_connections=max_connections))


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body, status=201, reason="Made It",
                        headers={"X-Method": request.method, "X-Seen": request.headers["X-Test"],
                                 "X-Authorization": request.headers.get("Authorization", "")})


def with_echo_server(test: Callable[[str], Awaitable[None]]) -> None:
    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/echo", echo)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            await test(str(server.make_url("/echo")))
        finally:
            await server.close()

    asyncio.run(main())


def test_a_request_and_its_response_cross_the_adapter_whole() -> None:
    async def test(url: str) -> None:
        async with httpx.AsyncClient(transport=transport()) as client:
            response = await client.post(url, content=b"flag", headers={"X-Test": "yes"})
        assert (response.status_code, response.reason_phrase) == (201, "Made It")
        assert response.http_version == "HTTP/1.1"
        assert response.headers["x-method"] == "POST" and response.headers["x-seen"] == "yes"
        assert response.content == b"flag"

    with_echo_server(test)


def test_credentials_in_the_url_go_as_one_authorization_header() -> None:
    """httpx turns them into a header; aiohttp refuses a URL that carries them too."""
    async def test(url: str) -> None:
        with_credentials = url.replace("http://", "http://bob:s3cret@")
        async with httpx.AsyncClient(transport=transport()) as client:
            response = await client.get(with_credentials, headers={"X-Test": "auth"})
        assert response.status_code == 201
        assert response.headers["x-authorization"] == "Basic Ym9iOnMzY3JldA=="  # bob:s3cret

    with_echo_server(test)


def test_a_streamed_request_body_is_sent_in_full() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"GIF", b"89a", b";"):
            yield part

    async def test(url: str) -> None:
        async with httpx.AsyncClient(transport=transport()) as client:
            response = await client.put(url, content=chunks(), headers={"X-Test": "s"})
        assert response.content == b"GIF89a;"

    with_echo_server(test)


def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport()) as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(main())


def test_the_pool_holds_at_most_max_connections() -> None:
    """Counted where it shows: the distinct client ports the server saw."""
    peers: set[object] = set()

    async def where_from(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        await asyncio.sleep(0.01)  # keep each connection busy, so requests pile up
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", where_from)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with httpx.AsyncClient(transport=transport(max_connections=3)) as client:
                url = str(server.make_url("/"))
                await asyncio.gather(*(client.get(url) for _ in range(30)))
        finally:
            await server.close()

    asyncio.run(main())
    assert len(peers) == 3


@pytest.mark.parametrize(("failure", "expected"), [
    (errors.ConnectionTimeoutError("no pool slot"), httpx.ConnectTimeout),
    (errors.SocketTimeoutError("no bytes"), httpx.ReadTimeout),
    (TimeoutError(), httpx.ReadTimeout),
    (errors.ServerDisconnectedError(), httpx.RemoteProtocolError),  # as httpcore says it
    (errors.ClientPayloadError("Response payload is not completed"), httpx.ReadError),
    (errors.ClientOSError(104, "Connection reset by peer"), httpx.ReadError),
    (errors.InvalidURL("nowhere"), httpx.UnsupportedProtocol),
    (errors.ClientError("anything else"), httpx.TransportError),
])
def test_aiohttp_failures_become_the_httpx_exceptions_they_mean(
    failure: BaseException, expected: type[httpx.TransportError]
) -> None:
    translated = translate(failure)
    assert type(translated) is expected
    assert str(translated)  # never an empty message
