"""A reader that goes away (`flags-async download -v | head`): the run stops quietly, keeps
only whole files, and exits 1 without a word (as click does, and Python's documentation
advises), in every mode."""

from __future__ import annotations

import asyncio
import errno
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from flags_async import Mode, Options, Result, download
from flags_async.cli import main
from flags_async.server._faults import Faults
from tests.conftest import cli_process, gif_files, leftovers, wait_for_saved_flags

MODES = [
    pytest.param(["--mode", "sequential"], id="sequential"),
    pytest.param(["--mode", "threads"], id="threads"),
    pytest.param(["--mode", "async"], id="async"),
]


@pytest.mark.parametrize("mode", MODES)
def test_a_closed_output_pipe_stops_the_run_silently_with_1(
    make_server: Callable[..., AbstractContextManager[str]], mode: list[str], tmp_path: Path,
) -> None:
    """Every response is 50 ms late and at most 4 are in flight, so the 676 codes would take
    seconds: the run must stop at the first line it cannot write, not go on to the end."""
    with make_server(Faults(delay=(0.05, 0.05))) as url:
        child = cli_process("download", "-e", "-v", "-m", "4", "--server", url,
                            "--dest", str(tmp_path), *mode)
        wait_for_saved_flags(child, count=3)
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # what `head -n 3` does once it has its lines
        code = child.wait(timeout=60)
        errors = child.stderr.read()
    assert code == 1
    assert errors == ""  # no error line, no traceback: the reader asked for no more
    assert 3 <= len(gif_files(tmp_path)) < 194
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", list(Mode))
def test_an_error_in_on_result_comes_out_as_itself(
    server_url: str, mode: Mode, tmp_path: Path,
) -> None:
    """The caller's callback fails (its pipe closed): every mode raises that very exception,
    not one wrapped in an ExceptionGroup, and keeps only whole files."""
    seen: list[Result] = []

    def on_result(result: Result) -> None:
        seen.append(result)
        if len(seen) == 3:
            raise BrokenPipeError(32, "Broken pipe")

    codes = ["AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "BR", "IN"]
    with pytest.raises(BrokenPipeError):
        download(codes, Options(base_url=server_url, dest=tmp_path, max_req=2), mode, on_result)
    assert leftovers(tmp_path) == []


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_main_returns_1_for_a_closed_pipe_rather_than_raising(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """typer answers EPIPE with `sys.exit(1)`; `main` returns that code instead, so the console
    script exits at once (`cli._app.run`), waiting for no thread still connecting."""
    with capsys.disabled():
        monkeypatch.setattr("sys.stdout", ClosedPipe())
        code = main(["download", "-v", "BR", "IN", "-s", server_url, "-d", str(tmp_path)])
    assert code == 1


def test_two_failures_at_once_in_async_mode_stay_a_group(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a lone failure is unwrapped: two bugs at once both stay in the traceback."""
    from flags_async.client import _async

    arrived: list[str] = []
    both_arrived = asyncio.Event()

    async def buggy(client: object, cc: str, *args: object) -> Result:
        # Each fails only once both have started, so the two fail before the task group
        # hears of either, whatever loop turns `pace` starts them in.
        arrived.append(cc)
        if len(arrived) == 2:
            both_arrived.set()
        await both_arrived.wait()
        raise ValueError(f"bug in {cc}")

    monkeypatch.setattr(_async, "download_one", buggy)
    with pytest.raises(ExceptionGroup) as raised:
        download(["AD", "AE"], Options(base_url=server_url, dest=tmp_path), Mode.ASYNC)
    assert sorted(str(e) for e in raised.value.exceptions) == ["bug in AD", "bug in AE"]


@pytest.mark.parametrize("output", [[], ["--json"], ["-q"], ["-v", "--json"]])
def test_with_stderr_closed_the_run_goes_on_and_reports_on_stdout(
    server_url: str, output: list[str], tmp_path: Path,
) -> None:
    """`2>&-`, as a cron job or a daemon may run it: Python's `sys.stderr` is then None."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        f'"{sys.executable}" -m flags_async download {" ".join(output)} -s {server_url} '
        f'-d "{tmp_path}" BR IN 2>&-', shell=True, capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 0, done.stdout
    assert [f.name for f in gif_files(tmp_path)] == ["br.gif", "in.gif"]
    if "--json" in output:
        assert json.loads(done.stdout)["ok"] == 2
    else:
        assert "2 flags downloaded." in done.stdout


def test_with_stdout_closed_the_flags_are_saved_and_the_exit_is_1(
    server_url: str, tmp_path: Path,
) -> None:
    """`>&-`: the report cannot be written anywhere, as `echo >&-` fails."""
    import subprocess
    import sys

    done = subprocess.run(
        f'"{sys.executable}" -m flags_async download --json -s {server_url} -d "{tmp_path}" '
        "BR IN >&-", shell=True, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert [f.name for f in gif_files(tmp_path)] == ["br.gif", "in.gif"]
