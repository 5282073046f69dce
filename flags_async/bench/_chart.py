"""The bench charts: what a sweep teaches, drawn as lines; a single scenario, as bars; and
the timeline, one traced run of each mode as a waterfall.

matplotlib is imported here only, and this module only when `--plot` or `--timeline` is given.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from .._saving import write_atomically
from .._trace import Trace
from ._runner import ScenarioResult, rate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLOURS = {"sequential": "#757575", "threads": "#f0a030", "async": "#2e7d32",
           "async-httpx": "#6a9fd8"}
#: The timeline's colour for each kind of span: `_trace.Trace.events`' `cat` (ok, 404,
#: retry and error for attempts).
OUTCOME_COLOURS = {"ok": "#2e7d32", "404": "#b0b0b0", "retry": "#f0a030", "error": "#c62828",
                   "interrupted": "#8e24aa", "wait": "#ffe0a0", "save": "#1565c0"}


def check_chart_path(path: Path) -> None:
    """Raise ValueError, saying why, if a chart could not be written to `path`.

    Checked before the bench runs, so a typo costs a second, not the whole bench.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder: give a file name, such as bench.png")
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise ValueError(f"cannot draw a chart as {path.name!r}: end the name with one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    if not path.parent.is_dir():
        raise ValueError(f"no folder {str(path.parent)!r} to write the chart into")


def plot(results: list[ScenarioResult], path: Path) -> None:
    """Draw the chart that fits `results` and write it to `path` whole, in the format its
    suffix names: rates against max-req for a concurrency sweep, against latency for a latency
    sweep, else bars."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    by_max_req = any(len(_max_reqs(r)) > 1 for r in results)
    if by_max_req or (len(results) > 1 and all(r.latency_ms is not None for r in results)):
        _write(sweep_chart(results, by_max_req), path)
    else:
        _write(bar_chart(results), path)


def timeline(traces: dict[str, Trace], title: str, path: Path) -> None:
    """Draw `timeline_chart` and write it to `path` whole."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    _write(timeline_chart(traces, title), path)


def timeline_chart(traces: dict[str, Trace], title: str) -> Figure:
    """One waterfall per mode, stacked on one time axis: each request, wait and save a bar on
    its lane (a thread, or an async slot), coloured by its outcome."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(len(traces), 1, sharex=True, squeeze=False, dpi=110,
                             figsize=(11, 1.2 + 1.9 * len(traces)))
    for ax, (variant, trace) in zip(axes[:, 0], traces.items(), strict=True):
        spans = [e for e in trace.events() if e["ph"] == "X"]
        row = {tid: n for n, tid in enumerate(sorted({e["tid"] for e in spans}))}
        for outcome, colour in OUTCOME_COLOURS.items():
            mine = [e for e in spans if e["cat"] == outcome]
            ax.barh([row[e["tid"]] for e in mine], [e["dur"] / 1e6 for e in mine],
                    left=[e["ts"] / 1e6 for e in mine], height=0.8, color=colour, linewidth=0)
        ax.set_ylim(len(row) - 0.5, -0.5)
        ax.set_yticks([])
        ax.set_ylabel(f"{variant}\n{len(row)} lane{'s' if len(row) > 1 else ''}", fontsize=8)
    axes[-1, 0].set_xlabel("seconds since the download began")
    fig.legend(handles=[Patch(color=c, label=o) for o, c in OUTCOME_COLOURS.items()],
               loc="upper right", ncols=len(OUTCOME_COLOURS), fontsize=8)
    fig.suptitle(f"flags-async bench --timeline: {title}", fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def _write(fig: Figure, path: Path) -> None:
    """`fig`, in the format the suffix of `path` names, written whole, then closed."""
    import matplotlib.pyplot as plt

    image = io.BytesIO()
    fig.savefig(image, format=path.suffix.lower().lstrip("."))
    plt.close(fig)
    write_atomically(path, image.getvalue())  # a full disk leaves no half-drawn chart


def _max_reqs(result: ScenarioResult) -> list[int]:
    return sorted({s.max_req for s in result.summary if s.variant != "sequential"})


def _subtitle(results: list[ScenarioResult]) -> str:
    codes = len(results[0].codes)
    sampled = any(s.requested < len(r.codes) for r in results for s in r.summary)
    where = ("bundled server on loopback" if all(r.bundled for r in results)
             else ", ".join(sorted({r.server for r in results})))
    return f"{'up to ' if sampled else ''}{codes} requests per run, {where}; median of runs"


def sweep_chart(results: list[ScenarioResult], by_max_req: bool = False) -> Figure:
    """Requests per second, and speed-up over sequential, against the server's latency, or
    `by_max_req` against requests in flight (one line per mode and scenario; sequential, with
    one request in flight, is a level across)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, (rates, gains) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    #: label: the mode, the scenario's place (its line style), and (x, rate, speed-up) points
    lines: dict[str, tuple[str, int, list[tuple[float, float, float]]]] = {}
    for n, result in enumerate(results):
        for s in result.summary:
            if by_max_req:
                label = f"{s.variant} ({result.scenario})"
                xs: list[float] = [*_max_reqs(result)] if s.variant == "sequential" else [
                    s.max_req]
            else:
                label = s.variant if s.variant == "sequential" else f"{s.variant} -m {s.max_req}"
                n, xs = 0, [result.latency_ms or 0.0]
            points = lines.setdefault(label, (s.variant, n, []))[2]
            points += [(x, s.requests_per_s, s.speedup or 1.0) for x in xs]
    for label, (variant, n, points) in lines.items():
        x, ys, gain = zip(*sorted(points), strict=True)
        style = {"color": COLOURS[variant], "marker": "o", "label": label,
                 "linestyle": ["-", "--", ":", "-."][n % 4]}
        rates.plot(x, ys, **style)
        gains.plot(x, gain, **style)
    ticks = sorted({x for _, _, points in lines.values() for x, _, _ in points})
    for ax in (rates, gains):
        if by_max_req:
            ax.set_xscale("log")
        else:
            ax.set_xscale("symlog", linthresh=1.0)  # 0 ms is shown, and 1 to 50 ms spread out
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.set_xlabel("--max-req: requests in flight" if by_max_req
                      else "server latency per response, ms")
        ax.set_yscale("log")
        ax.grid(which="both", alpha=0.25)
    rates.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    gains.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
    rates.set_ylabel("requests per second (log scale; higher is better)")
    rates.set_title(f"Requests per second\n{_subtitle(results)}", fontsize=9)
    gains.set_ylabel("speed-up over sequential (log scale)")
    gains.axhline(1.0, color=COLOURS["sequential"], linewidth=1, linestyle="--")
    gains.set_title("Speed-up over sequential", fontsize=9)
    rates.legend(fontsize=7)
    fig.suptitle("flags-async bench: " + ("how each mode scales" if by_max_req
                                          else "the latency sweep"), fontsize=11)
    fig.tight_layout()
    return fig


def bar_chart(results: list[ScenarioResult]) -> Figure:
    """Requests per second of each mode, one group per scenario, on a linear axis; whiskers
    from the slowest to the fastest run; errors written above their bar."""
    import matplotlib.pyplot as plt

    variants = [v for v in COLOURS if any(s.variant == v for r in results for s in r.summary)]
    width = 0.8 / max(1, len(variants))
    fig, ax = plt.subplots(figsize=(3.5 + 2.6 * len(results), 5), dpi=110)
    for i, variant in enumerate(variants):
        for g, result in enumerate(results):
            for s in (s for s in result.summary if s.variant == variant):
                x = g + (i - (len(variants) - 1) / 2) * width
                slow, fast = s.requested / s.max_s, s.requested / s.min_s
                ax.bar(x, s.requests_per_s, width * 0.92, color=COLOURS[variant],
                       label=variant if g == 0 else None,
                       yerr=[[s.requests_per_s - slow], [fast - s.requests_per_s]], capsize=3)
                note = rate(s.requests_per_s) + (f"\n{s.errors} errors" if s.errors else "")
                ax.annotate(note, (x, fast), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 2), textcoords="offset points",
                            color="#b00020" if s.errors else "black")
    ax.set_ylabel("requests per second (higher is better)")
    ax.set_xticks(range(len(results)),
                  [f"{r.scenario}\n{len(r.codes)} codes" for r in results])
    ax.margins(y=0.15)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", alpha=0.25)
    ax.set_title("flags-async bench: median of runs, whiskers slowest to fastest",
                 fontsize=10)
    fig.tight_layout()
    return fig
