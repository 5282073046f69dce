"""The one retry policy, for every mode: which failures are tried again, how often, after how
long a wait, and when to stop trying codes at all (`Breaker`). Each mode's `get_with_retries`
is the same small loop around it, with `time.sleep` or `await asyncio.sleep`.

docs/design.md says why this is a plain loop rather than tenacity.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._models import Options, Result, Status
from ._fetch import FetchFailure

if TYPE_CHECKING:
    from .._trace import Trace

#: A `Retry-After` longer than this is cut short: a downloader must not sleep for an hour.
MAX_RETRY_AFTER = 30.0
#: The longest random back-off between two attempts, whatever the attempt number.
MAX_BACKOFF = 10.0


def retry_wait(exc: FetchFailure, attempt: int, options: Options) -> float | None:
    """After attempt number `attempt` failed with `exc`: seconds to wait before the next one,
    or None to give up (a final failure, such as a 404 or a 418, or no retries left). A
    refusal (429, 503) in a paced run waits only for its turn (see `Policy.retry_wait`)."""
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


#: How a refused run slows down: its rate times this, once for the requests sent at that rate.
SLOW_DOWN = 0.85
#: How it speeds up again while no request is refused: by e**(FINDING * seconds) until the
#: first slow-down after the first refusal (the limit is still unknown); after that as TCP's
#: CUBIC does, back to the rate last refused in `RETURN_S`, slowly near it, then ever faster.
#: docs/design.md, "Rate limits", has the measurements behind all four.
FINDING, RETURN_S = 3.0, 2.0
#: The slowest a run goes, in requests per second.
MIN_RATE = 0.5
#: The longest a request waits for its turn before it looks again; a turn due sooner is held
#: for it (see `Ticket`).
RECHECK_S = 0.1
#: Whether refusals asking for a pause are a limit: the answers of the last second say, if
#: there are `FEWEST_ANSWERS` at least, and the last `LAST_ANSWERS` if the second had fewer
#: (see `Throttle._answers_show_a_limit`).
FEWEST_ANSWERS, LAST_ANSWERS = 10, 30
#: How long the first refusal pauses the run, before it takes the rate of the answers in the
#: last second (those of the requests under way included) as its first.
LOOK_S = 0.2


class Ticket:
    """One request's place in the run's pace: the turn held for it, if any. A request holds
    the next turn while it sleeps until it, so that the other waiters do not all wake for the
    same turn: with a hundred threads, their wake-ups would delay the one whose turn it is by
    milliseconds, and a limit with no burst refuses a request that arrives early."""

    __slots__ = ("at", "held")

    def __init__(self) -> None:
        self.held: int | None = None  # the pace (`Throttle._pace`) the turn was held in
        self.at = 0.0  # and its time


class Throttle:
    """The whole run's pace: at most `rate` requests a second, from every thread or task, and
    none while a server's pause lasts. Unlimited (up to `ceiling`, `--rate`) until the server
    refuses a request (429, 503); then, as TCP does, the rate goes down at once and up slowly.

    The first refusal pauses the run `LOOK_S`, then starts the rate at what the server
    answered in the last second (its burst), or at the rate its `RateLimit-Policy` states;
    none, if it answered nothing but refusals. The rate grows by `FINDING` until the next
    refusal, which halves it; later refusals take it to `SLOW_DOWN`, and after each it grows
    as a cubic of the time since, flat near the rate refused (`RETURN_S` later; a little below
    it if that was lower than the refusal before). Only a refusal of a request sent after the
    last slow-down counts. A `Retry-After` (or a spent quota's reset) pauses the run, and slows
    it too only once a limit is found or the answers show one (`_answers_show_a_limit`).
    docs/design.md, "Rate limits", has the whole rule and its measurements.
    """

    def __init__(self, ceiling: float | None = None, on_change: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = ceiling or math.inf
        self.ceiling = self.rate
        self.refusals = 0
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._grown = clock()
        self._last = self._grown - 1 / self.rate  # the last turn taken: the first is free
        self._paused = -math.inf  # until when no turn is taken
        self._slowed = -math.inf  # when the rate last went down
        self._found = False  # whether a refusal has slowed the run: a limit found
        self._finding = True  # the limit is still unknown: grow fast
        self._refused_rate = self._slowed_to = math.inf  # the last slow-down: from, to
        self._since_slowed = 0.0  # seconds of growth since then, pauses left out
        self._recent: deque[tuple[float, bool]] = deque()  # the last second's answers: when,
        # and whether a refusal
        self._last_answers: deque[bool] = deque(maxlen=LAST_ANSWERS)  # whether refusals
        self._told = self.rate  # the rate the last message gave
        self._limited_at: float | None = None  # the first refusal
        self._seed_at: float | None = None  # when to take the rate of the answers so far
        self._refused_with = ""
        self._refusing_all = False  # the last look at the answers found only refusals
        self._answered_since = 0
        self._pace = 0  # counts slow-downs and pauses: turns held before one are void

    def wait(self, ticket: Ticket | None = None) -> float:
        """Seconds to wait before asking again (at most `RECHECK_S`: the rate may grow
        meanwhile); 0 means go now, and takes the turn. With a `ticket`, a turn due within
        `RECHECK_S` is held for it, and the wait is until that turn; asked again, the ticket
        goes at once, unless the run slowed down or paused meanwhile."""
        with self._lock:
            now = self._clock()
            if self.rate < self.ceiling and now > self._grown:  # not while paused
                self.rate = min(self.ceiling, self._grown_rate(now - self._grown))
            self._grown = max(self._grown, now)
            news = None
            if self._seed_at is not None and now >= self._seed_at:  # the answers are in
                self._forget(now)
                self._seed_at, self._last, self._slowed = None, now, now
                accepted = self._accepted()
                self._refusing_all = not accepted  # then it is not a limit, not yet
                if accepted:
                    self.rate = self._told = min(self.ceiling, max(MIN_RATE, accepted))
                    self._found = True
                    news = f"{self._refused_with}: the run slows to {self.rate:.3g} requests/s"
            due = max(self._paused, self._last + 1 / self.rate)
            paced = self.rate < math.inf and self._seed_at is None  # turns are spaced
            if ticket is not None and ticket.held == self._pace:  # the turn held for it:
                wait = max(0.0, ticket.at - now)  # go, or sleep the rest of an early wake-up
                if not wait:
                    ticket.held = None
                    if self._last == ticket.at:  # late, and the next turn is free: it is a
                        self._last = now  # whole turn after this one
            elif now < due and not (ticket is not None and paced and due - now <= RECHECK_S):
                wait = min(due - now, RECHECK_S)
            else:  # its turn: now, or held for it
                wait, self._last = max(0.0, due - now), max(due, now)
                if ticket is not None and wait:
                    ticket.held, ticket.at = self._pace, self._last
                if math.inf > self.rate >= 1.5 * self._told and self._limited_at is not None:
                    self._told = self.rate
                    news = f"the run speeds up to {self.rate:.3g} requests/s"
        if news:
            self._say(news)
        return wait

    def record(self, failure: FetchFailure | None, sent: float) -> None:
        """After an attempt that began at `sent` (this clock's time): see the class."""
        if failure is not None and failure.unanswered:
            return  # no answer at all: the breaker's business
        refused = failure is not None and failure.refused
        with self._lock:
            now = self._clock()
            self._recent.append((now, refused))
            self._last_answers.append(refused)
            self._forget(now)
            if failure is None or not refused:
                self._answered_since += self._limited_at is not None
                self._refusing_all = False
                return
            self.refusals += 1
            if self._limited_at is None:
                self._limited_at = now
            news = []
            if failure.retry_after is not None and now + failure.retry_after > self._paused:
                pause = min(failure.retry_after, MAX_RETRY_AFTER)
                if now >= self._paused:  # a new pause, not a longer one
                    news.append(f"{failure.reason}: the run pauses {pause:g} s")
                self._paused = now + pause
                self._pace += 1
                self._grown = max(self._grown, self._paused)
            # With a Retry-After the pause may be all the server asks for (a refusal now and
            # then, even in a run held to `--rate`): the rate is too high once the answers show
            # a limit, and from then on.
            limited = (failure.retry_after is None or failure.rate is not None
                       or self._found or self._answers_show_a_limit())
            if sent > self._slowed and limited:
                self._slowed = now
                self._pace += 1
                if failure.rate is not None and failure.rate < self.ceiling:  # the server
                    # said its rate: never faster, and slower after a refusal at it, below
                    self.rate = self.ceiling = self._refused_rate = max(MIN_RATE, failure.rate)
                    self._finding = False
                elif self.rate == math.inf and self._refusing_all:
                    pass  # the last look found nothing but refusals: retried with back-off
                elif self.rate == math.inf:  # first a pause, for the answers under way
                    self._paused = max(self._paused, now + LOOK_S)
                    self._seed_at, self._refused_with = now + LOOK_S, failure.reason
                elif self._finding:  # past the limit, fast growth overshoots it: halve, as
                    # TCP does at the end of its slow start, or go below what the server
                    # answered in the last second, if that is less
                    self._refused_rate = self.rate
                    self.rate = min(self.rate / 2, self._accepted() * SLOW_DOWN)
                    self._finding = False
                else:  # a refusal below the last refused rate says the limit is lower still
                    # (CUBIC's "fast convergence"; a burst hides how far past it a rate is)
                    falling = self.rate < self._refused_rate
                    self._refused_rate = self.rate * ((1 + SLOW_DOWN) / 2 if falling else 1)
                    self.rate *= SLOW_DOWN
                if self._seed_at is None and self.rate < math.inf:  # the new pace starts a
                    # turn late: time for the server to answer the next request (the refused
                    # one, perhaps) again
                    self.rate = self._told = min(self.ceiling, max(MIN_RATE, self.rate))
                    self._slowed_to, self._since_slowed, self._found = self.rate, 0.0, True
                    self._grown, self._last = max(self._grown, now), now + 1 / self.rate
                    news.append(f"{failure.reason}: the run slows to {self.rate:.3g} requests/s")
        for message in news:
            self._say(message)

    def _grown_rate(self, seconds: float) -> float:
        """The rate after `seconds` more without a refusal."""
        if self._finding:
            return self.rate * math.exp(min(50.0, FINDING * seconds))
        self._since_slowed += seconds  # CUBIC's curve, flat at the refused rate at RETURN_S
        away = (self._since_slowed - RETURN_S) / RETURN_S
        drop = self._refused_rate - self._slowed_to
        return max(self.rate, self._refused_rate + drop * away ** 3)

    def paces(self) -> bool:
        """Whether the run has a rate, or is about to take one."""
        return self.rate < math.inf or self._seed_at is not None

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - 1:
            self._recent.popleft()

    def _answers_show_a_limit(self) -> bool:
        """Whether most answers of the last second (`FEWEST_ANSWERS` at least) were refusals,
        or, if it had fewer than `LAST_ANSWERS`, half the last `LAST_ANSWERS`. Judged on a few
        answers only, a busy run's chance refusals in a row would look like a limit; on the
        second alone, sequential mode against a limit with no burst would not, as it answers
        twice a second: after each pause one request accepted, the next refused. A run of a
        few codes answered less than `FEWEST_ANSWERS` a second only pauses. Called with the
        lock held."""
        answers = len(self._recent)
        if answers >= FEWEST_ANSWERS and 2 * self._accepted() < answers:
            return True
        last = self._last_answers
        return (answers < LAST_ANSWERS and len(last) == LAST_ANSWERS
                and 2 * sum(last) >= LAST_ANSWERS)

    def _accepted(self) -> int:
        """The answers of the last second that were not refusals."""
        return sum(not refused for _, refused in self._recent)

    def settled_rate(self) -> float | None:
        """Requests a second answered since the first refusal: the limit the run found; None
        if no refusal slowed the run (a pause alone is the server's, not a limit found)."""
        if self._limited_at is None or not self._found:
            return None
        return self._answered_since / max(self._clock() - self._limited_at, 1e-3)

    def _say(self, message: str) -> None:
        if self._on_change is not None:
            self._on_change(message)


class Policy:
    """One run's retry state, shared by every download: the `Breaker` and the `Throttle`, fed
    by every attempt, and the run's `Trace`, if it is traced."""

    def __init__(self, options: Options, on_change: Callable[[str], None] | None = None,
                 trace: Trace | None = None) -> None:
        self.options = options
        self.breaker = Breaker(options.give_up_after)
        self.trace = trace
        if trace is not None:
            on_change = _both(trace.note, on_change)
        self.throttle = Throttle(options.rate, on_change)

    def after(self, failure: FetchFailure | None, sent: float, url: str, attempt: int,
              size: int = 0, *, interrupted: bool = False) -> float | None:
        """After attempt number `attempt` at `url`, begun at `sent` (`time.monotonic()`), which
        ended with `failure` (None: a body of `size` bytes) or was cut short by a stop: feed the
        breaker, the throttle and the trace, and say how many seconds to wait before the next
        attempt (None: there is none)."""
        wait = None
        if not interrupted:
            self.breaker.record(failure)
            self.throttle.record(failure, sent)
            if failure is not None:
                wait = self.retry_wait(failure, attempt)
        if self.trace is not None:
            status = ("interrupted" if interrupted else "ok" if failure is None
                      else failure.reason)
            self.trace.request(url, sent, status, attempt, size, wait)
        return wait

    def retry_wait(self, failure: FetchFailure, attempt: int) -> float | None:
        """`retry_wait`, but a refusal in a run the throttle paces (which it has slowed or
        paused already) waits for nothing more than its turn: a back-off of its own would
        stall sequential mode."""
        wait = retry_wait(failure, attempt, self.options)
        paced = failure.refused and self.throttle.paces()
        return 0.0 if wait is not None and paced else wait


def _both(first: Callable[[str], None], then: Callable[[str], None] | None
          ) -> Callable[[str], None]:
    """A callback that tells `first`, then `then` if there is one."""
    def tell(message: str) -> None:
        first(message)
        if then is not None:
            then(message)

    return tell
