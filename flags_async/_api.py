"""`download()`, the public entry point: pick the strategy, time the download phase, report."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ._codes import checked_codes
from ._models import Mode, OnResult, Options, Report, Result, TransportName, ignore_result
from ._saving import prepare_dest
from ._trace import Trace

if TYPE_CHECKING:
    from .client._retry import Policy


class DownloadMany(Protocol):
    """The one swappable piece: fetch and save `cc_list`, calling `on_result` per code as it
    ends, every attempt paced and retried by `policy` (a new one by default). After a Ctrl-C
    a mode hands over every result it has again: `download` counts each code once."""

    def __call__(self, cc_list: list[str], options: Options, on_result: OnResult,
                 policy: Policy | None = None) -> list[Result]:
        ...


def strategy(mode: Mode) -> DownloadMany:
    """The `download_many` of a mode, imported on demand so start-up stays light."""
    if mode is Mode.ASYNC:
        from .client._async import download_many
    elif mode is Mode.THREADS:
        from .client._threads import download_many
    else:
        from .client._sequential import download_many
    return download_many


def warm_up(mode: Mode, transport: TransportName) -> None:
    """Import what a download in `mode` will use, now: a caller that starts a server meanwhile
    overlaps the two, and the download phase does not pay for imports."""
    from .client._http import load_transport

    strategy(mode)
    load_transport(transport if mode is Mode.ASYNC else TransportName.HTTPX)


def _within_fd_limit(options: Options, mode: Mode, codes: int) -> Options:
    """`options`, its `max_req` lowered, with a `RuntimeWarning` saying so, if the process
    may not open that many sockets at once (`client._limits`): every request beyond the
    limit would fail. The command line fits the limit before it reports the concurrency."""
    from .client._limits import fit_fd_limit

    wanted = 1 if mode is Mode.SEQUENTIAL else min(options.max_req, codes)
    fits, note = fit_fd_limit(wanted)
    if fits >= wanted:
        return options
    warnings.warn(note or "", RuntimeWarning, stacklevel=3)  # shown by default
    return dataclasses.replace(options, max_req=fits)


def _event_loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, from the CLI) during a download. `report` holds what completed.

    A KeyboardInterrupt, as the Ctrl-C it stands for: a caller's `except Exception` lets it
    through, and one that handles Ctrl-C handles it."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"interrupted: {len(report.results)} of {report.requested} codes done")
        self.report = report


def download(
    cc_list: list[str],
    options: Options,
    mode: Mode = Mode.ASYNC,
    on_result: OnResult | None = None,
    on_pace: Callable[[str], None] | None = None,
    trace: Trace | None = None,
) -> Report:
    """Download `cc_list` into `options.dest` and report; the public entry point.

    Each code, two letters in either case, is asked for once, however often it is listed;
    anything else is a `CodeError` before any request. `on_result` runs on the calling
    thread, once per code as it ends; what it raises stops the run and comes out of this
    function. `on_pace` is told, in a sentence, when the run slows down, pauses or speeds
    up because the server refused requests (from any thread). A `trace` records every
    request and save, also of an interrupted run (see `Trace.write`). `elapsed_s` covers the
    download phase alone: imports, the TLS trust store and the folder come first. A `max_req`
    the process has too few file descriptors for raises the soft open-file limit, within the
    hard one, or else is lowered, with a `RuntimeWarning`. On KeyboardInterrupt, raises
    `Interrupted` with the codes that completed. Async mode runs its own event loop, so it
    is a `RuntimeError` in a thread that runs one.
    """
    from .client._http import ssl_context
    from .client._retry import Policy

    if isinstance(cc_list, str):
        raise TypeError(f"cc_list is a list of codes, not a string: use [{cc_list!r}]")
    if not isinstance(options, Options):
        raise TypeError(f"options is an Options, not {options!r}: use Options(base_url=...)")
    cc_list = checked_codes(cc_list)
    mode = Mode(mode)  # "async" will do; "fast" is a ValueError naming the modes
    if mode is Mode.ASYNC and _event_loop_running():
        raise RuntimeError("download() in async mode runs its own event loop, and this thread "
                           "runs one already (a notebook, an async app): call it in a thread, "
                           "`await asyncio.to_thread(download, ...)`")
    download_many = strategy(mode)
    warm_up(mode, options.transport)  # like the trust store, per-process start-up
    ssl_context(options.cacert)
    prepare_dest(options.dest)
    options = _within_fd_limit(options, mode, len(cc_list))
    done: dict[str, Result] = {}
    notify = on_result or ignore_result
    policy = Policy(options, on_pace, trace)

    def collect(result: Result) -> None:
        if result.cc not in done:  # a mode ending on Ctrl-C may hand a result over twice
            done[result.cc] = result
            notify(result)

    def report(results: list[Result], interrupted: bool = False) -> Report:
        return Report(
            server=options.base_url,
            mode=mode,
            transport=options.transport_in(mode),
            results=sorted(results, key=lambda r: r.cc),
            elapsed_s=time.perf_counter() - t0,
            requested=len(cc_list),
            interrupted=interrupted,
            refused=policy.throttle.refusals,
            settled_rate=policy.throttle.settled_rate(),
        )

    t0 = time.perf_counter()
    if trace is not None:
        trace.start(mode)
    try:
        return report(download_many(cc_list, options, collect, policy))
    except KeyboardInterrupt:
        raise Interrupted(report(list(done.values()), interrupted=True)) from None
