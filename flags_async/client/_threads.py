"""Threaded mode, as the book's flags2_threadpool.py: the sequential `download_one`, run by a
pool of `max_req` threads.

The pool is `multiprocessing.pool.ThreadPool`, whose threads are daemons, not the book's
`concurrent.futures.ThreadPoolExecutor`, whose threads the interpreter waits for as it exits:
after a Ctrl-C, a thread still in a TCP connect (which no stop can wake) must hold neither the
report nor the exit."""

from __future__ import annotations

from multiprocessing.pool import ThreadPool

from .._models import OnResult, Options, Result
from .._signals import handling_ctrl_c
from ._http import sync_client
from ._retry import Breaker
from ._sequential import download_one
from ._stop import Stop, Stopped


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    results: list[Result] = []
    ended: list[Result] = []  # every download's result as it ends, reported or not
    stop, breaker = Stop(), Breaker(options.give_up_after)
    with handling_ctrl_c(stop.on_ctrl_c), stop.watch(sync_client(options)) as client:

        def one(cc: str) -> Result | None:
            """`download_one` in a pool thread; None if a stop cut it short."""
            try:
                result = download_one(client, cc, options, stop, breaker)
            except Stopped:
                return None
            ended.append(result)
            return result

        pool = ThreadPool(max(1, min(options.max_req, len(cc_list))))
        try:
            for result in pool.imap_unordered(one, cc_list):
                if result is None:  # stopped, though the Ctrl-C never reached us (swallowed)
                    raise Stopped
                on_result(result)
                results.append(result)
        except BaseException:  # Ctrl-C, say: what waits never starts, what runs stops at
            pool.terminate()  # once (`Stop`), no thread is waited for, and the flags saved
            for result in [*stop.close(), *ended]:  # and the downloads ended are handed over
                on_result(result)  # again (`download` reports each once)
            raise
        pool.terminate()
    return results
