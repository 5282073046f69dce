"""The `flags-async` console script, and `python -m flags_async`.

Importing the command line (typer, the commands) takes a moment; a Ctrl-C that lands in it is
held until the import is done, then answered as every later Ctrl-C is, with one line and exit
130, not with a traceback from inside an import.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn


def run() -> NoReturn:
    held: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if callable(previous):  # else ignored (a background job), and it stays so
        signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    from .cli import run as run_command

    if callable(previous):
        signal.signal(signal.SIGINT, previous)
    if held:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        os._exit(130)
    run_command()
