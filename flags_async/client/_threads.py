"""Threaded mode, as the book's flags2_threadpool.py: the sequential `download_one`, run by a
pool of `max_req` threads."""

from __future__ import annotations

from concurrent import futures

from .._models import OnResult, Options, Result
from .._signals import ctrl_c_calls
from ._http import sync_client
from ._sequential import download_one
from ._stop import Stop, Stopped


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    results = []
    stop = Stop()
    raised: list[BaseException] = []

    def report(result: Result) -> None:
        results.append(result)
        try:
            on_result(result)
        except BaseException as exc:  # the caller's callback failed: stop as Ctrl-C does, and
            raised.append(exc)  # raise its exception once the run has ended in order
            stop.request()

    workers = max(1, min(options.max_req, len(cc_list)))
    with (ctrl_c_calls(stop.request), stop.watch(sync_client(options)) as client,
          futures.ThreadPoolExecutor(workers) as executor):
        to_do = [executor.submit(download_one, client, cc, options, stop) for cc in cc_list]
        cancelled = False
        for future in futures.as_completed(to_do):
            if stop.requested and not cancelled:  # Ctrl-C: what runs ends at once (`Stop`),
                for queued in to_do:  # and what waits in the queue never starts
                    queued.cancel()
                cancelled = True
            if (result := outcome(future)) and stop.keeps(result):
                report(result)
    if raised:
        raise raised[0]
    return results  # after a Ctrl-C, `ctrl_c_calls` has raised KeyboardInterrupt instead


def outcome(future: futures.Future[Result]) -> Result | None:
    """The future's result, or None for a download that a stop cancelled or cut short."""
    if future.cancelled():
        return None
    try:
        return future.result()
    except Stopped:
        return None
