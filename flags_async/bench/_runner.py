"""Benchmarking the modes side by side: the numbers users come to this project for.

A scenario is a kind of server: the bundled one with a fixed latency per response (a sweep runs
several), or a preset of the book's (0.5-5 s delays, errors). Each starts its own bundled server
in a child process (so the server never shares the client's interpreter or event loop), then
runs every variant `runs` times at each `max_req`, alternating variants so that drift in a noisy
machine hits them all alike, each run into a fresh folder. The folders are deleted when the
scenario ends, so that no run's timing includes another run's clean-up.

Every figure is measured. Sequential mode against a slow server would take minutes, so it runs
over an even sample of the codes, sized to take about `SEQUENTIAL_BUDGET_S`; rates (requests per
second) are what is compared, and the table says how many codes each mode asked for.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .._api import download
from .._models import Mode, Options, TransportName
from .._trace import Trace
from .._urls import without_password
from ..server._embedded import given_or_started
from ..server._faults import PRESETS, Faults

#: About how long one sequential run may take: it runs over fewer codes where all would take longer.
SEQUENTIAL_BUDGET_S = 2.0
#: The smallest sample sequential runs over, however slow the server.
MIN_SEQUENTIAL_CODES = 5


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
    """A kind of server, and the defaults that keep the default bench within 3 minutes."""

    name: str
    faults: Faults  # what the bundled server does (unused with a server of the user's)
    codes: str  # "every" (676) or "all" (194)
    max_req: int
    runs: int
    #: The server's wait per response in milliseconds, if it is fixed: the sweep's x axis.
    latency_ms: float | None = None

    @property
    def mean_wait_s(self) -> float:
        """The server's mean wait per response: sizes sequential's sample, nothing else."""
        if self.latency_ms is not None:
            return self.latency_ms / 1000
        low, high = self.faults.delay or (0.0, 0.0)
        return (low + high) / 2


def latency_scenario(ms: float) -> Scenario:
    """The bundled server answering every request `ms` milliseconds late."""
    return Scenario(f"latency {ms:g} ms", Faults(delay=(ms / 1000, ms / 1000)), "every",
                    max_req=100, runs=3, latency_ms=ms)


def given_server_scenario() -> Scenario:
    """A server of the user's (`-s`) whose latency nobody has said: every code for every mode
    (the table says how long sequential took), since no wait is known to size a sample by."""
    return Scenario("given server", Faults(), "every", max_req=100, runs=3)


#: `make bench`'s sweep: from loopback (CPU-bound) to a distant server (waiting-bound).
DEFAULT_LATENCIES = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
#: A concurrency sweep's: the fast server (CPU-bound) and a 20 ms network (waiting-bound).
CONCURRENCY_LATENCIES = (0.0, 20.0)

SCENARIOS = {
    s.name: s
    for s in (
        Scenario("fast", PRESETS["local"].faults, "every", max_req=100, runs=5, latency_ms=0.0),
        Scenario("delay", PRESETS["delay"].faults, "all", max_req=1000, runs=2),
        Scenario("error", PRESETS["error"].faults, "all", max_req=1000, runs=2),
        # 40 requests a second for each client, 10 at once, and 429 beyond, no Retry-After
        Scenario("limited", Faults(rate_limit=40, burst=10), "every", max_req=100, runs=1),
    )
}


@dataclass(frozen=True, slots=True)
class Run:
    scenario: str
    variant: str
    max_req: int
    run: int
    elapsed_s: float
    requested: int
    ok: int
    not_found: int
    errors: int


@dataclass(frozen=True, slots=True)
class Summary:
    variant: str
    max_req: int
    requested: int
    median_s: float
    min_s: float
    max_s: float
    requests_per_s: float
    ok: int
    not_found: int
    errors: int
    #: This variant's requests per second over sequential's, in the same scenario.
    speedup: float | None = None


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    server: str
    codes: list[str]
    latency_ms: float | None = None
    runs: list[Run] = field(default_factory=list)
    summary: list[Summary] = field(default_factory=list)
    bundled: bool = True  # the bundled server, started for the scenario; else the user's

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["codes"] = len(self.codes)
        return data


def sample(codes: list[str], mean_wait_s: float, max_req: int = 1) -> list[str]:
    """An even sample of `codes` that a mode with `max_req` requests in flight gets through in
    about `SEQUENTIAL_BUDGET_S` against a server waiting `mean_wait_s` per response: every code
    where that is quick, as it is for all but sequential mode (or `-m 1`) on a slow server."""
    if mean_wait_s <= 0:
        return codes
    size = max_req * max(MIN_SEQUENTIAL_CODES, math.floor(SEQUENTIAL_BUDGET_S / mean_wait_s))
    if size >= len(codes):
        return codes
    step = len(codes) / size
    return [codes[math.floor(i * step)] for i in range(size)]


def summarize(runs: list[Run], variant: str, max_req: int) -> Summary:
    mine = [r for r in runs if r.variant == variant and r.max_req == max_req]
    times = [r.elapsed_s for r in mine]
    median = statistics.median(times)
    middle = min(mine, key=lambda r: abs(r.elapsed_s - median))  # counts of a typical run
    return Summary(variant, max_req, middle.requested, median, min(times), max(times),
                   middle.requested / median, middle.ok, middle.not_found, middle.errors)


def with_speedups(summaries: list[Summary]) -> list[Summary]:
    """Each summary with its rate over sequential's (None without a sequential row)."""
    base = next((s for s in summaries if s.variant == "sequential"), None)
    if base is None:
        return summaries
    return [replace(s, speedup=s.requests_per_s / base.requests_per_s) for s in summaries]


def bench_scenario(
    scenario: Scenario,
    variants: list[str],
    codes: list[str],
    *,
    max_reqs: list[int],
    runs: int,
    server_url: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    on_run: Callable[[Run], None] | None = None,
    traced: dict[str, Trace] | None = None,
) -> ScenarioResult:
    """Run `variants` over `codes` at each of `max_reqs` against the scenario's server; with
    `traced`, then one more run of each at the first `max_reqs`, traced, into `traced` (told to
    `on_run` as run 0, and left out of the summary).

    Sequential mode, which has one request in flight whatever `max_req` says, runs once per
    round. A mode that would take long over every code runs over an even `sample` of them.
    """
    plan = [(name, 1 if name == "sequential" else m)
            for m in max_reqs for name in variants if name != "sequential" or m == max_reqs[0]]
    # The runs' folders go when the scenario ends, so no run pays for another's clean-up.
    with (given_or_started(server_url, scenario.faults, in_child=True) as server,
          tempfile.TemporaryDirectory(prefix="flags-bench-") as root):
        url = server()

        def run_one(name: str, max_req: int, number: int, trace: Trace | None = None) -> Run:
            variant = VARIANTS[name]
            cc_list = sample(codes, scenario.mean_wait_s, max_req)
            options = Options(base_url=url, dest=Path(root, f"{name}-{max_req}-{number}"),
                              max_req=max_req, timeout=timeout, retries=retries,
                              transport=variant.transport, direct=server_url is None)
            report = download(cc_list, options, variant.mode, trace=trace)
            return Run(scenario.name, name, max_req, number, report.elapsed_s, len(cc_list),
                       report.ok, report.not_found, report.errors)

        result = ScenarioResult(scenario.name, without_password(url), codes,
                                scenario.latency_ms, bundled=server_url is None)
        for number in range(1, runs + 1):
            for name, max_req in plan:
                result.runs.append(run := run_one(name, max_req, number))
                if on_run is not None:
                    on_run(run)
        for name, max_req in plan[:len(variants)]:
            if traced is not None:  # a run of its own (number 0): no timed run is traced
                run = run_one(name, max_req, 0, traced.setdefault(name, Trace()))
                if on_run is not None:
                    on_run(run)
    result.summary = with_speedups([summarize(result.runs, name, m) for name, m in plan])
    return result


def format_table(result: ScenarioResult) -> str:
    first, last = result.codes[0], result.codes[-1]
    runs = max((r.run for r in result.runs), default=0)
    lines = [
        f"{result.scenario} scenario: {len(result.codes)} codes ({first} to {last}), "
        f"{runs} run{'' if runs == 1 else 's'} each, server {result.server}",
        f"{'mode':<12} {'max-req':>7} {'codes':>5} {'median s':>9} {'min s':>8} {'max s':>8} "
        f"{'req/s':>8} {'ok':>5} {'404':>5} {'errors':>6} {'vs seq':>8}",
    ]
    for s in result.summary:
        speedup = "" if s.speedup is None else f"{s.speedup:.2f}x"
        lines.append(
            f"{s.variant:<12} {s.max_req:>7} {s.requested:>5} {s.median_s:>9.3f} "
            f"{s.min_s:>8.3f} {s.max_s:>8.3f} {rate(s.requests_per_s):>8} {s.ok:>5} "
            f"{s.not_found:>5} {s.errors:>6} {speedup:>8}")
    for s in result.summary:
        if s.requested < len(result.codes):
            why = ("the smallest sample, however slow the server"
                   if s.requested <= s.max_req * MIN_SEQUENTIAL_CODES
                   else f"to take about {SEQUENTIAL_BUDGET_S:g} s")
            lines.append(f"{s.variant} -m {s.max_req} ran over {s.requested} of the "
                         f"{len(result.codes)} codes, evenly spread, {why}; 'vs seq' "
                         f"compares requests per second")
    return "\n".join(lines)


def format_sweep(results: list[ScenarioResult]) -> str:
    """Requests per second of each variant across a sweep: one row per scenario and max-req,
    with async's ratio to sequential and to threads in the same row."""
    variants = list(dict.fromkeys(s.variant for r in results for s in r.summary))
    # A ratio column only where both of its modes ran.
    others = [v for v in ("sequential", "threads") if "async" in variants and v in variants]
    headings = {"sequential": "async/seq", "threads": "async/threads"}
    lines = ["requests per second (medians)",
             f"{'scenario':<16}{'max-req':>8}" + "".join(f"{v:>13}" for v in variants)
             + "".join(f"{headings[v]:>15}" for v in others)]
    for result in results:
        rates = {(s.variant, s.max_req): s.requests_per_s for s in result.summary}
        sequential = next((rate for (v, _), rate in rates.items() if v == "sequential"), None)
        concurrent = {m for v, m in rates if v != "sequential"}
        for max_req in sorted(concurrent or {m for _, m in rates}):  # or sequential alone
            row = {v: rates.get((v, max_req)) for v in variants}
            row["sequential"] = sequential
            cells = "".join(f"{rate(r) if (r := row[v]) else '':>13}" for v in variants)
            ratios = "".join(f"{_ratio(row, v):>15}" for v in others)
            lines.append(f"{result.scenario:<16}{max_req:>8}{cells}{ratios}")
    return "\n".join(lines)


def rate(requests_per_s: float) -> str:
    """A rate to read: whole requests per second, or two figures below 10 (0.37, not 0)."""
    return f"{requests_per_s:.0f}" if requests_per_s >= 10 else f"{requests_per_s:.2g}"


def _ratio(rates: dict[str, float | None], other: str) -> str:
    """Async's rate over `other`'s, as `12.3x`, or blank."""
    mine, theirs = rates.get("async"), rates.get(other)
    return "" if not mine or not theirs else f"{mine / theirs:.1f}x"
