"""The one retry policy, for every mode: which failures are tried again, how often, and when.

It is tenacity's (`Retrying` in the sync modes, `AsyncRetrying` in async mode), built from the
same arguments, so the modes cannot drift apart. See docs/design.md for why tenacity rather
than a hand-written loop, and what it costs.
"""

from __future__ import annotations

import random
from typing import Any

from tenacity import BaseRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .._models import Options
from ._fetch import FetchFailure

#: A `Retry-After` longer than this is cut short: a downloader must not sleep for an hour.
MAX_RETRY_AFTER = 30.0
#: The longest random back-off between two attempts, whatever the attempt number.
MAX_BACKOFF = 10.0


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: the server may answer differently in a moment."""
    return isinstance(exc, FetchFailure) and exc.transient


def backoff_seconds(exc: BaseException | None, retry: int, options: Options) -> float:
    """How long to wait before retry number `retry` (1 for the first retry).

    The server's `Retry-After` if it gave one (capped), else "full jitter": a random time up to
    `backoff * 2**retry`, so that clients failing together do not come back together.
    """
    if isinstance(exc, FetchFailure) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER)
    return random.uniform(0, min(MAX_BACKOFF, options.backoff * 2**retry))


def retry_policy(options: Options) -> dict[str, Any]:
    """Keyword arguments for tenacity's `Retrying` and `AsyncRetrying`: up to `retries` more
    attempts after the first, for transient failures only, the last failure re-raised."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return backoff_seconds(exc, state.attempt_number, options)

    return {
        "stop": stop_after_attempt(options.retries + 1),
        "wait": wait,
        "retry": retry_if_exception(is_transient),
        "reraise": True,
    }


def attempts_made(retrying: BaseRetrying) -> int:
    """How many attempts a finished `Retrying`/`AsyncRetrying` call made."""
    return int(retrying.statistics.get("attempt_number", 1))
