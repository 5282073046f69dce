"""Hostile servers, end to end: every fault of the bundled server against every mode.

These faults happen below the layer respx mocks (a connection reset, a body shorter than its
Content-Length, a trickle), so they are tested against the real server on loopback.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from aiohttp import web

from flags_async import Mode, Options, Report, Status, TransportName, download, select_codes
from flags_async.cli import main
from flags_async.server._faults import PRESETS, Faults
from tests.conftest import gif_files, leftovers, run_measured, serving

MakeServer = Callable[..., AbstractContextManager[str]]
VARIANTS = [(Mode.ASYNC, TransportName.AIOHTTP), (Mode.ASYNC, TransportName.HTTPX),
            (Mode.THREADS, TransportName.HTTPX), (Mode.SEQUENTIAL, TransportName.HTTPX)]
CODES = ["AR", "BR", "CN"]


def run_against(make_server: MakeServer, faults: Faults, variant: tuple[Mode, TransportName],
                dest: Path, codes: list[str] = CODES, **kwargs: object) -> Report:
    mode, transport = variant
    with make_server(faults) as url:
        options = Options(base_url=url, dest=dest, backoff=0, transport=transport,
                          **kwargs)  # type: ignore[arg-type]
        return download(codes, options, mode)


def assert_all_failed(report: Report, reason: str, attempts: int, dest: Path) -> None:
    assert [(r.status, r.error, r.attempts) for r in report.results] == [
        (Status.ERROR, reason, attempts)] * len(report.results)
    assert gif_files(dest) == [] and leftovers(dest) == []


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_truncated_bodies_are_retried_then_reported(
    make_server: MakeServer, variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    report = run_against(make_server, Faults(truncate_rate=1.0), variant, tmp_path, retries=2)
    assert_all_failed(report, "truncated", 3, tmp_path)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_connection_resets_are_retried_then_reported(
    make_server: MakeServer, variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    report = run_against(make_server, Faults(reset_rate=1.0), variant, tmp_path, retries=1)
    assert_all_failed(report, "connection reset", 2, tmp_path)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_garbage_labelled_as_gif_is_not_saved_and_not_retried(
    make_server: MakeServer, variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    report = run_against(make_server, Faults(garbage_rate=1.0), variant, tmp_path, retries=2)
    assert_all_failed(report, "not a GIF", 1, tmp_path)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_throttling_is_retried_after_the_servers_delay(
    make_server: MakeServer, variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    started = time.monotonic()
    report = run_against(make_server, Faults(throttle_rate=1.0), variant, tmp_path,
                         codes=["BR"], retries=1)
    assert_all_failed(report, "HTTP 429", 2, tmp_path)
    assert time.monotonic() - started >= 1.0  # it waited the Retry-After: 1 it was given


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_a_trickling_server_ends_in_a_timeout_not_a_hang(
    make_server: MakeServer, variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    """Bytes keep coming (so no read timeout fires), but the whole attempt has a deadline."""
    started = time.monotonic()
    report = run_against(make_server, Faults(trickle=500.0), variant, tmp_path,
                         codes=["BR"], timeout=1.0, retries=0)
    assert_all_failed(report, "timed out after 1 s", 1, tmp_path)
    assert time.monotonic() - started < 8  # a body takes 10+ s at 500 B/s: it gave up


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_a_server_that_never_answers_ends_in_a_timeout_not_a_hang(
    make_server: MakeServer, variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    started = time.monotonic()
    report = run_against(make_server, Faults(delay=(30.0, 30.0)), variant, tmp_path,
                         codes=["BR"], timeout=0.5, retries=1)
    assert_all_failed(report, "timed out after 0.5 s", 2, tmp_path)
    assert time.monotonic() - started < 10  # two 0.5 s attempts, not two 30 s waits


@pytest.mark.parametrize("mode", list(Mode))
def test_chaos_accounts_for_every_code_and_saves_only_whole_gifs(
    make_server: MakeServer, mode: Mode, tmp_path: Path
) -> None:
    # every fault but 429s, which ask for 1 s each (test_throttling_... covers them)
    quick = dataclasses.replace(PRESETS["chaos"].faults, delay=(0.0, 0.02), throttle_rate=0.0)
    with make_server(quick, seed=3) as url:
        options = Options(base_url=url, dest=tmp_path, backoff=0, retries=3, max_req=50)
        report = download(select_codes(["A", "B"]), options, mode)
    assert report.ok + report.not_found + report.errors == 52
    assert report.ok > 0 and report.not_found > 0
    allowed = {"HTTP 418", "not a GIF", "truncated", "connection reset"}
    assert {r.error for r in report.results if r.status is Status.ERROR} <= allowed
    saved = sorted(r.path for r in report.results if r.path is not None)
    assert gif_files(tmp_path) == saved and leftovers(tmp_path) == []
    assert all(p.read_bytes().startswith(b"GIF89a") for p in saved)


def test_fault_draws_follow_their_rates() -> None:
    faults = Faults(error_rate=0.1, throttle_rate=0.2, reset_rate=0.3)
    assert faults.pick(0.05) == "error"
    assert faults.pick(0.25) == "throttle"
    assert faults.pick(0.55) == "reset"
    assert faults.pick(0.65) is None


@pytest.mark.parametrize("bad", [{"reset_rate": 0.6, "truncate_rate": 0.6},
                                 {"garbage_rate": 1.5}, {"trickle": 0.0}])
def test_impossible_fault_mixes_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Faults(**bad)  # type: ignore[arg-type]


def test_serve_refuses_rates_adding_up_to_more_than_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--reset-rate", "0.6", "--truncate-rate", "0.6"]) == 2
    assert "add up to more than 1" in capsys.readouterr().err


async def endless(request: web.Request) -> web.StreamResponse:
    """A GIF that promises 10 GB and streams zeros until the client gives up."""
    response = web.StreamResponse(headers={"Content-Type": "image/gif"})
    response.content_length = 10 * 1024**3
    await response.prepare(request)
    await response.write(b"GIF89a")
    chunk = bytes(64 * 1024)
    try:
        while True:
            await response.write(chunk)
    except ConnectionError:
        return response  # the client gave up, as it should


def endless_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/flags/{cc}/{name}", endless)
    return app


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0].value}-{v[1].value}")
def test_an_endless_body_is_abandoned_at_max_bytes(
    variant: tuple[Mode, TransportName], tmp_path: Path
) -> None:
    """A server promising 10 GB and streaming forever costs neither memory nor disk: checked in
    a fresh process, whose peak memory is its own."""
    mode, transport = variant
    transport_args = ["--transport", transport.value] if mode is Mode.ASYNC else []
    with serving(endless_app) as url:
        code, out, err, peak_kib = run_measured(
            "download", "BR", "--json", "-s", url, "-d", str(tmp_path), "--mode", mode.value,
            *transport_args, "--max-bytes", str(2 * 1024 * 1024), "--retries", "0")
    assert code == 1, err
    (result,) = json.loads(out)["results"]
    assert (result["status"], result["error"], result["attempts"]) == ("error", "too large", 1)
    assert gif_files(tmp_path) == [] and leftovers(tmp_path) == []
    assert peak_kib < 120 * 1024  # the 10 GB never came near memory
