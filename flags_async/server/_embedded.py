"""The bundled server for the length of one command: in a thread of the client's own process
(`download`'s, which has imported aiohttp already), or in a child process (`bench`'s, so that
the server never competes with the client it measures). docs/design.md has the figures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .._models import ServerError
from .._signals import main_thread_only
from ._faults import NO_FAULTS, Faults

if TYPE_CHECKING:
    from aiohttp import web

#: Set in a child server's environment: the pid of the client it serves, whose end ends it.
PARENT_PID = "FLAGS_ASYNC_PARENT_PID"
#: How long a server may take to start and listen.
STARTUP_TIMEOUT = 30.0


class ThreadServer:
    """The app `make()` builds, served on 127.0.0.1 (a free port) by `asyncio.run` in a daemon
    thread. It starts when this object is made (`ServerError` if it cannot); `base_url()` waits
    until it listens, `close()` stops it and waits for the thread."""

    def __init__(self, make: Callable[[], web.Application],
                 tls: ssl.SSLContext | None = None) -> None:
        from ._serve import listen, serve_until_stopped

        self._url, self._failure = "", ""
        self._ready = threading.Event()
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

        def on_ready(url: str) -> None:
            self._url = url
            self._ready.set()

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await serve_until_stopped(make(), sock, on_ready, stop=self._stop, tls=tls)

        def run() -> None:
            main_thread_only()
            try:
                asyncio.run(serve())
            except Exception as exc:  # said by `base_url`, in the caller's thread
                self._failure = f": {exc}"
            finally:
                sock.close()
                self._ready.set()  # a server that failed must not be waited for

        try:
            sock = listen("127.0.0.1", 0)
        except OSError as exc:  # no descriptor to be had (EMFILE...)
            raise ServerError(f"cannot start the embedded flag server: {exc.strerror or exc}"
                              ) from exc
        self._thread = threading.Thread(target=run, name="flags-server", daemon=True)
        try:
            self._thread.start()
        except RuntimeError as exc:  # no thread to be had
            sock.close()
            raise ServerError(f"cannot start the embedded flag server: {exc}") from exc

    def base_url(self) -> str:
        if not (self._ready.wait(STARTUP_TIMEOUT) and self._url):
            raise ServerError(f"the embedded flag server did not start{self._failure}")
        return self._url

    def close(self) -> None:
        self._ready.wait(STARTUP_TIMEOUT)  # until its loop runs, or it has failed
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop has ended already
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STARTUP_TIMEOUT)


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


def embedded(faults: Faults = NO_FAULTS) -> ThreadServer:
    """The bundled server with `faults`, in a thread of this process."""

    def make() -> web.Application:
        from ._app import make_app  # aiohttp.web, in the server's thread

        return make_app(faults)

    return ThreadServer(make)


@contextlib.contextmanager
def given_or_started(url: str | None, faults: Faults = NO_FAULTS, *,
                     in_child: bool = False) -> Iterator[Callable[[], str]]:
    """For the block, a function giving the server's base URL: `url`, or else that of the
    bundled server with `faults` (in a thread, or `in_child`), which is still starting when the
    block begins (the function waits until it listens) and is stopped when the block ends."""
    if url is not None:
        yield lambda: url
        return
    server = ChildServer(faults) if in_child else embedded(faults)
    try:
        yield server.base_url
    finally:
        server.close()
