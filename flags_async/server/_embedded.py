"""The bundled server as a child process, for the duration of one command."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Iterator

from .._models import ServerError

#: How long a child server may take to import, draw its flags and listen.
STARTUP_TIMEOUT = 30.0


@contextlib.contextmanager
def embedded_server(*serve_args: str) -> Iterator[str]:
    """Run `flags-async serve` in a child process on a free loopback port; yield its base URL.

    A separate process, so the server never competes with the client for its event loop or
    interpreter lock. The child exits when its stdin closes, so it cannot outlive us.
    """
    command = [sys.executable, "-m", "flags_async", "serve", "--port", "0", "--embedded",
               *serve_args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          env=env, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            ready, _, _ = select.select([child.stdout], [], [], STARTUP_TIMEOUT)
            line = child.stdout.readline().strip() if ready else ""
            if not line.startswith(("http://", "https://")):
                raise ServerError("the embedded flag server did not start")
            yield line
        finally:
            child.stdin.close()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()


@contextlib.contextmanager
def given_or_embedded(url: str | None, *serve_args: str) -> Iterator[str]:
    """`url` if one is given, else the base URL of an embedded server run for the block."""
    if url is not None:
        yield url
        return
    with embedded_server(*serve_args) as started:
        yield started
