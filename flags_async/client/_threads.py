"""Threaded mode: the sequential `download_one`, run by a pool of `max_req` threads."""

from __future__ import annotations

from concurrent import futures

from .._models import OnResult, Options, Result
from ._http import sync_client
from ._sequential import download_one


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    results = []
    workers = max(1, min(options.max_req, len(cc_list)))
    with sync_client(options) as client, futures.ThreadPoolExecutor(workers) as executor:
        to_do = [executor.submit(download_one, client, cc, options) for cc in cc_list]
        try:
            for future in futures.as_completed(to_do):
                result = future.result()
                on_result(result)
                results.append(result)
        except BaseException:
            # Ctrl-C: drop the queued codes instead of letting the pool's exit run them all.
            executor.shutdown(wait=False, cancel_futures=True)
            raise
    return results
