"""The `flags-async` console script, and `python -m flags_async`.

Before it imports the command line (typer, the commands), which takes a moment, it starts the
embedded server if the arguments ask for a download from it (see `_early_server`). A Ctrl-C or
SIGTERM that lands meanwhile is held until the import is done, then answered as every later
one is: the server is stopped, one line is printed, and the exit code is 130, without a
traceback from inside an import.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

#: What `main` answers as Ctrl-C, once it runs (see `_signals.sigterm_as_ctrl_c`).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run() -> NoReturn:
    held: list[int] = []
    previous = {signum: handler for signum in _STOP_SIGNALS  # an ignored one stays so
                if (handler := signal.getsignal(signum)) not in (None, signal.SIG_IGN)}
    for signum in previous:
        signal.signal(signum, lambda signum, frame: held.append(signum))
    from ._early_server import early_server

    server = early_server(sys.argv[1:])
    from .cli import run as run_command

    if held:
        if server is not None:
            server.close()
        print("\nInterrupted.", file=sys.stderr, flush=True)
        os._exit(130)
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    run_command(early_server=server)
