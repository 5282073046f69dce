"""Scale: descriptors for -m 1000, and no leak over many runs in one process."""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from flags_async import Mode, Options, download, select_codes
from flags_async.client._limits import SPARE_DESCRIPTORS, fit_fd_limit
from flags_async.server._embedded import given_or_started
from tests.conftest import run_measured


def test_a_low_soft_limit_is_raised_for_a_big_run_and_said_with_verbose(
    server_url: str, tmp_path: Path
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    done = subprocess.run(
        [sys.executable, "-m", "flags_async", "download", "-e", "-m", "1000", "-v", "--json",
         "-s", server_url, "-d", str(tmp_path)],
        capture_output=True, text=True, timeout=120, preexec_fn=low_soft_limit, check=False)
    assert done.returncode == 0, done.stderr
    # 676 codes need 676 sockets at most, whatever -m says
    assert (f"Raised the open-file limit from 256 to {676 + SPARE_DESCRIPTORS} "
            "for 676 requests.") in done.stderr
    data = json.loads(done.stdout)
    assert (data["ok"], data["not_found"], data["errors"]) == (194, 482, 0)


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_a_hard_limit_too_low_for_max_req_is_said_once_and_the_run_fits_it(
    server_url: str, mode: str, tmp_path: Path
) -> None:
    def low_hard_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    done = subprocess.run(
        [sys.executable, "-m", "flags_async", "download", "-e", "-m", "1000", "-q",
         "--mode", mode, "-s", server_url, "-d", str(tmp_path)],
        capture_output=True, text=True, timeout=120, preexec_fn=low_hard_limit, check=False)
    assert done.returncode == 0, done.stderr
    fits = 200 - SPARE_DESCRIPTORS
    assert done.stderr.splitlines() == [
        f"The open-file limit is 200 (its hard limit), enough for {fits} requests at once, "
        f"not 676: running with -m {fits}. For more, raise it first, for example with "
        f"`ulimit -n {676 + SPARE_DESCRIPTORS}`."]
    assert done.stdout.splitlines() == ["194 flags downloaded.", "482 not found.", "  0 errors."]


_LIBRARY_RUN = """
import sys
from flags_async import Mode, Options, download, select_codes
report = download(select_codes(every=True), Options(base_url=sys.argv[1], dest=sys.argv[2],
                  max_req=1000), Mode(sys.argv[3]))
print(report.ok, report.not_found, report.errors)
"""


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_the_library_fits_a_hard_limit_too_low_for_max_req_with_a_warning(
    server_url: str, mode: str, tmp_path: Path
) -> None:
    """`download()` called directly, not through the command line: no request is lost to
    'Too many open files', and the warning shows under Python's default filters."""
    def low_hard_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    done = subprocess.run(
        [sys.executable, "-c", _LIBRARY_RUN, server_url, str(tmp_path), mode],
        capture_output=True, text=True, timeout=120, preexec_fn=low_hard_limit, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["194", "482", "0"]
    fits = 200 - SPARE_DESCRIPTORS
    assert (f"RuntimeWarning: The open-file limit is 200 (its hard limit), enough for {fits} "
            f"requests at once, not 676: running with -m {fits}.") in done.stderr


def test_nothing_changes_when_the_limit_is_already_enough() -> None:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert fit_fd_limit(1) == (1, None)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_ten_big_runs_in_one_process_leak_neither_descriptors_nor_memory(
    tmp_path: Path,
) -> None:
    """The server runs in its own process, so only the client's descriptors are counted."""
    codes = select_codes(every=True)
    with given_or_started(None, in_child=True) as server:
        server_url = server()
        _ten_runs(server_url, codes, tmp_path)


def _ten_runs(server_url: str, codes: list[str], tmp_path: Path) -> None:
    def run(n: int) -> None:
        report = download(codes, Options(base_url=server_url, dest=tmp_path / str(n),
                                         max_req=1000), Mode.ASYNC)
        assert (report.ok, report.not_found, report.errors) == (194, 482, 0)

    run(0)  # warm up: imports, caches, the TLS store
    gc.collect()
    fds, rss = _open_descriptors(), _resident_kib()
    for n in range(1, 11):
        run(n)
    gc.collect()
    assert _open_descriptors() <= fds  # every socket and file was closed
    assert _resident_kib() - rss < 15 * 1024  # KiB: no growth per run beyond noise


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_a_run_of_676_codes_at_1000_requests_stays_under_120_mb(
    server_url: str, mode: str, tmp_path: Path
) -> None:
    """Peak memory of the whole command, measured in a process of its own."""
    code, out, err, peak_kib = run_measured(
        "download", "-e", "-m", "1000", "--mode", mode, "--json", "-s", server_url,
        "-d", str(tmp_path))
    assert code == 0, err
    assert json.loads(out)["ok"] == 194
    assert peak_kib < 120 * 1024


def test_bench_fits_a_hard_limit_too_low_and_its_table_says_what_ran(
    server_url: str,
) -> None:
    def low_hard_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    done = subprocess.run(
        [sys.executable, "-m", "flags_async", "bench", "-s", server_url, "-e", "--max-req",
         "10,1000", "--runs", "1", "--modes", "async", "--json"],
        capture_output=True, text=True, timeout=120, preexec_fn=low_hard_limit, check=False)
    assert done.returncode == 0, done.stderr
    fits = 200 - SPARE_DESCRIPTORS
    assert f"enough for {fits} requests at once, not 1000" in done.stderr
    runs = json.loads(done.stdout)["scenarios"][0]["runs"]
    assert sorted((run["max_req"], run["errors"]) for run in runs) == [(10, 0), (fits, 0)]
