"""A run's trace, in the Chrome trace-event format that Perfetto (ui.perfetto.dev) and
chrome://tracing open: each attempt and each save a complete event ("ph": "X", microseconds),
the waits between a download's attempts too, and the run's slow-downs and pauses instant events.

Lanes (`tid`) mean something in every mode: the one thread of sequential mode, each worker of
threaded mode, and in async mode the semaphore's slots (a download holds one from its first
attempt to its last) and the writer thread the saves run on. Recording is one append per event,
safe from any thread; lanes, outcomes and waits are worked out when the trace is written.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._models import Mode


class Trace:
    """Collects a run's events: `download(..., trace=Trace())`, then `write(path)`."""

    def __init__(self) -> None:
        self.start(Mode.ASYNC)

    def start(self, mode: Mode) -> None:
        """A run in `mode` begins now, time 0 of the trace; what was recorded before is gone."""
        self.mode, self._t0 = mode, time.monotonic()
        #: url, sent, ended, thread, status ("ok", "not found", "interrupted" or a failure),
        #: attempt, bytes, and the seconds to wait before the next attempt (None: none)
        self._requests: list[tuple[str, float, float, int, str, int, int, float | None]] = []
        self._saves: list[tuple[str, float, float, int]] = []  # code, began, ended, thread
        self._notes: list[tuple[str, float]] = []

    def request(self, url: str, sent: float, status: str, attempt: int, size: int,
                retry_in: float | None = None) -> None:
        """An attempt that began at `sent` (`time.monotonic()`) has just ended; the next one
        is due `retry_in` seconds from now, if there is one."""
        self._requests.append((url, sent, time.monotonic(), threading.get_ident(), status,
                               attempt, size, retry_in))

    def note(self, message: str) -> None:
        """Something that happened to the whole run (it slowed down, paused, sped up)."""
        self._notes.append((message, time.monotonic()))

    @contextmanager
    def saving(self, cc: str) -> Iterator[None]:
        """Around the save of `cc`'s flag, on the thread that writes it."""
        began = time.monotonic()
        try:
            yield
        finally:
            self._saves.append((cc, began, time.monotonic(), threading.get_ident()))

    def events(self) -> list[dict[str, Any]]:
        """Every event recorded so far, with lanes, and the lanes' names."""
        requests = list(self._requests)  # threads stopped by Ctrl-C may still add some
        slots = _slots(_spans(requests)) if self.mode is Mode.ASYNC else {}
        names = {slot: f"slot {slot}" for slot in slots.values()}
        threads: dict[int, int] = {}  # a thread's lane, numbered after the slots

        def lane(cc: str, thread: int) -> int:
            if cc in slots:
                return slots[cc]
            if thread not in threads:
                tid = threads[thread] = max(names, default=0) + 1
                names[tid] = {Mode.SEQUENTIAL: "main thread", Mode.THREADS: f"thread {tid}",
                              Mode.ASYNC: "writer thread"}[self.mode]
            return threads[thread]

        began = {(url, attempt): sent for url, sent, _, _, _, attempt, *_ in requests}
        now = time.monotonic()
        events = []
        for url, sent, ended, thread, status, attempt, size, retry_in in requests:
            cc, tid = code(url), lane(code(url), thread)
            outcome = {"ok": "ok", "not found": "404", "interrupted": "interrupted"}.get(
                status, "error" if retry_in is None else "retry")
            events.append(self._span(cc, outcome, sent, ended, tid, {
                "url": url, "status": status, "attempt": attempt, "bytes": size}))
            if retry_in is not None:  # until the next attempt, or until now (Ctrl-C came
                until = began.get((url, attempt + 1), min(now, ended + retry_in))  # first)
                events.append(self._span(cc, "wait", ended, until, tid, {"url": url}))
        for cc, start, ended, thread in self._saves:
            events.append(self._span(cc, "save", start, ended, lane("", thread), {}))
        events += [{"name": message, "ph": "i", "s": "g", "ts": self._us(at), "pid": 1,
                    "tid": 0} for message, at in self._notes]
        process = f"flags-async download --mode {self.mode.value}"
        return [{"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": process}},
                *({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}
                  for tid, name in sorted(names.items())), *events]

    def write(self, path: Path) -> None:
        """Write the trace to `path` whole: through a temporary file renamed into place."""
        from ._saving import write_atomically

        data = {"traceEvents": self.events(), "displayTimeUnit": "ms"}
        write_atomically(path, json.dumps(data).encode())

    def _us(self, at: float) -> int:
        return round((at - self._t0) * 1e6)

    def _span(self, name: str, cat: str, began: float, ended: float, tid: int,
              args: dict[str, Any]) -> dict[str, Any]:
        start = self._us(began)
        return {"name": name, "cat": cat, "ph": "X", "ts": start,
                "dur": max(0, self._us(ended) - start), "pid": 1, "tid": tid, "args": args}


def code(url: str) -> str:
    """The code a flag's or metadata URL is for: `.../br/br.gif` is BR."""
    return url.rsplit("/", 2)[-2].upper()


def _spans(requests: list[tuple[str, float, float, int, str, int, int, float | None]]
           ) -> dict[str, tuple[float, float]]:
    """Each code's time from its first attempt's start to its last attempt's end."""
    spans: dict[str, tuple[float, float]] = {}
    for url, sent, ended, *_ in requests:
        began, last = spans.get(code(url), (sent, ended))
        spans[code(url)] = (min(began, sent), max(last, ended))
    return spans


def _slots(spans: dict[str, tuple[float, float]]) -> dict[str, int]:
    """A slot for each code, as a semaphore hands them out: the lowest free when it starts."""
    free: list[int] = []
    busy: list[tuple[float, int]] = []  # (until, slot)
    slots: dict[str, int] = {}
    for cc, (began, ended) in sorted(spans.items(), key=lambda item: item[1]):
        while busy and busy[0][0] <= began:
            heapq.heappush(free, heapq.heappop(busy)[1])
        slots[cc] = slot = heapq.heappop(free) if free else len(busy) + 1
        heapq.heappush(busy, (ended, slot))
    return slots
