"""Running one download: pick the strategy, time the download phase, collect the report."""

from __future__ import annotations

import importlib
import time
from typing import Protocol

from ._models import Mode, OnResult, Options, Report, Result, TransportName, ignore_result

_STRATEGY_MODULES = {
    Mode.ASYNC: "._async",
    Mode.THREADS: "._threads",
    Mode.SEQUENTIAL: "._sequential",
}


class DownloadMany(Protocol):
    """The one swappable piece: fetch and save `cc_list`, calling `on_result` per code."""

    def __call__(self, cc_list: list[str], options: Options, on_result: OnResult) -> list[Result]:
        ...


def strategy(mode: Mode) -> DownloadMany:
    """The `download_many` of a mode, imported on demand so start-up stays light."""
    module = importlib.import_module(_STRATEGY_MODULES[mode], __package__)
    download_many: DownloadMany = module.download_many
    return download_many


def download(
    cc_list: list[str],
    options: Options,
    mode: Mode = Mode.ASYNC,
    on_result: OnResult | None = None,
) -> Report:
    """Download `cc_list` into `options.dest` and report; the public entry point.

    `elapsed_s` covers the download phase alone: imports, the TLS trust store and the folder
    come first.
    """
    from ._clients import ssl_context

    download_many = strategy(mode)
    ssl_context()  # like the imports above, per-process start-up: not the download phase
    options.dest.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = download_many(cc_list, options, on_result or ignore_result)
    elapsed = time.perf_counter() - t0
    transport = options.transport if mode is Mode.ASYNC else TransportName.HTTPX
    return Report(
        server=options.base_url,
        mode=mode,
        transport=transport,
        results=sorted(results, key=lambda r: r.cc),
        elapsed_s=elapsed,
    )
