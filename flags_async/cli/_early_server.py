"""Speed tweak: `flags-async download` starts its embedded server before typer parses.

Parsing the command line costs about as much as a first run's download (typer 0.29 coerces
every value through pydantic, which it imports on first use: fastapi/typer#744), and the
embedded server's start-up is the longest wait of `make run`. Starting the server first
overlaps the two (docs/design.md has the figures). The raw arguments only allow a guess:
`download` takes this server only if, once parsed, it asks for the embedded one; an unused
server is killed when the command ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from .._models import ServerError
from ..server._embedded import EmbeddedServer

#: Arguments after which `download` runs no embedded server, or nothing at all.
_NO_EMBEDDED = ("-s", "--server", "-h", "--help")


@dataclass(frozen=True, slots=True)
class Invocation:
    """What `main` hands each command as click's `obj`."""

    args: list[str]  # the command line as typed, for `resume_hint`
    early_server: EmbeddedServer | None = None


@contextlib.contextmanager
def early_server(args: list[str]) -> Iterator[EmbeddedServer | None]:
    """An embedded server started now if `args` look like a `download` that will want one."""
    wanted = args[:1] == ["download"] and not any(
        arg.startswith(_NO_EMBEDDED) for arg in args[1:])
    try:
        server = EmbeddedServer() if wanted else None
    except ServerError:  # no process to be had: `download` meets the same error, and says so
        server = None
    if server is None:
        yield None
        return
    try:
        yield server
    finally:
        server.close()
