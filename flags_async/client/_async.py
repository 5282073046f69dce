"""Async mode, as the book's flags2_asyncio.py: one event loop, one `httpx.AsyncClient`, and a
semaphore that keeps at most `max_req` downloads talking to the server at once.

Squint and the `await`s disappear: `get`, `get_flag` and `download_one` read like those of
`_sequential.py`. Writing a file blocks, so saves run in one writer thread while the event
loop goes on with the network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx

from .._models import OnResult, Options, Result
from .._saving import kept_flag, save_result
from .._signals import interruptible, main_thread_only
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
from ._http import async_client
from ._retry import Policy, Ticket

if TYPE_CHECKING:
    from .._trace import Trace

#: How downloads start while the semaphore has room (see `pace`): the first `AT_ONCE` in one
#: event-loop turn, as the book starts them all, then `PER_TURN` per turn. docs/design.md has
#: the measurements behind both numbers.
AT_ONCE = 100
PER_TURN = 5


async def get(client: httpx.AsyncClient, url: str, options: Options) -> bytes:
    """One attempt: the whole body, or a `FetchFailure` saying why not."""
    started = time.monotonic()
    with failures(options):
        async with client.stream("GET", url) as response:
            if is_small_error(response):
                await response.aread()  # so the connection can serve the next code
            check_status(response)
            body = bytearray()
            with body_failures():
                async for chunk in response.aiter_bytes():
                    body += chunk
                    check_progress(len(body), started, options)
    return bytes(body)


async def get_with_retries(
    client: httpx.AsyncClient, url: str, options: Options, policy: Policy,
    check: Callable[[bytes], None] | None = None,
) -> tuple[bytes, int]:
    """`get`, paced and retried as the shared policy says, a body that `check` refuses being a
    failure: the body and the attempts it took."""
    attempt = 1
    while True:
        sent = await turn(policy)
        try:
            body = await get(client, url, options)
            if check is not None:
                check(body)
        except FetchFailure as exc:
            exc.attempts = attempt
            wait = policy.after(exc, sent, url, attempt)
            if wait is None:
                raise
            await asyncio.sleep(wait)
        except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C: cut short
            policy.after(None, sent, url, attempt, interrupted=True)
            raise
        else:
            policy.after(None, sent, url, attempt, len(body))
            return body, attempt
        attempt += 1


async def turn(policy: Policy) -> float:
    """Wait for the run's pace to allow one more request (`_retry.Throttle`); when it began."""
    ticket = Ticket()
    while (wait := policy.throttle.wait(ticket)) > 0:  # noqa: ASYNC110 (a turn is a time)
        await asyncio.sleep(wait)
    return time.monotonic()


async def get_flag(client: httpx.AsyncClient, cc: str, options: Options,
                   policy: Policy) -> tuple[bytes, int]:
    url = flag_url(options.base_url, cc)
    return await get_with_retries(client, url, options, policy, check_flag)


async def get_country_stem(client: httpx.AsyncClient, cc: str, options: Options,
                           policy: Policy) -> str | None:
    """The file-name stem from metadata.json, or None (use the code) if it is unusable."""
    try:
        url = metadata_url(options.base_url, cc)
        body, _ = await get_with_retries(client, url, options, policy)
    except FetchFailure as exc:
        if exc.unanswered:  # the server is gone: a name chosen now would be the wrong one
            raise
        return None
    return country_stem(body)


async def save(writer: Executor, cc: str, image: bytes, attempts: int, stem: str | None,
               options: Options, trace: Trace | None) -> Result:
    """`save_result` in the writer thread.

    A save is seen through once handed over: if the download is cancelled meanwhile (Ctrl-C),
    the save still finishes and its result is returned, so an interrupted run counts every
    file it wrote. Later Ctrl-Cs change nothing: the save is short, and waited for.
    """
    loop = asyncio.get_running_loop()
    saving = loop.run_in_executor(writer, save_result, cc, image, attempts, stem, options, trace)
    try:
        return await asyncio.shield(saving)
    except asyncio.CancelledError:
        return await saving


async def download_one(client: httpx.AsyncClient, cc: str, options: Options,
                       semaphore: asyncio.Semaphore, writer: Executor, policy: Policy) -> Result:
    loop = asyncio.get_running_loop()
    if options.skip_existing and not options.names and (
            kept := await loop.run_in_executor(writer, kept_flag, cc, None, options)):
        return kept
    try:
        async with semaphore:
            if given_up := policy.breaker.not_attempted(cc):
                return given_up
            if options.names_first:
                stem = await get_country_stem(client, cc, options, policy)
                if kept := await loop.run_in_executor(writer, kept_flag, cc, stem, options):
                    return kept
                image, attempts = await get_flag(client, cc, options, policy)
            else:
                image, attempts = await get_flag(client, cc, options, policy)
                stem = (await get_country_stem(client, cc, options, policy)
                        if options.names else None)
    except FetchFailure as exc:
        return failure_result(cc, exc)
    return await save(writer, cc, image, attempts, stem, options, policy.trace)


async def supervisor(cc_list: list[str], options: Options, on_result: OnResult,
                     policy: Policy) -> list[Result]:
    semaphore = asyncio.Semaphore(options.max_req)
    results: list[Result] = []
    writer = ThreadPoolExecutor(1, "flags-writer", initializer=main_thread_only)
    to_do: list[asyncio.Task[Result]] = []
    try:
        # The task group closes before the client: on Ctrl-C it cancels and awaits every
        # download, so none goes on against a closed client. Results are reported once every
        # download has started.
        async with async_client(options) as client, asyncio.TaskGroup() as group:
            for cc in cc_list:
                to_do.append(group.create_task(download_one(client, cc, options, semaphore,
                                                            writer, policy)))
                await pace(len(to_do), semaphore)
            for next_done in asyncio.as_completed(to_do):
                result = await next_done
                on_result(result)
                results.append(result)
    except BaseExceptionGroup as errors:
        # Downloads return their failures as results, so what fails here is `on_result` (its
        # pipe closed, say) or a bug: a lone one is raised as itself, as the other modes do.
        if len(errors.exceptions) == 1:
            raise errors.exceptions[0] from None
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C: saves under way finished;
        for result in finished(to_do):  # (see `save`) every result is handed over again, and
            on_result(result)  # `download` reports each once
        raise
    finally:
        writer.shutdown(cancel_futures=True)
    return results


async def pace(started: int, semaphore: asyncio.Semaphore) -> None:
    """Beyond the first `AT_ONCE` downloads, while `semaphore` has room, let the event loop
    turn once after every `PER_TURN` started.

    A download that finds no idle connection in the pool opens its own. Started in one turn
    (asyncio runs new tasks first come, first served), every download opens one before the
    first request is sent (aio-libs/aiohttp#8216), and httpx's own pool does its bookkeeping
    for all of them at once (encode/httpcore#1035). Started a few per turn, they take the
    connections of downloads that finished meanwhile. Up to `AT_ONCE`, the connections cost
    less than a burst's batching saves. Once the semaphore is full (its slots taken by
    downloads already running), the rest would wait for a slot anyway, so they are started
    without a turn between them. docs/design.md, "The one speed tweak", has the measurements.
    """
    if started >= AT_ONCE and started % PER_TURN == 0 and not semaphore.locked():
        await asyncio.sleep(0)


def finished(to_do: list[asyncio.Task[Result]]) -> list[Result]:
    """The results of the downloads that have ended, reported or not."""
    return [task.result() for task in to_do
            if task.done() and not task.cancelled() and task.exception() is None]


def download_many(cc_list: list[str], options: Options, on_result: OnResult,
                  policy: Policy | None = None) -> list[Result]:
    policy = policy or Policy(options)
    return asyncio.run(interruptible(supervisor(cc_list, options, on_result, policy)))
