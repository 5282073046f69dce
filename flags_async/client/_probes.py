"""The probe made before the run: that the server (or its proxy) can be reached before any
download starts."""

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
