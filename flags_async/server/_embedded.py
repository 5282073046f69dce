"""The bundled server as a child process, for the duration of one command."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Iterator

from .._models import ServerError
from ._faults import NO_FAULTS, Faults

#: How long a child server may take to start and listen.
STARTUP_TIMEOUT = 30.0


class EmbeddedServer:
    """The bundled server in a child process on a free loopback port, for one command.

    A separate process, so the server never competes with the client for its event loop or
    interpreter lock (docs/design.md has the figures). It starts when this object is made
    (`ServerError` if no process can be had) and `base_url()` waits until it listens, so the
    client can do its own start-up in the meantime. The child exits when its stdin closes
    (`close`), so it cannot outlive us.
    """

    def __init__(self, faults: Faults = NO_FAULTS) -> None:
        command = [sys.executable, "-m", "flags_async.server._child", faults.to_json()]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            # In a process group of its own, so a Ctrl-C at the terminal reaches only us (and
            # not the child, which may still be importing): its stop is ours to call.
            self._child = subprocess.Popen(command, stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, env=env, text=True,
                                           process_group=0)
        except OSError as exc:  # no process to be had (EAGAIN, EMFILE...)
            raise ServerError(
                f"cannot start the embedded flag server: {exc.strerror or exc}") from exc
        self._url = ""

    def base_url(self) -> str:
        """The server's base URL, once it listens; `ServerError` if it does not start."""
        stdout = self._child.stdout
        assert stdout is not None
        if not self._url:
            ready, _, _ = select.select([stdout], [], [], STARTUP_TIMEOUT)
            line = stdout.readline().strip() if ready else ""
            if not line.startswith(("http://", "https://")):
                raise ServerError("the embedded flag server did not start")
            self._url = line
        return self._url

    def close(self) -> None:
        """Stop the child: closing its stdin tells it to; a child that hangs, or that we have
        not heard say it listens (no request of ours can be in it, and it reads its stdin only
        once it serves), is killed. Closing twice is harmless."""
        assert self._child.stdin is not None and self._child.stdout is not None
        if self._child.stdin.closed:
            return
        self._child.stdin.close()
        if not self._url:
            self._child.kill()
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        except BaseException:  # interrupted while waiting: do not leave the child behind
            self._child.kill()
            raise
        finally:
            self._child.stdout.close()


class GivenServer:
    """A server the user named: nothing to start or stop."""

    def __init__(self, url: str) -> None:
        self._url = url

    def base_url(self) -> str:
        return self._url

    def close(self) -> None:
        pass


@contextlib.contextmanager
def given_or_started(url: str | None,
                     faults: Faults = NO_FAULTS) -> Iterator[EmbeddedServer | GivenServer]:
    """The server at `url`, or else an embedded one with `faults`, stopped when the block
    ends. An embedded one is still starting when the block begins: `base_url()` waits."""
    server = GivenServer(url) if url is not None else EmbeddedServer(faults)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def given_or_embedded(url: str | None, faults: Faults = NO_FAULTS) -> Iterator[str]:
    """`url` if one is given, else the base URL of an embedded server run for the block."""
    with given_or_started(url, faults) as server:
        yield server.base_url()
