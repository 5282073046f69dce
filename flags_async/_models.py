"""The nouns every other module shares: what a run is asked to do, and what it found.

Kept free of third-party imports so that `flags-async --help` stays fast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._urls import NOT_HTTP, url_problem, without_password

DEFAULT_DEST = Path("downloads")
DEFAULT_MAX_REQ = 100
DEFAULT_TIMEOUT = 10.0
#: The longest `timeout` accepted: an hour is already longer than any flag should take.
MAX_TIMEOUT = 3600.0
DEFAULT_RETRIES = 2
#: Small enough to notice a dead server within seconds, large enough that a server resetting
#: some connections (10% in the `chaos` preset) does not trip it (see `_retry.Breaker`).
DEFAULT_GIVE_UP_AFTER = 10
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class ServerError(Exception):
    """A server that cannot be used: a bad label or URL, one that cannot be reached, or an
    embedded server that did not start."""


class Status(StrEnum):
    """How one code ended. A 404 is an answer (`not_found`), not an error."""

    OK = "ok"
    NOT_FOUND = "not_found"
    ERROR = "error"
    SKIPPED = "skipped"  # with --skip-existing: a valid file was already there


class Mode(StrEnum):
    """The swappable piece: which `download_many` runs the codes."""

    ASYNC = "async"
    THREADS = "threads"
    SEQUENTIAL = "sequential"


class TransportName(StrEnum):
    """What carries the bytes under `httpx.AsyncClient` in async mode."""

    AIOHTTP = "aiohttp"
    HTTPX = "httpx"


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a strategy needs to fetch and save, identical for all three modes."""

    base_url: str
    dest: Path = DEFAULT_DEST
    max_req: int = DEFAULT_MAX_REQ
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    names: bool = False
    transport: TransportName = TransportName.AIOHTTP
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Keep valid flags already in `dest` (resume a run); invalid ones are fetched again.
    skip_existing: bool = False
    #: Back-off unit in seconds: retry k waits a random time up to `backoff * 2**k`.
    backoff: float = 0.1
    #: A PEM file of CA certificates to trust besides certifi's (a private CA).
    cacert: Path | None = None
    #: A proxy for every request. None: the environment's, as httpx and curl read it
    #: (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, in either case).
    proxy: str | None = None
    #: Reach the server directly, whatever the environment says (the embedded server).
    direct: bool = False
    #: Stop starting downloads after this many attempts in a row that the server answered
    #: with nothing at all, and a quiet time; 0: never (see `_retry.Breaker`).
    give_up_after: int = DEFAULT_GIVE_UP_AFTER
    #: At most this many requests a second, retries and metadata included; None: as fast as
    #: the server allows (see `_retry.Throttle`).
    rate: float | None = None

    def __post_init__(self) -> None:
        for name, kind, what in (("max_req", int, "an int"), ("retries", int, "an int"),
                                 ("max_bytes", int, "an int"), ("give_up_after", int, "an int"),
                                 ("timeout", int | float, "a number of seconds"),
                                 ("backoff", int | float, "a number of seconds")):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"{name} must be {what}, not {value!r}")
        if not self.backoff >= 0:
            raise ValueError("backoff must not be negative")
        if self.max_req < 1:
            raise ValueError("max_req must be at least 1")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self.give_up_after < 0:
            raise ValueError("give_up_after must be 0 (never) or more")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
        if self.retries < 0:
            raise ValueError("retries must not be negative")
        if self.rate is not None and not 0 < self.rate < float("inf"):
            raise ValueError("rate must be a number of requests a second above 0")
        _check_http_url("base_url", self.base_url)
        if self.proxy is not None:
            _check_http_url("proxy", self.proxy)
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "dest", Path(self.dest))  # a str or any os.PathLike
        object.__setattr__(self, "transport", TransportName(self.transport))  # "httpx" will do
        if self.cacert is not None:
            object.__setattr__(self, "cacert", Path(self.cacert))

    @property
    def names_first(self) -> bool:
        """Whether a download asks for the country's name before the flag: when resuming with
        `names`, since only the name says which file to look for, so that a flag kept costs no
        GIF request. Otherwise the flag comes first, as in the book's flags3."""
        return self.names and self.skip_existing

    def transport_in(self, mode: Mode) -> TransportName:
        """What carries the bytes in `mode`: the sync modes always use httpx's own."""
        return self.transport if mode is Mode.ASYNC else TransportName.HTTPX


def _check_http_url(name: str, url: str) -> None:
    """A ValueError naming the field, quoting `url` (its password masked), unless `url` can
    be a server's or a proxy's address (see `_urls.url_problem`)."""
    problem = url_problem(url)
    if problem == NOT_HTTP:
        raise ValueError(f"{name} must be an http:// or https:// URL with a host, "
                         f"not {without_password(url)!r}")
    if problem:
        raise ValueError(f"{name} {without_password(url)!r}: {problem}")


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome for one country code."""

    cc: str
    status: Status
    path: Path | None = None
    size: int = 0
    attempts: int = 0
    error: str | None = None
    #: With `--names`: "metadata" when the file is named after the country, "code" on fallback.
    named_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cc": self.cc,
            "status": self.status.value,
            "path": None if self.path is None else str(self.path),
            "bytes": self.size,
            "attempts": self.attempts,
            "error": self.error,
            "named_by": self.named_by,  # None without --names, and for a flag kept
        }


#: Called once per finished code, in completion order, on the caller's thread.
OnResult = Callable[[Result], None]


def ignore_result(result: Result) -> None:
    """The `OnResult` of a run nobody watches."""


@dataclass(frozen=True, slots=True)
class Report:
    """A finished run: results sorted by code, and the download phase's wall time."""

    server: str
    mode: Mode
    transport: TransportName
    results: list[Result]
    elapsed_s: float
    #: Codes asked for; more than `len(results)` only when the run was interrupted.
    requested: int = -1
    interrupted: bool = False
    #: Answers that said "too many" (429, 503), and the requests a second the run then found
    #: the server to answer (None if none was refused).
    refused: int = 0
    settled_rate: float | None = None
    counts: Counter[Status] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", Counter(r.status for r in self.results))
        if self.requested < 0:
            object.__setattr__(self, "requested", len(self.results))

    @property
    def ok(self) -> int:
        return self.counts[Status.OK]

    @property
    def not_found(self) -> int:
        return self.counts[Status.NOT_FOUND]

    @property
    def errors(self) -> int:
        return self.counts[Status.ERROR]

    @property
    def skipped(self) -> int:
        return self.counts[Status.SKIPPED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "mode": self.mode.value,
            "transport": self.transport.value,
            "requested": self.requested,
            "ok": self.ok,
            "not_found": self.not_found,
            "errors": self.errors,
            "skipped": self.skipped,
            "elapsed_s": round(self.elapsed_s, 4),
            "refused": self.refused,
            "settled_rate": None if self.settled_rate is None else round(self.settled_rate, 1),
            "interrupted": self.interrupted,
            "results": [r.as_dict() for r in self.results],
        }
