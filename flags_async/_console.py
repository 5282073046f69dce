"""The `flags-async` console script, and `python -m flags_async`: a Ctrl-C while the command
line loads (typer and the commands) is one line and exit 130, as it is once it runs. One in
the first few tens of milliseconds, while Python imports this package, is still Python's
traceback."""

from __future__ import annotations

import sys
from typing import NoReturn


def run() -> NoReturn:
    try:
        from .cli import run as run_command
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)
    run_command()
