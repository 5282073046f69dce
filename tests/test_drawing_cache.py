"""The bundled server's drawing cache: a flag is drawn once per machine, and a cache that is
damaged or cannot be written changes nothing but speed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flags_async.server import _drawing_cache, _flagart
from flags_async.server._catalogue import Catalogue
from flags_async.server._drawing_cache import STALE_PART_S, cache_folder, cache_key, file_name
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


def kept_files() -> list[str]:
    return sorted(p.name for p in cache_folder().iterdir())


def test_a_flag_drawn_by_one_server_is_not_drawn_again_by_the_next(drawn: list[str]) -> None:
    first = Catalogue()["br/br.gif"].body
    _drawing_cache._kept.cache_clear()  # what a new server process knows: the folder alone
    second = Catalogue()["br/br.gif"].body
    assert drawn == ["BR"]
    assert first == second == draw_flag("BR")
    assert kept_files() == [file_name("br", first)]
    assert (cache_folder() / file_name("br", first)).read_bytes() == first


@pytest.mark.parametrize("damage", [
    lambda gif: b"",
    lambda gif: gif[: len(gif) // 2],
    lambda gif: gif[: gif.index(b";", 20) + 1],  # cut after a ';' inside: still ends like a GIF
    lambda gif: gif[:100] + bytes(900) + gif[1000:],  # zeros in the middle
    lambda gif: b"<html>not a gif</html>;",
], ids=["empty", "half", "cut-at-a-semicolon", "zeroed", "html"])
def test_a_damaged_drawing_is_drawn_again_and_replaced(
    drawn: list[str], damage: Callable[[bytes], bytes],
) -> None:
    gif = Catalogue()["br/br.gif"].body
    kept = cache_folder() / file_name("br", gif)
    kept.write_bytes(damage(gif))
    assert Catalogue()["br/br.gif"].body == gif
    assert drawn == ["BR", "BR"]
    assert kept.read_bytes() == gif
    assert kept_files() == [kept.name]  # no .part, no second file


def test_a_file_kept_under_another_name_is_replaced(drawn: list[str]) -> None:
    gif = draw_flag("BR")
    cache_folder().mkdir(parents=True)
    (cache_folder() / "br-0123456789abcdef.gif").write_bytes(gif)  # the bytes, a wrong name
    assert Catalogue()["br/br.gif"].body == gif
    assert drawn == ["BR"]
    assert kept_files() == [file_name("br", gif)]


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
    old, fresh = folder / ".br-1.gif.abc123.part", folder / ".in-2.gif.def456.part"
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
