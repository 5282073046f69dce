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
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from aiohttp import web

from flags_async.server._catalogue import Catalogue
from flags_async.server._faults import Faults
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
#: Codes whose whole GIF is sent with no length, the end of the body being the end of the
#: connection, which never comes: a stop that ends the read must not make the body look whole.
NEVER_ENDED = ["FI", "FJ", "FM", "FR"]


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
        if cc.upper() in NEVER_ENDED and request.transport is not None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nConnection: close\r\n\r\n"
            request.transport.write(head + catalogue[f"{cc}/{cc}.gif"].body)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable: the test ends long before")

    app = web.Application()
    app.router.add_get("/flags/{cc}/{name}", flag)
    return app


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("waiting", [
    pytest.param(NEVER_ANSWERED, id="reads-under-way"),
    pytest.param(TRY_AGAIN_LATER, id="back-offs-under-way"),
    pytest.param(NEVER_ENDED, id="bodies-never-ended"),
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
    assert f"Interrupted: 3 of {3 + len(waiting)} codes done." in out


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_with_ctrl_c_ignored_still_ends_at_once_and_exact(
    catalogue: Catalogue, mode: list[str], tmp_path: Path
) -> None:
    """A job started with `&` by a shell has Ctrl-C ignored; `kill` (SIGTERM) must still stop
    it as Ctrl-C would, without waiting for the downloads under way."""
    with serving(lambda: stalling_app(catalogue)) as url:
        child = cli_process("download", *QUICK, *NEVER_ANSWERED, "-v", "-m", "10",
                            "--timeout", "600", "-s", url, "-d", str(tmp_path), "--json", *mode,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        wait_for_saved_flags(child, json_out=True)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    data = json.loads(out)
    assert data["interrupted"] is True
    assert sorted(r["path"] for r in data["results"] if r["status"] == "ok") == [
        str(p) for p in gif_files(tmp_path)]
    assert len(gif_files(tmp_path)) == 3 and leftovers(tmp_path) == []


def test_an_interrupted_threaded_run_waits_for_no_thread_stuck_on_the_network(
    tmp_path: Path,
) -> None:
    """A thread stuck where a stop cannot wake it (in a TCP connect, say; here a mocked
    transport that blocks) is not waited for: the interrupted run reports what was saved and
    returns while the thread is still stuck, and that thread can never save afterwards."""
    import httpx
    import respx

    from flags_async import Interrupted, Mode, Options, download

    release = threading.Event()
    inside: list[str] = []  # the codes whose thread is in the wait now
    gif = catalogue_gif()

    def answer(request: httpx.Request) -> httpx.Response:
        if "/ad/" in request.url.path:  # answered once the three others are stuck
            deadline = time.monotonic() + 10
            while len(inside) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            inside.append(request.url.path)
            release.wait(30)  # stuck until the test has its answer
            inside.remove(request.url.path)
        return httpx.Response(200, content=gif)

    def ctrl_c(result: object) -> None:
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with respx.mock(using="httpx", assert_all_called=False) as router:
            router.get(url__regex=r".*").mock(side_effect=answer)
            options = Options(base_url="http://flags.test/flags", dest=tmp_path, max_req=4)
            with pytest.raises(Interrupted) as stopped:
                download(["AD", "BR", "CN", "DE"], options, Mode.THREADS, ctrl_c)
            still_stuck = bool(inside)
            release.set()
            for thread in threading.enumerate():  # let them try to save, and fail to
                if thread.name.startswith("ThreadPoolExecutor"):
                    thread.join(10)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert still_stuck
    report = stopped.value.report
    assert [(r.cc, r.status.value) for r in report.results] == [("AD", "ok")]
    assert [p.name for p in gif_files(tmp_path)] == ["ad.gif"] and leftovers(tmp_path) == []


def catalogue_gif() -> bytes:
    from flags_async.server._catalogue import load_catalogue

    return load_catalogue()["ad/ad.gif"].body


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
    with make_server(Faults(delay=(0.1, 1.0))) as url:
        child = cli_process("download", "-a", "-v", "-m", "50", "-s", url, "-d", str(tmp_path),
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


@pytest.mark.parametrize("mode", ["sequential", "threads", "async"])
def test_a_library_caller_s_own_ctrl_c_handler_is_still_called(mode: str, tmp_path: Path) -> None:
    """`download` takes Ctrl-C over for the run, then hands it to the caller's handler."""
    import httpx
    import respx

    from flags_async import Interrupted, Mode, Options, download

    seen: list[int] = []

    def callers_handler(signum: int, frame: object) -> None:
        seen.append(signum)

    def ctrl_c(result: object) -> None:
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, callers_handler)
    try:
        with respx.mock(using="httpx", assert_all_called=False) as router:
            router.get(url__regex=r".*").mock(return_value=httpx.Response(404))
            options = Options(base_url="http://flags.test/flags", dest=tmp_path, max_req=2,
                              transport="httpx")  # type: ignore[arg-type]
            with pytest.raises(Interrupted):
                download(["AD", "BR", "CN"], options, Mode(mode), ctrl_c)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT]


@pytest.mark.parametrize("mode", ["sequential", "threads"])
@pytest.mark.usefixtures("ctrl_c_enabled")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowing
def test_a_sync_run_whose_ctrl_c_python_swallows_still_ends_interrupted(
    server_url: str, tmp_path: Path, mode: str,
) -> None:
    """The sync modes' own Ctrl-C handler raises in a weakref callback, where Python swallows
    it: the run still ends as interrupted, with its report, not with a traceback."""
    import weakref

    from flags_async import Interrupted, Mode, Options, Result, download

    class Thing:
        pass

    def ctrl_c_in_a_callback(ref: weakref.ref[Thing]) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs in here, and what it raises is swallowed
            pass

    def on_result(result: Result) -> None:
        thing = Thing()
        refs.append(weakref.ref(thing, ctrl_c_in_a_callback))
        del thing

    refs: list[weakref.ref[Thing]] = []
    codes = ["AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "BR", "IN"]
    with pytest.raises(Interrupted) as interrupted:
        download(codes, Options(base_url=server_url, dest=tmp_path, max_req=2), Mode(mode),
                 on_result)
    report = interrupted.value.report
    assert report.interrupted and report.ok < len(codes)
    assert sorted(p.name for p in gif_files(tmp_path)) == sorted(
        f"{r.cc.lower()}.gif" for r in report.results if r.status == "ok")


def test_a_sync_download_that_fails_after_a_stop_is_stopped_not_an_error(
    tmp_path: Path,
) -> None:
    """The stop shuts the sockets down, so a read it cut short fails: that failure is the
    stop's doing, not the server's, and must not be reported as an error."""
    import httpx
    import respx

    from flags_async import Options
    from flags_async.client._retry import Policy
    from flags_async.client._sequential import download_one
    from flags_async.client._stop import Stop, Stopped

    stop = Stop()

    def cut_short(request: httpx.Request) -> httpx.Response:
        stop.request()  # as Ctrl-C does, while this read is under way
        raise httpx.ReadError("connection reset", request=request)

    options = Options(base_url="http://127.0.0.1:9/flags", dest=tmp_path, retries=0)
    with respx.mock(using="httpx") as router, httpx.Client() as client:
        router.get("http://127.0.0.1:9/flags/br/br.gif").mock(side_effect=cut_short)
        with pytest.raises(Stopped):
            download_one(client, "BR", options, stop, Policy(options))
    assert stop.saved == []


def test_every_thread_the_package_starts_leaves_ctrl_c_to_the_main_thread(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signal the kernel hands to another thread wakes nothing: a main thread blocked in its
    wait for the downloads never ran the handler (threads mode hung after Ctrl-C, 2 runs in 150
    under load). So the pool's workers, async mode's writer and the embedded server's thread
    block SIGINT and SIGTERM, and the kernel must hand them to the main thread."""
    from flags_async import Mode, Options, download
    from flags_async._saving import save_result
    from flags_async.client._sequential import download_one
    from flags_async.server._embedded import ThreadServer

    masks: dict[str, set[int]] = {}

    def blocked() -> set[int]:
        return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))

    def recording(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object) -> object:
            masks[name] = blocked()
            return real(*args)
        return wrapper

    monkeypatch.setattr("flags_async.client._threads.download_one",
                        recording("pool", download_one))
    monkeypatch.setattr("flags_async.client._async.save_result", recording("writer", save_result))
    options = Options(base_url=server_url, dest=tmp_path)
    download(["AD"], options, Mode.THREADS)
    download(["AE"], options, Mode.ASYNC)

    async def flag(request: web.Request) -> web.Response:
        masks["server"] = blocked()
        return web.Response()

    def app() -> web.Application:
        application = web.Application()
        application.router.add_get("/", flag)
        return application

    server = ThreadServer(app)
    try:
        urllib.request.urlopen(server.base_url().rsplit("/flags", 1)[0] + "/", timeout=10).close()
    finally:
        server.close()
    assert masks.keys() == {"pool", "writer", "server"}
    for name, mask in masks.items():
        assert {signal.SIGINT, signal.SIGTERM} <= mask, name
    assert signal.SIGINT not in blocked()  # in the main thread


#: The command line, with a thread of its own that takes a Ctrl-C when told to (a line on
#: stdin): Python's handler runs only in the main thread, once it wakes.
CTRL_C_ELSEWHERE = """
import signal, sys, threading
from flags_async.cli import main

def ctrl_c_here():
    sys.stdin.readline()
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)

threading.Thread(target=ctrl_c_here, daemon=True).start()
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("mode", MODES[1:])  # sequential waits in the read itself: see below
@pytest.mark.usefixtures("ctrl_c_enabled")
def test_a_ctrl_c_handled_while_the_main_thread_waits_still_ends_the_run(
    catalogue: Catalogue, mode: list[str], tmp_path: Path,
) -> None:
    """A signal that arrives just as the main thread begins to wait, or that the kernel hands
    to another thread, is handled in C and wakes nothing: threaded mode hung (CI, 1 run in
    75 under load) until its main thread woke every `Stop.POLL_S`, and async mode's loop
    wakes every `HEARTBEAT_S`. Sequential mode's main thread waits in the read itself, bounded
    by --timeout; it has no thread of its own that could take the signal."""
    with serving(lambda: stalling_app(catalogue)) as url:
        child = subprocess.Popen(
            [sys.executable, "-c", CTRL_C_ELSEWHERE, "download", *QUICK, *NEVER_ANSWERED, "-v",
             "-m", "10", "--timeout", "600", "-s", url, "-d", str(tmp_path), *mode],
            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert sorted(wait_for_saved_flags(child)) == QUICK
        out, err = child.communicate("now\n", timeout=20)
    assert child.returncode == 130, err
    assert "3 flags downloaded." in out
    assert [p.name for p in gif_files(tmp_path)] == ["ad.gif", "ae.gif", "af.gif"]
