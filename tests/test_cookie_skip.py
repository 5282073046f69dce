"""The cookie-parsing skip (`client._cookie_skip`): cookies work as httpx's do, responses
without `Set-Cookie` cost nothing, and the upstream cost it avoids is still there."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
import respx

from flags_async import Options
from flags_async.client._http import async_client, sync_client

BASE = "http://flags.test"


def server(request: httpx.Request) -> httpx.Response:
    """`/login` sets a cookie; every path echoes the Cookie header it was sent."""
    headers = {"X-Cookie": request.headers.get("cookie", "")}
    if request.url.path == "/login":
        headers["Set-Cookie"] = "session=abc; Path=/"
    return httpx.Response(200, headers=headers, content=b"GIF89a;")


@pytest.fixture(params=["sync", "async"])
def get(request: pytest.FixtureRequest) -> Iterator[Callable[[str], httpx.Response]]:
    """`get(path)` through the project's own client of either kind; respx answers."""
    options = Options(base_url=BASE)
    with respx.mock(using="httpx", assert_all_called=False) as router:
        router.route(host="flags.test").mock(side_effect=server)
        if request.param == "sync":
            with sync_client(options) as client:
                yield lambda path: client.get(BASE + path)
        else:
            aclient = async_client(options)

            async def aget(path: str) -> httpx.Response:
                return await aclient.get(BASE + path)

            yield lambda path: asyncio.run(aget(path))


def test_a_cookie_set_by_the_server_is_sent_back(get: Callable[[str], httpx.Response]) -> None:
    assert get("/page").headers["x-cookie"] == ""
    get("/login")
    assert get("/page").headers["x-cookie"] == "session=abc"


def test_a_response_without_set_cookie_is_not_parsed(
    get: Callable[[str], httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setattr("http.cookiejar.CookieJar.extract_cookies",
                        lambda jar, response, request: seen.append(request.get_full_url()))
    get("/page")
    get("/login")
    assert seen == [f"{BASE}/login"]


def test_httpx_still_parses_responses_without_set_cookie(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upstream cost the skip avoids. When this fails, httpx skips such responses itself:
    delete `client/_cookie_skip.py` and this test."""
    seen: list[str] = []
    monkeypatch.setattr("http.cookiejar.CookieJar.extract_cookies",
                        lambda jar, response, request: seen.append(request.get_full_url()))
    with httpx.Client(transport=httpx.MockTransport(server)) as plain:
        plain.get(f"{BASE}/page")
    assert seen == [f"{BASE}/page"]
