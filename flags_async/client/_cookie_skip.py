"""Speed tweak: httpx's cookie store, minus the parsing of responses that set no cookie.

httpx 0.28 hands every response to `http.cookiejar` through urllib look-alikes: it builds a
urllib request (parsing the URL again) and copies every header into an `email.message.Message`,
even when there is no `Set-Cookie`, the only header that can change the jar (docs/design.md
says what skipping that saves). Upstream:
pydantic/httpx2#1107 makes the same check inside httpx2; httpx has not. The test
`tests/test_cookie_skip.py::test_httpx_still_parses_responses_without_set_cookie` fails once
httpx stops doing that work itself: then delete this module.
"""

from __future__ import annotations

from typing import TypeVar

import httpx

ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)


class SetCookieOnly(httpx.Cookies):
    """httpx's cookie store, reading only the responses that set a cookie."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def skip_cookie_parsing(client: ClientT) -> ClientT:
    """`client`, keeping its cookies in a `SetCookieOnly` store.

    The client's public `cookies` setter would copy any store into a plain `httpx.Cookies`,
    so the store is swapped where the setter keeps it.
    """
    client._cookies = SetCookieOnly(client.cookies)  # a private attribute: see above
    return client
