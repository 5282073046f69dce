"""Speed tweak: the cycle collector pauses while a download runs.

A run keeps up to `max_req` requests in flight, each holding a few hundred objects (a socket, a
transport, futures, buffers, httpx's request and response). CPython's generational collector
walks those live objects again and again, and once enough of them have outlived two passes, a
full pass walks every object in the process, its imported modules included: with `-m 1000`
against a fast server that cost about a third of the run (docs/design.md).
python/cpython#108362 describes the collector's inefficiency and long pauses, and the
incremental collector meant to end them.

A run's cyclic garbage is bounded (at most 676 codes, each tried a few times), so the collector
simply waits: it resumes when the run ends, and its first pass then takes the run's garbage.
`tests/test_gc_pause.py` checks that the interpreter still has the generational collector this
was measured against; when it does not, measure again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block; as it was before (on, or off) after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
