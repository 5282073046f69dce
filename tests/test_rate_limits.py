"""Rate limits: the whole run slows down when the server says "too many", and `--rate` keeps
it under a limit the user knows. Against the bundled server's limiter, in every mode."""

from __future__ import annotations

import json
import math
import os
import random
import signal
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from flags_async import Mode, Options, Report, TransportName, download, select_codes
from flags_async.cli import main
from flags_async.cli._report import rate_limited
from flags_async.client._fetch import FetchFailure, quota_reset, stated_rate
from flags_async.client._retry import (
    LAST_ANSWERS,
    LOOK_S,
    MIN_RATE,
    RETURN_S,
    SLOW_DOWN,
    Throttle,
    Ticket,
)
from flags_async.server._app import LIMITER, Limiter, make_app
from flags_async.server._catalogue import Catalogue
from flags_async.server._faults import Faults
from tests.conftest import cli_process, gif_files, serving

VARIANTS = [(Mode.ASYNC, TransportName.AIOHTTP), (Mode.ASYNC, TransportName.HTTPX),
            (Mode.THREADS, TransportName.HTTPX), (Mode.SEQUENTIAL, TransportName.HTTPX)]
IDS = [f"{mode.value}-{transport.value}" for mode, transport in VARIANTS]
REFUSED = FetchFailure("HTTP 429", transient=True, refused=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_nothing_waits_until_the_server_refuses() -> None:
    throttle = Throttle(clock=Clock())
    assert [throttle.wait() for _ in range(1000)] == [0.0] * 1000
    throttle.record(FetchFailure("HTTP 503", transient=True), 0)  # an error, not a refusal
    assert throttle.rate == math.inf and throttle.refusals == 0


def test_a_refusal_slows_the_whole_run_once_for_the_requests_sent_at_that_rate() -> None:
    clock = Clock()
    said: list[str] = []
    throttle = Throttle(on_change=said.append, clock=clock)
    for _ in range(6):  # what the server answered in the last second: its burst...
        throttle.record(None, clock.now)
    clock.now += 0.5
    sent_before = clock.now
    throttle.record(REFUSED, sent_before)
    assert 0 < throttle.wait() <= LOOK_S  # a pause, for the answers under way
    for _ in range(4):  # ...and the requests it had accepted before it refused
        throttle.record(None, sent_before)
    throttle.record(REFUSED, sent_before)  # sent before the slow-down: nothing new
    clock.now += LOOK_S
    assert throttle.wait() == pytest.approx(0.1)  # the new pace starts now
    assert throttle.rate == 10 and throttle.refusals == 2
    assert said == ["HTTP 429: the run slows to 10 requests/s"]
    clock.now += 0.1
    assert throttle.wait() == 0 and throttle.wait() == pytest.approx(1 / throttle.rate)  # turns
    found = throttle.rate  # up since, fast: the limit is still to be found
    throttle.record(REFUSED, clock.now)  # sent at the new rate, past the limit: half
    assert throttle.rate == pytest.approx(found / 2)
    clock.now += 0.1
    throttle.record(REFUSED, clock.now)  # and then a little slower each time
    assert throttle.rate == pytest.approx(found / 2 * SLOW_DOWN)
    for _ in range(100):  # refused at every turn, it never stops
        clock.now += 1
        throttle.record(REFUSED, clock.now)
    assert throttle.rate == MIN_RATE


def test_the_run_speeds_up_again_while_nothing_is_refused() -> None:
    clock = Clock()
    said: list[str] = []
    throttle = Throttle(on_change=said.append, clock=clock)
    for _ in range(4):
        throttle.record(None, clock.now)
    throttle.record(REFUSED, clock.now)
    clock.now += LOOK_S
    throttle.wait()
    clock.now += 0.1
    refused = throttle.rate
    throttle.record(REFUSED, clock.now)  # now probing for the limit, as CUBIC does
    drop = refused - throttle.rate
    assert drop > 0
    clock.now += RETURN_S / 2
    throttle.wait()  # most of the way back, fast
    assert throttle.rate == pytest.approx(refused - drop / 8)
    clock.now += RETURN_S / 2
    throttle.wait()  # back at the rate refused, and flat there
    assert throttle.rate == pytest.approx(refused)
    clock.now += RETURN_S / 2
    throttle.wait()  # a little past it, carefully
    assert throttle.rate == pytest.approx(refused + drop / 8)
    clock.now += 4 * RETURN_S
    throttle.wait()  # no refusal for long: the limit is not near, faster and faster
    assert throttle.rate > 3 * refused
    assert said[-1].startswith("the run speeds up to ")


def test_a_refusal_below_the_last_refused_rate_aims_lower() -> None:
    """CUBIC's fast convergence: a burst hid how far past the limit the last rate was."""
    clock = Clock()
    throttle = Throttle(ceiling=100, clock=clock)
    for rate in (100.0, 80.0):
        throttle.rate = rate
        clock.now += 1
        throttle.record(REFUSED, clock.now)
    assert throttle.rate == pytest.approx(80 * SLOW_DOWN)
    clock.now += RETURN_S
    throttle.wait()  # flat below the rate refused, not at it
    assert throttle.rate == pytest.approx(80 * (1 + SLOW_DOWN) / 2)


def test_rate_is_a_ceiling_even_when_nothing_is_refused() -> None:
    clock = Clock()
    throttle = Throttle(ceiling=20, clock=clock)
    assert throttle.wait() == 0 and throttle.wait() == pytest.approx(0.05)  # the first at once
    clock.now += 3600
    throttle.wait()
    assert throttle.rate == 20


def test_a_turn_due_soon_is_held_for_one_waiter_until_the_run_slows_down() -> None:
    clock = Clock()
    throttle = Throttle(ceiling=25, clock=clock)  # a turn every 0.04 s
    clock.now += 1
    assert throttle.wait() == 0
    first, second, third = Ticket(), Ticket(), Ticket()
    assert throttle.wait(first) == pytest.approx(0.04)  # the next turn, held for it
    assert throttle.wait(second) == pytest.approx(0.08)  # the one after
    assert throttle.wait(third) == pytest.approx(0.1)  # too far off: it will look again
    clock.now += 0.03
    assert throttle.wait(first) == pytest.approx(0.01)  # woken early: the rest of the wait
    clock.now += 0.01
    assert throttle.wait(first) == 0  # its turn, which nobody else took
    assert throttle.wait() == pytest.approx(0.08)  # after the turn held for `second`
    throttle.record(REFUSED, clock.now)  # a slow-down (to the slowest: nothing was answered)
    clock.now += 0.04
    assert throttle.wait(second) == pytest.approx(0.1)  # voids the turn it held


def test_a_pause_alone_voids_the_turns_held() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for _ in range(20):
        throttle.record(None, clock.now)
    sent_before = clock.now
    throttle.record(REFUSED, sent_before)  # the first refusal: a look at the answers...
    clock.now += LOOK_S
    assert throttle.wait() == pytest.approx(1 / 20)  # ...which says 20 a second, from now
    ticket = Ticket()
    assert throttle.wait(ticket) == pytest.approx(1 / 20)  # held
    retry_after = FetchFailure("HTTP 429", transient=True, refused=True, retry_after=1)
    throttle.record(retry_after, sent_before)  # sent before the slow-down: a pause, no more
    assert throttle.rate == 20
    clock.now += 1 / 20
    assert throttle.wait(ticket) == pytest.approx(0.1)  # the turn it held is void


def test_a_turn_held_but_taken_late_puts_the_next_one_a_whole_turn_later() -> None:
    clock = Clock()
    throttle = Throttle(ceiling=25, clock=clock)
    clock.now += 1
    assert throttle.wait() == 0
    late = Ticket()
    assert throttle.wait(late) == pytest.approx(0.04)
    clock.now += 0.05  # woke 10 ms late
    assert throttle.wait(late) == 0
    assert throttle.wait() == pytest.approx(0.04)  # not 0.03


def test_retry_after_pauses_the_whole_run_and_a_stated_rate_is_taken() -> None:
    clock = Clock()
    said: list[str] = []
    throttle = Throttle(on_change=said.append, clock=clock)
    told = FetchFailure("HTTP 429", transient=True, refused=True, retry_after=3, rate=25)
    throttle.record(told, clock.now)
    assert throttle.wait() == pytest.approx(0.1)  # it looks again now and then
    clock.now += 2.95
    assert throttle.wait() == pytest.approx(0.05)
    assert throttle.rate == 25
    assert said == ["HTTP 429: the run pauses 3 s", "HTTP 429: the run slows to 25 requests/s"]
    clock.now += 1
    throttle.record(told, clock.now)  # refused at the stated rate: slower still, not at it
    assert throttle.rate == pytest.approx(25 * SLOW_DOWN)


PAUSE = FetchFailure("HTTP 429", transient=True, refused=True, retry_after=1)


def test_refusals_asking_for_a_pause_are_a_limit_once_half_the_recent_answers_are() -> None:
    """Sequential mode against a limit with no burst that says `Retry-After: 1`: after each
    pause one request is accepted and the next refused, two answers a second. Pausing alone,
    the run made one request a second; once half its last `LAST_ANSWERS` answers are
    refusals, it slows down."""
    clock = Clock()
    said: list[str] = []
    throttle = Throttle(on_change=said.append, clock=clock)
    for _ in range(LAST_ANSWERS // 2):
        assert not throttle.paces()
        clock.now += 1  # the pause asked for
        throttle.record(None, clock.now)
        clock.now += 0.001
        throttle.record(PAUSE, clock.now)
    clock.now += LOOK_S
    assert throttle.paces() and throttle.wait() > 0  # the pause goes on
    assert throttle.rate == 1  # the one answer of the last second that was not a refusal
    assert said[-1] == "HTTP 429: the run slows to 1 requests/s"


def test_a_second_mostly_refused_is_a_limit_if_it_had_ten_answers_at_least() -> None:
    """Twenty requests at once, nineteen refused: a limit at once. Two refusals of three
    answers are no limit: the chaos preset's first answers can be that, by chance."""
    throttle = Throttle(clock=(clock := Clock()))
    for refused in (False, True, True):
        throttle.record(PAUSE if refused else None, clock.now)
    assert not throttle.paces()
    clock.now += 2
    for refused in [False] + [True] * 19:
        throttle.record(PAUSE if refused else None, clock.now)
    assert throttle.paces()


def test_a_busy_run_is_judged_on_the_answers_of_the_whole_last_second() -> None:
    """A hundred answers a second: half the last `LAST_ANSWERS` refused (chance, in the chaos
    preset's one in nine) is no limit while most of the second's were accepted; most of the
    second's refused is."""
    throttle = Throttle(clock=(clock := Clock()))

    def answer(count: int, every: int) -> None:  # every `every`th answer a refusal
        for i in range(count):
            clock.now += 0.009
            throttle.record(PAUSE if i % every == every - 1 else None, clock.now)

    answer(100 - LAST_ANSWERS, every=4)
    answer(LAST_ANSWERS, every=2)
    assert not throttle.paces()
    answer(100, every=1)
    assert throttle.paces()


def test_a_run_held_to_its_rate_pauses_for_a_refusal_now_and_then_and_reports_no_limit(
) -> None:
    """`--rate 100`, and a 429 with `Retry-After` one answer in ten: each pauses the run, none
    slows it, and no settled rate is claimed. Once a refusal slows the run, the settled rate
    is given, even if nothing was accepted since the first refusal (a quota spent for good)."""
    clock = Clock()
    throttle = Throttle(ceiling=100, clock=clock)
    for i in range(100):
        clock.now += 0.01
        throttle.record(PAUSE if i % 10 == 9 else None, clock.now)
    assert throttle.rate == 100 and throttle.settled_rate() is None
    throttle.record(REFUSED, clock.now)  # no Retry-After: a limit
    assert throttle.rate < 100 and throttle.settled_rate() == pytest.approx(90, rel=0.1)
    spent = Throttle(ceiling=100, clock=clock)
    spent.record(REFUSED, clock.now)
    assert spent.settled_rate() == 0


@pytest.mark.parametrize(("headers", "wait"), [
    ({"RateLimit": '"default";r=0;t=5'}, 5.0),  # draft-ietf-httpapi-ratelimit-headers
    ({"RateLimit": "limit=10, remaining=0, reset=7"}, 7.0),  # its earlier drafts
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "3"}, 3.0),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}, 4.0),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2000000009"}, 9.0),  # a Unix time
    ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "4"}, None),  # quota left
    ({"RateLimit": '"default";r=0'}, None),
    ({}, None),
])
def test_rate_limit_headers_say_how_long_a_spent_quota_lasts(
    headers: dict[str, str], wait: float | None,
) -> None:
    assert quota_reset(httpx.Headers(headers), now=2000000000) == wait


def test_ratelimit_policy_states_the_rate() -> None:
    assert stated_rate(httpx.Headers({"RateLimit-Policy": '"default";q=100;w=60'})) == 100 / 60
    assert stated_rate(httpx.Headers({"RateLimit-Policy": "garbage"})) is None


def limited_run(catalogue: Catalogue, variant: tuple[Mode, TransportName], tmp_path: Path,
                faults: Faults, codes: list[str], said: list[str] | None = None,
                **options: object) -> tuple[Report, int]:
    """A run against the bundled server with `faults`: its report, and how many requests the
    server's limiter refused; what the run said of its pace goes into `said`."""
    mode, transport = variant
    app = make_app(faults, catalogue, random.Random(0))
    with serving(lambda: app) as url:
        report = download(codes, Options(base_url=url, dest=tmp_path, transport=transport,
                                         **options), mode,  # type: ignore[arg-type]
                          on_pace=None if said is None else said.append)
    return report, app[LIMITER].refused if LIMITER in app else 0


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_a_rate_limited_run_slows_down_and_loses_no_code(
    catalogue: Catalogue, variant: tuple[Mode, TransportName], tmp_path: Path,
) -> None:
    """50 requests a second, 5 at once, no Retry-After: the run finds the pace, every code
    ends ok or not found, and the report counts every refusal the server made. (Sequential
    mode goes past 50 a second on a loaded machine too; 100 it did not, once.)"""
    codes = select_codes(["A", "B", "C"])[:60]
    report, refused = limited_run(catalogue, variant, tmp_path,
                                  Faults(rate_limit=50, burst=5), codes)
    assert (report.errors, report.ok + report.not_found) == (0, 60)
    assert report.refused == refused > 0
    assert report.settled_rate is not None


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_rate_keeps_every_mode_under_a_known_limit(
    catalogue: Catalogue, variant: tuple[Mode, TransportName], tmp_path: Path,
) -> None:
    """`--rate` at the server's limit (50 a second, 5 at once): nothing is refused, metadata
    requests included."""
    report, refused = limited_run(catalogue, variant, tmp_path,
                                  Faults(rate_limit=50, burst=5), select_codes(["B"])[:25],
                                  rate=50, names=True)
    assert (report.errors, report.refused, refused) == (0, 0, 0)


@pytest.mark.parametrize(("headers", "heard"), [
    ("retry-after", "HTTP 429: the run pauses 1 s"),  # Retry-After: 1
    ("ratelimit", "HTTP 429: the run slows to 50 requests/s"),  # RateLimit-Policy: q=50;w=1
])
def test_each_kind_of_rate_limit_header_is_followed(
    catalogue: Catalogue, headers: str, heard: str, tmp_path: Path,
) -> None:
    said: list[str] = []
    report, refused = limited_run(catalogue, VARIANTS[0], tmp_path,
                                  Faults(rate_limit=50, burst=5, limit_headers=headers),
                                  select_codes(["B"])[:40], said)
    assert report.errors == 0 and report.refused == refused > 0
    assert heard in said


def test_random_refusals_that_ask_for_a_pause_pause_the_run_but_do_not_slow_it(
    catalogue: Catalogue, tmp_path: Path,
) -> None:
    """One request in ten answered 429 with `Retry-After: 1`, whatever the rate (the chaos
    preset's throttling): the run pauses as asked, and its rate is never cut."""
    said: list[str] = []
    report, _ = limited_run(catalogue, VARIANTS[0], tmp_path, Faults(throttle_rate=0.1),
                            select_codes(["A", "B"]), said, retries=5)
    assert report.refused > 0 and report.ok + report.not_found + report.errors == 52
    assert any("pauses" in line for line in said) and not any("slows" in line for line in said)
    assert report.settled_rate is None
    assert rate_limited(report) == (f"{report.refused:,} answers were 429 or 503; "
                                    "the run did not slow down for them.")


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_a_server_that_refuses_everything_is_no_rate_limit(
    catalogue: Catalogue, variant: tuple[Mode, TransportName], tmp_path: Path,
) -> None:
    """Nothing but 503s (a server down for maintenance): no rate to find, so none is set;
    every code ends in error after its retries, as before."""
    said: list[str] = []

    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503)

    def app() -> web.Application:
        application = web.Application()
        application.router.add_get("/flags/{cc}/{name}", down)
        return application

    mode, transport = variant
    with serving(app) as url:
        report = download(["AD", "BR", "CN"], Options(base_url=url, dest=tmp_path / "x",
                                                      transport=transport, backoff=0), mode,
                          on_pace=said.append)
    assert (report.errors, report.refused, report.settled_rate) == (3, 9, None)
    assert not any("slows" in line for line in said)


def test_the_report_says_the_server_limited_the_rate_and_the_json_counts_it(
    catalogue: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app(Faults(rate_limit=100, burst=5), catalogue, random.Random(0))
    with serving(lambda: app) as url:
        assert main(["download", "-v", "-s", url, "-d", str(tmp_path / "a"), "A", "B"]) == 0
        out = capsys.readouterr().out
        refused = app[LIMITER].refused
        assert f"The server limited the rate: {refused:,} answers were 429 or 503; " in out
        assert "HTTP 429: the run slows to " in out  # -v says when
        assert main(["download", "--json", "-s", url, "-d", str(tmp_path / "b"), "A", "B"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["refused"] == app[LIMITER].refused - refused > 0
    assert data["settled_rate"] > 0
    assert main(["download", "-d", str(tmp_path / "c"), "BR"]) == 0  # no limit: nothing new
    assert "limited" not in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["sequential", "threads", "async"])
def test_ctrl_c_during_a_pause_of_the_whole_run_ends_it_at_once(
    catalogue: Catalogue, tmp_path: Path, mode: str,
) -> None:
    """A 429 with `Retry-After: 30` pauses every download; Ctrl-C still ends the run."""

    async def flag(request: web.Request) -> web.StreamResponse:
        cc = request.match_info["cc"]
        if cc == "ca":
            return web.Response(status=429, headers={"Retry-After": "30"})
        entry = catalogue[f"{cc}/{cc}.gif"]
        return web.Response(body=entry.body, content_type=entry.content_type)

    def app() -> web.Application:
        application = web.Application()
        application.router.add_get("/flags/{cc}/{name}", flag)
        return application

    with serving(app) as url:
        child = cli_process("download", "-v", "--mode", mode, "-m", "1", "-s", url,
                            "-d", str(tmp_path), "AD", "CA", "DE")
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("HTTP 429: the run pauses 30 s"):
                break
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=20)  # well within the 30 s pause
    assert child.returncode == 130, err
    assert [p.name for p in gif_files(tmp_path)] == ["ad.gif"]
    assert "Interrupted: 1 of 3 codes done." in out


def test_the_limiter_refuses_beyond_its_burst_per_client() -> None:
    limiter = Limiter(rate=0.001, burst=2, headers="ratelimit")
    assert limiter.refusal("a") is None and limiter.refusal("a") is None
    refusal = limiter.refusal("a")
    assert refusal is not None and refusal.status == 429
    assert refusal.headers["RateLimit-Policy"] == '"default";q=1;w=1000'
    assert limiter.refusal("b") is None and limiter.refused == 1  # another address


@pytest.mark.parametrize(("args", "why"), [
    (["--burst", "5"], "needs --rate-limit"),
    (["--rate-limit", "0"], "Invalid value for '--rate-limit'"),
])
def test_bad_limits_are_usage_errors(
    args: list[str], why: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", *args]) == 2
    assert why in capsys.readouterr().err


def test_the_bench_has_a_rate_limited_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scenario", "limited", "-l", "30", "--runs", "1", "--modes",
                 "sequential,async", "--json"]) == 0
    (scenario,) = json.loads(capsys.readouterr().out)["scenarios"]
    assert scenario["scenario"] == "limited"
    assert [(r["variant"], r["ok"] + r["not_found"], r["errors"]) for r in scenario["runs"]] == [
        ("sequential", 30, 0), ("async", 30, 0)]
    # limited indeed: 10 at once, then 40 a second, so the other 20 take half a second at least
    assert all(r["elapsed_s"] >= 0.45 for r in scenario["runs"])
