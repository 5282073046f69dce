"""`download --trace`: a Chrome trace of every request and save, honest in every mode."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from flags_async import Mode, Options, Trace, download, select_codes
from flags_async.server._app import make_app
from flags_async.server._catalogue import Catalogue
from flags_async.server._faults import Faults
from tests.conftest import cli_process, serving
from tests.test_ctrl_c import NEVER_ANSWERED, QUICK, TRY_AGAIN_LATER, stalling_app

MODES = [
    pytest.param(Mode.SEQUENTIAL, "httpx", id="sequential"),
    pytest.param(Mode.THREADS, "httpx", id="threads"),
    pytest.param(Mode.ASYNC, "aiohttp", id="async-aiohttp"),
    pytest.param(Mode.ASYNC, "httpx", id="async-httpx"),
]
#: The keys the trace-event format requires of each kind of event ("ph").
REQUIRED = {"X": {"name", "ph", "ts", "dur", "pid", "tid"}, "i": {"name", "ph", "ts", "pid", "tid"},
            "M": {"name", "ph", "pid", "tid", "args"}}
REQUESTS = {"ok", "404", "retry", "error", "interrupted"}


def counting(app: web.Application, seen: list[str]) -> web.Application:
    """`app`, noting the path of every GET it receives (not the command line's HEAD probe)."""

    @web.middleware
    async def count(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.method == "GET":
            seen.append(request.path)
        return await handler(request)

    app.middlewares.append(count)
    return app


@contextmanager
def counted_server(catalogue: Catalogue, faults: Faults, seen: list[str]) -> Iterator[str]:
    """The bundled server with `faults`, noting the path of every GET it receives."""
    with serving(lambda: counting(make_app(faults, catalogue, random.Random(3)), seen)) as url:
        yield url


def paths(requests: list[dict[str, Any]]) -> Counter[str]:
    return Counter("/" + e["args"]["url"].split("/", 3)[3] for e in requests)


def valid_events(text: str) -> list[dict[str, Any]]:
    """The events of a trace file, checked against the format: each has its kind's keys."""
    events: list[dict[str, Any]] = json.loads(text)["traceEvents"]
    for event in events:
        assert REQUIRED[event["ph"]] <= event.keys(), event
        if event["ph"] == "X":
            assert event["ts"] >= 0 and event["dur"] >= 0, event
        if event["ph"] == "M":
            assert event["name"] in {"process_name", "thread_name"} and event["args"]["name"]
    return events


def lanes(events: list[dict[str, Any]]) -> dict[int, str]:
    return {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}


def overlapping(spans: list[dict[str, Any]]) -> int:
    """The most spans under way at one moment."""
    edges = sorted([(e["ts"], 1) for e in spans] + [(e["ts"] + e["dur"], -1) for e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


@pytest.mark.parametrize(("mode", "transport"), MODES)
def test_the_trace_holds_every_request_the_server_saw_on_lanes_that_fit_the_mode(
    catalogue: Catalogue, tmp_path: Path, mode: Mode, transport: str,
) -> None:
    """Flags, metadata (`--names`), 404s, 418s, HTML pages as GIFs and bodies cut short,
    retried: each attempt is one event with its number and bytes, the same requests the
    server counted, an attempt retried followed by its wait and the next attempt, the last
    one's outcome the code's; on lanes that are the mode's threads or slots, none of which
    does two things at once; and saves. (Not resets: aiohttp resends a request once, unseen,
    on a kept-alive connection that turns out closed.)"""
    seen: list[str] = []
    codes = select_codes(["A", "B"])  # 52 codes, 28 of them countries
    faults = Faults(truncate_rate=0.15, error_rate=0.05, garbage_rate=0.05)
    with counted_server(catalogue, faults, seen) as url:
        options = Options(base_url=url, dest=tmp_path, max_req=4, names=True, backoff=0.01,
                          transport=transport)  # type: ignore[arg-type]
        trace = Trace()
        report = download(codes, options, mode, trace=trace)
        trace.write(tmp_path / "trace.json")
    events = valid_events((tmp_path / "trace.json").read_text())
    requests = [e for e in events if e.get("cat") in REQUESTS]
    assert paths(requests) == Counter(seen)
    by_url: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(requests, key=lambda e: e["ts"]):
        by_url.setdefault(event["args"]["url"], []).append(event)
    waits = {(e["args"]["url"], e["ts"]) for e in events if e.get("cat") == "wait"}
    for url, attempts in by_url.items():
        assert [e["args"]["attempt"] for e in attempts] == list(range(1, len(attempts) + 1))
        assert all(e["cat"] == "retry" for e in attempts[:-1]) and attempts[-1]["cat"] != "retry"
        assert all((url, e["ts"] + e["dur"]) in waits for e in attempts[:-1])
    assert len(waits) == sum(e["cat"] == "retry" for e in requests) > 0
    last = {url[-6:-4].upper(): attempts[-1] for url, attempts in by_url.items()
            if url.endswith(".gif")}
    assert {cc: e["cat"] for cc, e in last.items()} == {
        r.cc: {"ok": "ok", "not_found": "404", "error": "error"}[r.status.value]
        for r in report.results}
    assert {cc: e["args"]["bytes"] for cc, e in last.items() if e["cat"] == "ok"} == {
        r.cc: r.size for r in report.results if r.status.value == "ok"}
    assert report.errors > 0 and report.not_found > 0
    saves = [e for e in events if e.get("cat") == "save"]
    assert sorted(e["name"] for e in saves) == sorted(
        r.cc for r in report.results if r.status.value == "ok")
    named = lanes(events)
    request_lanes = {e["tid"] for e in requests}
    if mode is Mode.SEQUENTIAL:
        assert [named[tid] for tid in request_lanes] == ["main thread"]
    elif mode is Mode.THREADS:
        assert 1 < len(request_lanes) <= 4
        assert all(named[tid].startswith("thread ") for tid in request_lanes)
    else:
        assert 1 < len(request_lanes) <= 4
        assert all(named[tid].startswith("slot ") for tid in request_lanes)
        assert {named[e["tid"]] for e in saves} == {"writer thread"}
    for tid in request_lanes:  # a thread, or a slot, does one thing at a time
        busy = [e for e in events if e["ph"] == "X" and e["tid"] == tid and e["cat"] != "save"]
        assert overlapping(busy) == 1, named[tid]


def test_async_keeps_max_req_requests_in_flight_and_sequential_one(
    catalogue: Catalogue, tmp_path: Path,
) -> None:
    """Against a server that answers each request 0.2 s late, async at -m 100 has about 100
    requests under way at once; sequential's never overlap."""
    seen: list[str] = []
    with counted_server(catalogue, Faults(delay=(0.2, 0.2)), seen) as url:
        flows = {}
        for mode, codes in ((Mode.ASYNC, select_codes(all_cc=True)),
                            (Mode.SEQUENTIAL, ["AD", "AE", "AF", "AG", "AI"])):
            trace = Trace()
            download(codes, Options(base_url=url, dest=tmp_path / mode.value), mode, trace=trace)
            flows[mode] = overlapping([e for e in trace.events() if e.get("cat") == "ok"])
    assert flows[Mode.SEQUENTIAL] == 1
    assert 90 <= flows[Mode.ASYNC] <= 100


@pytest.mark.parametrize("mode", ["sequential", "threads", "async"])
@pytest.mark.parametrize(("waiting", "cut_short"), [
    pytest.param(NEVER_ANSWERED, "interrupted", id="reads-under-way"),
    pytest.param(TRY_AGAIN_LATER, "retry", id="back-offs-under-way"),
])
@pytest.mark.usefixtures("ctrl_c_enabled")
def test_an_interrupted_run_still_writes_a_valid_trace_of_what_it_did(
    catalogue: Catalogue, tmp_path: Path, mode: str, waiting: list[str], cut_short: str,
) -> None:
    """Ctrl-C after three flags are saved, once the server has received the other requests
    and left them unanswered (all of them; the next one, in sequential mode), or answered one
    503 with a 30-s Retry-After (which pauses the run): the command exits 130 and writes a
    trace of every request the server received, the three saved, and the others cut short,
    or retried and waiting (or cut short, if the 503 came as Ctrl-C did)."""
    trace_file, seen = tmp_path / "run.json", []
    asked = {f"/flags/{cc.lower()}/{cc.lower()}.gif" for cc in waiting}
    needed = 1 if mode == "sequential" or cut_short == "retry" else len(waiting)
    with serving(lambda: counting(stalling_app(catalogue), seen)) as url:
        child = cli_process("download", *QUICK, *waiting, "-v", "-s", url, "--mode", mode,
                            "-d", str(tmp_path / "flags"), "--trace", str(trace_file))
        assert child.stdout is not None
        saved, paused = [], cut_short != "retry"  # the client has a 503 once `-v` says so
        for line in child.stdout:
            saved += [line.split()[0]] if line.endswith(" ok\n") else []
            paused = paused or "the run pauses" in line
            if len(saved) == len(QUICK) and paused:
                break
        assert sorted(saved) == QUICK and paused
        time.sleep(0.2)  # `-v` speaks while the 503 is being recorded: let it finish
        deadline = time.monotonic() + 10
        while len(asked & set(seen)) < needed and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGINT)
        _, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    events = valid_events(trace_file.read_text())
    requests = [e for e in events if e.get("cat") in REQUESTS]
    assert paths(requests) == Counter(seen) and len(asked & set(seen)) >= needed
    assert sorted(e["name"] for e in requests if e["cat"] == "ok") == QUICK
    ends = Counter(e["cat"] for e in requests if e["name"] not in QUICK)
    assert ends[cut_short] >= 1 and set(ends) <= {cut_short, "interrupted"}
    assert sum(e.get("cat") == "wait" for e in events) == ends["retry"]
    assert sorted(e["name"] for e in events if e.get("cat") == "save") == QUICK


def test_the_run_s_slow_downs_and_speed_ups_are_instant_events(
    catalogue: Catalogue, tmp_path: Path,
) -> None:
    """Against a server that limits the rate, what the run did about it is in the trace."""
    seen: list[str] = []
    with counted_server(catalogue, Faults(rate_limit=100, burst=2), seen) as url:
        trace = Trace()
        report = download(select_codes(all_cc=True), Options(base_url=url, dest=tmp_path),
                          trace=trace)
    notes = [e for e in trace.events() if e["ph"] == "i"]
    assert report.refused > 0 and notes
    assert all("requests/s" in e["name"] or "pauses" in e["name"] for e in notes)
