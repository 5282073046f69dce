"""The disk process's program: read requests on stdin, save the flags, answer on stdout.

`_diskprocess.DiskProcess` starts it as `python -P -m flags_async._diskworker`. It does the same
`save_result` and `kept_flag` as the other modes, in order, one answer per request. It imports
nothing heavy (not even asyncio), so it is ready in about 40 ms, about when the first flag
arrives.

The wire format is a frame per message: a 4-byte length, then a pickle. The pipes are private
to the parent and this child, both this package, so pickle reads nothing untrusted here, and
it keeps `Result` and `Options` whole. The first frame is the run's `Options`; then each
request is `("save", cc, image, attempts, stem)` or `("kept", cc, stem)`, and each answer is
`(True, value)` or `(False, exception)`. The worker ends when its input ends: that is how the
parent says "done", and how a parent that died says it too.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from typing import IO, Any

from ._models import Options, Result
from ._saving import kept_flag, save_result

#: Each frame's length, before its pickle.
HEADER = struct.Struct("!I")


def frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the input."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None  # the parent went away mid-frame
    return pickle.loads(data)  # noqa: S301 (a private pipe from the parent: see above)


#: What a request may ask for; each takes the request's arguments, then the run's `Options`.
OPERATIONS: dict[str, Callable[..., Result | None]] = {"save": save_result, "kept": kept_flag}


def answer(request: tuple[Any, ...], options: Options) -> tuple[bool, object]:
    """Carry out one request; an unexpected exception goes back to its caller, not to stderr."""
    operation, *args = request
    try:
        return True, OPERATIONS[operation](*args, options)
    except Exception as exc:
        return False, exc


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    options: Options | None = read_frame(requests)
    if options is None:
        return
    while (request := read_frame(requests)) is not None:
        answers.write(frame(answer(request, options)))
        answers.flush()  # the caller is waiting for this one


def main() -> None:
    # Ctrl-C is the parent's to handle: it stops sending, and this process finishes what it was
    # given (the parent also starts it in a session of its own, away from the terminal's signals).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError):  # the parent is gone: nobody is left to answer
        serve(sys.stdin.buffer, sys.stdout.buffer)
    # Every answer is flushed and every file closed: skip the interpreter's tear-down, because
    # the parent waits for this exit at the end of its timed run (7 ms with it, 1 ms without).
    os._exit(0)


if __name__ == "__main__":
    main()
