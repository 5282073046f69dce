"""Async mode's disk: blocking file calls run in one worker thread, handed over in batches.

Writing a file blocks, so it must not run on the event loop. `asyncio.to_thread` per file does
that, but each hand-off wakes the worker, and the worker then competes for the GIL with the busy
event loop: against nginx that cost about 10% of a fast run (0.304 s against 0.273 s, medians of
11 runs of 676 codes on 2 cores). So calls queue up here while the worker is busy, and the next
hand-off takes all of them at once: a handful of hand-offs per run (2 to 6 measured), not one
per file.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Call = Callable[[], Any]


class DiskThread:
    """Runs blocking calls off the event loop, in order, batching the ones that pile up.

    Uses the loop's default executor (`asyncio.to_thread`), so `asyncio.run` waits for the last
    batch when the loop ends: a file is never left half-written by an interrupted run. A call
    whose caller was cancelled (Ctrl-C) before the worker reached it is skipped, so an
    interrupted run does not go on writing flags that its report will not count.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[_Call, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """`func(*args)` in the worker thread; its result or its exception, here."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((functools.partial(func, *args), future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = [(call, future) for call, future in self._pending if not future.done()]
                self._pending = []
                if not batch:  # every caller has gone
                    continue
                try:
                    outcomes = await asyncio.to_thread(_call_all, batch)
                except BaseException as exc:  # the hand-off itself failed, or we were cancelled
                    for _, future in batch:
                        _settle(future, exc, failed=True)
                    if not isinstance(exc, Exception):
                        raise  # cancellation, KeyboardInterrupt: this task ends too
                    continue  # each caller has the error; nobody awaits this task for it
                for (_, future), (failed, value) in zip(batch, outcomes, strict=True):
                    _settle(future, value, failed)
        finally:
            self._flusher = None


def _call_all(batch: list[tuple[_Call, asyncio.Future[Any]]]) -> list[tuple[bool, Any]]:
    """Runs in the worker: every call whose caller still waits, each one's exception kept for
    its own caller.

    `future.cancelled()` is read from this thread: a single read of the future's state, which
    only the event loop's thread changes; at worst a call cancelled during that read runs.
    """
    outcomes: list[tuple[bool, Any]] = []
    for call, future in batch:
        if future.cancelled():  # its caller has gone: start no work it will not see
            outcomes.append((True, asyncio.CancelledError()))
            continue
        try:
            outcomes.append((False, call()))
        except Exception as exc:
            outcomes.append((True, exc))
    return outcomes


def _settle(future: asyncio.Future[Any], value: Any, failed: bool) -> None:
    if future.done():  # its caller was cancelled (Ctrl-C) while the batch ran
        return
    if isinstance(value, asyncio.CancelledError):
        future.cancel()
    elif failed:
        future.set_exception(value)
    else:
        future.set_result(value)
