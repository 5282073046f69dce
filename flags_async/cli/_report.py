"""What a person sees: the book's initial and final reports, and progress while it runs."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from .._models import Mode, OnResult, Report, Result, Status, TransportName, ignore_result
from .._urls import without_password

_IMPORTED = time.monotonic()


def process_seconds() -> float:
    """Seconds since this process started, start-up and imports included: from the kernel's
    clock (to 10 ms) on Linux; elsewhere, since this module was imported."""
    try:
        after_name = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(after_name[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


def initial_report(
    label: str, url: str, cc_list: list[str], actual_req: int, mode: Mode,
    transport: TransportName, proxy: str | None = None,
) -> str:
    """The book's opening lines, and the proxy the requests go through, if any: one set in
    the environment is easily forgotten."""
    few = len(cc_list) <= 10
    cc_msg = ", ".join(cc_list) if few else f"from {cc_list[0]} to {cc_list[-1]}"
    plural = "s" if len(cc_list) != 1 else ""
    if actual_req == 1:
        connections = "1 connection will be used."
    else:
        connections = f"{actual_req} concurrent connections will be used."
    return "\n".join([
        f"{label} site: {without_password(url)}",
        *([f"Through the proxy {without_password(proxy)}"] if proxy else []),
        f"Searching for {len(cc_list)} flag{plural}: {cc_msg}",
        connections,
        f"Mode: {mode.value}, {transport.value} transport.",
    ])


def counts_report(report: Report, *, reasons: bool = False) -> str:
    """The book's counts; with `reasons`, the errors grouped by reason, most frequent first."""
    plural = "s" if report.ok != 1 else ""
    errors_plural = "s" if report.errors != 1 else ""
    why = ""
    if reasons and report.errors:
        counted = Counter(r.error for r in report.results if r.status is Status.ERROR)
        why = ": " + ", ".join(f"{count} {reason}" for reason, count in counted.most_common())
    lines = [
        f"{report.ok:3} flag{plural} downloaded.",
        f"{report.not_found:3} not found.",
        f"{report.errors:3} error{errors_plural}{why}.",
    ]
    if report.skipped:
        lines.append(f"{report.skipped:3} already there, kept.")
    return "\n".join(lines)


def nothing_found(report: Report) -> str | None:
    """When every code asked for answered 404, countries among them, the server URL is
    probably wrong: say so, with the URL tried for a country. (AA, AB and AC are not
    countries: their 404s are right.)"""
    if report.interrupted or not report.results or report.not_found != report.requested:
        return None
    from .._codes import country_codes
    from ..client._fetch import flag_url

    countries = set(country_codes())
    cc = next((r.cc for r in report.results if r.cc in countries), None)
    if cc is None:
        return None
    return (f"Every code answered 404 Not Found: is the server URL right? "
            f"For {cc} it asked for {without_password(flag_url(report.server, cc))}")


def interrupted_line(report: Report) -> str:
    return f"Interrupted: {len(report.results)} of {report.requested} codes done."


def final_report(report: Report, hint: str | None = None) -> str:
    """The book's final report, and `hint` (what the result suggests is wrong) at its end."""
    lines = ["-" * 20, counts_report(report, reasons=True)]
    if by_code := sum(result.named_by == "code" for result in report.results):
        lines.append(f"{by_code} saved as <cc>.gif: their metadata.json was unusable.")
    if limited := rate_limited(report):
        lines.append(limited)
    lines.append(f"Elapsed time: {report.elapsed_s:.2f}s")
    if report.interrupted:
        lines.append(interrupted_line(report))
    if hint:
        lines.append(hint)
    return "\n".join(lines)


def rate_limited(report: Report) -> str | None:
    """What the server's refusals did to the run, if it refused any."""
    if not report.refused:
        return None
    were, them = ("answer was", "it") if report.refused == 1 else ("answers were", "them")
    if report.settled_rate is None:
        return f"{report.refused:,} {were} 429 or 503; the run did not slow down for {them}."
    return (f"The server limited the rate: {report.refused:,} {were} 429 or 503; the run "
            f"settled at about {report.settled_rate:.3g} requests/s.")


def line_printer(out: TextIO | None) -> Callable[[str], None]:
    """A callback that prints each message on a line of its own on `out` (None: nowhere)."""
    def say(message: str) -> None:
        if out is not None:  # the line in one write: threads print too
            out.write(f"{message}\n")
            out.flush()

    return say


def result_line(result: Result) -> str:
    """One line per code for `--verbose`: `BR ok`, `XX not found`, `ZZ error: HTTP 503`, and
    `AD ok, as ad.gif` when `--names` found no usable name."""
    text = f"{result.cc} {result.status.value.replace('_', ' ')}"
    if result.named_by == "code" and result.path is not None:
        text += f", as {result.path.name}"
    if result.status is Status.ERROR:
        text += f": {result.error}"
    if result.attempts > 1:
        text += f" ({result.attempts} attempts)"
    return text


@contextlib.contextmanager
def progress(total: int, *, verbose: bool, out: TextIO | None) -> Iterator[OnResult]:
    """A per-code callback: a line each on `out` with `verbose`, else a tqdm bar on a
    terminal's stderr; nothing where the stream is closed (Python's None: `2>&-`)."""
    if verbose and out is not None:
        def print_line(result: Result) -> None:
            out.write(f"{result_line(result)}\n")  # in one write: threads print too
            out.flush()

        yield print_line
        return
    if verbose or sys.stderr is None or not sys.stderr.isatty():
        yield ignore_result
        return
    from tqdm import tqdm  # only when there is a terminal to draw on

    tqdm.monitor_interval = 0  # no monitor thread: a Ctrl-C it took would wake nothing
    with tqdm(total=total, unit="flag", file=sys.stderr, leave=False) as bar:

        def advance(result: Result) -> None:
            bar.update()

        yield advance

