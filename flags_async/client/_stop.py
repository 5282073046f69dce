"""Ctrl-C in the sync modes: how a download blocked in a thread is made to end at once.

A thread cannot be cancelled as an asyncio task is, and Python runs a signal handler in the main
thread only, between two bytecodes. So in the sequential and threaded modes Ctrl-C only
*requests* a stop (`_signals.ctrl_c_calls` calls `Stop.request`), and each wait that can be long
is made to notice it:

- a socket read: `request` shuts down every socket the client opened. `socket.shutdown` wakes a
  `recv` blocked in any thread (`close` does not, on Linux), and the read ends with an error;
- the back-off between two attempts: `Stop.sleep` looks at the flag every `POLL_S` seconds;
- a new attempt: `Stop.check` refuses it, raising `Stopped`.

The handler may run while the main thread holds any lock, so it takes none: the flag is a plain
attribute, and the list of sockets is read by copying it, which the GIL makes atomic.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import httpx

from .._models import Result, Status


class Stopped(Exception):
    """Raised in a download that a stop cut short: it has no result to report."""


class Stop:
    """One run's stop request, and the sockets its client opened (see the module's docstring)."""

    #: How often a back-off looks at the flag: well within the 1 s a Ctrl-C is answered in.
    POLL_S = 0.05

    def __init__(self) -> None:
        self.requested = False
        self._sockets: list[socket.socket] = []

    def request(self) -> None:
        """Stop: wake every read under way, and let no new attempt start. Safe in a signal
        handler, and to call again."""
        self.requested = True
        for sock in self._sockets[:]:
            _shut(sock)

    def check(self) -> None:
        """Raise `Stopped` if a stop was requested."""
        if self.requested:
            raise Stopped

    def sleep(self, seconds: float) -> None:
        """`time.sleep(seconds)`, or `Stopped` as soon as a stop is requested."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.check()
            time.sleep(min(left, self.POLL_S))
        self.check()

    def keeps(self, result: Result) -> bool:
        """Whether to report `result`. Once a stop is requested an error may be its doing (a
        socket it shut down), so errors are left out: they did not happen on the server's side."""
        return not (self.requested and result.status is Status.ERROR)

    def watch(self, client: httpx.Client) -> httpx.Client:
        """`client`, with each socket it opens known to this stop, through httpcore's public
        `trace` request extension."""

        def trace_request(request: httpx.Request) -> None:
            request.extensions["trace"] = self._on_trace

        hooks = client.event_hooks
        client.event_hooks = {**hooks, "request": [*hooks.get("request", []), trace_request]}
        return client

    def _on_trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            sock = info["return_value"].get_extra_info("socket")
            self._sockets.append(sock)
            if self.requested:  # opened while `request` ran: it may not have seen this one
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed, or never connected
        sock.shutdown(socket.SHUT_RDWR)
