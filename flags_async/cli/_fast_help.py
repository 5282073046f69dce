"""Speed tweak: `flags-async download --help` without importing pydantic.

typer 0.29 passes every parameter value that is not a bool through its pydantic-based
coercion (`_TyperParameter.process_value` in typer/core.py), importing pydantic on first use.
Its built-in help flag holds None when it is not given, so the root command's help flag alone
made even `flags-async download --help` import pydantic (docs/design.md has the cost). A
bool flag that defaults to False skips that coercion. It works around the
start-up cost tracked upstream in fastapi/typer#744. `tests/test_imports.py` checks that help
loads no pydantic, and that typer's own help flag still would (drop this module when not).
"""

from __future__ import annotations

import typer


def _show_help(ctx: typer.Context, value: bool) -> None:
    if value:
        typer.echo(ctx.get_help())
        raise typer.Exit


#: The root command's `-h/--help`, given as a parameter of its callback.
HELP_OPTION = typer.Option(
    "-h", "--help", callback=_show_help, is_eager=True, help="Show this message and exit.",
)
