"""Benchmarking the modes side by side: the numbers users come to this project for.

Each scenario starts its own bundled server in a child process (so the server never shares the
client's interpreter or event loop), then runs every variant `runs` times, alternating
variants so that drift in a noisy machine hits them all alike, each run into a fresh folder.
The folders are deleted when the scenario ends, so that no run's timing includes another
run's clean-up (docs/benchmarks.md says what that clean-up cost).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .._api import download
from .._models import Mode, Options, TransportName
from ..server._embedded import given_or_embedded


@dataclass(frozen=True, slots=True)
class Variant:
    """A mode, and for async mode the transport under `httpx.AsyncClient`."""

    name: str
    mode: Mode
    transport: TransportName


VARIANTS = {
    v.name: v
    for v in (
        Variant("sequential", Mode.SEQUENTIAL, TransportName.HTTPX),
        Variant("threads", Mode.THREADS, TransportName.HTTPX),
        Variant("async", Mode.ASYNC, TransportName.AIOHTTP),
        Variant("async-httpx", Mode.ASYNC, TransportName.HTTPX),
    )
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """A kind of server, and the defaults that keep the whole default bench under 2 minutes."""

    name: str
    serve_args: tuple[str, ...]
    codes: str  # "every" (676) or "all" (194)
    max_req: int
    runs: int
    #: Mean seconds the server waits per response: lets sequential be estimated, not run.
    mean_delay: float = 0.0


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("fast", ("--preset", "local"), "every", max_req=100, runs=5),
        Scenario("delay", ("--preset", "delay"), "all", max_req=1000, runs=2, mean_delay=2.75),
        Scenario("error", ("--preset", "error"), "all", max_req=1000, runs=2, mean_delay=2.75),
    )
}


@dataclass(frozen=True, slots=True)
class Run:
    scenario: str
    variant: str
    run: int
    elapsed_s: float
    requested: int
    ok: int
    not_found: int
    errors: int


@dataclass(frozen=True, slots=True)
class Summary:
    variant: str
    median_s: float
    min_s: float
    max_s: float
    requests_per_s: float
    ok: int
    not_found: int
    errors: int
    speedup: float | None = None
    estimated: bool = False


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    server: str
    codes: list[str]
    max_req: int
    runs: list[Run] = field(default_factory=list)
    summary: list[Summary] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["codes"] = len(self.codes)
        return data


def summarize(runs: list[Run], variant: str) -> Summary:
    mine = [r for r in runs if r.variant == variant]
    times = [r.elapsed_s for r in mine]
    median = statistics.median(times)
    middle = min(mine, key=lambda r: abs(r.elapsed_s - median))  # counts of a typical run
    return Summary(variant, median, min(times), max(times), middle.requested / median,
                   middle.ok, middle.not_found, middle.errors)


def estimate_sequential(codes: int, mean_delay: float) -> Summary:
    """Sequential against a slow server is the sum of its delays: no need to wait it out."""
    seconds = codes * mean_delay
    return Summary("sequential", seconds, seconds, seconds, codes / seconds, 0, 0, 0,
                   estimated=True)


def with_speedups(summaries: list[Summary]) -> list[Summary]:
    base = next((s for s in summaries if s.variant == "sequential"), None)
    if base is None:
        return summaries
    return [replace(s, speedup=base.median_s / s.median_s) for s in summaries]


def bench_scenario(
    scenario: Scenario,
    variants: list[str],
    codes: list[str],
    *,
    max_req: int,
    runs: int,
    server_url: str | None = None,
    run_sequential: bool = False,
    timeout: float = 10.0,
    retries: int = 2,
    on_run: Callable[[Run], None] | None = None,
) -> ScenarioResult:
    """Run `variants` over `codes` against the scenario's server; return runs and summary."""
    estimate = scenario.mean_delay > 0 and "sequential" in variants and not run_sequential
    measured = [v for v in variants if not (estimate and v == "sequential")]
    # The runs' folders go when the scenario ends, so no run pays for another's clean-up.
    with (given_or_embedded(server_url, *scenario.serve_args) as url,
          tempfile.TemporaryDirectory(prefix="flags-bench-") as root):
        result = ScenarioResult(scenario.name, url, codes, max_req)
        for number in range(1, runs + 1):
            for name in measured:
                variant = VARIANTS[name]
                options = Options(base_url=url, dest=Path(root, f"{name}-{number}"),
                                  max_req=max_req, timeout=timeout, retries=retries,
                                  transport=variant.transport, direct=server_url is None)
                report = download(codes, options, variant.mode)
                run = Run(scenario.name, name, number, report.elapsed_s, len(codes),
                          report.ok, report.not_found, report.errors)
                result.runs.append(run)
                if on_run is not None:
                    on_run(run)
    summaries = [summarize(result.runs, name) for name in measured]
    if estimate:
        summaries.insert(0, estimate_sequential(len(codes), scenario.mean_delay))
    result.summary = with_speedups(summaries)
    return result


def format_table(result: ScenarioResult) -> str:
    first, last = result.codes[0], result.codes[-1]
    runs = max((r.run for r in result.runs), default=0)
    lines = [
        f"{result.scenario} scenario: {len(result.codes)} codes ({first} to {last}), "
        f"max-req {result.max_req}, {runs} runs each, server {result.server}",
        f"{'mode':<12} {'median s':>9} {'min s':>8} {'max s':>8} {'req/s':>8} "
        f"{'ok':>5} {'404':>5} {'errors':>6} {'speed-up':>9}",
    ]
    for s in result.summary:
        speedup = "" if s.speedup is None else f"{s.speedup:.2f}x"
        if s.estimated:
            lines.append(f"{s.variant:<12} {'~' + format(s.median_s, '.0f'):>9} "
                         f"{'':>8} {'':>8} {s.requests_per_s:>8.1f} "
                         f"{'(estimated: codes x mean delay, not run)':>38}")
            continue
        lines.append(
            f"{s.variant:<12} {s.median_s:>9.3f} {s.min_s:>8.3f} {s.max_s:>8.3f} "
            f"{s.requests_per_s:>8.0f} {s.ok:>5} {s.not_found:>5} {s.errors:>6} {speedup:>9}"
        )
    return "\n".join(lines)
