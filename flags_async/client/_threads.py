"""Threaded mode, as the book's flags2_threadpool.py: the sequential `download_one`, run by a
pool of `max_req` threads."""

from __future__ import annotations

from concurrent import futures

from .._models import OnResult, Options, Result
from ._http import sync_client
from ._sequential import download_one


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    results: list[Result] = []

    def report(result: Result) -> None:
        results.append(result)
        on_result(result)

    workers = max(1, min(options.max_req, len(cc_list)))
    with sync_client(options) as client, futures.ThreadPoolExecutor(workers) as executor:
        to_do = [executor.submit(download_one, client, cc, options) for cc in cc_list]
        try:
            for future in futures.as_completed(to_do):
                report(future.result())
        except BaseException:
            # Ctrl-C: drop the codes not started; the downloads under way finish (a thread
            # cannot be stopped), and what they saved is reported, so the report matches the disk.
            executor.shutdown(wait=True, cancel_futures=True)
            reported = {result.cc for result in results}
            for future in to_do:
                if (future.done() and not future.cancelled() and future.exception() is None
                        and future.result().cc not in reported):
                    report(future.result())
            raise
    return results
