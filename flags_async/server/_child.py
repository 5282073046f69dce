"""The embedded server's own process: `python -m flags_async.server._child FAULTS_JSON`.

`ChildServer` starts this instead of `flags-async serve`, which would import the command
line first. It listens on a free loopback port, prints its base URL on one line, and serves
until its standard input closes (the parent is done, or dead) or SIGTERM comes; Ctrl-C is the
parent's to handle.
"""

from __future__ import annotations

import asyncio
import os
import sys

from ._app import make_app
from ._faults import Faults
from ._serve import listen, serve_until_stopped


def say_listening(url: str) -> None:
    """Tell the parent where to find us; a parent gone already has nobody to serve."""
    try:
        print(url, flush=True)
    except BrokenPipeError:  # as Python's docs advise: no second error when exiting
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise SystemExit(0) from None


def main(faults_json: str) -> None:
    sock = listen("127.0.0.1", 0)
    app = make_app(Faults.from_json(faults_json))
    asyncio.run(serve_until_stopped(app, sock, say_listening, stop_on_stdin_eof=True))


if __name__ == "__main__":
    main(sys.argv[1])
