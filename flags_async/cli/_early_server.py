"""Speed tweak: `flags-async download` starts its embedded server before typer parses.

typer 0.29 coerces every option value through pydantic, which it imports on first use, a cost
tracked upstream in fastapi/typer#744; the embedded server's start-up is the other long wait of
a first run. Starting the server first overlaps the two (docs/design.md has the figures). The
raw arguments only allow a guess: `download` takes this server only if, once parsed, it asks
for the embedded one; an unused server is killed when the command ends. A wrong guess costs
speed, never correctness.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._models import ServerError
from ..server._embedded import EmbeddedServer

#: Long options after which `download` runs no embedded server, or nothing at all.
_NO_EMBEDDED = ("--server", "--help")
#: Their short forms, which may come bundled with others (`-qs URL`).
_NO_EMBEDDED_SHORT = set("sh")
#: Short options of `download` that take a value.
_TAKE_A_VALUE = set("dlm")


@contextlib.contextmanager
def early_server(args: list[str]) -> Iterator[EmbeddedServer | None]:
    """An embedded server started now if `args` look like a `download` that will want one."""
    wanted = args[:1] == ["download"] and not any(map(_says_no_embedded, args[1:]))
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


def _says_no_embedded(arg: str) -> bool:
    if arg.startswith("--"):
        return arg.startswith(_NO_EMBEDDED)
    if not arg.startswith("-"):
        return False
    for letter in arg[1:]:  # bundled short options: -qs URL, -vd DIR
        if letter in _NO_EMBEDDED_SHORT:
            return True
        if letter in _TAKE_A_VALUE:  # the rest of the argument is its value
            return False
    return False
