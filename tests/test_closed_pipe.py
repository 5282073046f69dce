"""A reader that goes away (`flags-async download -v | head`): the run stops quietly, keeps
only whole files, and exits 1 without a word (as click does, and Python's documentation
advises), in every mode."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from flags_async import Mode, Options, Result, download
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
