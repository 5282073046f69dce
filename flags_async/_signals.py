"""Stopping a download from outside: Ctrl-C, and SIGTERM treated as Ctrl-C.

Every mode answers the same way: the first Ctrl-C stops the download, which ends in order (the
saves under way are finished and reported) and then raises KeyboardInterrupt; later ones change
nothing. How each mode stops: `interruptible` for async, `ctrl_c_calls` and `client/_stop.py`
for the sync modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import TypeVar

T = TypeVar("T")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Do what Ctrl-C would do now: call the SIGINT handler in effect."""
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    if not callable(on_ctrl_c):  # SIGINT ignored (a background job) or unset
        raise KeyboardInterrupt
    on_ctrl_c(signal.SIGINT, frame)


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """For the block, SIGTERM stops the process as Ctrl-C does; then the old handler is back."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def interruptible(work: Awaitable[T]) -> T:
    """Await `work`; Ctrl-C (and SIGTERM inside `sigterm_as_ctrl_c`) cancel it, and then
    raise KeyboardInterrupt here.

    `asyncio.run` handles a first Ctrl-C the same way, but raises KeyboardInterrupt at a second
    one wherever the program happens to be, which can leave a task or a future unresolved:
    tracebacks, or a hang. Here the signals are handled by the event loop, as callbacks: the
    first cancels the work, which then ends in order; later ones change nothing. Signals are
    delivered to the main thread only; elsewhere `work` is simply awaited.
    """
    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        return await work
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            task.cancel()
        received.append(signum)

    with _handled_by_loop(on_signal):
        try:
            return await work
        except asyncio.CancelledError:
            if not received:
                raise
    _pass_on_ctrl_c()
    raise KeyboardInterrupt  # the handler before ours took it and did not raise


@contextlib.contextmanager
def ctrl_c_calls(stop: Callable[[], None]) -> Iterator[None]:
    """For the block, Ctrl-C (and SIGTERM inside `sigterm_as_ctrl_c`) calls `stop()` instead of
    raising, so that the code it lands in is never cut in two; once the block has ended, a
    Ctrl-C received is passed on (KeyboardInterrupt, unless a caller handles SIGINT). Main
    thread only; elsewhere, or with Ctrl-C ignored, nothing changes."""
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
        if not received:
            stop()
        received.append(signum)

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        _pass_on_ctrl_c()
        raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_once() -> Iterator[None]:
    """For the block (the command line's), the first Ctrl-C raises KeyboardInterrupt and later
    ones are ignored, also after the block: the program is ending, and must neither lose its
    report nor die by the signal on the way out. (A terminal can deliver one Ctrl-C twice: to a
    wrapper, which passes it on, and to its child.)"""
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def first_only(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first_only)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if received else previous)


def _pass_on_ctrl_c() -> None:
    """A Ctrl-C we held back, handed to the SIGINT handler in effect now."""
    _interrupt(signal.SIGINT, None)


@contextlib.contextmanager
def _handled_by_loop(handler: Callable[[int], None]) -> Iterator[None]:
    """SIGINT (unless ignored), and SIGTERM if it is to act as Ctrl-C, call `handler(signum)`
    on the running loop; the previous handlers are back afterwards."""
    loop = asyncio.get_running_loop()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    handled = [signum for signum, old in previous.items()
               if old is not signal.SIG_IGN and (signum == signal.SIGINT or old is _interrupt)]
    for signum in handled:
        loop.add_signal_handler(signum, handler, signum)
    try:
        yield
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
            signal.signal(signum, previous[signum])
