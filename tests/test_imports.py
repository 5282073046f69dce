"""Start-up discipline: heavy libraries are imported only by the code paths that use them.

Start-up time itself is measured with hyperfine (README), never in a test; this checks the
cause instead: which modules a given command loads.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("httpx", "aiohttp", "tqdm", "PIL", "matplotlib", "pydantic", "tenacity")

PROBE = """
import sys
from flags_async._cli import main
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


def test_the_disk_process_loads_no_heavy_library_nor_asyncio() -> None:
    code = ("import sys, flags_async._diskworker; "
            f"print([m for m in {(*HEAVY, 'asyncio')!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
