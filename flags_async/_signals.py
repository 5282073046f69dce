"""SIGTERM, as Ctrl-C: a download stopped by `kill` cancels, cleans up and reports too."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Do what Ctrl-C would do now.

    Inside `asyncio.run` that is its SIGINT handler, which cancels the main task, so the
    supervisor cancels the downloads in order. A `KeyboardInterrupt` raised here instead would
    land inside whichever task happens to be running, outside the supervisor's control.
    """
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
