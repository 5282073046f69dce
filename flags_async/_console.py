"""The `flags-async` console script, and `python -m flags_async`.

Before it imports the command line (typer, the commands), which takes a moment, it starts the
embedded server if the arguments ask for a download from it (see `_early_server`). A Ctrl-C
that lands meanwhile is held until the import is done, then answered as every later Ctrl-C
is, with one line and exit 130, not with a traceback from inside an import.
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
    from ._early_server import early_server

    server = early_server(sys.argv[1:])
    from .cli import run as run_command

    if callable(previous):
        signal.signal(signal.SIGINT, previous)
    if held:
        if server is not None:
            server.close()
        print("\nInterrupted.", file=sys.stderr, flush=True)
        os._exit(130)
    run_command(early_server=server)
