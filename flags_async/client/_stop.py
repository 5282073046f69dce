"""Ctrl-C in the sync modes: a run blocked in threads ends at once, its report exact.

A thread cannot be cancelled, so on Ctrl-C (`Stop.on_ctrl_c`) every socket the client opened is
shut down (which wakes a `recv` in any thread), back-offs and new attempts stop, and
KeyboardInterrupt is raised in the main thread, after the save it may be in. Saves are the one
thing waited for: each passes a gate (`Stop.save`) that records its result, so once the gate
is closed (`Stop.close`) `Stop.saved` lists exactly the files on disk. The handler takes no
lock (it may run while the main thread holds one). docs/design.md, "Ctrl-C", says why.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from .._models import Result


class Stopped(KeyboardInterrupt):
    """Raised in a download that a stop cut short: it has no result to report. A kind of
    KeyboardInterrupt, so that it ends the run as Ctrl-C does even when the KeyboardInterrupt
    of `on_ctrl_c` was swallowed (raised in a weakref callback, say) and never arrived."""


class Stop:
    """One sync run's stop request, its save gate and the sockets its client opened (see the
    module's docstring)."""

    #: How often a back-off looks at the flag: well within the 1 s a Ctrl-C is answered in.
    POLL_S = 0.05
    #: How long the downloads under way, woken by a stop, have to end and say how (the trace).
    SETTLE_S = 0.2

    def __init__(self) -> None:
        self.requested = False
        #: Every result whose file this run saved, in order.
        self.saved: list[Result] = []
        self._sockets: list[socket.socket] = []
        self._sockets_lock = threading.Lock()  # between worker threads; never the handler's
        self._gate = threading.Lock()
        self._saving_on_main_thread = False
        self._interrupt_after_save = False

    def on_ctrl_c(self) -> None:
        """What a sync run does on Ctrl-C (`_signals.on_first_stop`): stop, then raise
        KeyboardInterrupt now, or after the save the main thread is in."""
        self.request()
        if self._saving_on_main_thread:
            self._interrupt_after_save = True
        else:
            raise KeyboardInterrupt

    def request(self) -> None:
        """Stop: wake every read under way, and let no new attempt or save start."""
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

    def save(self, save: Callable[[], Result]) -> Result:
        """`save()` through the gate: refused (`Stopped`) once a stop is requested, and its
        result recorded in `saved` before the gate opens again."""
        on_main_thread = threading.current_thread() is threading.main_thread()
        with self._gate:
            self.check()  # also refuses a body that a stop cut short: it may look whole
            self._saving_on_main_thread = on_main_thread
            try:
                result = save()
                self.saved.append(result)
            finally:
                self._saving_on_main_thread = False
        if self._interrupt_after_save:
            raise KeyboardInterrupt
        return result

    def close(self) -> list[Result]:
        """Stop if not stopped yet, wait for a save under way, then return `saved`: final, since
        no save starts any more."""
        if not self.requested:
            self.request()
        with self._gate:
            return list(self.saved)

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
            if sock is None:
                return
            with self._sockets_lock:
                self._sockets.append(sock)
            if self.requested:  # opened while `request` ran: it may not have seen this one
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Shut `sock` down for both directions. The plain socket's method, not `SSLSocket`'s,
    which would also drop the TLS object under a thread that is reading through it."""
    with contextlib.suppress(OSError):  # already closed, or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
