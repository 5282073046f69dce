"""The `flags-async` console script, and `python -m flags_async`.

Before it imports the command line (typer, the commands), it starts the
embedded server if the arguments ask for a download from it (see `_early_server`). A Ctrl-C or
SIGTERM that lands meanwhile is held, not raised inside an import, and handed to the command
line once its own handling is in place: the server is stopped, one line is printed, and the
exit code is 130. The holding handlers stay until then, so no moment is left without one.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

#: What `main` answers as Ctrl-C, once it runs (see `_signals.sigterm_as_ctrl_c`).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run() -> NoReturn:
    held: list[int] = []
    for signum in _STOP_SIGNALS:
        if signal.getsignal(signum) not in (None, signal.SIG_IGN):  # an ignored one stays so
            signal.signal(signum, lambda signum, frame: held.append(signum))
    from ._early_server import early_server

    server = early_server(sys.argv[1:])
    from .cli import run as run_command

    run_command(early_server=server, held=held)
