"""Speed tweak: `flags-async download` starts its embedded server before the command line loads.

Two start-ups stand between a first `download` and its first request: the embedded server's
process, most of it importing aiohttp (slow to import, aio-libs/aiohttp#6901, and loading the
CA certificates into TLS contexts as it imports, since aio-libs/aiohttp#9029), and the client's
own, typer, httpx and aiohttp. Started by the console script before it imports the command
line, the server starts while the client loads rather than after (docs/design.md has the
figures). The raw arguments only allow a guess: `download` takes this server only if, once
parsed, it asks for the embedded one, and the command line stops an unused one when the
command ends. A wrong guess costs speed, never correctness.
"""

from __future__ import annotations

from ._models import ServerError
from .server._embedded import EmbeddedServer

#: Long options after which `download` runs no embedded server, or nothing at all.
_NO_EMBEDDED = ("--server", "--help")
#: Their short forms, which may come bundled with others (`-qs URL`).
_NO_EMBEDDED_SHORT = set("sh")
#: Short options of `download` that take a value.
_TAKE_A_VALUE = set("dlm")


def early_server(args: list[str]) -> EmbeddedServer | None:
    """An embedded server started now if `args` look like a `download` that will want one.
    The caller stops it (`close`) when the command ends, whether the command used it or not."""
    if args[:1] != ["download"] or any(map(_says_no_embedded, args[1:])):
        return None
    try:
        return EmbeddedServer()
    except ServerError:  # no process to be had: `download` meets the same error, and says so
        return None


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
