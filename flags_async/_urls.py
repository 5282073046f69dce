"""URLs as messages show them: a password masked, a host and port as a URL writes them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def authority(host: str, port: int) -> str:
    """`host:port` as a URL writes it: an IPv6 host in brackets, `[::1]:8000`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: `url_problem`'s answer for a URL that parses but is no http(s) URL with a host.
NOT_HTTP = "not an http:// or https:// URL with a host"


def url_problem(url: str) -> str | None:
    """Why `url` cannot be the address of a server or a proxy, or None if it can: it must
    parse, be http:// or https:// with a host (no spaces in it), and any port it names must be
    1 to 65535."""
    try:
        parts = urlsplit(url)
        port = parts.port  # "Port out of range 0-65535" or "could not be cast" only when read
    except ValueError as exc:  # also "Invalid IPv6 URL"
        return str(exc)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return NOT_HTTP
    if any(ch.isspace() for ch in parts.hostname):
        return "a space in the host"
    if port == 0:  # a port to listen on ("any free one"), never one to connect to
        return "port 0"
    return None


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
