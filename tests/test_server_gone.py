"""A server that goes away mid-run: the run notices, ends within seconds, and says how to
resume; the retry policy's `Breaker` trips only on a server that answers nothing at all."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flags_async.client._fetch import FetchFailure
from flags_async.client._retry import NOT_ATTEMPTED, Breaker
from tests.conftest import cli_process, gif_files, leftovers


def refused() -> FetchFailure:
    return FetchFailure("connection failed", transient=True, unanswered=True)


def test_the_breaker_trips_after_the_limit_of_unanswered_attempts_in_a_row() -> None:
    breaker = Breaker(3)
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
    breaker = Breaker(3)
    for _ in range(10):
        breaker.record(refused())
        breaker.record(refused())
        breaker.record(answer)
    assert not breaker.tripped


def test_a_limit_of_0_never_trips() -> None:
    breaker = Breaker(0)
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
def test_a_server_that_dies_mid_run_ends_it_within_seconds_and_a_resume_fetches_the_rest(
    mode: str, tmp_path: Path
) -> None:
    """Killed after three flags: every mode ends (the 30 s allowed are far below the minutes
    sequential took before the breaker), exit 1, the JSON counts every code and exactly the
    files on disk, and the command it prints fetches only what is missing once the server is
    back."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/flags"
    with server_process(port, latency_ms=100) as server:  # slow: it dies mid-run
        child = cli_process("download", "-e", "-m", "50", "-v", "--json", "-s", url,
                            "-d", str(tmp_path), "--mode", mode)
        assert child.stderr is not None
        saved = 0
        for line in child.stderr:
            saved += line.endswith(" ok\n")
            if saved == 3:
                break
        server.kill()
        out, err = child.communicate(timeout=30)
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
    assert hint.startswith("To fetch only what is missing: flags-async download -e")
    resume = shlex.split(hint.split(": ", 1)[1])
    assert resume[-1] == "--skip-existing"

    with server_process(port, latency_ms=0):  # back: the normal case between runs
        again = cli_process(*resume[1:])
        out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    data = json.loads(out)
    assert data["skipped"] == len(on_disk)
    assert data["ok"] == 194 - len(on_disk) and data["errors"] == 0
    assert len(gif_files(tmp_path)) == 194
