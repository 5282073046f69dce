"""The bench chart: medians as bars, min-max as whiskers, one group per scenario.

matplotlib is imported here only, and this module only when `--plot` is given.
"""

from __future__ import annotations

import io
from pathlib import Path

from .._saving import write_atomically
from ._runner import ScenarioResult

COLOURS = {"sequential": "#9e9e9e", "threads": "#f0a030", "async": "#2e7d32",
           "async-httpx": "#6a9fd8"}


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
    """Draw the chart and write it to `path` whole, in the format its suffix names."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    variants = [v for v in COLOURS if any(s.variant == v for r in results for s in r.summary)]
    width = 0.8 / max(1, len(variants))
    fig, ax = plt.subplots(figsize=(3.2 + 2.4 * len(results), 4.6), dpi=110)
    for i, variant in enumerate(variants):
        xs, medians, low, high, tops, hatches = [], [], [], [], [], []
        for g, result in enumerate(results):
            for s in result.summary:
                if s.variant == variant:
                    xs.append(g + (i - (len(variants) - 1) / 2) * width)
                    medians.append(s.median_s)
                    low.append(s.median_s - s.min_s)
                    high.append(s.max_s - s.median_s)
                    tops.append(s.max_s)
                    hatches.append("//" if s.estimated else "")
        bars = ax.bar(xs, medians, width * 0.92, label=variant, color=COLOURS[variant],
                      yerr=[low, high], capsize=3, error_kw={"elinewidth": 1})
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)  # an estimate, not a measurement
        for bar, median, top in zip(bars, medians, tops, strict=True):
            ax.annotate(f"{median:.2f}s" if median < 100 else f"~{median:.0f}s",
                        (bar.get_x() + bar.get_width() / 2, top), ha="center",
                        va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("download phase, seconds (log scale; lower is better)")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([f"{r.scenario}\n{len(r.codes)} codes, max-req {r.max_req}"
                        for r in results])
    ax.set_title("flags-async bench: median of runs, whiskers min to max; "
                 "hatched = estimated, not run", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format=path.suffix.lower().lstrip("."))
    plt.close(fig)
    write_atomically(path, image.getvalue())  # a full disk leaves no half-drawn chart
