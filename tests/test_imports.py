"""Start-up discipline: heavy libraries are imported only by the code paths that use them.

Start-up time itself is measured with hyperfine (docs/design.md), never in a test; this checks the
cause instead: which modules a given command loads.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("httpx", "aiohttp", "tqdm", "PIL", "matplotlib", "asyncio", "ssl")

PROBE = """
import sys
from flags_async.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(" ".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def loaded_after(argv: list[str]) -> set[str]:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    return set(done.stderr.strip().splitlines()[-1].split()) if done.stderr.strip() else set()


@pytest.mark.parametrize("argv", [["--help"], ["download", "--help"], ["serve", "--help"],
                                  ["bench", "--help"], ["--version"]])
def test_help_and_version_load_no_heavy_library(argv: list[str]) -> None:
    assert loaded_after(argv) == set()


def test_package_import_is_light() -> None:
    code = f"import sys, flags_async; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_sync_modes_never_load_aiohttp() -> None:
    code = (
        "import sys; from flags_async import Mode, strategy; "
        "strategy(Mode.THREADS); strategy(Mode.SEQUENTIAL); "
        "print('aiohttp' in sys.modules, 'httpx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "False True"


INTERRUPTED_WHILE_IMPORTING = """
import builtins, os, signal, sys
if sys.argv[1] == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
real_import, target = builtins.__import__, sys.argv[2]
stop = getattr(signal, os.environ.get("STOP_SIGNAL", "SIGINT"))
def interrupting(name, *args, **kwargs):
    if name == target:
        os.kill(os.getpid(), stop)
    return real_import(name, *args, **kwargs)
builtins.__import__ = interrupting
sys.argv = ["flags-async", *sys.argv[3:]]
from flags_async._console import run
run()
"""


@pytest.mark.parametrize(("module", "argv"), [
    ("cli", ["--version"]),  # `from .cli import run` in flags_async/_console.py
    ("server._embedded", ["download", "BR"]),  # as `download` starts the embedded server
    ("_signals", ["download", "BR"]),  # the command line's own signal handling, loading
    ("client._limits", ["download", "BR", "-s", "http://127.0.0.1:9/flags"]),  # the command's
])
def test_a_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130(
    module: str, argv: list[str],
) -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_WHILE_IMPORTING, "default",
                           module, *argv], capture_output=True, text=True, timeout=60,
                          check=False)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "\nInterrupted.\n")


def test_an_ignored_ctrl_c_stays_ignored_while_the_command_line_loads() -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_WHILE_IMPORTING, "ignored",
                           "cli", "--version"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "flags-async 0.1.0\n", "")
