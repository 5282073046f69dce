"""Probes made outside the run: that the server (or its proxy) can be reached before any
download starts, and, after a run that came to nothing, whether an http:// server speaks TLS."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._models import ServerError
from .._urls import authority

if TYPE_CHECKING:
    import ssl

#: How long the probe waits for an answer once connected: a server that answers nothing is
#: the run's to report, code by code, and must not hold its start for a whole --timeout.
PATIENCE_S = 1.0


def check_reachable(base_url: str, timeout: float, tls: ssl.SSLContext | None = None,
                    proxy: str | None = None) -> None:
    """Fail fast: one request, made as the run's will be (through `proxy`, trusting `tls`),
    must reach the server before any download starts. What counts is a connection made, and
    for https a verified handshake, through an http:// proxy's tunnel too; any answer, or
    none within `PATIENCE_S`, will do.

    An unresolvable host, a closed port or a certificate that fails verification would
    otherwise cost one error per code. Raises `ServerError` with one line saying which.
    """
    import httpx

    wait = httpx.Timeout(timeout, read=min(timeout, PATIENCE_S))
    try:
        with httpx.Client(verify=tls or True, proxy=proxy, trust_env=False,
                          timeout=wait) as client:
            client.head(base_url)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError) as exc:
        raise ServerError(_why_not(exc, base_url, timeout, proxy)) from None
    except httpx.TransportError:
        pass  # connected: what went wrong afterwards is the run's to report


def _why_not(exc: Exception, base_url: str, timeout: float, proxy: str | None) -> str:
    """One line: which connection failed (the server, the proxy, or the server through the
    proxy's tunnel), and why, in the TLS library's or the OS's words."""
    import socket

    import httpx

    from ._fetch import tls_problem

    server = urlsplit(base_url)
    where = authority(server.hostname or "", server.port or (443 if server.scheme == "https"
                                                             else 80))
    tunnel = " through the proxy" if proxy else ""
    if problem := tls_problem(exc):
        return f"cannot connect to {where}{tunnel}: {problem}"
    if isinstance(exc, httpx.ProxyError):
        return f"cannot connect to {where}{tunnel}: the proxy answered {exc}"
    host = server.hostname
    if proxy is not None:
        via = urlsplit(proxy)
        host, where = via.hostname, f"proxy {authority(via.hostname or '', via.port or 80)}"
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve {'proxy ' if proxy else ''}host {host!r}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect to {where}: timed out after {timeout:g} s"
    return f"cannot connect to {where}: {getattr(cause, 'strerror', None) or cause or exc}"


#: How long `speaks_tls` is given at most: a handshake takes a few round trips, and a server
#: that never answers must not hold the report for a whole --timeout.
TLS_PROBE_S = 1.0


def speaks_tls(base_url: str, timeout: float) -> bool:
    """Whether the server of a plain-http `base_url` completes a TLS handshake instead: why
    every request of a run may have been closed unanswered. Any certificate will do: this
    asks which protocol the port speaks, not whom to trust."""
    import socket
    import ssl

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
