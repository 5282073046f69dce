"""Sequential mode, as the book's flags2_sequential.py: one code after another, one client.

`download_one` is shared with the threaded mode, as in the book. `_async.py` is the same code
with `async` and `await` added: squint, and the two read alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from .._models import OnResult, Options, Result
from .._saving import kept_flag, save_result
from .._signals import on_first_stop
from ._fetch import (
    FetchFailure,
    body_failures,
    check_flag,
    check_progress,
    check_status,
    country_stem,
    failure_result,
    failures,
    flag_url,
    is_small_error,
    metadata_url,
)
from ._http import sync_client
from ._retry import Policy, Ticket
from ._stop import Stop


def get(client: httpx.Client, url: str, options: Options) -> bytes:
    """One attempt: the whole body, or a `FetchFailure` saying why not."""
    started = time.monotonic()
    with failures(options), client.stream("GET", url) as response:
        if is_small_error(response):
            response.read()  # so the connection can serve the next code
        check_status(response)
        body = bytearray()
        with body_failures():
            for chunk in response.iter_bytes():
                body += chunk
                check_progress(len(body), started, options)
    return bytes(body)


def get_with_retries(
    client: httpx.Client, url: str, options: Options, stop: Stop, policy: Policy,
    check: Callable[[bytes], None] | None = None,
) -> tuple[bytes, int]:
    """`get`, paced and retried as the shared policy says, a body that `check` refuses being a
    failure: the body and the attempts it took."""
    attempt = 1
    while True:
        sent = turn(policy, stop)
        try:
            body = get(client, url, options)
            if check is not None:
                check(body)
        except FetchFailure as exc:
            exc.attempts = attempt
            wait = policy.after(exc, sent, url, attempt, interrupted=stop.requested)
            if wait is None:
                raise
            stop.sleep(wait)
        except KeyboardInterrupt:  # Ctrl-C, in the main thread: cut short
            policy.after(None, sent, url, attempt, interrupted=True)
            raise
        else:
            policy.after(None, sent, url, attempt, len(body), interrupted=stop.requested)
            return body, attempt
        attempt += 1


def turn(policy: Policy, stop: Stop) -> float:
    """Wait for the run's pace to allow one more request (`_retry.Throttle`); when it began."""
    ticket = Ticket()
    while (wait := policy.throttle.wait(ticket)) > 0:
        stop.sleep(wait)
    stop.check()
    return time.monotonic()


def get_flag(client: httpx.Client, cc: str, options: Options, stop: Stop,
             policy: Policy) -> tuple[bytes, int]:
    url = flag_url(options.base_url, cc)
    return get_with_retries(client, url, options, stop, policy, check_flag)


def get_country_stem(client: httpx.Client, cc: str, options: Options, stop: Stop,
                     policy: Policy) -> str | None:
    """The file-name stem from metadata.json, or None (use the code) if it is unusable."""
    try:
        body, _ = get_with_retries(client, metadata_url(options.base_url, cc), options,
                                   stop, policy)
    except FetchFailure as exc:
        if exc.unanswered:  # the server is gone: a name chosen now would be the wrong one
            raise
        return None
    return country_stem(body)


def download_one(client: httpx.Client, cc: str, options: Options, stop: Stop,
                 policy: Policy) -> Result:
    """Fetch and save one flag; raises `Stopped` if Ctrl-C cut it short."""
    if options.skip_existing and not options.names and (kept := kept_flag(cc, None, options)):
        return kept
    if given_up := policy.breaker.not_attempted(cc):
        return given_up
    try:
        if options.names_first:
            stem = get_country_stem(client, cc, options, stop, policy)
            if kept := kept_flag(cc, stem, options):
                return kept
            image, attempts = get_flag(client, cc, options, stop, policy)
        else:
            image, attempts = get_flag(client, cc, options, stop, policy)
            stem = get_country_stem(client, cc, options, stop, policy) if options.names else None
    except FetchFailure as exc:
        stop.check()  # after a stop, the failure may be its own doing (a socket shut down)
        return failure_result(cc, exc)
    return stop.save(lambda: save_result(cc, image, attempts, stem, options, policy.trace))


def download_many(cc_list: list[str], options: Options, on_result: OnResult,
                  policy: Policy | None = None) -> list[Result]:
    results: list[Result] = []
    stop, policy = Stop(), policy or Policy(options)
    with on_first_stop(stop.on_ctrl_c), stop.watch(sync_client(options)) as client:
        try:
            for cc in cc_list:
                result = download_one(client, cc, options, stop, policy)
                on_result(result)
                results.append(result)
        except KeyboardInterrupt:  # Ctrl-C: every flag saved is handed over again (`download`
            for result in stop.close():  # reports each once), the last one perhaps for the
                on_result(result)  # first time
            raise
    return results
