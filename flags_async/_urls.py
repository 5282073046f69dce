"""URLs as messages show them: a password masked, a host and port as a URL writes them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


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
