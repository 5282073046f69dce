"""What a fetch means, shared by the sync and async strategies: URLs, outcomes and retries.

Both strategies do their own I/O; everything that decides *what happened* lives here, so the
three modes cannot drift apart in how they count a 404, a 503 or a timeout.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

from ._models import Options, Result, Status
from ._saving import is_gif, safe_name

#: Statuses worth asking again: the server may answer differently in a moment.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: A `Retry-After` longer than this is cut short: a downloader must not sleep for an hour.
MAX_RETRY_AFTER = 30.0
MAX_REDIRECTS = 5
#: The longest random back-off between two attempts, whatever the attempt number.
MAX_BACKOFF = 10.0
#: Error bodies (404 pages and the like) up to this size are read, so that the connection goes
#: back to the pool for the next code, as the book's `client.get()` does; larger ones are not.
MAX_ERROR_BODY = 64 * 1024


class FetchFailure(Exception):
    """A fetch that did not produce a body. `attempts` is filled in by the retry loop."""

    def __init__(self, reason: str, *, transient: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
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


def check_status(response: httpx.Response) -> None:
    """Raise the failure a non-2xx final response stands for."""
    code = response.status_code
    if code == 404:
        raise NotFound
    if not 200 <= code < 300:
        raise FetchFailure(
            f"HTTP {code}",
            transient=code in TRANSIENT_STATUSES,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value).timestamp()
        return max(0.0, when - (time.time() if now is None else now))
    return None


def check_flag(image: bytes, attempts: int) -> None:
    """A 200 that is not a GIF (a captive portal's HTML page, a PNG, nothing) is an error."""
    if not is_gif(image):
        failure = FetchFailure("not a GIF" if image else "empty body")
        failure.attempts = attempts
        raise failure


def check_size(received: int, max_bytes: int) -> None:
    if received > max_bytes:
        raise FetchFailure("too large")


@contextlib.contextmanager
def translated_errors(timeout: float) -> Iterator[None]:
    """Turn httpx's exceptions (and the whole-attempt deadline) into `FetchFailure`s."""
    try:
        yield
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise FetchFailure(f"timed out after {timeout:g} s", transient=True) from exc
    except httpx.TooManyRedirects as exc:
        raise FetchFailure("too many redirects") from exc
    except httpx.RemoteProtocolError as exc:
        raise FetchFailure(_protocol_reason(exc), transient=True) from exc
    except httpx.ReadError as exc:
        raise FetchFailure(_read_reason(exc), transient=True) from exc
    except httpx.ConnectError as exc:
        raise FetchFailure("connection failed", transient=True) from exc
    except httpx.UnsupportedProtocol as exc:
        raise FetchFailure("unsupported URL") from exc
    except httpx.TransportError as exc:
        raise FetchFailure(f"network error ({type(exc).__name__})", transient=True) from exc


def _protocol_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "complete message body" in text or "incomplete" in text or "payload" in text:
        return "truncated"  # h11: "peer closed connection without sending complete message body"
    if "disconnected" in text:
        return "connection reset"  # "Server disconnected without sending a response."
    return "protocol error"


def _read_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "payload" in text or "not completed" in text or "incomplete" in text:
        return "truncated"
    return "connection reset"


def is_retryable(exc: FetchFailure, options: Options, attempts: int) -> bool:
    """Worth another attempt: a transient failure, with retries left."""
    return exc.transient and attempts <= options.retries


def backoff_seconds(exc: BaseException | None, retry: int, options: Options) -> float:
    """How long to wait before retry number `retry` (1 for the first retry).

    The server's `Retry-After` if it gave one (capped), else "full jitter": a random time up to
    `backoff * 2**retry`, so that clients failing together do not come back together.
    """
    if isinstance(exc, FetchFailure) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER)
    return random.uniform(0, min(MAX_BACKOFF, options.backoff * 2**retry))


def retry_policy(options: Options, done: int) -> dict[str, Any]:
    """Keyword arguments for tenacity's `Retrying`/`AsyncRetrying`, for the attempts after
    the first `done` ones: same policy in every mode."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return backoff_seconds(exc, done + state.attempt_number, options)

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, FetchFailure) and exc.transient

    return {
        "stop": stop_after_attempt(options.retries + 1 - done),
        "wait": wait,
        "retry": retry_if_exception(transient),
        "reraise": True,
    }


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
