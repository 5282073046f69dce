"""The embedded server's own process: `python -m flags_async.server._child FAULTS_JSON`.

`EmbeddedServer` starts this instead of `flags-async serve`: the CLI would import typer and
parse through pydantic, start-up that every `flags-async download` would wait for. It listens on
a free loopback port, prints its base URL on one line, and serves until its standard input
closes (the parent is done, or dead) or SIGTERM comes; Ctrl-C is the parent's to handle.
"""

from __future__ import annotations

import asyncio
import os
import sys

from ._app import make_app
from ._faults import Faults
from ._serve import listen, serve_until_stopped


def say_listening(url: str) -> None:
    """Tell the parent where to find us. A parent that is gone already (killed while it was
    loading) has nobody to serve: exit at once, quietly."""
    try:
        print(url, flush=True)
    except BrokenPipeError:
        os._exit(0)


def main(faults_json: str) -> None:
    sock = listen("127.0.0.1", 0)
    app = make_app(Faults.from_json(faults_json))
    asyncio.run(serve_until_stopped(app, sock, say_listening, stop_on_stdin_eof=True))
    # The parent waits for this exit. Nothing is left to flush or close, so skip the
    # interpreter's tear-down of aiohttp and Pillow, which takes longer than the stop itself.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
