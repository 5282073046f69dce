"""Where to download from: the book's server labels or any http(s) URL, checked before use.

The EMBEDDED label means the bundled server, started for the command by `server._embedded`."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from .._models import ServerError

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
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port that is not a number from 0 to 65535 raises only when read
    except ValueError as exc:  # e.g. "Invalid IPv6 URL", "Port out of range 0-65535"
        raise ServerError(f"invalid server URL {value!r}: {exc}") from None
    if "://" not in value:
        raise ServerError(
            f"unknown server {value!r}: use one of {', '.join(LABELS)} or an http(s):// URL"
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise ServerError(f"unsupported URL scheme {parts.scheme!r}: use http:// or https://")
    if not parts.hostname:
        raise ServerError(f"no host in server URL {value!r}")
    return "URL", value.rstrip("/")


def check_reachable(base_url: str, timeout: float, tls: ssl.SSLContext | None = None) -> None:
    """Fail fast: resolve the host and open one connection (with a TLS handshake, verified by
    `tls`, for an https URL) before any download starts.

    An unresolvable host, a closed port or a certificate that fails verification would
    otherwise cost one error per code. Raises `ServerError` with one line saying which.
    """
    import asyncio

    asyncio.run(_probe(base_url, timeout, tls))


async def _probe(base_url: str, seconds: float, tls: ssl.SSLContext | None) -> None:
    import asyncio
    import os
    import socket

    from ._fetch import tls_problem

    parts = urlsplit(base_url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    loop = asyncio.get_running_loop()
    try:  # the chapter's blogdom.py probe: the event loop's getaddrinfo
        addresses = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), seconds)
    except socket.gaierror:
        raise ServerError(f"cannot resolve host {host!r}") from None
    except TimeoutError:
        raise ServerError(f"resolving host {host!r} timed out after {seconds:g} s") from None
    failure = ""
    for *_, address in addresses:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(
                str(address[0]), int(address[1]), ssl=(tls or True) if secure else None,
                server_hostname=host if secure else None), seconds)
        except TimeoutError:
            failure = f"timed out after {seconds:g} s"
            continue
        except OSError as exc:
            if problem := tls_problem(exc):
                raise ServerError(f"cannot connect to {host}:{port}: {problem}") from None
            failure = os.strerror(exc.errno) if exc.errno else str(exc)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise ServerError(f"cannot connect to {host}:{port}: {failure}")
