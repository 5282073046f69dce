"""The one retry policy, for every mode: which failures are tried again, how often, and after
how long a wait. Each mode's `get_with_retries` is the same small loop around it, with
`time.sleep` or `await asyncio.sleep`.

docs/design.md says why this is a plain loop rather than tenacity.
"""

from __future__ import annotations

import random

from .._models import Options
from ._fetch import FetchFailure

#: A `Retry-After` longer than this is cut short: a downloader must not sleep for an hour.
MAX_RETRY_AFTER = 30.0
#: The longest random back-off between two attempts, whatever the attempt number.
MAX_BACKOFF = 10.0


def retry_wait(exc: FetchFailure, attempt: int, options: Options) -> float | None:
    """After attempt number `attempt` failed with `exc`: seconds to wait before the next one,
    or None to give up (a final failure, such as a 404 or a 418, or no retries left)."""
    if not exc.transient or attempt > options.retries:
        return None
    return backoff_seconds(exc, attempt, options)


def backoff_seconds(exc: FetchFailure, retry: int, options: Options) -> float:
    """How long to wait before retry number `retry` (1 for the first retry).

    The server's `Retry-After` if it gave one (capped), else "full jitter": a random time up to
    `backoff * 2**retry`, so that clients failing together do not come back together.
    """
    if exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER)
    return random.uniform(0, min(MAX_BACKOFF, options.backoff * 2**retry))
