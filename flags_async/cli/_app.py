"""The `flags-async` command-line application: its root, its exit codes, its error lines."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from .. import __version__
from .._models import MAX_TIMEOUT
from .._signals import ctrl_c_once, sigterm_as_ctrl_c

if TYPE_CHECKING:
    import ssl

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    name="flags-async",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"flags-async {__version__}")
        raise typer.Exit


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.",
    )] = False,
) -> None:
    """Download flag GIFs concurrently: async, threaded or sequential, from a flag server.

    Exit codes: 0 every code ok or not found; 1 some code ended in error, or every code
    answered 404 (countries among them), or the server or folder could not be used, or the
    output's reader went away (| head); 2 usage error; 130 interrupted.
    """
    if ctx.invoked_subcommand is None:  # plain `flags-async`: the help, as a usage error
        typer.echo(ctx.get_help(), err=True)
        raise typer.Exit(EXIT_USAGE)


def seconds(value: float) -> float:
    """A typer callback for `--timeout`: more than 0 and at most `MAX_TIMEOUT` seconds."""
    if not 0 < value <= MAX_TIMEOUT:
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds above 0 and up to {MAX_TIMEOUT:g}")
    return value


@dataclass(slots=True)
class Invocation:
    """What `main` hands each command as click's `obj`."""

    args: list[str] | None  # the command line as typed, for the resume hint; None: unknown
    said_interrupted: bool = False


def say_interrupted(ctx: typer.Context, message: str = "Interrupted.") -> None:
    """Tell the user on stderr that Ctrl-C or SIGTERM stopped the command (which then exits
    130); `main` says "Interrupted." for a command stopped before it could say anything."""
    typer.echo(f"\n{message}", err=True)
    if isinstance(ctx.obj, Invocation):
        ctx.obj.said_interrupted = True


def fail(message: str, code: int = EXIT_ERRORS) -> NoReturn:
    """One line on stderr, then exit."""
    typer.echo(f"flags-async: error: {message}", err=True)
    raise typer.Exit(code)


def trust_store(cacert: Path | None = None) -> ssl.SSLContext:
    """The run's TLS trust store, or one line and exit 1 naming what cannot be used: the file
    `SSL_CERT_FILE` names (read by httpx instead of certifi's bundle), or `--cacert`."""
    import ssl

    from ..client._http import ssl_context

    def why(exc: OSError) -> str:
        return str((exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror) or exc)

    try:
        ssl_context(None)  # what every request trusts, before --cacert adds to it
    except OSError as exc:  # ssl.SSLError too
        source = os.environ.get("SSL_CERT_FILE")
        fail(f"cannot use SSL_CERT_FILE={source}: {why(exc)}" if source
             else f"cannot load certifi's CA bundle: {why(exc)}")
    try:
        return ssl_context(cacert)
    except OSError as exc:
        fail(f"cannot use --cacert {cacert}: {why(exc)}")


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code, whatever happened: usage errors become
    one line on stderr and exit 2. SIGTERM stops a command as Ctrl-C does, and only the first
    Ctrl-C counts (see `_signals.ctrl_c_once`)."""
    args = sys.argv[1:] if argv is None else argv
    invocation = Invocation(args)
    try:
        with ctrl_c_once(), sigterm_as_ctrl_c():
            command = typer.main.get_command(app)
            code = command.main(args=args, prog_name="flags-async", standalone_mode=False,
                                obj=invocation)
        if code == EXIT_INTERRUPTED and not invocation.said_interrupted:
            typer.echo("\nInterrupted.", err=True)  # typer's answer to a Ctrl-C while parsing
    except typer.TyperException as exc:  # click's usage errors derive from it
        ctx = getattr(exc, "ctx", None)  # usage errors carry the command they belong to
        where = ctx.command_path if ctx is not None else _command_path(args)
        message = exc.format_message().removesuffix(".")  # one stop, after the hint
        typer.echo(f"{where}: error: {message} (see '{where} --help')", err=True)
        code = getattr(exc, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:  # before a command started, or while a server stopped
        typer.echo("\nInterrupted.", err=True)
        code = EXIT_INTERRUPTED
    except SystemExit as exc:  # typer's answer to a closed output pipe (`| head`): 1, silently
        code = exc.code if exc.code is None or isinstance(exc.code, int) else EXIT_ERRORS
    return code if isinstance(code, int) else EXIT_OK


def _command_path(args: list[str]) -> str:
    """The command a usage error without its context belongs to: click raises "Option '-s'
    requires an argument" without one. The root takes no arguments, so a first word that is
    not an option names the subcommand."""
    if args and not args[0].startswith("-"):
        return f"flags-async {args[0]}"
    return "flags-async"


def run() -> NoReturn:
    """The `flags-async` console script, and `python -m flags_async`."""
    code = main()
    # The command is over. A late Ctrl-C (a terminal's second) changes nothing; SIGTERM ends
    # the process at once, should the interpreter wait at exit for a thread of an interrupted
    # threaded run still in a TCP connect (see `client/_threads.py`).
    with contextlib.suppress(ValueError):  # not the main thread: no signals here anyway
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head`): exit quietly, as Python's
        devnull = os.open(os.devnull, os.O_WRONLY)  # docs advise
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        code = code or EXIT_ERRORS
    sys.exit(code)
