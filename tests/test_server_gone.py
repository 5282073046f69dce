"""A server that goes away mid-run: the run notices, ends within seconds, and says how to
resume; the retry policy's `Breaker` trips only on a server that answers nothing at all."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from flags_async import Options
from flags_async.cli import main
from flags_async.client._fetch import FetchFailure, failures
from flags_async.client._retry import NOT_ATTEMPTED, Breaker
from flags_async.server._faults import Faults
from tests.conftest import cli_process, gif_files, leftovers, wait_for_saved_flags


def refused() -> FetchFailure:
    return FetchFailure("connection failed", transient=True, unanswered=True)


def test_the_breaker_trips_after_the_limit_of_unanswered_attempts_in_a_row() -> None:
    breaker = Breaker(3, quiet_s=0)
    for _ in range(2):
        breaker.record(refused())
    assert not breaker.tripped and breaker.not_attempted("BR") is None
    breaker.record(refused())
    assert breaker.tripped
    result = breaker.not_attempted("BR")
    assert result is not None and (result.error, result.attempts) == (NOT_ATTEMPTED, 0)


@pytest.mark.parametrize("answer", [
    None,  # a body
    FetchFailure("HTTP 429", transient=True, retry_after=1.0),
    FetchFailure("HTTP 503", transient=True),
    FetchFailure("truncated", transient=True),  # the server answered, then broke off
])
def test_any_answer_from_the_server_resets_the_count(answer: FetchFailure | None) -> None:
    breaker = Breaker(3, quiet_s=0)
    for _ in range(10):
        breaker.record(refused())
        breaker.record(refused())
        breaker.record(answer)
    assert not breaker.tripped


def test_a_burst_of_failures_trips_it_only_once_the_server_has_been_quiet() -> None:
    """Many requests in flight can all fail within a millisecond on a live server that sheds
    connections for a moment; a dead server stays quiet."""
    now = [100.0]
    breaker = Breaker(3, quiet_s=2.0, clock=lambda: now[0])
    breaker.record(None)  # an answer at t=100
    now[0] = 100.001
    for _ in range(50):
        breaker.record(refused())
    assert not breaker.tripped
    now[0] = 102.5
    breaker.record(refused())
    assert breaker.tripped


@pytest.mark.parametrize(("timeout", "unanswered"), [
    (httpx.ConnectTimeout("no connection in time"), True),  # a host that drops every SYN
    (httpx.ReadTimeout("no answer in time"), False),  # connected: a slow server, maybe
])
def test_a_connect_timeout_is_unanswered_a_read_timeout_is_not(
    timeout: httpx.TimeoutException, unanswered: bool
) -> None:
    with pytest.raises(FetchFailure) as failed, failures(Options(base_url="http://x")):
        raise timeout
    assert failed.value.unanswered is unanswered


def test_a_limit_of_0_never_trips() -> None:
    breaker = Breaker(0, quiet_s=0)
    for _ in range(1000):
        breaker.record(refused())
    assert not breaker.tripped


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(port: int, latency_ms: int) -> Iterator[subprocess.Popen[str]]:
    """The bundled server in its own process, every response `latency_ms` late; killed at the
    end if the test has not killed it already."""
    child = subprocess.Popen(
        [sys.executable, "-m", "flags_async", "serve", "--port", str(port),
         "--latency", str(latency_ms)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("Serving flags at")  # it listens
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("mode", ["sequential", "threads", "async"])
def test_a_server_that_dies_mid_run_trips_the_breaker_and_a_resume_fetches_the_rest(
    mode: str, tmp_path: Path
) -> None:
    """Killed after three flags: every mode stops trying (codes left are "not attempted"),
    exit 1, the JSON counts every code and exactly the files on disk, and the command it
    prints fetches only what is missing once the server is back."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/flags"
    with server_process(port, latency_ms=100) as server:  # slow: it dies mid-run
        child = cli_process("download", "-e", "-m", "50", "-v", "--json", "-s", url,
                            "-d", str(tmp_path), "--mode", mode)
        wait_for_saved_flags(child, json_out=True)
        server.kill()
        out, err = child.communicate(timeout=60)
    assert child.returncode == 1, err
    data = json.loads(out)
    assert data["ok"] + data["not_found"] + data["errors"] == 676
    reasons = [r["error"] for r in data["results"] if r["status"] == "error"]
    assert reasons.count(NOT_ATTEMPTED) > 0
    on_disk = gif_files(tmp_path)
    assert sorted(r["path"] for r in data["results"] if r["status"] == "ok") == [
        str(p) for p in on_disk]
    assert leftovers(tmp_path) == []
    hint = err.strip().splitlines()[-1]
    assert hint.startswith("To fetch only what is missing: ")
    resume = shlex.split(hint.split(": ", 1)[1])
    assert resume[1:6] == ["-m", "flags_async", "download", "--skip-existing", "-e"]

    with server_process(port, latency_ms=0):  # back: the normal case between runs
        again = subprocess.Popen(resume, text=True, stdout=subprocess.PIPE,  # as printed
                                 stderr=subprocess.PIPE)
        out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    data = json.loads(out)
    assert data["skipped"] == len(on_disk)
    assert data["ok"] == 194 - len(on_disk) and data["errors"] == 0
    assert len(gif_files(tmp_path)) == 194


def test_a_resumed_run_that_fails_again_says_how_to_resume_once_more(
    make_server: Callable[..., AbstractContextManager[str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with make_server(Faults(error_rate=1.0)) as url:
        code = main(["download", "BR", "-q", "-s", url, "-d", str(tmp_path), "--skip-existing"])
    assert code == 1
    hint = capsys.readouterr().err.strip().splitlines()[-1]
    assert hint.startswith("To fetch only what is missing: ")
    assert shlex.split(hint)[-1] == "--skip-existing" and hint.count("--skip-existing") == 1


@pytest.mark.parametrize("mode", ["sequential", "threads", "async"])
def test_with_names_a_flag_whose_metadata_meets_a_dead_server_is_not_saved_under_its_code(
    mode: str, tmp_path: Path
) -> None:
    """Saved as `cy.gif`, it would sit beside the `Cyprus.gif` a resume fetches."""
    import respx

    from flags_async import Mode, Status, download
    from flags_async.server._catalogue import load_catalogue

    with respx.mock(using="httpx", assert_all_called=False) as router:
        router.get(url__regex=r".*/cy/cy\.gif$").mock(
            return_value=httpx.Response(200, content=load_catalogue()["cy/cy.gif"].body))
        router.get(url__regex=r".*/metadata\.json$").mock(
            side_effect=httpx.ConnectError("refused"))
        options = Options(base_url="http://flags.test/flags", dest=tmp_path, names=True,
                          backoff=0, transport="httpx")  # type: ignore[arg-type]
        report = download(["CY"], options, Mode(mode))
    (result,) = report.results
    assert (result.status, result.error) == (Status.ERROR, "connection failed")
    assert gif_files(tmp_path) == []
