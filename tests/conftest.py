"""Shared fixtures: the real bundled server on a free loopback port, in a background thread."""

from __future__ import annotations

import random
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from aiohttp import web

from flags_async.server._app import make_app
from flags_async.server._catalogue import Catalogue, load_catalogue
from flags_async.server._embedded import ThreadServer
from flags_async.server._faults import Faults

NO_FAULTS = Faults()


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@contextmanager
def serving(make: Callable[[], web.Application],
            tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve the app `make()` builds on 127.0.0.1:<free port> until the block ends, in a
    thread, as `download` runs its embedded server; yields the base URL once it listens."""
    server = ThreadServer(make, tls)
    try:
        yield server.base_url()
    finally:
        server.close()


@contextmanager
def running_server(catalogue: Catalogue, faults: Faults = NO_FAULTS,
                   seed: int = 0) -> Iterator[str]:
    """The bundled app with `faults`, served until the block ends."""
    with serving(lambda: make_app(faults, catalogue, random.Random(seed))) as url:
        yield url


@pytest.fixture(scope="session")
def server_url(catalogue: Catalogue) -> Iterator[str]:
    """A fast, faultless bundled server shared by the whole session."""
    with running_server(catalogue) as url:
        yield url


@pytest.fixture
def make_server(
    catalogue: Catalogue,
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


#: Runs the CLI with the given arguments, then prints its peak resident memory in KiB.
#: VmHWM is the high-water mark of this process's own memory map; `ru_maxrss` would not do:
#: Linux carries it over from the parent through fork and exec.
_MEASURED_CLI = """
import pathlib, sys
from flags_async.cli import main
code = main(sys.argv[1:])
status = pathlib.Path("/proc/self/status").read_text()
peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
print(f"peak-kib {peak}", file=sys.stderr)
sys.exit(code)
"""


def run_measured(*args: str, timeout: float = 120) -> tuple[int, str, str, int]:
    """`flags-async ARGS` in a fresh process: its exit code, stdout, stderr, and peak RSS in
    KiB (a fresh process's high-water mark is its own, not an earlier test's)."""
    done = subprocess.run([sys.executable, "-c", _MEASURED_CLI, *args], capture_output=True,
                          text=True, timeout=timeout, check=False)
    *err, last = done.stderr.rstrip("\n").split("\n")
    assert last.startswith("peak-kib "), done.stderr
    return done.returncode, done.stdout, "\n".join(err), int(last.split()[1])


@pytest.fixture
def ctrl_c_enabled() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt here, and child processes start with it enabled.

    A shell starts background jobs with SIGINT ignored, and Python keeps an inherited ignore
    (so then does `asyncio.run`, by design). Tests of Ctrl-C must not depend on how their
    runner was started: a Python handler here is reset to the default in every child.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def cli_process(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    """`python -m flags_async ARGS`, started with its output piped as text."""
    return subprocess.Popen([sys.executable, "-m", "flags_async", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


def wait_for_saved_flags(child: subprocess.Popen[str], count: int = 3,
                         json_out: bool = False) -> list[str]:
    """Read the child's `-v` lines (on stderr with `--json`) until `count` say a flag was
    saved; return their codes."""
    lines = child.stderr if json_out else child.stdout
    assert lines is not None
    saved = []
    for line in lines:
        if line.endswith(" ok\n"):
            saved.append(line.split()[0])
            if len(saved) == count:
                return saved
    raise AssertionError(f"the download ended before {count} flags were saved")
