"""The bundled server's drawing cache: a flag is drawn once per machine, and a cache that is
damaged or cannot be written changes nothing but speed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flags_async.server import _drawing_cache, _flagart
from flags_async.server._catalogue import Catalogue
from flags_async.server._drawing_cache import STALE_PART_S, cache_folder, cache_key
from flags_async.server._flagart import draw_flag


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The codes drawn during the test, in order."""
    codes: list[str] = []

    def counting(cc: str) -> bytes:
        codes.append(cc)
        return draw_flag(cc)

    monkeypatch.setattr(_flagart, "draw_flag", counting)
    return codes


def test_the_cache_lives_in_the_users_cache_folder(own_drawing_cache: Path) -> None:
    assert cache_folder().parent == own_drawing_cache / "flags-async"


def test_a_flag_drawn_by_one_server_is_not_drawn_again_by_the_next(drawn: list[str]) -> None:
    first = Catalogue()["br/br.gif"].body
    second = Catalogue()["br/br.gif"].body  # a new catalogue: as a new server process has
    assert drawn == ["BR"]
    assert first == second == draw_flag("BR")
    assert (cache_folder() / "br.gif").read_bytes() == first


def test_a_damaged_drawing_is_drawn_again_and_replaced(drawn: list[str]) -> None:
    cache_folder().mkdir(parents=True)
    for damaged in (b"", b"GIF89a half of a flag", b"<html>not a gif</html>;"):
        (cache_folder() / "br.gif").write_bytes(damaged)
        assert Catalogue()["br/br.gif"].body == draw_flag("BR")
    assert drawn == ["BR", "BR", "BR"]
    assert (cache_folder() / "br.gif").read_bytes() == draw_flag("BR")
    assert [p.name for p in cache_folder().iterdir()] == ["br.gif"]  # no .part left


def test_a_cache_that_cannot_be_written_changes_nothing_but_speed(
    own_drawing_cache: Path, drawn: list[str],
) -> None:
    (own_drawing_cache / "flags-async").write_text("a file where the folder should be")
    assert Catalogue()["br/br.gif"].body == draw_flag("BR")
    assert Catalogue()["br/br.gif"].body == draw_flag("BR")
    assert drawn == ["BR", "BR"]  # nothing kept, so drawn each time, and served all the same


def test_another_pillow_or_drawing_code_uses_another_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import PIL

    before = cache_folder()
    monkeypatch.setattr(PIL, "__version__", "0.0.1")
    assert cache_folder() != before
    code = _drawing_cache._drawing_code()
    assert cache_key(code, "13.0.0") != cache_key(code + b"# changed", "13.0.0")
    assert cache_key(code, "13.0.0") != cache_key(code, "13.0.1")
    assert cache_key(code, "13.0.0") == cache_key(code, "13.0.0")


def test_what_a_killed_server_left_half_written_is_swept(drawn: list[str]) -> None:
    folder = cache_folder()
    folder.mkdir(parents=True)
    old, fresh = folder / ".br.gif.abc123.part", folder / ".in.gif.def456.part"
    old.write_bytes(b"GIF89a half")
    fresh.write_bytes(b"GIF89a being written right now")
    long_ago = time.time() - 2 * STALE_PART_S
    os.utime(old, (long_ago, long_ago))
    assert Catalogue()["br/br.gif"].body == draw_flag("BR")
    assert not old.exists() and fresh.exists()  # another server may be writing that one


def test_without_the_drawing_codes_source_flags_are_drawn_every_time(
    monkeypatch: pytest.MonkeyPatch, drawn: list[str],
) -> None:
    def missing() -> bytes:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(_drawing_cache, "_drawing_code", missing)
    assert Catalogue()["br/br.gif"].body == draw_flag("BR")
    assert Catalogue()["br/br.gif"].body == draw_flag("BR")
    assert drawn == ["BR", "BR"]
