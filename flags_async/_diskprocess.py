"""Async mode's disk: a helper process saves the flags, so saving never slows the event loop.

Writing a file blocks, so it must not run on the event loop. The book hands each save to a
thread (`asyncio.to_thread`), and this project did too, in batches. But a thread shares the GIL
with the event loop: after each of its system calls (open, write, close, rename) it must take
the GIL back from a loop that is busy with the network. Measured against nginx on 2 cores, 676
codes saved into `/tmp`: the disk thread held 77 ms of CPU but spent 180 to 245 ms in its saves,
and its last save ended with the run, so the run waited for it. The same downloads with the
saving switched off took 0.07 to 0.09 s less: the thread hid almost none of the disk's cost.

A process has its own interpreter and GIL, and runs on the other core. The event loop only
writes each image into a pipe and reads a short answer back: 8 ms of a run for 194 flags. The
process is started with the run and is ready (in about 40 ms) about when the first flag
arrives. It runs the same `save_result` as the other modes (see `_diskworker.py`).
"""

from __future__ import annotations

import asyncio
import collections
import os
import pickle
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from ._diskworker import HEADER, frame
from ._models import Options, Result, Status


class DiskProcessStopped(Exception):
    """The disk process cannot answer: it did not start, or it has exited."""


def worker_command() -> list[str]:
    """The disk process's command line: this Python, running `_diskworker`.

    `-P` keeps the current folder off `sys.path`, so a stray `flags_async` folder there cannot
    stand in for this package; `worker_env` points the worker at this package instead.
    """
    return [sys.executable, "-P", "-m", f"{__package__}._diskworker"]


def worker_env() -> dict[str, str]:
    """This process's environment, with this package's parent folder first on the path."""
    here = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here if not path else here + os.pathsep + path}


class DiskProcess:
    """Saves flags (and checks kept ones) in a helper process, in the order they are asked for.

    Use it as `async with DiskProcess(options) as disk:`; leaving the block waits until every
    save handed over is done. A save handed over is always carried out, so a caller cancelled
    while it waits (Ctrl-C) still waits for the answer and returns it: an interrupted run then
    reports exactly the files it wrote. If the process cannot start or dies, every save that
    has no answer yet is reported as a `cannot save` error, and none waits forever.
    """

    def __init__(self, options: Options) -> None:
        self._options = options
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._stopped: str | None = None  # why no more answers will come
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DiskProcess:
        try:
            self._process = await asyncio.create_subprocess_exec(
                *worker_command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=worker_env(),
                start_new_session=True,  # the terminal's Ctrl-C is for this process, not it
            )
        except OSError as exc:
            self._stopped = f"cannot start the disk process ({exc.strerror or exc})"
            return self
        self._reader = asyncio.create_task(self._read_answers(self._process))
        self._write(self._options)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        assert self._process.stdin is not None and self._reader is not None
        self._process.stdin.close()  # the end of the input: finish what you have, then exit
        await self._reader
        await self._process.wait()

    async def save(self, cc: str, image: bytes, attempts: int, stem: str | None) -> Result:
        """`save_result` for a fetched flag, done by the disk process."""
        try:
            result: Result = await self._ask(("save", cc, image, attempts, stem))
        except DiskProcessStopped as exc:
            return Result(cc, Status.ERROR, attempts=attempts, error=f"cannot save: {exc}")
        return result

    async def kept(self, cc: str) -> Result | None:
        """`kept_flag` for a code, read by the disk process; None (fetch it) if it cannot."""
        try:
            result: Result | None = await self._ask(("kept", cc, None))
        except DiskProcessStopped:
            return None  # the save will report why
        return result

    async def _ask(self, request: tuple[Any, ...]) -> Any:
        if self._stopped is not None:
            raise DiskProcessStopped(self._stopped)
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        self._write(request)
        # Handed over: the process will carry it out whatever happens here. So wait for the
        # answer even if cancelled (Ctrl-C), and return it, so the file written is counted.
        while True:
            try:
                return await asyncio.shield(answer)
            except asyncio.CancelledError:
                _current_task().uncancel()  # the answer always comes: see _read_answers

    def _write(self, message: object) -> None:
        """Queue a frame for the process; the pipe takes it as fast as the process reads."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(frame(message))

    async def _read_answers(self, process: asyncio.subprocess.Process) -> None:
        """Hand each answer to the oldest waiting caller, until the process's output ends."""
        assert process.stdout is not None and process.stderr is not None
        errors = asyncio.create_task(process.stderr.read())  # drained, so it never blocks
        try:
            while True:
                header = await process.stdout.readexactly(HEADER.size)
                (size,) = HEADER.unpack(header)
                data = await process.stdout.readexactly(size)
                ok, value = pickle.loads(data)  # noqa: S301 (our own child: see _diskworker)
                answer = self._waiting.popleft()
                if ok:
                    answer.set_result(value)
                else:
                    answer.set_exception(value)
        except asyncio.IncompleteReadError:  # the process closed its output: it is exiting
            self._stopped = await _why_stopped(process, errors)
        finally:
            if self._stopped is None:  # this task was cancelled: no answer will be read
                self._stopped = "the disk process was abandoned"
                if process.stdin is not None:
                    process.stdin.close()  # so it exits when it has finished
            while self._waiting:
                self._waiting.popleft().set_exception(DiskProcessStopped(self._stopped))


async def _why_stopped(process: asyncio.subprocess.Process, errors: asyncio.Task[bytes]) -> str:
    """The exit code and the last line the process wrote to stderr, if any."""
    code = await process.wait()
    lines = (await errors).decode(errors="replace").strip().splitlines()
    last = f": {lines[-1]}" if lines else ""
    return f"the disk process stopped (exit code {code}{last})"


def _current_task() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    assert task is not None, "DiskProcess is used from a task"
    return task
