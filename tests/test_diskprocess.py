"""The async mode's disk process: saves off the event loop, each caller gets its own answer,
nothing handed over is lost, and a worker that fails is reported, never waited for forever."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path

import pytest

from flags_async import Options, Result, Status, _diskprocess, _diskworker
from flags_async._diskprocess import DiskProcess
from flags_async._diskworker import frame
from tests.conftest import gif_files, leftovers, wait_for_file

GIF = b"GIF89a" + bytes(100) + b";"


def test_saves_write_the_flags_and_return_what_save_result_returns(tmp_path: Path) -> None:
    async def main() -> list[Result]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            return await asyncio.gather(*(disk.save(cc, GIF + cc.encode(), 1, None)
                                          for cc in ["BR", "IN", "US"]))

    results = asyncio.run(main())
    assert [(r.cc, r.status, r.attempts) for r in results] == [
        ("BR", Status.OK, 1), ("IN", Status.OK, 1), ("US", Status.OK, 1)]
    assert [r.path for r in results] == [tmp_path / "br.gif", tmp_path / "in.gif",
                                          tmp_path / "us.gif"]
    assert (tmp_path / "in.gif").read_bytes() == GIF + b"IN"
    assert all(r.size == len(GIF) + 2 for r in results)
    assert leftovers(tmp_path) == []


def test_kept_finds_whole_flags_only(tmp_path: Path) -> None:
    (tmp_path / "br.gif").write_bytes(GIF)
    (tmp_path / "in.gif").write_bytes(GIF[:50])  # cut short: no trailer

    async def main() -> list[Result | None]:
        options = Options("http://x", dest=tmp_path, skip_existing=True)
        async with DiskProcess(options) as disk:
            return [await disk.kept(cc) for cc in ["BR", "IN", "US"]]

    kept, broken, missing = asyncio.run(main())
    assert kept is not None and (kept.status, kept.size) == (Status.SKIPPED, len(GIF))
    assert (broken, missing) == (None, None)


def test_a_save_that_cannot_be_written_is_reported_as_an_error(tmp_path: Path) -> None:
    async def main() -> Result:
        async with DiskProcess(Options("http://x", dest=tmp_path / "gone")) as disk:
            return await disk.save("BR", GIF, 2, None)

    result = asyncio.run(main())
    assert (result.status, result.attempts) == (Status.ERROR, 2)
    assert result.error == "cannot save: No such file or directory"


def test_an_exception_in_the_worker_reaches_only_its_own_caller(tmp_path: Path) -> None:
    async def main() -> list[object]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            return list(await asyncio.gather(disk.save("BR", GIF, 1, None),
                                             disk.save("IN", b"<html>", 1, None),
                                             disk.save("US", GIF, 1, None),
                                             return_exceptions=True))

    first, failure, third = asyncio.run(main())
    assert isinstance(first, Result) and isinstance(third, Result)
    assert (first.status, third.status) == (Status.OK, Status.OK)
    assert isinstance(failure, ValueError) and "not a GIF" in str(failure)


def test_the_event_loop_keeps_running_while_a_save_blocks(
    tmp_path: Path, marks: Path
) -> None:

    async def main() -> tuple[bool, Result]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            saving = asyncio.create_task(disk.save("BR", GIF, 1, None))
            await wait_for_file(marks / "saving")
            for _ in range(10):  # the loop is free while the worker is stuck in the save
                await asyncio.sleep(0.001)
            still_saving = not saving.done()
            (marks / "release").touch()
            return still_saving, await saving

    still_saving, result = asyncio.run(main())
    assert still_saving  # the ten ticks ran while the save was blocked, not after it
    assert result.status is Status.OK


def test_a_caller_cancelled_while_it_waits_still_gets_its_result(
    tmp_path: Path, marks: Path
) -> None:
    """Ctrl-C mid-save: a save handed over is carried out, so its caller waits for the answer
    and returns it (to be counted), however often it is cancelled."""

    async def main() -> tuple[Result, int, Result]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            running = asyncio.create_task(disk.save("BR", GIF, 1, None))
            queued = asyncio.create_task(disk.save("IN", GIF, 1, None))
            await wait_for_file(marks / "saving")
            running.cancel()
            queued.cancel()
            await asyncio.sleep(0.05)
            assert not running.done() and not queued.done()  # waiting, not abandoning
            running.cancel()
            await asyncio.sleep(0.05)
            (marks / "release").touch()
            outcome = await asyncio.wait_for(running, 10)
            return outcome, running.cancelling(), await asyncio.wait_for(queued, 10)

    running, cancelling, queued = asyncio.run(main())
    assert (running.status, cancelling, queued.status) == (Status.OK, 0, Status.OK)
    assert [p.name for p in gif_files(tmp_path)] == ["br.gif", "in.gif"]


def test_ctrl_c_neither_reaches_the_worker_from_a_terminal_nor_stops_its_save(
    tmp_path: Path, marks: Path
) -> None:
    """Ctrl-C is the parent's: a terminal signals its foreground process group, which the
    worker is not in; and a SIGINT sent to the worker itself does not cut a save short."""

    async def main() -> tuple[int, Result]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            assert disk._process is not None
            worker = disk._process.pid
            saving = asyncio.create_task(disk.save("BR", GIF, 1, None))
            await wait_for_file(marks / "saving")
            os.kill(worker, signal.SIGINT)
            await asyncio.sleep(0.1)
            (marks / "release").touch()
            return os.getpgid(worker), await asyncio.wait_for(saving, 10)

    group, result = asyncio.run(main())
    assert group != os.getpgid(0)
    assert result.status is Status.OK and gif_files(tmp_path) == [tmp_path / "br.gif"]


def test_callers_get_an_answer_not_a_hang_when_the_reader_is_cancelled(
    tmp_path: Path, marks: Path
) -> None:
    """As `asyncio.run` cancels every task left when a run is torn down: a caller still waiting
    is answered (an error result), and the process is told to finish."""

    async def main() -> tuple[Result, int]:
        disk = DiskProcess(Options("http://x", dest=tmp_path))
        await disk.__aenter__()
        assert disk._process is not None and disk._reader is not None
        saving = asyncio.create_task(disk.save("BR", GIF, 1, None))
        await wait_for_file(marks / "saving")
        disk._reader.cancel()
        result = await asyncio.wait_for(saving, 10)
        (marks / "release").touch()
        return result, await asyncio.wait_for(disk._process.wait(), 10)

    result, code = asyncio.run(main())
    assert result.status is Status.ERROR
    assert result.error == "cannot save: the disk process was abandoned"
    assert code == 0  # its input was closed, so it finished the save and left


def test_leaving_the_block_waits_for_every_save_and_for_the_worker_to_exit(
    tmp_path: Path, marks: Path
) -> None:

    async def main() -> tuple[DiskProcess, list[asyncio.Task[Result]]]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            saves = [asyncio.create_task(disk.save(cc, GIF, 1, None))  # not awaited here
                     for cc in ["BR", "IN", "US"]]
            await wait_for_file(marks / "saving")
            asyncio.get_running_loop().call_later(0.1, (marks / "release").touch)
        assert all(save.done() for save in saves)
        return disk, saves

    disk, saves = asyncio.run(main())
    assert disk._process is not None and disk._process.returncode == 0
    assert all(save.result().status is Status.OK for save in saves)
    assert len(gif_files(tmp_path)) == 3 and leftovers(tmp_path) == []


def test_the_worker_answers_each_request_in_order_until_its_input_ends(tmp_path: Path) -> None:
    """The worker's loop, in this process: the pipe protocol both ends rely on."""
    options = Options("http://x", dest=tmp_path, skip_existing=True)
    messages = [options, ("save", "BR", GIF, 1, None), ("kept", "BR", None),
                ("save", "IN", b"<p>", 1, None)]
    cut_short = frame(("save", "US", GIF, 1, None))[:-3]  # the parent died mid-frame
    requests = b"".join(frame(message) for message in messages) + cut_short
    answers = io.BytesIO()
    _diskworker.serve(io.BytesIO(requests), answers)
    answers.seek(0)
    saved, kept, refused = (_diskworker.read_frame(answers) for _ in range(3))
    assert _diskworker.read_frame(answers) is None  # three answers, and nothing for the cut frame
    assert saved[0] and saved[1].status is Status.OK and saved[1].path == tmp_path / "br.gif"
    assert kept[0] and kept[1].status is Status.SKIPPED
    assert not refused[0] and isinstance(refused[1], ValueError)
    assert gif_files(tmp_path) == [tmp_path / "br.gif"]


@pytest.mark.parametrize(
    ("command", "reason"),
    [(["/nonexistent/python"], "cannot start the disk process (No such file or directory)"),
     ([sys.executable, "-c", "import sys; sys.exit(3)"], "the disk process stopped (exit code 3)"),
     ([sys.executable, "-c", "raise SystemExit('no room for the worker')"],
      "the disk process stopped (exit code 1: no room for the worker)")],
    ids=["cannot-start", "exits", "exits-with-a-message"],
)
def test_a_worker_that_fails_turns_every_save_into_an_error_without_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], reason: str
) -> None:
    monkeypatch.setattr(_diskprocess, "worker_command", lambda: command)

    async def main() -> tuple[list[Result], Result, Result | None]:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            early = await asyncio.gather(*(disk.save(cc, GIF, 1, None) for cc in ["BR", "IN"]))
            await asyncio.sleep(0.2)  # long gone by now
            return early, await disk.save("US", GIF, 1, None), await disk.kept("US")

    early, late, kept = asyncio.run(asyncio.wait_for(main(), 10))
    assert [r.error for r in [*early, late]] == [f"cannot save: {reason}"] * 3
    assert all(r.status is Status.ERROR for r in [*early, late])
    assert kept is None  # cannot tell: fetch it, and let the save report why
    assert gif_files(tmp_path) == []


def test_the_worker_runs_this_package_whatever_the_current_folder_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "cwd" / "flags_async"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy package was imported')\n")
    monkeypatch.chdir(decoy.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(decoy.parent), "elsewhere"]))

    async def main() -> Result:
        async with DiskProcess(Options("http://x", dest=tmp_path)) as disk:
            return await disk.save("BR", GIF, 1, None)

    assert asyncio.run(main()).status is Status.OK
