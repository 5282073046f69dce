"""Where to download from: the book's server labels or any http(s) URL, checked before use.

The EMBEDDED label means the bundled server, started for the command by `server._embedded`."""

from __future__ import annotations

import re
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
        port = parts.port  # a port that is not a number from 0 to 65535 raises only when read
    except ValueError as exc:  # e.g. "Invalid IPv6 URL", "Port out of range 0-65535"
        raise ServerError(f"invalid server URL {without_password(value)!r}: {exc}") from None
    if port == 0:  # a port to listen on ("any free one"), never one to connect to
        raise ServerError(f"invalid server URL {without_password(value)!r}: port 0")
    if "://" not in value:
        raise ServerError(
            f"unknown server {value!r}: use one of {', '.join(LABELS)} or an http(s):// URL"
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise ServerError(f"unsupported URL scheme {parts.scheme!r}: use http:// or https://")
    if not parts.hostname:
        raise ServerError(f"no host in server URL {without_password(value)!r}")
    return "URL", value.rstrip("/")


def authority(host: str, port: int) -> str:
    """`host:port` as a URL writes it: an IPv6 host in brackets, `[::1]:8000`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def without_password(url: str) -> str:
    """`url` fit to be shown or logged: a password in it becomes `***`, even in a URL too
    broken to parse (an error message quotes those)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "Invalid IPv6 URL": mask what looks like user:password@
        return re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", url, count=1)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def check_proxy(value: str, source: str = "") -> str:
    """A proxy URL, checked; raises `ServerError` saying what is wrong with it, and, after
    the URL, where it came from (`source`, such as "in http_proxy"), if given."""
    where = f" {source}" if source else ""
    try:
        parts = urlsplit(value)
        port = parts.port  # "Port out of range 0-65535" or "could not be cast" only when read
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise ServerError(f"invalid proxy URL {without_password(value)!r}{where}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or port == 0:
        raise ServerError(
            f"invalid proxy URL {without_password(value)!r}{where}: use http://HOST:PORT")
    return value


def proxy_for(url: str, explicit: str | None) -> str | None:
    """The proxy a request to `url` goes through: `explicit` if given, else the environment's
    as httpx reads it (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, in either case; a
    value without a scheme, `host:3128`, is an http:// proxy). Raises `ServerError` for an
    environment's proxy that is not a usable URL, naming the variable."""
    if explicit is not None:
        return explicit
    import urllib.request

    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    scheme = parts.scheme if proxies.get(parts.scheme) else "all"
    proxy = proxies.get(scheme)
    if proxy and not urllib.request.proxy_bypass(parts.netloc):
        return check_proxy(proxy if "://" in proxy else f"http://{proxy}",
                           f"in the environment's {scheme.upper()}_PROXY or {scheme}_proxy")
    return None


def check_reachable(base_url: str, timeout: float, tls: ssl.SSLContext | None = None,
                    proxy: str | None = None) -> None:
    """Fail fast: resolve the host and open one connection (with a TLS handshake, verified by
    `tls`, for an https URL) before any download starts; through a proxy, the proxy is what
    is reached, and then, through an http:// proxy's tunnel, the https server's handshake.

    An unresolvable host, a closed port or a certificate that fails verification would
    otherwise cost one error per code. Raises `ServerError` with one line saying which.
    """
    import asyncio

    if proxy is None:
        asyncio.run(_probe(base_url, timeout, tls))
        return
    asyncio.run(_probe(proxy, timeout, None, "proxy "))
    if urlsplit(base_url).scheme.lower() == "https" and urlsplit(proxy).scheme.lower() == "http":
        asyncio.run(_probe_tunnel(base_url, proxy, timeout, tls))  # (not TLS within TLS)


async def _probe(base_url: str, seconds: float, tls: ssl.SSLContext | None,
                 what: str = "") -> None:
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
        raise ServerError(f"cannot resolve {what}host {host!r}") from None
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
                raise ServerError(
                    f"cannot connect to {what}{authority(host, port)}: {problem}") from None
            failure = os.strerror(exc.errno) if exc.errno else str(exc)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise ServerError(f"cannot connect to {what}{authority(host, port)}: {failure}")


async def _probe_tunnel(base_url: str, proxy: str, seconds: float,
                        tls: ssl.SSLContext | None) -> None:
    """The TLS handshake with an https server, through an http:// proxy's CONNECT tunnel, as
    every request will make it, all within `seconds`: a certificate that fails verification
    stops the run here, behind a proxy too (after a failed handshake the sync modes' pool
    would keep the tunnel: encode/httpcore#1023). Anything else that fails is left to the
    run, which reports it per code."""
    import asyncio
    import base64
    import contextlib
    from urllib.parse import unquote

    from ._fetch import tls_problem

    target, via = urlsplit(base_url), urlsplit(proxy)
    host = target.hostname or ""
    where = authority(host, target.port or 443)
    request = f"CONNECT {where} HTTP/1.1\r\nHost: {where}\r\n"
    if via.username is not None:  # as httpx sends them: decoded (p%40ss is p@ss)
        credentials = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
        request += f"Proxy-Authorization: Basic {base64.b64encode(credentials).decode()}\r\n"

    async def handshake() -> None:
        reader, writer = await asyncio.open_connection(via.hostname, via.port or 80)
        try:
            writer.write(f"{request}\r\n".encode())
            status = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0].decode("latin-1")
            if status.split()[1:2] != ["200"]:
                raise ServerError(f"cannot connect to {where} through the proxy: it "
                                  f"answered {status!r}")
            await writer.start_tls(tls or ssl.create_default_context(), server_hostname=host)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    try:
        await asyncio.wait_for(handshake(), seconds)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        if problem := tls_problem(exc):
            raise ServerError(f"cannot connect to {where} through the proxy: {problem}") from None


#: How long `speaks_tls` is given at most: a handshake takes a few round trips, and a server
#: that never answers must not hold the report for a whole --timeout.
TLS_PROBE_S = 1.0


def speaks_tls(base_url: str, timeout: float) -> bool:
    """Whether the server of a plain-http `base_url` completes a TLS handshake instead: why
    every request of a run may have been closed unanswered. Any certificate will do: this
    asks which protocol the port speaks, not whom to trust."""
    import socket

    parts = urlsplit(base_url)
    host = parts.hostname or ""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (socket.create_connection((host, parts.port or 80), timeout) as sock,
              context.wrap_socket(sock, server_hostname=host)):
            return True
    except OSError:  # ssl.SSLError too: no TLS there, or nothing at all
        return False
