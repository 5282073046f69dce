"""Whole runs of every mode against the real bundled server on loopback."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from flags_async import Mode, Options, Result, Status, TransportName, download, select_codes
from flags_async.client._retry import Policy
from flags_async.server._app import make_app
from flags_async.server._catalogue import Catalogue
from flags_async.server._faults import Faults
from tests.conftest import gif_files, leftovers, serving

MakeServer = Callable[..., AbstractContextManager[str]]
#: Every mode, and async with each transport.
VARIANTS = [(Mode.ASYNC, TransportName.AIOHTTP), (Mode.ASYNC, TransportName.HTTPX),
            (Mode.THREADS, TransportName.HTTPX), (Mode.SEQUENTIAL, TransportName.HTTPX)]


@pytest.mark.parametrize(("mode", "transport"), VARIANTS)
def test_every_code_gives_194_flags_and_482_not_found(
    server_url: str, mode: Mode, transport: TransportName, tmp_path: Path
) -> None:
    options = Options(base_url=server_url, dest=tmp_path, max_req=50, transport=transport)
    report = download(select_codes(every=True), options, mode)
    assert (report.ok, report.not_found, report.errors) == (194, 482, 0)
    files = gif_files(tmp_path)
    assert [f.stem.upper() for f in files] == list(select_codes(all_cc=True))
    assert all(f.read_bytes().startswith(b"GIF89a") for f in files)
    assert leftovers(tmp_path) == []
    for result in report.results:
        if result.status is Status.OK:
            assert result.path is not None and result.path.stat().st_size == result.size


def test_async_downloads_with_room_for_all_reuse_connections_rather_than_open_one_each(
    catalogue: Catalogue, tmp_path: Path,
) -> None:
    """`-m 1000` against a fast server: beyond the first hundred, downloads start a few per
    loop turn, so some take the connection of one that finished. Started all at once, each of
    the 676 opened its own. (httpx's own pool still opens one for each.)"""
    connections: set[object] = set()  # the server's side of each connection, kept alive

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        connections.add(request.transport)
        return await handler(request)  # type: ignore[no-any-return]

    def counting_app() -> web.Application:
        app = make_app(Faults(), catalogue)
        app.middlewares.append(count)
        return app

    codes = select_codes(every=True)
    with serving(counting_app) as url:
        report = download(codes, Options(base_url=url, dest=tmp_path, max_req=1000), Mode.ASYNC)
    assert (report.ok, report.not_found, report.errors) == (194, 482, 0)
    assert 0 < len(connections) < len(codes)  # how many are reused depends on the machine


@pytest.mark.parametrize(("started", "room", "turns"), [
    (1, True, False), (99, True, False),  # the first hundred start in one turn, as in the book
    (100, True, True), (101, True, False), (105, True, True),  # then five per turn
    (100, False, False),  # the semaphore is full: the rest would wait for a slot anyway
])
def test_pace_lets_the_loop_turn_only_beyond_the_first_hundred_and_while_there_is_room(
    started: int, room: bool, turns: bool,
) -> None:
    from flags_async.client._async import pace

    async def main() -> bool:
        turned: list[bool] = []
        asyncio.get_running_loop().call_soon(turned.append, True)
        await pace(started, asyncio.Semaphore(1000 if room else 0))
        return bool(turned)

    assert asyncio.run(main()) is turns


@pytest.mark.parametrize(("mode", "transport"), VARIANTS)
def test_a_server_url_with_credentials_works_in_every_mode(
    server_url: str, mode: Mode, transport: TransportName, tmp_path: Path
) -> None:
    with_credentials = server_url.replace("http://", "http://bob:s3cret@")
    options = Options(base_url=with_credentials, dest=tmp_path, transport=transport)
    report = download(["BR", "ZZ"], options, mode)
    assert (report.ok, report.not_found, report.errors) == (1, 1, 0)


@pytest.mark.parametrize("mode", list(Mode))
def test_names_mode_saves_country_names(server_url: str, mode: Mode, tmp_path: Path) -> None:
    options = Options(base_url=server_url, dest=tmp_path, names=True)
    report = download(["BR", "CI", "US", "ZZ"], options, mode)
    assert (report.ok, report.not_found) == (3, 1)
    assert sorted(f.name for f in gif_files(tmp_path)) == [
        "Brazil.gif", "Côte_d'Ivoire.gif", "United_States.gif"]


@pytest.mark.parametrize("mode", list(Mode))
def test_an_erratic_server_is_counted_exactly(
    make_server: MakeServer, mode: Mode, tmp_path: Path
) -> None:
    """418s are final errors; every code is accounted for and only ok files are on disk."""
    with make_server(Faults(delay=(0.0, 0.01), error_rate=0.25), seed=7) as url:
        options = Options(base_url=url, dest=tmp_path, max_req=20, backoff=0)
        report = download(select_codes(["A", "B"]), options, mode)
    assert report.ok + report.not_found + report.errors == 52
    assert report.errors > 0
    assert all(r.error == "HTTP 418" for r in report.results if r.status is Status.ERROR)
    ok_paths = sorted(r.path for r in report.results if r.path is not None)
    assert gif_files(tmp_path) == ok_paths
    assert leftovers(tmp_path) == []


def test_nothing_listening_is_an_error_per_code(tmp_path: Path) -> None:

    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = Options(base_url=f"http://127.0.0.1:{port}/flags", dest=tmp_path, retries=1,
                      backoff=0)
    report = download(["BR", "AR"], options)
    assert report.errors == 2
    assert {r.error for r in report.results} == {"connection failed"}
    assert {r.attempts for r in report.results} == {2}


@pytest.mark.parametrize("mode", list(Mode))
def test_an_interrupt_reports_what_completed_and_leaves_only_whole_files(
    make_server: MakeServer, mode: Mode, tmp_path: Path
) -> None:
    from flags_async import Interrupted

    seen = []

    def stop_after_three(result: object) -> None:
        seen.append(result)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with make_server(Faults(delay=(0.0, 0.3))) as url:
        options = Options(base_url=url, dest=tmp_path, max_req=10)
        with pytest.raises(Interrupted) as info:
            download(select_codes(all_cc=True), options, mode, stop_after_three)
    report = info.value.report
    assert report.interrupted and report.requested == 194
    assert 3 <= len(report.results) < 194
    # A Ctrl-C still: a caller's `except Exception` does not swallow it.
    assert isinstance(info.value, KeyboardInterrupt) and not isinstance(info.value, Exception)
    assert str(info.value) == f"interrupted: {len(report.results)} of 194 codes done"
    assert report.as_dict()["interrupted"] is True
    assert leftovers(tmp_path) == []
    assert all(f.read_bytes().startswith(b"GIF89a") for f in gif_files(tmp_path))
    ok_paths = sorted(r.path for r in report.results if r.path is not None)
    assert ok_paths == gif_files(tmp_path)  # the report counts exactly the files on disk


def test_an_interrupt_in_threaded_mode_reports_the_answers_already_in(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C that comes once every download has ended, before any is reported: the 404s
    count as much as the flags saved."""
    from concurrent import futures

    from flags_async import Interrupted

    def ctrl_c_once_all_have_ended(fs: list[futures.Future[Result]]) -> Iterator[object]:
        futures.wait(fs)
        raise KeyboardInterrupt
        yield  # a generator, as `as_completed` is

    monkeypatch.setattr("flags_async.client._threads.as_completed", ctrl_c_once_all_have_ended)
    codes = ["AD", "BR", "QQ", "ZZ"]
    options = Options(base_url=server_url, dest=tmp_path, max_req=4)
    with pytest.raises(Interrupted) as info:
        download(codes, options, Mode.THREADS)
    report = info.value.report
    assert (report.ok, report.not_found, report.requested) == (2, 2, 4)
    assert [r.path for r in report.results if r.path is not None] == gif_files(tmp_path)


@pytest.mark.parametrize("transport", list(TransportName))
def test_a_cancelled_async_download_ends_every_task_before_the_client_closes(
    make_server: MakeServer, transport: TransportName, tmp_path: Path
) -> None:
    """Ctrl-C cancels the supervisor: no download may go on, or fail, against a closed client."""
    from flags_async.client._async import supervisor

    async def main() -> tuple[set[asyncio.Task[object]], list[dict[str, object]]]:
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        first = asyncio.Event()
        options = Options(base_url=url, dest=tmp_path, max_req=5, transport=transport)
        task = asyncio.create_task(
            supervisor(select_codes(all_cc=True), options, lambda _: first.set(),
                       Policy(options)))
        await first.wait()  # saved one flag; most codes queue at the semaphore
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        left = {t for t in asyncio.all_tasks() if t.get_coro().__name__ == "download_one"}
        gc.collect()  # a failed task nobody awaited is reported when it is collected
        return left, errors

    with make_server(Faults(delay=(0.05, 0.2))) as url:
        left, errors = asyncio.run(main())
    assert left == set()
    assert errors == []
    assert leftovers(tmp_path) == []


def test_saves_under_way_at_ctrl_c_are_finished_and_reported(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupted async run's report matches the disk, even for saves Ctrl-C cut across:
    the save being written and those queued behind it are carried out, and counted."""
    from flags_async.client import _async

    writing, release = threading.Event(), threading.Event()
    real_save_result, real_save = _async.save_result, _async.save
    handed_over = 0

    def blocking_save_result(*args: Any) -> Result:
        if not writing.is_set():  # the first save holds the writer thread until released
            writing.set()
            release.wait(10)
        return real_save_result(*args)

    async def counting_save(*args: Any) -> Result:
        nonlocal handed_over
        handed_over += 1
        if handed_over == 4:
            three_queued.set()
        return await real_save(*args)

    monkeypatch.setattr(_async, "save_result", blocking_save_result)
    monkeypatch.setattr(_async, "save", counting_save)

    async def main() -> list[Result]:
        reported: list[Result] = []
        options = Options(base_url=url, dest=tmp_path, max_req=20)
        task = asyncio.create_task(
            _async.supervisor(select_codes(all_cc=True), options, reported.append,
                              Policy(options)))
        await asyncio.to_thread(writing.wait, 10)  # the first flag is being written
        await three_queued.wait()  # and three more wait for the writer behind it
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return reported

    with make_server(Faults(delay=(0.0, 0.05))) as url:
        three_queued = asyncio.Event()
        reported = asyncio.run(main())
    saved = sorted(r.path for r in reported if r.status is Status.OK and r.path is not None)
    assert 4 <= len(saved) < 194  # the save under way, and the ones queued behind it
    assert saved == gif_files(tmp_path)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", list(Mode))
def test_skip_existing_keeps_whole_flags_and_fetches_missing_or_broken_ones(
    server_url: str, make_server: MakeServer, mode: Mode, tmp_path: Path
) -> None:
    codes = select_codes(all_cc=True, limit=8)
    download(codes, Options(base_url=server_url, dest=tmp_path), mode)
    first, second, third = (tmp_path / f"{cc.lower()}.gif" for cc in codes[:3])
    first.unlink()  # missing
    second.write_bytes(second.read_bytes()[:100])  # cut short: no GIF trailer
    third.write_bytes(b"<html>not a flag</html>")  # not a GIF at all
    # A server that fails every request proves the 5 whole files cost no request at all.
    with make_server(Faults(error_rate=1.0)) as failing:
        options = Options(base_url=failing, dest=tmp_path, skip_existing=True)
        report = download(codes, options, mode)
    assert (report.skipped, report.errors, report.ok) == (5, 3, 0)
    assert {r.cc for r in report.results if r.status is Status.ERROR} == set(codes[:3])
    # And against a working server, the three are fetched again and the rest kept.
    report = download(codes, Options(base_url=server_url, dest=tmp_path, skip_existing=True),
                      mode)
    assert (report.skipped, report.ok) == (5, 3)
    assert all(f.read_bytes().startswith(b"GIF89a") for f in gif_files(tmp_path))
    assert len(gif_files(tmp_path)) == 8 and leftovers(tmp_path) == []


def test_skip_existing_with_names_keeps_the_named_files(server_url: str, tmp_path: Path) -> None:
    options = Options(base_url=server_url, dest=tmp_path, names=True, skip_existing=True)
    assert download(["BR", "US"], options).ok == 2
    again = download(["BR", "US"], options)
    assert again.skipped == 2
    assert sorted(f.name for f in gif_files(tmp_path)) == ["Brazil.gif", "United_States.gif"]


@pytest.mark.parametrize("mode", list(Mode))
def test_skip_existing_with_names_keeps_a_flag_saved_under_its_code(
    server_url: str, mode: Mode, tmp_path: Path
) -> None:
    """An earlier run saved br.gif (its metadata failed then): now that the name is known, the
    flag is kept, not saved again as Brazil.gif beside it."""
    (tmp_path / "br.gif").write_bytes(download_bytes(server_url, "BR", tmp_path / "first"))
    options = Options(base_url=server_url, dest=tmp_path, names=True, skip_existing=True)
    report = download(["BR"], options, mode)
    assert (report.skipped, report.ok) == (1, 0)
    assert [f.name for f in gif_files(tmp_path)] == ["br.gif"]


def download_bytes(server_url: str, cc: str, folder: Path) -> bytes:
    """The bytes of `cc`'s flag, fetched into `folder`."""
    report = download([cc], Options(base_url=server_url, dest=folder))
    (result,) = report.results
    assert result.path is not None
    return result.path.read_bytes()
