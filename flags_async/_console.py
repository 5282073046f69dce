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
    if not callable(signal.getsignal(signal.SIGINT)):  # ignored (a background job): it stays so
        from .cli import run as run_ignoring

        run_ignoring()
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    from .cli import run as run_command

    signal.signal(signal.SIGINT, previous)
    if held:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        os._exit(130)
    run_command()
