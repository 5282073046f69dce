"""Probes made outside the run: that the server (or its proxy) can be reached before any
download starts, and, after a run that came to nothing, whether an http:// server speaks TLS."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from .._models import ServerError
from .._urls import authority


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
