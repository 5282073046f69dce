"""Ctrl-C and SIGTERM: every mode answers at once, and its report matches the disk.

Each test runs the program as a user does, in its own process, against a real server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from aiohttp import web

from flags_async.server._app import Faults
from flags_async.server._catalogue import Catalogue
from tests.conftest import cli_process, gif_files, leftovers, serving, wait_for_saved_flags

MakeServer = Callable[..., AbstractContextManager[str]]

MODES = [
    pytest.param(["--mode", "sequential"], id="sequential"),
    pytest.param(["--mode", "threads"], id="threads"),
    pytest.param(["--mode", "async", "--transport", "aiohttp"], id="async-aiohttp"),
    pytest.param(["--mode", "async", "--transport", "httpx"], id="async-httpx"),
]

#: Served at once by `stalling_app`; the other codes are kept waiting.
QUICK = ["AD", "AE", "AF"]
#: Codes the server never answers: a read under way must be cut short.
NEVER_ANSWERED = ["DE", "DK", "DZ", "EC", "EE", "EG"]
#: Codes answered 503 with `Retry-After: 30`: a back-off under way must be cut short.
TRY_AGAIN_LATER = ["CA", "CD", "CF", "CG", "CH", "CI"]


def stalling_app(catalogue: Catalogue) -> web.Application:
    """Serves the `QUICK` flags at once, answers the `TRY_AGAIN_LATER` ones 503 with
    `Retry-After: 30`, and never answers anything else."""

    async def flag(request: web.Request) -> web.StreamResponse:
        cc = request.match_info["cc"]
        if cc.upper() in QUICK:
            entry = catalogue[f"{cc}/{cc}.gif"]
            return web.Response(body=entry.body, content_type=entry.content_type)
        if cc.upper() in TRY_AGAIN_LATER:
            return web.Response(status=503, headers={"Retry-After": "30"})
        await asyncio.sleep(3600)
        raise AssertionError("unreachable: the test ends long before")

    app = web.Application()
    app.router.add_get("/flags/{cc}/{name}", flag)
    return app


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("waiting", [
    pytest.param(NEVER_ANSWERED, id="reads-under-way"),
    pytest.param(TRY_AGAIN_LATER, id="back-offs-under-way"),
])
def test_ctrl_c_ends_the_run_without_waiting_for_the_downloads_under_way(
    catalogue: Catalogue, mode: list[str], waiting: list[str], tmp_path: Path,
    ctrl_c_enabled: None,
) -> None:
    """Three flags are saved; every other download waits for a reply that never comes, or for
    a 30-s back-off. Ctrl-C must not wait for them (with `--timeout 600` nothing else would end
    them within the 20 s allowed): the run ends, reports exactly the three files on disk, and
    leaves no partial file."""
    with serving(lambda: stalling_app(catalogue)) as url:
        child = cli_process("download", *QUICK, *waiting, "-v", "-m", "10", "--timeout", "600",
                            "-s", url, "-d", str(tmp_path), *mode)
        assert sorted(wait_for_saved_flags(child)) == QUICK
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert [p.name for p in gif_files(tmp_path)] == ["ad.gif", "ae.gif", "af.gif"]
    assert leftovers(tmp_path) == []
    assert "  3 flags downloaded." in out and "0 errors" in out
    assert "Interrupted: 3 of 9 codes done." in out


def test_ctrl_c_prints_the_partial_report_exits_130_and_leaves_no_partial_file(
    make_server: MakeServer, tmp_path: Path, ctrl_c_enabled: None
) -> None:
    with make_server(Faults(delay=(0.2, 3.0))) as url:
        child = cli_process("download", "-e", "-v", "-s", url, "-d", str(tmp_path))
        seen = wait_for_saved_flags(child)  # some flags are saved, most requests in flight
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    saved = gif_files(tmp_path)
    assert leftovers(tmp_path) == []
    assert all(f.read_bytes().startswith(b"GIF89a") for f in saved)
    assert f"{len(saved):3} flags downloaded." in out
    assert {tmp_path / f"{cc.lower()}.gif" for cc in seen} <= set(saved)
    done = int(out.split("Interrupted: ")[1].split(" of 676")[0])
    assert len(saved) <= done < 676


def test_ctrl_c_at_a_terminal_reaches_the_process_group_and_the_report_matches_the_disk(
    make_server: MakeServer, tmp_path: Path, ctrl_c_enabled: None
) -> None:
    """A terminal sends Ctrl-C to every process of the foreground group: the run still ends as
    Ctrl-C should, and no save is lost or miscounted."""
    with make_server(Faults(delay=(0.0, 1.0))) as url:
        child = cli_process("download", "-e", "-v", "-m", "20", "-s", url, "-d", str(tmp_path),
                     start_new_session=True)  # its own group, as a shell gives a job
        wait_for_saved_flags(child)
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "cannot save" not in out + err
    saved = gif_files(tmp_path)
    assert saved and leftovers(tmp_path) == []
    assert f"{len(saved):3} flags downloaded." in out


@pytest.mark.parametrize("mode", MODES)
def test_a_second_ctrl_c_at_once_still_ends_in_order(
    make_server: MakeServer, mode: list[str], tmp_path: Path, ctrl_c_enabled: None
) -> None:
    """A terminal's Ctrl-C can arrive twice within milliseconds (to a wrapper, which passes it
    on, and to its child). The run still ends at once, with the report, exit 130, no traceback
    and no partial file."""
    with make_server(Faults(delay=(0.2, 3.0))) as url:
        child = cli_process("download", "-e", "-v", "-m", "50", "-s", url, "-d", str(tmp_path),
                            *mode)
        wait_for_saved_flags(child)
        os.kill(child.pid, signal.SIGINT)
        time.sleep(0.002)  # not a wait for a state: two signals at once would merge into one
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "never retrieved" not in err
    saved = gif_files(tmp_path)
    assert f"{len(saved):3} flags downloaded." in out and "Interrupted: " in out
    assert leftovers(tmp_path) == []


def test_sigterm_inside_asyncio_run_cancels_the_main_task_as_ctrl_c_does(
    ctrl_c_enabled: None,
) -> None:
    from flags_async._signals import sigterm_as_ctrl_c

    seen: list[str] = []

    async def main() -> None:
        try:
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(5)
        except BaseException as exc:
            seen.append(type(exc).__name__)
            raise

    with sigterm_as_ctrl_c(), pytest.raises(KeyboardInterrupt):  # as asyncio.run ends
        asyncio.run(main())
    assert seen == ["CancelledError"]  # not a KeyboardInterrupt raised wherever the task was


SIGTERM_IN_INTERRUPTIBLE = """
import asyncio, signal, sys
from flags_async._signals import interruptible, sigterm_as_ctrl_c

async def work():
    signal.raise_signal(signal.SIGTERM)
    await asyncio.sleep(5)

try:
    if sys.argv[1] == "cli":
        with sigterm_as_ctrl_c():
            asyncio.run(interruptible(work()))
    else:
        asyncio.run(interruptible(work()))
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize(("where", "returncode", "out"), [
    ("cli", 0, "interrupted\n"),  # inside the command line: SIGTERM stops as Ctrl-C does
    ("library", -signal.SIGTERM, ""),  # a library caller's SIGTERM is left alone
])
def test_sigterm_is_taken_over_only_where_the_cli_asks(
    where: str, returncode: int, out: str, ctrl_c_enabled: None
) -> None:
    done = subprocess.run([sys.executable, "-c", SIGTERM_IN_INTERRUPTIBLE, where],
                          capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout) == (returncode, out), done.stderr


def test_sigterm_outside_asyncio_run_is_a_keyboard_interrupt() -> None:
    from flags_async._signals import sigterm_as_ctrl_c

    with sigterm_as_ctrl_c(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
        time.sleep(5)


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_prints_json_of_what_completed_and_exits_130(
    make_server: MakeServer, mode: list[str], tmp_path: Path, ctrl_c_enabled: None
) -> None:
    with make_server(Faults(delay=(0.2, 3.0))) as url:
        child = cli_process("download", "-e", "-m", "50", "-s", url, "-d", str(tmp_path),
                            "--json", "-v", *mode)
        assert child.stderr is not None
        assert child.stderr.readline()  # the first -v line: it is downloading
        os.kill(child.pid, signal.SIGTERM)
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    data = json.loads(out)
    assert data["interrupted"] is True and data["requested"] == 676
    assert 0 < len(data["results"]) < 676
    ok_paths = sorted(r["path"] for r in data["results"] if r["status"] == "ok")
    assert [str(p) for p in gif_files(tmp_path)] == ok_paths
    assert leftovers(tmp_path) == []
