"""What a fetch means in every mode: the URLs, what each answer or failure counts as, and the
checks on a body as it arrives.

The strategies do their own I/O; everything that decides *what happened* lives here, so the
three modes cannot drift apart in how they count a 404, a 503, a timeout or a body cut short.
Failures are told apart by exception type and by where they happened (before the response
headers, or while the body was arriving), never by the words of an exception's message.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import ssl
import time
from collections.abc import Iterator

import httpx

from .._models import Options, Result, Status
from .._saving import is_gif, is_whole_gif, safe_name

#: Statuses worth asking again: the server may answer differently in a moment.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Statuses that say "too many": the whole run slows down (`_retry.Throttle`).
REFUSALS = frozenset({429, 503})
MAX_REDIRECTS = 5
#: Error pages that say they are at most this long are read to the end, so that their
#: connection can serve the next code, as the book's `client.get()` does; longer ones are not.
MAX_ERROR_BODY = 64 * 1024


class FetchFailure(Exception):
    """A fetch that did not produce a body. `attempts` is filled in by the retry loop;
    `unanswered` says the server answered nothing at all (a connection refused, dropped before
    any response, or not made in time), which is what the retry policy's `Breaker` counts;
    `refused` says it answered "too many" (429, 503), which its `Throttle` counts, with the
    rate its headers state, if they do (`rate`)."""

    def __init__(self, reason: str, *, transient: bool = False, retry_after: float | None = None,
                 unanswered: bool = False, refused: bool = False, rate: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.unanswered = unanswered
        self.refused = refused
        self.rate = rate
        self.attempts = 0


class NotFound(FetchFailure):
    """The server answered 404: the code has no flag. Final, never retried."""

    def __init__(self) -> None:
        super().__init__("not found")


def flag_url(base_url: str, cc: str) -> str:
    cc = cc.lower()
    return f"{base_url}/{cc}/{cc}.gif"


def metadata_url(base_url: str, cc: str) -> str:
    cc = cc.lower()
    return f"{base_url}/{cc}/metadata.json"


def is_small_error(response: httpx.Response) -> bool:
    """An error page worth reading to the end: its Content-Length says it is short."""
    length = response.headers.get("content-length", "")
    return response.is_error and length.isdigit() and int(length) <= MAX_ERROR_BODY


def check_status(response: httpx.Response) -> None:
    """Raise the failure a non-2xx final response stands for."""
    code = response.status_code
    if code == 404:
        raise NotFound
    if not 200 <= code < 300:
        headers = response.headers
        raise FetchFailure(
            f"HTTP {code}",
            transient=code in TRANSIENT_STATUSES,
            retry_after=_first(parse_retry_after(headers.get("retry-after")), quota_reset(headers)),
            refused=code in REFUSALS,
            rate=stated_rate(headers),
        )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which float() refuses
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value).timestamp()
        return max(0.0, when - (time.time() if now is None else now))
    return None


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _field(headers: httpx.Headers, combined: str, names: tuple[str, ...]) -> float | None:
    """A number from a rate-limit header: a parameter of the IETF draft's `RateLimit` field
    (`r=0;t=5`, or the older `remaining=0, reset=5`), or else a header of its own."""
    keys = "|".join(names[:2])
    if found := re.search(rf"\b(?:{keys})=(\d+(?:\.\d+)?)", combined):
        return float(found[1])
    value = next((headers[name] for name in names[2:] if name in headers), "").strip()
    return float(value) if re.fullmatch(r"\d+(?:\.\d+)?", value, re.ASCII) else None


def quota_reset(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds until the quota comes back, if the rate-limit headers say none is left:
    draft-ietf-httpapi-ratelimit-headers (`RateLimit`, or `RateLimit-Remaining` and
    `RateLimit-Reset`) or the common `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds
    from now, or a Unix time)."""
    combined = headers.get("ratelimit", "")
    left = _field(headers, combined, ("r", "remaining", "ratelimit-remaining",
                                      "x-ratelimit-remaining"))
    reset = _field(headers, combined, ("t", "reset", "ratelimit-reset", "x-ratelimit-reset"))
    if left != 0 or reset is None:
        return None
    return max(0.0, reset - (time.time() if now is None else now)) if reset > 1e9 else reset


def stated_rate(headers: httpx.Headers) -> float | None:
    """The requests a second that `RateLimit-Policy` allows (`q` per `w` seconds), if said."""
    policy = headers.get("ratelimit-policy", "")
    quota, window = re.search(r"\bq=(\d+)", policy), re.search(r"\bw=(\d+)", policy)
    if not (quota and window and int(quota[1]) and int(window[1])):
        return None
    return int(quota[1]) / int(window[1])


def check_progress(received: int, started: float, options: Options) -> None:
    """Called as each chunk arrives: a body may be neither too large nor late.

    This is the whole-attempt deadline, the same in every mode: each wait (connect, each read)
    is bounded by `timeout`, and a body still arriving `timeout` seconds after the attempt
    began is abandoned, so a server that trickles bytes cannot hold a download forever.
    """
    if received > options.max_bytes:
        raise FetchFailure("too large")
    if time.monotonic() - started > options.timeout:
        raise FetchFailure(timed_out(options), transient=True)


def timed_out(options: Options) -> str:
    return f"timed out after {options.timeout:g} s"


@contextlib.contextmanager
def failures(options: Options) -> Iterator[None]:
    """httpx's exceptions, as the `FetchFailure` each stands for."""
    try:
        yield
    except httpx.TimeoutException as exc:  # no connection in time: nobody there to answer
        unanswered = isinstance(exc, httpx.ConnectTimeout)
        raise FetchFailure(timed_out(options), transient=True, unanswered=unanswered) from exc
    except httpx.TooManyRedirects as exc:
        raise FetchFailure("too many redirects") from exc
    except httpx.DecodingError as exc:  # a Content-Encoding the body does not follow
        raise FetchFailure("undecodable body") from exc
    except httpx.UnsupportedProtocol as exc:
        raise FetchFailure("unsupported URL") from exc
    except httpx.ConnectError as exc:
        if tls := tls_problem(exc):  # asking again will not change a certificate
            raise FetchFailure(tls) from exc
        raise FetchFailure("connection failed", transient=True, unanswered=True) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        # Before any response: the server reset or closed the connection instead of answering.
        raise FetchFailure("connection reset", transient=True, unanswered=True) from exc
    except httpx.TransportError as exc:
        raise FetchFailure(f"network error ({type(exc).__name__})", transient=True) from exc


#: OpenSSL's reasons when the other side answered a TLS handshake with something else.
NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST",
                             "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"})


def tls_problem(exc: BaseException | None) -> str | None:
    """What went wrong in a TLS handshake, in the TLS library's words, if that is what `exc`
    (or an exception it was raised from) is; else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        # aiohttp's own exceptions keep the TLS library's as an attribute
        wrapped = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None)
        if isinstance(wrapped, ssl.SSLError):
            exc = wrapped
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {exc.verify_message}"
        if isinstance(exc, ssl.SSLError):
            if exc.reason in NOT_TLS_REASONS:
                return f"the server does not speak TLS ({exc.reason}): is it an http:// URL?"
            return f"TLS handshake failed: {exc.reason or exc}"
        exc = exc.__cause__ or exc.__context__
    return None


@contextlib.contextmanager
def body_failures() -> Iterator[None]:
    """Around the body: a connection lost after the headers means fewer bytes than promised."""
    try:
        yield
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise FetchFailure("truncated", transient=True) from exc


def check_flag(image: bytes) -> None:
    """A 200 that is not a whole GIF is an error: a captive portal's HTML page, a PNG, nothing,
    or a GIF without its trailer byte (a body cut short by a server that sent no
    Content-Length, so that nothing else could tell)."""
    if not is_whole_gif(image):
        raise FetchFailure(
            "empty body" if not image else "incomplete GIF" if is_gif(image) else "not a GIF")


def country_from_metadata(body: bytes) -> str | None:
    """The `country` field of a metadata.json body, or None if the body is not usable."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    country = data.get("country") if isinstance(data, dict) else None
    return country if isinstance(country, str) and country.strip() else None


def country_stem(body: bytes) -> str | None:
    """A safe file-name stem from a metadata.json body, or None to fall back to the code."""
    country = country_from_metadata(body)
    return None if country is None else safe_name(country)


def failure_result(cc: str, exc: FetchFailure) -> Result:
    if isinstance(exc, NotFound):
        return Result(cc, Status.NOT_FOUND, attempts=exc.attempts)
    return Result(cc, Status.ERROR, attempts=exc.attempts, error=exc.reason)
