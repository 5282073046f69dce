"""Async mode: one event loop, one `httpx.AsyncClient`, `max_req` requests in flight.

Squint and the `await`s disappear: `download_one` reads like the sequential one.
"""

from __future__ import annotations

import asyncio

import httpx
from tenacity import AsyncRetrying

# aiohttp is heavy to import: load it with the strategy, so start-up is not timed as download.
from . import _aiohttp  # noqa: F401
from ._clients import async_client
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


async def get(client: httpx.AsyncClient, url: str, options: Options) -> bytes:
    """One attempt: stream the body; `asyncio.timeout` bounds connect, headers and body."""
    with translated_errors(options.timeout):
        async with asyncio.timeout(options.timeout), client.stream("GET", url) as response:
            check_status(response)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                check_size(len(body), options.max_bytes)
    return bytes(body)


async def get_with_retries(
    client: httpx.AsyncClient, url: str, options: Options, semaphore: asyncio.Semaphore
) -> tuple[bytes, int]:
    """`get`, retried on transient failures. The semaphore is held per attempt, so a code
    waiting out its back-off does not keep a slot from the others."""
    attempts = 0
    try:
        async for attempt in AsyncRetrying(**retry_policy(options)):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                async with semaphore:
                    body = await get(client, url, options)
    except FetchFailure as exc:
        exc.attempts = attempts
        raise
    return body, attempts


async def get_flag(
    client: httpx.AsyncClient, cc: str, options: Options, semaphore: asyncio.Semaphore
) -> tuple[bytes, int]:
    url = flag_url(options.base_url, cc)
    image, attempts = await get_with_retries(client, url, options, semaphore)
    check_flag(image)
    return image, attempts


async def get_country_stem(
    client: httpx.AsyncClient, cc: str, options: Options, semaphore: asyncio.Semaphore
) -> str | None:
    """The file-name stem from metadata.json, or None (use the code) if it is unusable."""
    url = metadata_url(options.base_url, cc)
    try:
        body, _ = await get_with_retries(client, url, options, semaphore)
    except FetchFailure:
        return None
    return country_stem(body)


async def download_one(
    client: httpx.AsyncClient, cc: str, options: Options, semaphore: asyncio.Semaphore
) -> Result:
    try:
        image, attempts = await get_flag(client, cc, options, semaphore)
    except FetchFailure as exc:
        return failure_result(cc, exc)
    stem = await get_country_stem(client, cc, options, semaphore) if options.names else None
    # Writing a file blocks; a worker thread keeps the event loop free for the network.
    return await asyncio.to_thread(save_result, cc, image, attempts, stem, options)


async def supervisor(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    semaphore = asyncio.Semaphore(options.max_req)
    results = []
    async with async_client(options) as client:
        to_do = [download_one(client, cc, options, semaphore) for cc in cc_list]
        for coro in asyncio.as_completed(to_do):
            result = await coro
            on_result(result)
            results.append(result)
    return results


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    return asyncio.run(supervisor(cc_list, options, on_result))
