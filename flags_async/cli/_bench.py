"""`flags-async bench`: the modes side by side, as a table, JSON or a chart."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._codes import CodeError, select_codes
from .._models import DEFAULT_RETRIES, DEFAULT_TIMEOUT, ServerError
from ..client._limits import fit_fd_limit
from ..client._probes import check_reachable
from ..client._server_url import proxy_for, resolve_server
from ._app import EXIT_INTERRUPTED, app, fail, say_interrupted, seconds, trust_store
from ._report import process_seconds

if TYPE_CHECKING:
    from .._trace import Trace
    from ..bench._runner import ScenarioResult


class ScenarioName(StrEnum):
    FAST = "fast"
    DELAY = "delay"
    ERROR = "error"
    LIMITED = "limited"
    ALL = "all"


def numbers(text: str, kind: type[int] | type[float], low: float, what: str,
            option: str) -> list[Any]:
    """`1,10,100` as a list of `kind`, each at least `low`; a usage error naming `option`
    otherwise (an empty item too: `1,,10` is a typo, not a list of two)."""
    try:
        values = [kind(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(not low <= v < float("inf") for v in values):
        raise typer.BadParameter(
            f"{text!r}: give {what} of at least {low:g}, comma-separated, such as "
            f"{DEFAULT_EXAMPLES[what]}", param_hint=option)
    return list(dict.fromkeys(values))


DEFAULT_EXAMPLES = {"milliseconds": "0,2,10,50", "request counts": "1,10,100,1000"}


@app.command()
def bench(
    ctx: typer.Context,
    codes: Annotated[list[str] | None, typer.Argument(
        metavar="CC", show_default=False,
        help="Codes as for download. Default: per scenario (fast: all 676, slow ones: 194).",
    )] = None,
    all_cc: Annotated[bool, typer.Option("-a", "--all", help="The 194 country codes.")] = False,
    every: Annotated[bool, typer.Option("-e", "--every", help="All 676 codes AA..ZZ.")] = False,
    limit: Annotated[int | None, typer.Option(
        "-l", "--limit", min=1, metavar="N", help="Only the first N codes after sorting.")] = None,
    max_req: Annotated[str | None, typer.Option(
        "-m", "--max-req", "--max_req", metavar="N[,N...]", show_default=False,
        help="Concurrent requests; several (1,10,100,1000) sweep them. Default: per scenario "
             "(100; delay and error: 1000).")] = None,
    latency: Annotated[str | None, typer.Option(
        "--latency", metavar="MS[,MS...]", show_default=False,
        help="Sweep the bundled server's latency: every response this many milliseconds "
             "late. With -s: the latency that server is known to add (default: none "
             "said). Default, without --scenario: 0,1,2,5,10,20,50; with several -m: "
             "0,20.")] = None,
    scenario: Annotated[ScenarioName | None, typer.Option(
        "--scenario", case_sensitive=False, show_default=False,
        help="Instead of a latency sweep: fast (no delay), delay (0.5-5 s per response), "
             "error (delay plus 25% 418s), limited (40 requests/s, 10 at once, 429 beyond), "
             "or all four.",
    )] = None,
    modes: Annotated[str, typer.Option(
        "--modes", metavar="LIST",
        help="Comma-separated: sequential, threads, async (aiohttp transport), async-httpx.",
    )] = "sequential,threads,async,async-httpx",
    runs: Annotated[int | None, typer.Option(
        "--runs", min=1, metavar="R", show_default=False,
        help="Runs of each mode. Default: per scenario (latency sweep: 3, fast: 5, delay and "
             "error: 2).")] = None,
    server: Annotated[str | None, typer.Option(
        "-s", "--server", metavar="LABEL|URL", show_default=False,
        help="Use this server for every scenario instead of starting the bundled one.")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", callback=seconds,
        help="Limit for each wait and for each whole attempt.")] = DEFAULT_TIMEOUT,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, metavar="N", help="Retries for transient failures.",
    )] = DEFAULT_RETRIES,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the raw runs and the summary as one JSON object instead.")] = False,
    plot_path: Annotated[Path | None, typer.Option(
        "--plot", metavar="FILE.png", show_default=False,
        help="Also draw a chart: rates against latency or max-req for a sweep, else bars "
             "(needs flags-async[bench]).")] = None,
    timeline_path: Annotated[Path | None, typer.Option(
        "--timeline", metavar="FILE.png", show_default=False,
        help="Also trace one more run of each mode in the first scenario (the first "
             "latency), and draw each as a waterfall of its requests (needs "
             "flags-async[bench]).")] = None,
) -> None:
    """Measure sequential, threaded and async downloading side by side."""
    from ..bench._runner import (
        CONCURRENCY_LATENCIES,
        DEFAULT_LATENCIES,
        SCENARIOS,
        VARIANTS,
        Run,
        Scenario,
        bench_scenario,
        format_sweep,
        format_table,
        given_server_scenario,
        latency_scenario,
    )

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in VARIANTS]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown mode {', '.join(unknown)}: use {', '.join(VARIANTS)}" if unknown
            else f"give at least one of {', '.join(VARIANTS)}",
            param_hint="'--modes'")
    try:
        selected = (select_codes(codes or [], all_cc=all_cc, every=every, limit=limit)
                    if (codes or all_cc or every) else None)
        url = None if server is None else resolve_server(server)[1]
    except CodeError as exc:
        raise typer.BadParameter(str(exc)) from None
    except ServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="'-s' / '--server'") from None
    if scenario is not None and latency is not None:
        raise typer.BadParameter("give --latency or --scenario, not both", param_hint="'--latency'")
    max_reqs = None if max_req is None else numbers(max_req, int, 1, "request counts",
                                                       "'-m' / '--max-req'")
    scenarios: list[Scenario]
    if scenario is None:
        if latency is not None:
            latencies = numbers(latency, float, 0, "milliseconds", "'--latency'")
            if url is not None and len(latencies) > 1:  # one server cannot be several
                raise typer.BadParameter("with -s, give the one latency that server adds",
                                         param_hint="'--latency'")
        elif url is not None:  # a server of the user's: its latency is its own, and unknown
            latencies = []
        else:
            sweep = max_reqs is not None and len(max_reqs) > 1
            latencies = list(CONCURRENCY_LATENCIES if sweep else DEFAULT_LATENCIES)
        scenarios = [latency_scenario(ms) for ms in latencies] or [given_server_scenario()]
    else:
        scenarios = list(SCENARIOS.values()) if scenario is ScenarioName.ALL else [
            SCENARIOS[scenario.value]]
    for chart, option in ((plot_path, "--plot"), (timeline_path, "--timeline")):
        if chart is not None:
            check_chart(chart, option)
    trust_store()  # a bad SSL_CERT_FILE stops the bench here, in one line
    if url is not None:
        try:
            check_reachable(url, timeout, proxy=proxy_for(url, None))  # as the runs go
        except ServerError as exc:
            fail(str(exc))

    def report_run(run: Run) -> None:
        number = f"run {run.run}" if run.run else "traced"  # for --timeline, not timed
        typer.echo(f"{run.scenario:>14} {run.variant:<12} -m {run.max_req:<5} {number}: "
                   f"{run.elapsed_s:7.3f}s ({run.requested} codes: {run.ok} ok, "
                   f"{run.not_found} not found, {run.errors} errors)", err=True)

    # As `download` does: the runs fit the open-file limit, and the tables say what they ran.
    wanted = max(max_reqs or [spec.max_req for spec in scenarios])
    fits, limit_note = fit_fd_limit(wanted)
    if limit_note and fits < wanted:
        typer.echo(limit_note, err=True)
        max_reqs = max_reqs and sorted({min(m, fits) for m in max_reqs})
    results: list[ScenarioResult] = []
    traced: dict[str, Trace] | None = None if timeline_path is None else {}
    try:
        for spec in scenarios:
            cc_list = selected or select_codes(every=spec.codes == "every",
                                               all_cc=spec.codes == "all", limit=limit)
            result = bench_scenario(
                spec, chosen, cc_list, max_reqs=max_reqs or [min(spec.max_req, fits)],
                runs=runs or spec.runs, server_url=url, timeout=timeout, retries=retries,
                on_run=report_run, traced=None if results else traced)
            results.append(result)
            if not json_out:
                typer.echo(format_table(result) + "\n")
        if len(results) > 1 and not json_out:
            typer.echo(format_sweep(by_latency(results)))
    except ServerError as exc:
        fail(str(exc))
    except KeyboardInterrupt:  # between runs, or in one (`Interrupted`)
        say_interrupted(ctx)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if json_out:
        typer.echo(json.dumps({"scenarios": [r.as_dict() for r in by_latency(results)],
                               "process_s": round(process_seconds(), 3)}))
    from ..bench._chart import plot, timeline  # matplotlib itself is imported by the calls

    if plot_path is not None:
        draw(plot_path, lambda: plot(by_latency(results), plot_path))
    if timeline_path is not None:
        first = results[0]  # the scenario traced
        at = next((s.max_req for s in first.summary if s.variant != "sequential"), 1)
        title = f"{first.scenario}, -m {at}, one run of each mode"
        draw(timeline_path, lambda: timeline(traced or {}, title, timeline_path))


def by_latency(results: list[ScenarioResult]) -> list[ScenarioResult]:
    """A latency sweep's results in the order of its latencies, which `--latency` may not
    give (`make bench` traces its timeline at 20 ms, the first); other results as they ran."""
    if any(r.latency_ms is None for r in results):
        return results
    return sorted(results, key=lambda r: r.latency_ms or 0.0)


def draw(path: Path, chart: Callable[[], None]) -> None:
    """Draw and write `chart` to `path`, or one line and exit 1."""
    try:
        chart()
    except OSError as exc:  # the results are printed above: only the chart is lost
        fail(f"cannot write the chart {str(path)!r}: {exc.strerror or exc}")
    typer.echo(f"Chart written to {path}", err=True)


def check_chart(path: Path, option: str) -> None:
    """Fail before the bench, not after it, if `option` cannot draw or write its chart."""
    from ..bench._chart import check_chart_path  # matplotlib itself is imported by the call

    try:
        check_chart_path(path)
    except ImportError:
        fail(f"{option} needs matplotlib: pip install 'flags-async[bench]'")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{option}'") from None
