"""Stopping a download from outside: Ctrl-C, and SIGTERM treated as Ctrl-C."""

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
            if received:
                raise KeyboardInterrupt from None
            raise


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
