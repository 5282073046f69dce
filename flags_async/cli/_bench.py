"""`flags-async bench`: the modes side by side, as a table, JSON or a chart."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .._codes import CodeError, select_codes
from .._models import DEFAULT_RETRIES, DEFAULT_TIMEOUT, ServerError
from ..client._server_url import check_reachable, resolve_server
from ._app import EXIT_INTERRUPTED, app, fail, seconds


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
        "--timeout", metavar="SECONDS", callback=seconds,
        help="Limit for each wait and for each whole attempt.")] = DEFAULT_TIMEOUT,
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
        help="Also draw a bar chart of the medians (needs flags-async[bench]).")] = None,
) -> None:
    """Measure sequential, threaded and async downloading side by side."""
    from ..bench._runner import SCENARIOS, VARIANTS, Run, bench_scenario, format_table

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in VARIANTS]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown mode {', '.join(unknown) or '(none)'}: use {', '.join(VARIANTS)}",
            param_hint="'--modes'")
    try:
        selected = (select_codes(codes or [], all_cc=all_cc, every=every, limit=limit)
                    if (codes or all_cc or every) else None)
        url = None if server is None else resolve_server(server)[1]
    except CodeError as exc:
        raise typer.BadParameter(str(exc)) from None
    except ServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="'-s' / '--server'") from None
    if plot_path is not None:
        check_chart(plot_path)
    if url is not None:
        try:
            check_reachable(url, timeout)
        except ServerError as exc:
            fail(str(exc))
    names = list(SCENARIOS) if scenario is ScenarioName.ALL else [scenario.value]

    def report_run(run: Run) -> None:
        typer.echo(f"{run.scenario:>6} {run.variant:<12} run {run.run}: {run.elapsed_s:7.3f}s "
                   f"({run.ok} ok, {run.not_found} not found, {run.errors} errors)", err=True)

    results = []
    try:
        for name in names:
            spec = SCENARIOS[name]
            cc_list = selected or select_codes(every=spec.codes == "every",
                                               all_cc=spec.codes == "all", limit=limit)
            result = bench_scenario(
                spec, chosen, cc_list, max_req=max_req or spec.max_req, runs=runs or spec.runs,
                server_url=url, run_sequential=run_sequential, timeout=timeout,
                retries=retries, on_run=report_run)
            results.append(result)
            if not json_out:
                typer.echo(format_table(result) + "\n")
    except ServerError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("\nInterrupted.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if json_out:
        typer.echo(json.dumps({"scenarios": [r.as_dict() for r in results]}))
    if plot_path is not None:
        from ..bench._chart import plot

        try:
            plot(results, plot_path)
        except OSError as exc:  # the results are printed above: only the chart is lost
            fail(f"cannot write the chart {str(plot_path)!r}: {exc.strerror or exc}")
        typer.echo(f"Chart written to {plot_path}", err=True)


def check_chart(path: Path) -> None:
    """Fail before the bench, not after it, if `--plot` cannot draw or write its chart."""
    from ..bench._chart import check_chart_path  # matplotlib itself is imported by the call

    try:
        check_chart_path(path)
    except ImportError:
        fail("--plot needs matplotlib: pip install 'flags-async[bench]'")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--plot'") from None
