"""Stopping a download from outside: Ctrl-C, and SIGTERM where the command line makes it one.

Every mode answers the same way: the first Ctrl-C stops the download, which ends in order (the
saves under way are finished and reported) and then raises KeyboardInterrupt; later ones change
nothing. One mechanism serves all: `on_first_stop` hands the first signal of a block to a
callback (async mode's cancels its task, the sync modes' is `client/_stop.Stop.on_ctrl_c`, the
command line's raises KeyboardInterrupt). Signals reach the main thread only; elsewhere
nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

#: How often an event loop waiting for I/O wakes to run a signal's Python handler.
HEARTBEAT_S = 0.1


def main_thread_only() -> None:
    """Block Ctrl-C and SIGTERM in the calling thread, so that the kernel hands them to the main
    thread, which runs Python's handlers. Taken by another thread, a signal wakes nothing: a
    main thread blocked in a lock or a read (the run's wait for its downloads) would not see it
    until that wait ends, if ever."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's handler inside `sigterm_as_ctrl_c`: do what Ctrl-C would do now."""
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


@contextlib.contextmanager
def on_first_stop(callback: Callable[[], None]) -> Iterator[list[int]]:
    """For the block, the first Ctrl-C (and SIGTERM inside `sigterm_as_ctrl_c`) calls
    `callback`, which may raise KeyboardInterrupt; later ones change nothing. Yields the list
    of the signals received. An ignored Ctrl-C stays ignored. Afterwards the old handlers are
    back, and a caller's own Ctrl-C handler is called once if Ctrl-C came meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    taken = [signum for signum, old in previous.items()
             if callable(old) and (signum == signal.SIGINT or old is _interrupt)]
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            callback()

    try:
        for signum in taken:
            signal.signal(signum, on_signal)
        yield received
    finally:
        for signum in taken:
            signal.signal(signum, previous[signum])
        old_ctrl_c = previous[signal.SIGINT]
        if received and callable(old_ctrl_c) and old_ctrl_c is not signal.default_int_handler:
            with contextlib.suppress(KeyboardInterrupt):  # one is under way already
                old_ctrl_c(signal.SIGINT, None)


def _raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


def ctrl_c_once() -> contextlib.AbstractContextManager[list[int]]:
    """For the block (the command line's), the first Ctrl-C raises KeyboardInterrupt and later
    ones are ignored: the program is ending, and must not lose its report on the way out. (A
    terminal can deliver one Ctrl-C twice: to a wrapper, which passes it on, and to its
    child.)"""
    return on_first_stop(_raise_keyboard_interrupt)


async def interruptible(work: Awaitable[T]) -> T:
    """Await `work`; Ctrl-C (and SIGTERM inside `sigterm_as_ctrl_c`) cancel it, and then
    raise KeyboardInterrupt here.

    `asyncio.run` handles a first Ctrl-C the same way, but raises KeyboardInterrupt at a second
    one wherever the program happens to be, which can leave a task or a future unresolved:
    tracebacks, or a hang. Here the first signal only schedules the cancellation, through
    `signal.signal` as `asyncio.run` does, not `loop.add_signal_handler`, which learns of a
    signal from a byte in the loop's wake-up socket that a burst of `call_soon_threadsafe`
    calls can fill, and then the signal is lost (python/cpython#74224).
    """
    import asyncio  # here: the command line's start-up does not need it

    task, loop = asyncio.current_task(), asyncio.get_running_loop()
    finished = False

    def heartbeat() -> None:  # a signal that arrives just as the loop starts to wait (or
        if not finished:  # that another thread takes) is handled in C and wakes nothing:
            loop.call_later(HEARTBEAT_S, heartbeat)  # the loop wakes to run Python's handler

    def cancel_unless_finished() -> None:
        if not finished and task is not None:
            task.cancel()

    def on_stop() -> None:  # in the signal handler: schedule, do nothing more
        loop.call_soon_threadsafe(cancel_unless_finished)

    with on_first_stop(on_stop) as received:
        try:
            heartbeat()
            result = await work
        except asyncio.CancelledError:
            if not received:
                raise
        finally:
            finished = True
    if received:  # also when the work was done before it could be cancelled
        raise KeyboardInterrupt
    return result
