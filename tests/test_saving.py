"""Saving: only GIFs, only inside dest, never a half-written or temporary file left behind."""

from __future__ import annotations

import errno
import os
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flags_async import Options, Status
from flags_async._saving import is_gif, safe_name, save_flag, save_result, write_atomically

GIF = b"GIF89a" + b"\x00" * 100


def test_is_gif_accepts_both_signatures_only() -> None:
    assert is_gif(b"GIF87a...") and is_gif(b"GIF89a...")
    assert not is_gif(b"") and not is_gif(b"<html>") and not is_gif(b"\x89PNG\r\n")


def test_save_flag_writes_the_whole_file_and_no_temporary(tmp_path: Path) -> None:
    path = save_flag(GIF, tmp_path, "br")
    assert path == tmp_path / "br.gif"
    assert path.read_bytes() == GIF
    assert os.listdir(tmp_path) == ["br.gif"]


def test_save_flag_gives_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        mode = save_flag(GIF, tmp_path, "br").stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert mode & 0o044 == 0o044, oct(mode)  # readable by group and others, unlike mkstemp's 0600


def test_save_flag_refuses_a_body_that_is_not_a_gif(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a GIF"):
        save_flag(b"<html>", tmp_path, "br")
    assert os.listdir(tmp_path) == []


def test_save_flag_replaces_an_existing_file_atomically(tmp_path: Path) -> None:
    (tmp_path / "br.gif").write_bytes(b"old")
    save_flag(GIF, tmp_path, "br")
    assert (tmp_path / "br.gif").read_bytes() == GIF


def test_a_write_cut_short_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = tmp_path / "bench.png"
    chart.write_bytes(b"old chart")
    real_write = os.write

    def disk_full_after_a_little(fd: int, data: bytes) -> int:
        if len(data) < 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data[:5])  # some bytes reach the temporary file first

    monkeypatch.setattr(os, "write", disk_full_after_a_little)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(chart, b"the whole new chart")
    monkeypatch.undo()
    assert chart.read_bytes() == b"old chart"
    assert os.listdir(tmp_path) == ["bench.png"]


def test_a_failed_write_is_an_error_result_and_leaves_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "gone"  # the folder vanished under us
    result = save_result("BR", GIF, 1, None, Options(base_url="http://x", dest=missing))
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.startswith("cannot save")
    assert os.listdir(tmp_path) == []


def test_save_result_names_by_code_or_country(tmp_path: Path) -> None:
    plain = save_result("BR", GIF, 1, None, Options(base_url="http://x", dest=tmp_path))
    assert plain.path == tmp_path / "br.gif" and plain.named_by is None and plain.size == len(GIF)
    named = Options(base_url="http://x", dest=tmp_path, names=True)
    assert save_result("BR", GIF, 1, "Brazil", named).path == tmp_path / "Brazil.gif"
    fallback = save_result("XX", GIF, 1, None, named)
    assert fallback.path == tmp_path / "xx.gif" and fallback.named_by == "code"


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("Brazil", "Brazil"),
        ("United States", "United_States"),
        ("Côte d'Ivoire", "Côte_d'Ivoire"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("bad\x00name\n", "badname"),
        ("...", None),
        ("", None),
        ("   ", None),
        ("CON", None),
        ("nul.txt", None),
    ],
)
def test_safe_name(country: str, expected: str | None) -> None:
    assert safe_name(country) == expected


def test_safe_name_caps_the_length_in_bytes() -> None:
    name = safe_name("é" * 500)
    assert name is not None and len(name.encode()) <= 200


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_safe_name_never_escapes_or_breaks_the_folder(text: str) -> None:
    name = safe_name(text)
    if name is None:
        return
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".") and name not in (".", "..")
    assert not any(c in name for c in string.whitespace)
    assert len(name.encode()) <= 200
    assert Path("dest", f"{name}.gif").parent == Path("dest")


def test_the_folder_probe_never_gives_its_file_a_name_where_the_system_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C during the probe can leave nothing behind: no file inside the folder is ever
    named (where the file system has unnamed temporary files, as Linux's usually do)."""
    from flags_async._saving import prepare_dest

    try:
        os.close(os.open(tmp_path, os.O_TMPFILE | os.O_WRONLY))
    except (AttributeError, OSError):
        pytest.skip("no unnamed temporary files here")
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: (opened.append(str(path)),
                                                           real_open(path, *a, **k))[1])
    dest = tmp_path / "flags"
    prepare_dest(dest)
    assert str(dest) in opened  # the probe: the folder itself, opened for an unnamed file
    assert not [path for path in opened if Path(path).parent == dest]  # no name inside it
    assert list(dest.iterdir()) == []
