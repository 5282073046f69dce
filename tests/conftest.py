"""Shared fixtures: the real bundled server on a free loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import random
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from flags_async import _diskprocess
from flags_async._catalogue import Entry, build_catalogue
from flags_async._server import Faults, listen, make_app, serve

NO_FAULTS = Faults()


@pytest.fixture(scope="session")
def catalogue() -> dict[str, Entry]:
    return build_catalogue()


@contextmanager
def running_server(catalogue: dict[str, Entry], faults: Faults = NO_FAULTS,
                   seed: int = 0) -> Iterator[str]:
    """Serve `make_app(faults)` on 127.0.0.1:<free port> until the block ends."""
    sock = listen("127.0.0.1", 0)
    ready = threading.Event()
    urls: list[str] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    async def main() -> None:
        app = make_app(faults, catalogue, random.Random(seed))
        await serve(app, sock, on_ready, stop=stop)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "test server did not start"
        yield urls[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="session")
def server_url(catalogue: dict[str, Entry]) -> Iterator[str]:
    """A fast, faultless bundled server shared by the whole session."""
    with running_server(catalogue) as url:
        yield url


@pytest.fixture
def make_server(
    catalogue: dict[str, Entry],
) -> Callable[..., AbstractContextManager[str]]:
    """Start a server with chosen faults: `with make_server(Faults(...)) as url:`."""

    def factory(faults: Faults = NO_FAULTS, seed: int = 0) -> AbstractContextManager[str]:
        return running_server(catalogue, faults, seed)

    return factory


def gif_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".gif")


def leftovers(folder: Path) -> list[Path]:
    """Anything in `folder` that is not a finished .gif (temporary files, for example)."""
    return sorted(p for p in folder.iterdir() if p.suffix != ".gif")


def slow_worker(marks: Path) -> list[str]:
    """The real worker, but each save touches `marks/saving`, then waits for `marks/release`
    (at most 10 s, so that a failing test fails rather than hangs)."""
    code = textwrap.dedent(f"""
        import pathlib, time
        from flags_async import _diskworker
        save = _diskworker.OPERATIONS["save"]
        marks = pathlib.Path({str(marks)!r})

        def slow_save(*args):
            (marks / "saving").touch()
            deadline = time.monotonic() + 10
            while not (marks / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            return save(*args)

        _diskworker.OPERATIONS["save"] = slow_save
        _diskworker.main()
    """)
    return [sys.executable, "-c", code]


@pytest.fixture
def marks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder for `slow_worker`'s marks, with `slow_worker` as the disk process."""
    folder = tmp_path_factory.mktemp("marks")
    monkeypatch.setattr(_diskprocess, "worker_command", lambda: slow_worker(folder))
    return folder


async def wait_for_file(path: Path, within: float = 10) -> None:
    """Until another process creates `path`: polled in a thread, as no event crosses processes."""
    await asyncio.to_thread(_poll_for, path, time.monotonic() + within)


def _poll_for(path: Path, deadline: float) -> None:
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.005)
