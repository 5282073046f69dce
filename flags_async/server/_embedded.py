"""The bundled server for the length of one command (`download`'s, `bench`'s): a child process,
so that the server never competes with the client for its interpreter lock. docs/design.md has
the figures."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Callable, Iterator

from .._models import ServerError
from ._faults import NO_FAULTS, Faults

#: Set in the child's environment: the pid of the client it serves, whose end ends it.
PARENT_PID = "FLAGS_ASYNC_PARENT_PID"
#: How long a server may take to start and listen.
STARTUP_TIMEOUT = 30.0


class ChildServer:
    """The bundled server in a child process, `flags-async serve` on a free loopback port. It
    starts when this object is made (`ServerError` if no process can be had); `base_url()`
    waits until it listens, `close()` stops it."""

    def __init__(self, faults: Faults = NO_FAULTS) -> None:
        command = [sys.executable, "-m", "flags_async", "serve", "--port", "0",
                   *faults.as_options()]
        try:
            # In a process group of its own, so a Ctrl-C at the terminal reaches only us (and
            # not the child, which may still be importing): its stop is ours to call.
            self._child = subprocess.Popen(command, stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, text=True,
                                           process_group=0,
                                           env={**os.environ, PARENT_PID: str(os.getpid())})
        except OSError as exc:  # no process to be had (EAGAIN, EMFILE...)
            raise ServerError(
                f"cannot start the embedded flag server: {exc.strerror or exc}") from exc
        self._url = ""

    def base_url(self) -> str:
        stdout = self._child.stdout
        assert stdout is not None
        if not self._url:
            ready, _, _ = select.select([stdout], [], [], STARTUP_TIMEOUT)
            words = stdout.readline().split() if ready else []  # Serving flags at URL (...
            if words[:3] != ["Serving", "flags", "at"] or len(words) < 4:
                raise ServerError("the embedded flag server did not start")
            self._url = words[3]
        return self._url

    def close(self) -> None:
        """Stop the child (SIGTERM; SIGKILL if it hangs). Closing twice is harmless."""
        if self._child.returncode is not None:
            return
        self._child.terminate()
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        except BaseException:  # interrupted while waiting: do not leave the child behind
            self._child.kill()
            raise
        finally:
            assert self._child.stdout is not None
            self._child.stdout.close()


@contextlib.contextmanager
def given_or_started(url: str | None, faults: Faults = NO_FAULTS) -> Iterator[Callable[[], str]]:
    """For the block, a function giving the server's base URL: `url`, or else that of the
    bundled server with `faults`, which is still starting when the block begins (the function
    waits until it listens) and is stopped when the block ends."""
    if url is not None:
        yield lambda: url
        return
    server = ChildServer(faults)
    try:
        yield server.base_url
    finally:
        server.close()
