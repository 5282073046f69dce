"""Speed tweak: the cycle collector pauses while a download runs.

A run keeps up to `max_req` requests in flight, each holding a few hundred objects (a socket, a
transport, futures, buffers, httpx's request and response). CPython's generational collector
walks those live objects again and again, and once enough of them have outlived two passes, a
full pass walks every object in the process, its imported modules included: with `-m 1000`
against a fast server, collection was a large share of the run (docs/design.md has the
figures). python/cpython#108362 describes the collector's inefficiency and long pauses, and the
incremental collector meant to end them.

The pause is process-wide: no thread of the process collects cycles during the run. A run's
cyclic garbage grows with its failed attempts (an exception and its traceback each, a few
kilobytes), bounded by the codes (676 at most) times the tries each may take, so the collector
simply waits and its first pass after the run takes it. `tests/test_gc_pause.py` checks that the
interpreter still has a generational collector; when it does not, measure again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block; as it was before (on, or off) after it."""
    was_enabled = gc.isenabled()
    try:
        gc.disable()
        yield
    finally:
        if was_enabled:
            gc.enable()
