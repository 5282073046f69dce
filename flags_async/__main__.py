"""`python -m flags_async`: the same as the `flags-async` command."""


from .cli import run

run()
