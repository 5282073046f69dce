"""`flags-async download`: the book's flags2 command line, and its report."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from .._codes import CodeError, select_codes
from .._models import (
    DEFAULT_DEST,
    DEFAULT_GIVE_UP_AFTER,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_REQ,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Mode,
    Options,
    Report,
    ServerError,
    TransportName,
)
from .._saving import prepare_dest
from .._urls import without_password
from ..client._probes import check_reachable
from ..client._server_url import EMBEDDED, LABELS, check_proxy, proxy_for, resolve_server
from ._app import (
    EXIT_ERRORS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Invocation,
    app,
    fail,
    say_interrupted,
    seconds,
    trust_store,
)
from ._report import (
    counts_report,
    final_report,
    initial_report,
    interrupted_line,
    line_printer,
    nothing_found,
    process_seconds,
    progress,
)


@app.command()
def download(
    ctx: typer.Context,
    codes: Annotated[list[str] | None, typer.Argument(
        metavar="CC", show_default=False,
        help="Two-letter codes, or one letter for all codes starting with it (B = BA..BZ). "
             "Default: the 20 most populous countries.",
    )] = None,
    all_cc: Annotated[bool, typer.Option(
        "-a", "--all", help="The 194 country codes (AD to ZW).")] = False,
    every: Annotated[bool, typer.Option(
        "-e", "--every", help="Every possible code AA..ZZ (676; 194 of them exist).")] = False,
    limit: Annotated[int | None, typer.Option(
        "-l", "--limit", min=1, metavar="N", help="Only the first N codes after sorting.")] = None,
    max_req: Annotated[int, typer.Option(
        "-m", "--max-req", "--max_req", min=1, metavar="N",
        help="Maximum concurrent requests (threads in threaded mode).")] = DEFAULT_MAX_REQ,
    server: Annotated[str, typer.Option(
        "-s", "--server", metavar="LABEL|URL",
        help=f"One of {', '.join(LABELS)} (case-insensitive) or an http(s):// base URL. "
             "EMBEDDED runs the bundled server on a free loopback port for this command.",
    )] = EMBEDDED,
    dest: Annotated[str, typer.Option(
        "-d", "--dest", metavar="DIR", help="Where to save the flags (created if missing).",
    )] = str(DEFAULT_DEST),
    mode: Annotated[Mode, typer.Option(
        "--mode", case_sensitive=False, help="How to run the requests.")] = Mode.ASYNC,
    transport: Annotated[TransportName | None, typer.Option(
        "--transport", case_sensitive=False, show_default=False,
        help="Async mode only: aiohttp (default, fast) or httpx (the book's, for comparison).",
    )] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", callback=seconds,
        help="Limit for each wait (connect, each read) and for each whole attempt.",
    )] = DEFAULT_TIMEOUT,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, metavar="N",
        help="Retries for transient failures (network errors, timeouts, 429, 5xx).",
    )] = DEFAULT_RETRIES,
    give_up_after: Annotated[int, typer.Option(
        "--give-up-after", min=0, metavar="N",
        help="Start no new download after N attempts in a row that the server answered with "
             "nothing (connections refused, dropped or not made in time) and 2 s without an "
             "answer: the server is gone. 0: never.",
    )] = DEFAULT_GIVE_UP_AFTER,
    rate: Annotated[float | None, typer.Option(
        "--rate", min=0.001, max=1e6, metavar="N", show_default=False,
        help="At most N requests a second, retries included. Default: as fast as the server "
             "allows; a server that answers 429 or 503 slows the whole run down.")] = None,
    max_bytes: Annotated[int, typer.Option(
        "--max-bytes", min=1, metavar="BYTES", help="Abandon a body larger than this.",
    )] = DEFAULT_MAX_BYTES,
    names: Annotated[bool, typer.Option(
        "--names", help="Name files after the country in <cc>/metadata.json (book's flags3); "
                        "<cc>.gif when it is unusable.",
    )] = False,
    skip_existing: Annotated[bool, typer.Option(
        "--skip-existing", help="Resume: keep whole flags already in DIR (counted as skipped); "
                                "fetch missing or broken ones.")] = False,
    proxy: Annotated[str | None, typer.Option(
        "--proxy", metavar="URL", show_default=False,
        help="Send every request through this proxy (http://HOST:PORT). Default: the "
             "environment's HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY.")] = None,
    cacert: Annotated[Path | None, typer.Option(
        "--cacert", metavar="PEM", show_default=False,
        help="Also trust the CA certificates in this file (a private CA); SSL_CERT_FILE "
             "replaces the default bundle (certifi's) instead.")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with every result, and nothing else, on stdout.",
    )] = False,
    trace_path: Annotated[Path | None, typer.Option(
        "--trace", metavar="FILE.json", show_default=False,
        help="Write every request and save as a Chrome trace (ui.perfetto.dev opens it).",
    )] = None,
    verbose: Annotated[bool, typer.Option(
        "-v", "--verbose", help="One line per code instead of the progress bar.")] = False,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="Print only the final counts.")] = False,
) -> None:
    """Download flags for country codes, and report what happened."""
    from .._api import Interrupted, warm_up
    from .._api import download as run_download
    from .._signals import on_first_stop
    from .._trace import Trace
    from ..client._limits import fit_fd_limit
    from ..server._embedded import given_or_started

    try:
        cc_list = select_codes(codes or [], all_cc=all_cc, every=every, limit=limit)
    except CodeError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        label, url = resolve_server(server)
    except ServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="'-s' / '--server'") from None
    try:
        proxy = None if proxy is None else check_proxy(proxy)
    except ServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--proxy'") from None
    if transport is not None and mode is not Mode.ASYNC:
        raise typer.BadParameter("applies to async mode only (the other modes use httpx's own)",
                                 param_hint="'--transport'")
    if quiet and (verbose or json_out):
        other = "--verbose" if verbose else "--json"
        raise typer.BadParameter(f"give {other} or --quiet, not both")
    if not dest:
        raise typer.BadParameter("give a folder, or leave --dest out for 'downloads'",
                                 param_hint="'-d' / '--dest'")
    if trace_path is not None:
        check_trace_path(trace_path)
    trace = None if trace_path is None else Trace()
    wanted = 1 if mode is Mode.SEQUENTIAL else min(max_req, len(cc_list))
    fits, limit_note = fit_fd_limit(wanted)
    if limit_note and (verbose or fits < wanted):  # a lower concurrency is always said
        typer.echo(limit_note, err=True)
    max_req = min(max_req, fits)

    invocation = ctx.obj if isinstance(ctx.obj, Invocation) else Invocation(None)
    report: Report | None = None
    route: str | None = None
    try:
        direct = url is None  # the embedded server is always reached directly
        with given_or_started(url) as flag_server:
            # An embedded server is starting in its thread; meanwhile:
            prepare_dest(Path(dest))  # before any request: a folder we cannot use costs nothing
            tls = trust_store(cacert)
            warm_up(mode, transport or TransportName.AIOHTTP)
            base_url = flag_server()
            route = None if direct else proxy_for(base_url, proxy)  # the proxy the run takes
            if not direct:  # the embedded server has just said it listens
                check_reachable(base_url, timeout, tls, route)
            options = Options(
                base_url=base_url, dest=Path(dest), max_req=max_req, timeout=timeout,
                retries=retries, names=names, transport=transport or TransportName.AIOHTTP,
                max_bytes=max_bytes, skip_existing=skip_existing, cacert=cacert,
                proxy=None if direct else proxy, direct=direct, give_up_after=give_up_after,
                rate=rate,
            )
            if not (json_out or quiet):
                typer.echo(initial_report(label, base_url, cc_list, min(wanted, fits), mode,
                                            options.transport_in(mode), route))
            lines_out = sys.stderr if json_out else sys.stdout
            with progress(len(cc_list), verbose=verbose, out=lines_out) as on_result:
                on_pace = line_printer(lines_out) if verbose else None
                report = run_download(cc_list, options, mode, on_result, on_pace, trace)
    except ServerError as exc:
        fail(str(exc))
    except BrokenPipeError:  # our output's reader has gone (`| head`): typer exits 1, silently
        raise
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except Interrupted as stop:
        report = stop.report
        say_interrupted(ctx)
    except KeyboardInterrupt:  # before the download started, or while the server stops
        if report is None:
            say_interrupted(ctx)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        # Else the run was over: its report is whole.

    hint, traced = nothing_found(report), True
    with on_first_stop(lambda: None):  # the report is printed whole, whatever comes now
        print_report(report, hint, json_out=json_out, quiet=quiet, args=invocation.args)
        if trace is not None and trace_path is not None:
            try:
                trace.write(trace_path)
            except OSError as exc:  # after the report: the run is as reported, and saved
                typer.echo(f"flags-async: error: cannot write the trace {trace_path}: "
                           f"{exc.strerror or exc}", err=True)
                traced = False
    if report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if sys.stdout is None:  # `>&-`: the report went nowhere (the flags are saved)
        raise typer.Exit(EXIT_ERRORS)
    raise typer.Exit(EXIT_ERRORS if report.errors or hint or not traced else EXIT_OK)


def check_trace_path(path: Path) -> None:
    """Before the run: a usage error if `path` cannot name a trace file (a folder, a device,
    a missing folder), one line and exit 1 if its folder cannot be written to."""
    import tempfile  # here: `--help` does not need it

    if (path.exists() and not path.is_file()) or not path.parent.is_dir():
        why = "not a file" if path.exists() else f"no folder {str(path.parent)!r}"
        raise typer.BadParameter(f"{str(path)!r}: {why}", param_hint="'--trace'")
    try:
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        fail(f"cannot write the trace {path}: {exc.strerror or exc}")


def print_report(report: Report, hint: str | None, *, json_out: bool, quiet: bool,
                 args: list[str] | None) -> None:
    """The report in the form asked for, then, on stderr unless the text report holds them,
    the hint and how to resume (when `args`, the command line, is known)."""
    if json_out:
        typer.echo(json.dumps({**report.as_dict(), "server": without_password(report.server),
                               "process_s": round(process_seconds(), 3)}))
    elif quiet:
        typer.echo(counts_report(report))
        if report.interrupted:
            typer.echo(interrupted_line(report))
    else:
        typer.echo(final_report(report, hint))
    missing = report.errors or len(report.results) < report.requested
    if missing and args is not None and not hint:
        typer.echo(resume_hint(args), err=json_out or quiet)
    if hint and (json_out or quiet):  # the text report says it already
        typer.echo(hint, err=True)


def resume_hint(args: list[str]) -> str:
    """The command that fetches only what this run did not: its own, with `--skip-existing`
    after the subcommand (so it is never taken for a code, after `--`), spelt as it was run
    (see `_program`), a URL's password masked."""
    resume = list(args)
    if "--skip-existing" not in args:
        at = args.index("download") + 1 if "download" in args else len(args)
        resume.insert(at, "--skip-existing")
    shown = [_password_masked(arg) for arg in resume]
    masked = " (with your password for ***)" if shown != resume else ""
    return f"To fetch only what is missing{masked}: {shlex.join([*_program(), *shown])}"


def _program() -> list[str]:
    """This program as the user's shell will find it again: the console script, or the
    interpreter that ran `-m flags_async`, by name if that name on PATH is this very file,
    else by its path (a `.venv/bin/` not on PATH, another Python first on it)."""
    if sys.argv[0].endswith("__main__.py"):
        return [_as_found(sys.executable), "-m", "flags_async"]
    return [_as_found(sys.argv[0])]


def _as_found(path: str) -> str:
    name = Path(path).name
    found = shutil.which(name)
    # absolute, not resolved: a venv's python links to an interpreter without our package
    return name if found and Path(found).absolute() == Path(path).absolute() else path


def _password_masked(arg: str) -> str:
    """`arg` with the password of an http(s) URL in it masked, the URL alone (`-s URL`) or
    after its option (`--server=URL`, `-sURL`)."""
    url = re.search(r"https?://", arg, re.IGNORECASE)
    return arg if url is None else arg[:url.start()] + without_password(arg[url.start():])
