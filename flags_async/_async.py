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
from ._diskprocess import DiskProcess
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


async def get(client: httpx.AsyncClient, url: str, options: Options) -> bytes:
    """One attempt: stream the body; `asyncio.timeout` bounds connect, headers and body."""
    with translated_errors(options.timeout):
        async with asyncio.timeout(options.timeout), client.stream("GET", url) as response:
            if response.is_error:
                await drain(response)
            check_status(response)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                check_size(len(body), options.max_bytes)
    return bytes(body)


async def drain(response: httpx.Response) -> None:
    """Read a small error body, so the connection can serve the next request."""
    if response.is_stream_consumed:  # already read (for example by a mock)
        return
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > MAX_ERROR_BODY:
            break


async def get_holding(
    client: httpx.AsyncClient, url: str, options: Options, semaphore: asyncio.Semaphore
) -> bytes:
    """One attempt, holding a semaphore slot only while it talks to the server."""
    async with semaphore:
        return await get(client, url, options)


async def get_with_retries(
    client: httpx.AsyncClient, url: str, options: Options, semaphore: asyncio.Semaphore
) -> tuple[bytes, int]:
    """`get`, retried on transient failures; returns the body and the attempts it took.

    The first attempt runs bare: nearly every code needs just one, and tenacity's bookkeeping
    costs about as much as a request on loopback. Retries, when needed, go through tenacity.
    """
    try:
        return await get_holding(client, url, options, semaphore), 1
    except FetchFailure as exc:
        exc.attempts = 1
        if not is_retryable(exc, options, attempts=1):
            raise
        await asyncio.sleep(backoff_seconds(exc, 1, options))
    attempts = 1
    try:
        async for attempt in AsyncRetrying(**retry_policy(options, done=1)):
            with attempt:
                attempts = 1 + attempt.retry_state.attempt_number
                body = await get_holding(client, url, options, semaphore)
    except FetchFailure as exc:
        exc.attempts = attempts
        raise
    return body, attempts


async def get_flag(
    client: httpx.AsyncClient, cc: str, options: Options, semaphore: asyncio.Semaphore
) -> tuple[bytes, int]:
    url = flag_url(options.base_url, cc)
    image, attempts = await get_with_retries(client, url, options, semaphore)
    check_flag(image, attempts)
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
    client: httpx.AsyncClient, cc: str, options: Options, semaphore: asyncio.Semaphore,
    disk: DiskProcess,
) -> Result:
    if options.skip_existing and not options.names and (kept := await disk.kept(cc)):
        return kept
    try:
        image, attempts = await get_flag(client, cc, options, semaphore)
    except FetchFailure as exc:
        return failure_result(cc, exc)
    stem = await get_country_stem(client, cc, options, semaphore) if options.names else None
    # Writing a file blocks; the disk process does it, and the event loop goes on with the network.
    return await disk.save(cc, image, attempts, stem)


async def supervisor(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    semaphore = asyncio.Semaphore(options.max_req)
    results: list[Result] = []
    to_do: list[asyncio.Task[Result]] = []
    try:
        # The task group closes first: on Ctrl-C (or any error) it cancels and awaits every
        # download, so none goes on, or fails unseen, against a closed client. The disk process
        # closes last, when every save handed to it is done.
        async with (DiskProcess(options) as disk, async_client(options) as client,
                    asyncio.TaskGroup() as group):
            to_do = [group.create_task(download_one(client, cc, options, semaphore, disk))
                     for cc in cc_list]
            for next_done in asyncio.as_completed(to_do):
                result = await next_done
                results.append(result)
                on_result(result)
    finally:
        # On Ctrl-C a download whose file was handed over finishes anyway (see DiskProcess),
        # after the loop above has stopped: count it, so the report matches the disk.
        for result in finished_late(to_do, results):
            results.append(result)
            on_result(result)
    return results


def finished_late(tasks: list[asyncio.Task[Result]], reported: list[Result]) -> list[Result]:
    """The results of tasks that completed but were not reported (matched by identity: a task's
    result is the very object the loop reported, and the same code may be asked for twice)."""
    seen = {id(result) for result in reported}
    return [task.result() for task in tasks
            if task.done() and not task.cancelled() and task.exception() is None
            and id(task.result()) not in seen]


def download_many(cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
    return asyncio.run(supervisor(cc_list, options, on_result))
