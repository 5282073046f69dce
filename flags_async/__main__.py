"""`python -m flags_async`: the same as the `flags-async` command."""

from ._console import run

run()
