"""The bundled server's flags, drawn once per machine and kept on disk between runs.

Drawing is the server's costliest work, and every run that starts the embedded server would
pay it again (docs/design.md has the figures). So each drawing goes to the user's cache folder
(`~/.cache/flags-async` on Linux, as `platformdirs` says; XDG_CACHE_HOME moves it) under a key
of the drawing code and the Pillow that ran it: a change to either starts a new folder, so a
drawing is only ever served by the code that made it. A cache that cannot be read or written
changes nothing but speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from functools import cache
from pathlib import Path

from .._saving import write_atomically

#: Seconds after which a `.part` file is taken for one left by a server killed mid-write, not
#: one another server is writing now.
STALE_PART_S = 60.0


def cached_flag(cc: str) -> bytes:
    """The GIF of `cc`'s flag: from the cache if it is there unharmed, else drawn and kept.

    Each file is named after a hash of its bytes (`br-<hash>.gif`), so a file damaged in any
    way, even one that still looks like a whole GIF, is told apart, drawn again and replaced.
    """
    stem = cc.lower()
    folder = _usable_folder()
    kept = None if folder is None else _kept(folder).get(stem)
    if folder is not None and kept is not None:
        with contextlib.suppress(OSError):
            body = (folder / kept).read_bytes()
            if kept == file_name(stem, body):
                return body
    from ._flagart import draw_flag  # Pillow is imported only when a flag must be drawn

    body = draw_flag(cc)
    if folder is not None:
        name = file_name(stem, body)
        if _keep(folder / name, body):
            _kept(folder)[stem] = name
        if kept is not None and kept != name:
            with contextlib.suppress(OSError):
                (folder / kept).unlink()
    return body


def file_name(stem: str, body: bytes) -> str:
    """The name `body` is kept under: the code, and a hash of the bytes."""
    return f"{stem}-{hashlib.sha256(body).hexdigest()[:16]}.gif"


def cache_folder() -> Path:
    """Where drawings made by this drawing code and this Pillow are kept. Raises `OSError` if
    the drawing code's source cannot be read to key the folder by."""
    import PIL  # the package alone: its version, not the imaging machinery
    import platformdirs

    key = cache_key(_drawing_code(), PIL.__version__)
    return Path(platformdirs.user_cache_dir("flags-async")) / f"flags-{key}"


def cache_key(drawing_code: bytes, pillow_version: str) -> str:
    """A short hash of what a drawing depends on."""
    return hashlib.sha256(drawing_code + b"\0" + pillow_version.encode()).hexdigest()[:16]


@cache
def _drawing_code() -> bytes:
    return Path(__file__).with_name("_flagart.py").read_bytes()


def _usable_folder() -> Path | None:
    try:
        return cache_folder()
    except OSError:  # no source to key by (an install without .py files): draw every time
        return None


@cache  # once per folder and process
def _kept(folder: Path) -> dict[str, str]:
    """The files in `folder` by code, as listed once and then kept up to date by this process;
    `.part` files that servers killed mid-write left are removed on the way."""
    kept: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(".gif"):
                kept[entry.name.partition("-")[0]] = entry.name
            elif entry.name.endswith(".part"):
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat().st_mtime > STALE_PART_S:
                        Path(entry.path).unlink()
    return kept


def _keep(path: Path, body: bytes) -> bool:
    """Write `body` to `path` atomically (another server, in this process or another, may be
    reading or writing it too); False if it could not be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, body)
    except OSError:
        return False
    return True
