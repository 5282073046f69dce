"""The run's HTTP clients: httpx's, minus cookie parsing without `Set-Cookie` and minus the
response's reference cycle. Both savings must leave httpx's behaviour as it was."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from flags_async._clients import AsyncClient, Client, _LetGoAsync, _LetGoSync

BASE = "http://flags.test"


def server(request: httpx.Request) -> httpx.Response:
    """`/login` sets a cookie; every path echoes the Cookie header it was sent."""
    headers = {"X-Cookie": request.headers.get("cookie", "")}
    if request.url.path == "/login":
        headers["Set-Cookie"] = "session=abc; Path=/"
    # Streamed bodies, as from a network transport (a `content=` body is read at once).
    body = Broken() if request.url.path == "/broken" else Body()
    return httpx.Response(200, headers=headers, stream=body)


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A small flag, in two chunks."""

    chunks = (b"GIF89a", b";")

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


class Broken(Body):
    """A body that fails after its first chunk, and says whether it was closed."""

    closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"GIF"
        raise httpx.ReadError("cut")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"GIF"
        raise httpx.ReadError("cut")

    def close(self) -> None:
        Broken.closed = True

    async def aclose(self) -> None:
        Broken.closed = True


def sync_get(path: str, stream: bool, client: Client) -> httpx.Response:
    if stream:
        with client.stream("GET", path) as response:
            response.read()
        return response
    return client.get(path)


def async_get(path: str, stream: bool, client: AsyncClient) -> httpx.Response:
    async def get() -> httpx.Response:
        if stream:
            async with client.stream("GET", path) as response:
                await response.aread()
            return response
        return await client.get(path)

    return asyncio.run(get())


@pytest.fixture(params=["sync", "async"])
def get(request: pytest.FixtureRequest) -> Iterator[Callable[..., httpx.Response]]:
    """`get(path, stream=False)` through a fresh client of either kind, over a mock transport."""
    if request.param == "sync":
        sync_client = Client(base_url=BASE, transport=httpx.MockTransport(server))
        yield lambda path, stream=False: sync_get(path, stream, sync_client)
        sync_client.close()
    else:
        async_client = AsyncClient(base_url=BASE, transport=httpx.MockTransport(server))
        yield lambda path, stream=False: async_get(path, stream, async_client)


def test_a_cookie_set_by_the_server_is_sent_back(get: Callable[..., httpx.Response]) -> None:
    assert get("/page").headers["x-cookie"] == ""
    get("/login")
    assert get("/page").headers["x-cookie"] == "session=abc"


def test_a_response_without_set_cookie_is_not_handed_to_the_cookie_jar(
    get: Callable[..., httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setattr("http.cookiejar.CookieJar.extract_cookies",
                        lambda jar, response, request: seen.append(request.get_full_url()))
    get("/page")
    get("/login")
    assert seen == [f"{BASE}/login"]


def test_cookies_given_to_the_client_are_sent() -> None:
    client = Client(base_url=BASE, transport=httpx.MockTransport(server),
                    cookies={"theme": "dark"})
    with client:
        assert client.get("/page").headers["x-cookie"] == "theme=dark"


@pytest.mark.parametrize("stream", [False, True])
def test_a_closed_response_is_freed_without_the_cycle_collector(
    get: Callable[..., httpx.Response], stream: bool
) -> None:
    gc.collect()
    gc.disable()
    try:
        response = get("/page", stream)
        assert response.is_closed and response.content == b"GIF89a;"
        assert response.elapsed.total_seconds() >= 0  # httpx's wrapper still timed it
        gone = weakref.ref(response)
        del response
        assert gone() is None
    finally:
        gc.enable()


def test_a_body_that_fails_to_read_closes_the_response(
    get: Callable[..., httpx.Response]
) -> None:
    Broken.closed = False
    with pytest.raises(httpx.ReadError):
        get("/broken")
    assert Broken.closed


def test_a_released_stream_refuses_to_be_read_again() -> None:
    sync_stream = _LetGoSync(Body())
    assert list(sync_stream) == [b"GIF89a", b";"]
    sync_stream.close()
    with pytest.raises(httpx.StreamClosed):
        iter(sync_stream)

    async def read_after_close() -> None:
        async_stream = _LetGoAsync(Body())
        assert [chunk async for chunk in async_stream] == [b"GIF89a", b";"]
        await async_stream.aclose()
        with pytest.raises(httpx.StreamClosed):
            async_stream.__aiter__()

    asyncio.run(read_after_close())
