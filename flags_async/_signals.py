"""Stopping a download from outside: Ctrl-C, and SIGTERM treated as Ctrl-C.

Every mode answers the same way: the first Ctrl-C stops the download, which ends in order (the
saves under way are finished and reported) and then raises KeyboardInterrupt; later ones change
nothing. How each mode stops: `interruptible` for async, `handling_ctrl_c` and
`client/_stop.py` for the sync modes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import FrameType
from typing import TypeVar

T = TypeVar("T")
SignalHandler = Callable[[int, FrameType | None], None]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Do what Ctrl-C would do now: call the SIGINT handler in effect."""
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    if not callable(on_ctrl_c):  # SIGINT ignored (a background job) or unset
        raise KeyboardInterrupt
    on_ctrl_c(signal.SIGINT, frame)


@contextlib.contextmanager
def _handling(signums: Iterable[int], handler: SignalHandler | signal.Handlers) -> Iterator[None]:
    """For the block, `handler` takes `signums`; then their previous handlers are back."""
    previous = [(signum, signal.signal(signum, handler)) for signum in signums]
    try:
        yield
    finally:
        for signum, old in previous:
            signal.signal(signum, old)


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """For the block, SIGTERM stops the process as Ctrl-C does; then the old handler is back."""
    with _handling([signal.SIGTERM], _interrupt):
        yield


async def interruptible(work: Awaitable[T]) -> T:
    """Await `work`; Ctrl-C (and SIGTERM inside `sigterm_as_ctrl_c`) cancel it, and then
    raise KeyboardInterrupt here.

    `asyncio.run` handles a first Ctrl-C the same way, but raises KeyboardInterrupt at a second
    one wherever the program happens to be, which can leave a task or a future unresolved:
    tracebacks, or a hang. Here the signals are handled by the event loop, as callbacks: the
    first cancels the work, which then ends in order; later ones change nothing. Signals are
    delivered to the main thread only; elsewhere `work` is simply awaited.
    """
    import asyncio  # here: the command line's start-up does not need it

    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        return await work
    loop = asyncio.get_running_loop()
    received: list[int] = []
    finished = False

    def cancel_unless_finished() -> None:
        if not finished:
            task.cancel()

    def on_signal(signum: int) -> None:  # in the signal handler: schedule, do nothing more
        if not received:
            loop.call_soon_threadsafe(cancel_unless_finished)
        received.append(signum)

    with _handled_by_loop(on_signal):
        try:
            result = await work
        except asyncio.CancelledError:
            if not received:
                raise
        finally:
            finished = True
    if not received:
        return result
    _pass_on_ctrl_c()  # also when the work was done before it could be cancelled
    raise KeyboardInterrupt  # the handler before ours took it and did not raise


@contextlib.contextmanager
def handling_ctrl_c(handler: SignalHandler) -> Iterator[None]:
    """For the block, Ctrl-C, and SIGTERM inside `sigterm_as_ctrl_c`, call `handler` instead of
    the handlers in effect; then those are back, and a caller's own Ctrl-C handler is called
    once if Ctrl-C came meanwhile. Main thread only; elsewhere nothing changes, and an ignored
    Ctrl-C stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    taken = [signum for signum, old in previous.items()
             if callable(old) and (signum == signal.SIGINT or old is _interrupt)]
    fired: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        fired.append(signum)
        handler(signum, frame)

    try:
        with _handling(taken, on_signal):
            yield
    finally:
        old_ctrl_c = previous[signal.SIGINT]
        if fired and callable(old_ctrl_c) and old_ctrl_c is not signal.default_int_handler:
            with contextlib.suppress(KeyboardInterrupt):  # one is under way already
                old_ctrl_c(signal.SIGINT, None)


@contextlib.contextmanager
def ctrl_c_once() -> Iterator[None]:
    """For the block (the command line's), the first Ctrl-C raises KeyboardInterrupt and later
    ones are ignored: the program is ending, and must not lose its report on the way out. (A
    terminal can deliver one Ctrl-C twice: to a wrapper, which passes it on, and to its
    child.)"""
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def first_only(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise KeyboardInterrupt

    with _handling([signal.SIGINT], first_only):
        yield


@contextlib.contextmanager
def stop_signals_ignored() -> Iterator[None]:
    """For the block, ignore Ctrl-C and SIGTERM (main thread only): the work is over and what
    is left, such as printing its report, must not be cut short. Then the old handlers are
    back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _handling([signal.SIGINT, signal.SIGTERM], signal.SIG_IGN):
        yield


def _pass_on_ctrl_c() -> None:
    """A Ctrl-C we held back, handed to the SIGINT handler in effect now."""
    _interrupt(signal.SIGINT, None)


@contextlib.contextmanager
def _handled_by_loop(handler: Callable[[int], None]) -> Iterator[None]:
    """SIGINT (unless ignored), and SIGTERM if it is to act as Ctrl-C, call `handler(signum)`,
    which may only schedule work on the loop (`call_soon_threadsafe`); the previous handlers
    are back afterwards.

    Through `signal.signal`, as `asyncio.run` does, not `loop.add_signal_handler`: the latter
    learns of a signal from a byte in the loop's wake-up socket, which a burst of
    `call_soon_threadsafe` calls can fill, and then the signal is lost (python/cpython#74224).
    """
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    handled = [signum for signum, old in previous.items()
               if old is not signal.SIG_IGN and (signum == signal.SIGINT or old is _interrupt)]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler(signum)

    with _handling(handled, on_signal):
        yield
