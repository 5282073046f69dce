"""The flags the package ships are exactly what `scripts/draw_flags.py` draws: the two cannot
drift apart. When this fails after a change to the script or to Pillow, run `make flags`."""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from flags_async.server._catalogue import load_catalogue

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "draw_flags.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("draw_flags", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drawn(script: ModuleType) -> dict[str, bytes]:
    files: dict[str, bytes] = script.draw_all()
    return files


def test_the_shipped_files_are_exactly_what_the_script_draws(drawn: dict[str, bytes]) -> None:
    root = Path(str(resources.files("flags_async").joinpath("data", "flags")))
    shipped = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert sorted(shipped) == sorted(drawn)  # not a file more or less
    assert [path for path in drawn if shipped[path] != drawn[path]] == []
    assert {path: entry.body for path, entry in load_catalogue().items()} == shipped


def test_the_script_writes_what_it_draws_as_the_served_tree(
    script: ModuleType, drawn: dict[str, bytes], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(script, "draw_all", lambda: drawn)
    script.main(tmp_path / "flags")
    written = {str(p.relative_to(tmp_path / "flags")): p.read_bytes()
               for p in (tmp_path / "flags").rglob("*") if p.is_file()}
    assert written == drawn
