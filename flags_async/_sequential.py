"""Sequential mode: one code after another over one pooled `httpx.Client`.

`get_flag` and `download_one` are shared with the threaded mode, as in the book.
"""

from __future__ import annotations

import time

import httpx
from tenacity import Retrying

from ._clients import sync_client
from ._fetching import (
    FetchFailure,
    check_flag,
    check_size,
    check_status,
    country_stem,
    failure_result,
    flag_url,
    metadata_url,
    retry_policy,
    translated_errors,
)
from ._models import OnResult, Options, Result
from ._saving import save_result


def get(client: httpx.Client, url: str, options: Options) -> bytes:
    """One attempt: stream the body under a deadline that covers the whole attempt."""
    deadline = time.monotonic() + options.timeout
    with translated_errors(options.timeout), client.stream("GET", url) as response:
        check_status(response)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            check_size(len(body), options.max_bytes)
            if time.monotonic() > deadline:
                raise TimeoutError
    return bytes(body)


def get_with_retries(client: httpx.Client, url: str, options: Options) -> tuple[bytes, int]:
    """`get`, retried on transient failures; returns the body and the attempts it took."""
    attempts = 0
    try:
        for attempt in Retrying(**retry_policy(options)):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                body = get(client, url, options)
    except FetchFailure as exc:
        exc.attempts = attempts
        raise
    return body, attempts


def get_flag(client: httpx.Client, cc: str, options: Options) -> tuple[bytes, int]:
    image, attempts = get_with_retries(client, flag_url(options.base_url, cc), options)
    check_flag(image)
    return image, attempts


def get_country_stem(client: httpx.Client, cc: str, options: Options) -> str | None:
    """The file-name stem from metadata.json, or None (use the code) if it is unusable."""
    try:
        body, _ = get_with_retries(client, metadata_url(options.base_url, cc), options)
    except FetchFailure:
        return None
    return country_stem(body)


def download_one(client: httpx.Client, cc: str, options: Options) -> Result:
    try:
        image, attempts = get_flag(client, cc, options)
    except FetchFailure as exc:
        return failure_result(cc, exc)
    stem = get_country_stem(client, cc, options) if options.names else None
    return save_result(cc, image, attempts, stem, options)


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    results = []
    with sync_client(options) as client:
        for cc in cc_list:
            result = download_one(client, cc, options)
            on_result(result)
            results.append(result)
    return results
