"""Sequential mode: one code after another over one pooled `httpx.Client`.

`get_flag` and `download_one` are shared with the threaded mode, as in the book.
"""

from __future__ import annotations

import time

import httpx
from tenacity import Retrying

from ._clients import sync_client
from ._fetching import (
    MAX_ERROR_BODY,
    FetchFailure,
    backoff_seconds,
    check_flag,
    check_size,
    check_status,
    country_stem,
    failure_result,
    flag_url,
    is_retryable,
    metadata_url,
    retry_policy,
    translated_errors,
)
from ._models import OnResult, Options, Result
from ._saving import kept_flag, save_result


def get(client: httpx.Client, url: str, options: Options) -> bytes:
    """One attempt: stream the body under a deadline that covers the whole attempt."""
    deadline = time.monotonic() + options.timeout
    with translated_errors(options.timeout), client.stream("GET", url) as response:
        if response.is_error:
            drain(response)
        check_status(response)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            check_size(len(body), options.max_bytes)
            if time.monotonic() > deadline:
                raise TimeoutError
    return bytes(body)


def drain(response: httpx.Response) -> None:
    """Read a small error body, so the connection can serve the next request."""
    if response.is_stream_consumed:  # already read (for example by a mock)
        return
    received = 0
    for chunk in response.iter_raw():
        received += len(chunk)
        if received > MAX_ERROR_BODY:
            break


def get_with_retries(client: httpx.Client, url: str, options: Options) -> tuple[bytes, int]:
    """`get`, retried on transient failures; returns the body and the attempts it took.

    As in async mode, the first attempt runs bare and retries go through tenacity.
    """
    try:
        return get(client, url, options), 1
    except FetchFailure as exc:
        exc.attempts = 1
        if not is_retryable(exc, options, attempts=1):
            raise
        time.sleep(backoff_seconds(exc, 1, options))
    attempts = 1
    try:
        for attempt in Retrying(**retry_policy(options, done=1)):
            with attempt:
                attempts = 1 + attempt.retry_state.attempt_number
                body = get(client, url, options)
    except FetchFailure as exc:
        exc.attempts = attempts
        raise
    return body, attempts


def get_flag(client: httpx.Client, cc: str, options: Options) -> tuple[bytes, int]:
    image, attempts = get_with_retries(client, flag_url(options.base_url, cc), options)
    check_flag(image, attempts)
    return image, attempts


def get_country_stem(client: httpx.Client, cc: str, options: Options) -> str | None:
    """The file-name stem from metadata.json, or None (use the code) if it is unusable."""
    try:
        body, _ = get_with_retries(client, metadata_url(options.base_url, cc), options)
    except FetchFailure:
        return None
    return country_stem(body)


def download_one(client: httpx.Client, cc: str, options: Options) -> Result:
    if options.skip_existing and not options.names and (kept := kept_flag(cc, None, options)):
        return kept
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
