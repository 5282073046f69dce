"""The one retry policy, for every mode: which failures are tried again, how often, after how
long a wait, and when to stop trying codes at all (`Breaker`). Each mode's `get_with_retries`
is the same small loop around it, with `time.sleep` or `await asyncio.sleep`.

docs/design.md says why this is a plain loop rather than tenacity.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from .._models import Options, Result, Status
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


#: The reason given for the codes a tripped `Breaker` kept from being tried.
NOT_ATTEMPTED = "not attempted: server stopped answering"


class Breaker:
    """Notices a server that has gone away: once `limit` attempts in a row got no answer at
    all (a refused, dropped or timed-out connection) and no answer has come for `quiet_s`
    seconds, no new download starts (`limit` 0: never). Downloads under way end as they would.

    Any answer, even a 404, a 429 or a 503, resets both: a server that fails some requests is
    still there. The quiet time matters with many requests in flight, which can all fail
    within a millisecond on a live server that briefly sheds connections; a dead server stays
    quiet. One breaker serves a whole run, from every thread or task.
    """

    #: Seconds without any answer before the breaker may trip.
    QUIET_S = 2.0

    def __init__(self, limit: int, quiet_s: float = QUIET_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.tripped = False
        self._quiet_s = quiet_s
        self._clock = clock
        self._in_a_row = 0
        self._last_answer = clock()
        self._lock = threading.Lock()

    def record(self, failure: FetchFailure | None) -> None:
        """After an attempt: `failure` is None when the server answered with a body."""
        with self._lock:
            if failure is None or not failure.unanswered:
                self._in_a_row = 0
                self._last_answer = self._clock()
                return
            self._in_a_row += 1
            quiet = self._clock() - self._last_answer >= self._quiet_s
            if self.limit and self._in_a_row >= self.limit and quiet:
                self.tripped = True

    def not_attempted(self, cc: str) -> Result | None:
        """The result for `cc` if the breaker has tripped (it is not to be tried), else None."""
        if not self.tripped:
            return None
        return Result(cc, Status.ERROR, attempts=0, error=NOT_ATTEMPTED)
