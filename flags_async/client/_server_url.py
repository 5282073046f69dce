"""Where to download from: the book's server labels or any http(s) URL, checked before use,
and the proxy the requests go through (given, or the environment's).

The EMBEDDED label means the bundled server, started for the command by `server._embedded`."""

from __future__ import annotations

from urllib.parse import urlsplit

from .._models import ServerError
from .._urls import NOT_HTTP, url_problem, without_password

EMBEDDED = "EMBEDDED"
SERVERS = {
    "LOCAL": "http://localhost:8000/flags",
    "DELAY": "http://localhost:8001/flags",
    "ERROR": "http://localhost:8002/flags",
    "REMOTE": "https://www.fluentpython.com/data/flags",
}
LABELS = (EMBEDDED, *SERVERS)


def resolve_server(value: str) -> tuple[str, str | None]:
    """`(label, base_url)`: base_url is None for EMBEDDED, which is only known once started."""
    label = value.upper()
    if label == EMBEDDED:
        return EMBEDDED, None
    if label in SERVERS:
        return label, SERVERS[label]
    if "://" not in value:
        raise ServerError(
            f"unknown server {value!r}: use one of {', '.join(LABELS)} or an http(s):// URL"
        )
    if problem := url_problem(value):
        raise ServerError(f"invalid server URL {without_password(value)!r}: {problem}")
    return "URL", value.rstrip("/")


def check_proxy(value: str, source: str = "") -> str:
    """A proxy URL, checked; raises `ServerError` saying what is wrong with it, and, after
    the URL, where it came from (`source`, such as "in http_proxy"), if given."""
    where = f" {source}" if source else ""
    if problem := url_problem(value):
        raise ServerError(f"invalid proxy URL {without_password(value)!r}{where}: "
                          f"{'use http://HOST:PORT' if problem == NOT_HTTP else problem}")
    return value


def environment_proxies() -> dict[str, str]:
    """The environment's proxies by scheme ("http", "https", "all"), as httpx and curl read
    them (HTTP_PROXY, HTTPS_PROXY and ALL_PROXY, in either case; a value without a scheme,
    `host:3128`, is an http:// proxy). Raises `ServerError` naming the variable of one that
    is not a usable URL: httpx reads every one of them, whatever the server's scheme."""
    import urllib.request

    found = {}
    for scheme, value in urllib.request.getproxies_environment().items():
        if scheme in ("http", "https", "all") and value:
            found[scheme] = check_proxy(value if "://" in value else f"http://{value}",
                                        f"in the environment's {scheme.upper()}_PROXY or "
                                        f"{scheme}_proxy")
    return found


def proxy_for(url: str, explicit: str | None) -> str | None:
    """The proxy a request to `url` goes through: `explicit` if given, else the environment's
    (see `environment_proxies`, which raises for an unusable one; NO_PROXY as httpx reads
    it)."""
    if explicit is not None:
        return explicit
    import urllib.request

    parts = urlsplit(url)
    proxies = environment_proxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(parts.netloc):
        return proxy
    return None
