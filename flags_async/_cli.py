"""The `flags-async` command line: parse, call plain functions, report. No work lives here."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

# Typer 0.29 vendors click; its exceptions are not re-exported, but their base is what we catch.
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from . import __version__
from ._codes import CodeError, select_codes
from ._models import (
    DEFAULT_DEST,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_REQ,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Mode,
    Options,
    TransportName,
)
from ._report import counts_report, final_report, initial_report, progress
from ._servers import (
    EMBEDDED,
    LABELS,
    ServerError,
    check_reachable,
    embedded_server,
    resolve_server,
)

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    name="flags-async",
    add_completion=False,
    no_args_is_help=True,
    add_help_option=False,  # replaced by `_root`'s own, see there
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class PresetName(StrEnum):
    LOCAL = "local"
    DELAY = "delay"
    ERROR = "error"
    CHAOS = "chaos"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"flags-async {__version__}")
        raise typer.Exit


def _show_help(ctx: typer.Context, value: bool) -> None:
    if value:
        typer.echo(ctx.get_help())
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.",
    )] = False,
    # Typer's built-in help flag holds None when absent, and typer coerces None through pydantic
    # (~90 ms of imports) even for `flags-async download --help`. A bool flag defaulting to
    # False skips that coercion.
    show_help: Annotated[bool, typer.Option(
        "-h", "--help", callback=_show_help, is_eager=True, help="Show this message and exit.",
    )] = False,
) -> None:
    """Download flag GIFs concurrently: async, threaded or sequential, from a flag server.

    Exit codes: 0 every code ok or not found; 1 some code ended in error, or the server or
    folder could not be used; 2 usage error; 130 interrupted.
    """


def _positive(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"{value:g} is not a positive number of seconds")
    return value


def _fail(message: str, code: int = EXIT_ERRORS) -> NoReturn:
    typer.echo(f"flags-async: error: {message}", err=True)
    raise typer.Exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Do what Ctrl-C would do now.

    Inside `asyncio.run` that is its SIGINT handler, which cancels the main task, so the
    supervisor cancels the downloads in order. A `KeyboardInterrupt` raised here instead would
    land inside whichever task happens to be running, outside the supervisor's control.
    """
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    if not callable(on_ctrl_c):  # SIGINT ignored (a background job) or unset
        raise KeyboardInterrupt
    on_ctrl_c(signal.SIGINT, frame)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a download as Ctrl-C does: cancel, clean up, report what completed."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _server_url(label: str, url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with embedded_server() as embedded_url:
        yield embedded_url


@app.command()
def download(
    codes: Annotated[list[str] | None, typer.Argument(
        metavar="CC", show_default=False,
        help="Two-letter codes, or one letter for all codes starting with it (B = BA..BZ). "
             "Default: the 20 most populous countries.",
    )] = None,
    all_cc: Annotated[bool, typer.Option(
        "-a", "--all", help="The 194 country codes (AD to ZW).")] = False,
    every: Annotated[bool, typer.Option(
        "-e", "--every", help="Every possible code AA..ZZ (676; most are 404s).")] = False,
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
    dest: Annotated[Path, typer.Option(
        "-d", "--dest", metavar="DIR", help="Where to save the flags (created if missing).",
    )] = DEFAULT_DEST,
    mode: Annotated[Mode, typer.Option(
        "--mode", case_sensitive=False, help="How to run the requests.")] = Mode.ASYNC,
    transport: Annotated[TransportName | None, typer.Option(
        "--transport", case_sensitive=False, show_default=False,
        help="Async mode only: aiohttp (default, fast) or httpx (the book's, for comparison).",
    )] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", callback=_positive,
        help="Deadline for each whole attempt: connect, headers and body.")] = DEFAULT_TIMEOUT,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, metavar="N",
        help="Retries for transient failures (network errors, timeouts, 429, 5xx).",
    )] = DEFAULT_RETRIES,
    max_bytes: Annotated[int, typer.Option(
        "--max-bytes", min=1, metavar="BYTES", help="Abandon a body larger than this.",
    )] = DEFAULT_MAX_BYTES,
    names: Annotated[bool, typer.Option(
        "--names", help="Name files after the country in <cc>/metadata.json (book's flags3).",
    )] = False,
    skip_existing: Annotated[bool, typer.Option(
        "--skip-existing", help="Resume: keep whole flags already in DIR (counted as skipped); "
                                "fetch missing or broken ones.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with every result, and nothing else, on stdout.",
    )] = False,
    verbose: Annotated[bool, typer.Option(
        "-v", "--verbose", help="One line per code instead of the progress bar.")] = False,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="Print only the final counts.")] = False,
) -> None:
    """Download flags for country codes, and report what happened."""
    from ._limits import ensure_fd_limit
    from ._run import Interrupted
    from ._run import download as run_download

    try:
        cc_list = select_codes(codes or [], all_cc=all_cc, every=every, limit=limit)
    except CodeError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        label, url = resolve_server(server)
    except ServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="'-s' / '--server'") from None
    if transport is TransportName.AIOHTTP and mode is not Mode.ASYNC:
        raise typer.BadParameter("the aiohttp transport works in async mode only",
                                 param_hint="'--transport'")
    if verbose and quiet:
        raise typer.BadParameter("give --verbose or --quiet, not both")
    limit_note = ensure_fd_limit(max_req)
    if limit_note and verbose:
        typer.echo(limit_note, err=True)

    try:
        with _sigterm_as_interrupt(), _server_url(label, url) as base_url:
            check_reachable(base_url, timeout)
            options = Options(
                base_url=base_url, dest=dest, max_req=max_req, timeout=timeout, retries=retries,
                names=names, transport=transport or TransportName.AIOHTTP, max_bytes=max_bytes,
                skip_existing=skip_existing,
            )
            effective = options.transport if mode is Mode.ASYNC else TransportName.HTTPX
            actual_req = 1 if mode is Mode.SEQUENTIAL else min(max_req, len(cc_list))
            if not (json_out or quiet):
                typer.echo(initial_report(label, base_url, cc_list, actual_req, mode, effective))
            lines_out = sys.stderr if json_out else sys.stdout
            with progress(len(cc_list), verbose=verbose, out=lines_out) as on_result:
                report = run_download(cc_list, options, mode, on_result)
    except ServerError as exc:
        _fail(str(exc))
    except FileExistsError as exc:  # all that mkdir(exist_ok=True) says when `-d` is a file
        _fail(f"not a folder: {exc.filename}")
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except Interrupted as stop:
        report = stop.report
        typer.echo("\nInterrupted.", err=True)
    except KeyboardInterrupt:  # before the download started, or while the server stops
        typer.echo("\nInterrupted.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None

    if json_out:
        typer.echo(json.dumps(report.as_dict()))
    elif quiet:
        typer.echo(counts_report(report))
    else:
        typer.echo(final_report(report))
    if report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_ERRORS if report.errors else EXIT_OK)


class ScenarioName(StrEnum):
    FAST = "fast"
    DELAY = "delay"
    ERROR = "error"
    ALL = "all"


@app.command()
def bench(
    codes: Annotated[list[str] | None, typer.Argument(
        metavar="CC", show_default=False,
        help="Codes as for download. Default: per scenario (fast: all 676, slow ones: 194).",
    )] = None,
    all_cc: Annotated[bool, typer.Option("-a", "--all", help="The 194 country codes.")] = False,
    every: Annotated[bool, typer.Option("-e", "--every", help="All 676 codes AA..ZZ.")] = False,
    limit: Annotated[int | None, typer.Option(
        "-l", "--limit", min=1, metavar="N", help="Only the first N codes after sorting.")] = None,
    max_req: Annotated[int | None, typer.Option(
        "-m", "--max-req", "--max_req", min=1, metavar="N", show_default=False,
        help="Concurrent requests. Default: per scenario (fast: 100, slow ones: 1000).")] = None,
    scenario: Annotated[ScenarioName, typer.Option(
        "--scenario", case_sensitive=False,
        help="fast: no delay. delay: 0.5-5 s per response. error: delay plus 25% 418s.",
    )] = ScenarioName.ALL,
    modes: Annotated[str, typer.Option(
        "--modes", metavar="LIST",
        help="Comma-separated: sequential, threads, async (aiohttp transport), async-httpx.",
    )] = "sequential,threads,async,async-httpx",
    runs: Annotated[int | None, typer.Option(
        "--runs", min=1, metavar="R", show_default=False,
        help="Runs of each mode. Default: per scenario (fast: 5, slow ones: 2).")] = None,
    server: Annotated[str | None, typer.Option(
        "-s", "--server", metavar="LABEL|URL", show_default=False,
        help="Use this server for every scenario instead of starting the bundled one.")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", callback=_positive,
        help="Deadline for each whole attempt.")] = DEFAULT_TIMEOUT,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, metavar="N", help="Retries for transient failures.",
    )] = DEFAULT_RETRIES,
    run_sequential: Annotated[bool, typer.Option(
        "--run-sequential",
        help="Really run sequential mode against slow servers instead of estimating it.",
    )] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the raw runs and the summary as one JSON object instead.")] = False,
    plot_path: Annotated[Path | None, typer.Option(
        "--plot", metavar="FILE.png", show_default=False,
        help="Also draw a bar chart of the medians (needs matplotlib: make install).")] = None,
) -> None:
    """Measure sequential, threaded and async downloading side by side."""
    from ._bench import SCENARIOS, VARIANTS, Run, bench_scenario, format_table

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in VARIANTS]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown mode {', '.join(unknown) or '(none)'}: use {', '.join(VARIANTS)}",
            param_hint="'--modes'")
    try:
        selected = (select_codes(codes or [], all_cc=all_cc, every=every, limit=limit)
                    if (codes or all_cc or every or limit) else None)
        url = None if server is None else resolve_server(server)[1]
    except CodeError as exc:
        raise typer.BadParameter(str(exc)) from None
    except ServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="'-s' / '--server'") from None
    if plot_path is not None:
        check_chart(plot_path)
    names = list(SCENARIOS) if scenario is ScenarioName.ALL else [scenario.value]

    def report_run(run: Run) -> None:
        typer.echo(f"{run.scenario:>6} {run.variant:<12} run {run.run}: {run.elapsed_s:7.3f}s "
                   f"({run.ok} ok, {run.not_found} not found, {run.errors} errors)", err=True)

    results = []
    try:
        for name in names:
            spec = SCENARIOS[name]
            cc_list = selected or select_codes(every=spec.codes == "every",
                                               all_cc=spec.codes == "all")
            result = bench_scenario(
                spec, chosen, cc_list, max_req=max_req or spec.max_req, runs=runs or spec.runs,
                server_url=url, run_sequential=run_sequential, timeout=timeout,
                retries=retries, on_run=report_run)
            results.append(result)
            if not json_out:
                typer.echo(format_table(result) + "\n")
    except ServerError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("\nInterrupted.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if json_out:
        typer.echo(json.dumps({"scenarios": [r.as_dict() for r in results]}))
    if plot_path is not None:
        from ._plot import plot

        try:
            plot(results, plot_path)
        except OSError as exc:  # the results are printed above: only the chart is lost
            _fail(f"cannot write the chart {str(plot_path)!r}: {exc.strerror or exc}")
        typer.echo(f"Chart written to {plot_path}", err=True)


def check_chart(path: Path) -> None:
    """Fail before the bench, not after it, if `--plot` cannot draw or write its chart."""
    from ._plot import check_chart_path  # matplotlib itself is imported by the call

    try:
        check_chart_path(path)
    except ImportError:
        _fail("--plot needs matplotlib: pip install matplotlib (make install does)")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--plot'") from None


@app.command()
def serve(
    preset: Annotated[PresetName, typer.Option(
        "--preset", case_sensitive=False,
        help="local: fast, port 8000. delay: 0.5-5 s per response, port 8001. "
             "error: delay plus 25% of requests answered 418, port 8002. chaos: 0-0.2 s "
             "delay and a mix of every fault (418, 429, garbage, truncated, reset), port 8003.",
    )] = PresetName.LOCAL,
    port: Annotated[int | None, typer.Option(
        "--port", min=0, max=65535, metavar="PORT", show_default=False,
        help="Port to listen on (default: the preset's; 0 picks a free one).")] = None,
    host: Annotated[str, typer.Option(
        "--host", metavar="HOST", help="Address to bind.")] = "127.0.0.1",
    delay: Annotated[tuple[float, float] | None, typer.Option(
        "--delay", metavar="MIN MAX", show_default=False,
        help="Wait a random MIN..MAX seconds before each response.")] = None,
    error_rate: Annotated[float | None, typer.Option(
        "--error-rate", min=0, max=1, metavar="P", show_default=False,
        help="Answer this fraction of requests with 418 I'm a teapot.")] = None,
    throttle_rate: Annotated[float | None, typer.Option(
        "--throttle-rate", min=0, max=1, metavar="P", show_default=False,
        help="Answer this fraction with 429 and Retry-After: 1.")] = None,
    garbage_rate: Annotated[float | None, typer.Option(
        "--garbage-rate", min=0, max=1, metavar="P", show_default=False,
        help="Answer this fraction with 200 and an HTML page labelled image/gif.")] = None,
    truncate_rate: Annotated[float | None, typer.Option(
        "--truncate-rate", min=0, max=1, metavar="P", show_default=False,
        help="Send half the body promised by Content-Length, then hang up.")] = None,
    reset_rate: Annotated[float | None, typer.Option(
        "--reset-rate", min=0, max=1, metavar="P", show_default=False,
        help="Reset the connection (TCP RST) without answering.")] = None,
    trickle: Annotated[float | None, typer.Option(
        "--trickle", min=0.001, metavar="BYTES_PER_S", show_default=False,
        help="Send every body at this many bytes per second.")] = None,
    export_dir: Annotated[Path | None, typer.Option(
        "--export", metavar="DIR", show_default=False,
        help="Write DIR/flags/<cc>/<cc>.gif and metadata.json for a static server, and exit.",
    )] = None,
    embedded: Annotated[bool, typer.Option("--embedded", hidden=True)] = False,
) -> None:
    """Run the bundled flag server (GIFs and metadata.json under /flags/)."""
    import asyncio

    from ._catalogue import export
    from ._server import PRESETS, listen, make_app
    from ._server import serve as serve_app

    if export_dir is not None:
        try:
            count = export(export_dir)
        except OSError as exc:
            _fail(f"cannot export to {export_dir}: {exc.strerror or exc}")
        typer.echo(f"Wrote {count} files under {export_dir / 'flags'}")
        return

    chosen = PRESETS[preset.value]
    given: dict[str, Any] = {"delay": delay, "error_rate": error_rate,
             "throttle_rate": throttle_rate,
             "garbage_rate": garbage_rate, "truncate_rate": truncate_rate,
             "reset_rate": reset_rate, "trickle": trickle}
    try:
        faults = dataclasses.replace(
            chosen.faults, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    port = chosen.port if port is None else port
    try:
        sock = listen(host, port)
    except socket.gaierror as exc:  # an unknown host: its errno is getaddrinfo's, not the OS's
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    except OSError as exc:  # its strerror repeats the address: the OS's words alone
        _fail(f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}")

    def announce(url: str) -> None:
        if embedded:
            print(url, flush=True)
        else:
            typer.echo(f"Serving flags at {url} ({preset.value} preset). Ctrl-C stops.")

    asyncio.run(serve_app(make_app(faults), sock, announce, stop_on_stdin_eof=embedded))


#: The cycle collector's first threshold while the CLI runs (CPython's default is 700).
GC_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run CPython's cycle collector less often while the command runs, then restore it.

    An async run keeps hundreds of tasks, coroutines and requests in flight alive at once, and
    each of them counts toward the collector's threshold, though none is garbage. At CPython's
    default threshold (700) the collector ran 84 times in an async run of 676 codes against
    nginx, re-walking them each time: 22 ms of a 0.2 s run (median of 8 runs, measured with
    `gc.callbacks`). A command is short-lived, and the clients leave no cycles per request
    (see `_clients`), so collecting every 50,000 allocations costs no memory that shows (peak
    RSS unchanged at `-m 1000`). mypy tunes its collector the same way, for the same reason.
    """
    previous = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: usage errors become one line on stderr and exit 2."""
    command = typer.main.get_command(app)
    try:
        with fewer_collections():
            code = command.main(args=argv, prog_name="flags-async", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # plain `flags-async`: the help, not an error line
        typer.echo(exc.format_message(), err=True)
        code = exc.exit_code
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)  # usage errors carry the command they belong to
        where = ctx.command_path if ctx is not None else "flags-async"
        typer.echo(f"{where}: error: {exc.format_message()} (see '{where} --help')", err=True)
        code = exc.exit_code
    return code if isinstance(code, int) else EXIT_OK
