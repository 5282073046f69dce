"""The flags the package ships are exactly what `scripts/draw_flags.py` draws: the two cannot
drift apart. When this fails after a change to the script or to Pillow, run `make flags`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from flags_async.server._catalogue import load_catalogue

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "draw_flags.py"


def draw_flags_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("draw_flags", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_files_are_exactly_what_the_script_draws() -> None:
    drawn = draw_flags_script().draw_all()
    shipped = {path: entry.body for path, entry in load_catalogue().items()}
    assert sorted(shipped) == sorted(drawn)
    assert [path for path in drawn if shipped[path] != drawn[path]] == []


def test_the_script_writes_the_tree_the_server_serves(tmp_path: Path) -> None:
    draw_flags_script().main(tmp_path / "flags")
    written = {str(p.relative_to(tmp_path / "flags")) for p in (tmp_path / "flags").rglob("*.*")}
    assert written == set(load_catalogue())
