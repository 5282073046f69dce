"""Threaded mode, as the book's flags2_threadpool.py: the sequential `download_one`, run by a
pool of `max_req` threads. After a Ctrl-C the interpreter still joins the pool's threads as it
exits: one in a TCP connect that no stop can wake holds the exit, not the report, for up to
`--timeout` (docs/design.md, "Ctrl-C")."""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator
from concurrent import futures

from .._models import OnResult, Options, Result
from .._signals import main_thread_only, on_first_stop
from ._http import sync_client
from ._retry import Policy
from ._sequential import download_one
from ._stop import Stop


def download_many(cc_list: list[str], options: Options, on_result: OnResult,
                  policy: Policy | None = None) -> list[Result]:
    results: list[Result] = []
    stop, policy = Stop(), policy or Policy(options)
    workers = max(1, min(options.max_req, len(cc_list)))
    executor = futures.ThreadPoolExecutor(workers, initializer=main_thread_only)
    to_do: list[futures.Future[Result]] = []
    with on_first_stop(stop.on_ctrl_c), stop.watch(sync_client(options)) as client:
        try:
            to_do = [executor.submit(download_one, client, cc, options, stop, policy)
                     for cc in cc_list]
            for future in as_completed(to_do):
                result = future.result()
                on_result(result)
                results.append(result)
        except BaseException:  # Ctrl-C, say: what runs stops at once (`Stop`), what waits
            # never starts, a thread is waited for `Stop.SETTLE_S` at most (one in a TCP
            # connect would take longer), and the flags saved and the downloads ended are
            # handed over again (`download` reports each once).
            executor.shutdown(wait=False, cancel_futures=True)
            stop.request()  # already, on Ctrl-C; else (a failing `on_result`) now
            futures.wait(to_do, timeout=Stop.SETTLE_S)
            for result in [*stop.close(), *finished(to_do)]:
                on_result(result)
            raise
    executor.shutdown()
    return results


def as_completed(to_do: list[futures.Future[Result]]) -> Iterator[futures.Future[Result]]:
    """`futures.as_completed`, but the main thread wakes every `Stop.POLL_S` while it waits: a
    Ctrl-C that arrives just before a wait begins (or that another thread takes) is handled
    in C there and wakes nothing, so Python's handler would run only once a download ends."""
    ended: queue.SimpleQueue[futures.Future[Result]] = queue.SimpleQueue()
    for each in to_do:
        each.add_done_callback(ended.put)
    for _ in to_do:
        future: futures.Future[Result] | None = None
        while future is None:
            with contextlib.suppress(queue.Empty):
                future = ended.get(timeout=Stop.POLL_S)
        yield future


def finished(to_do: list[futures.Future[Result]]) -> list[Result]:
    """The results of the downloads that have ended, reported or not."""
    return [future.result() for future in to_do
            if future.done() and not future.cancelled() and future.exception() is None]
