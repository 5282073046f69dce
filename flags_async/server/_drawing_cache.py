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
import tempfile
import time
from functools import cache
from pathlib import Path

GIF_START, GIF_END = b"GIF89a", b";"
#: Seconds after which a `.part` file is taken for one left by a server killed mid-write (a
#: live server renames its own within milliseconds).
STALE_PART_S = 60.0


def cached_flag(cc: str) -> bytes:
    """The GIF of `cc`'s flag: from the cache if it is there whole, else drawn and kept."""
    folder = _usable_folder()
    path = None if folder is None else folder / f"{cc.lower()}.gif"
    if path is not None:
        with contextlib.suppress(OSError):
            body = path.read_bytes()
            if body.startswith(GIF_START) and body.endswith(GIF_END):
                return body
    from ._flagart import draw_flag  # Pillow is imported only when a flag must be drawn

    body = draw_flag(cc)
    if path is not None:
        _keep(path, body)
    return body


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
        folder = cache_folder()
    except OSError:  # no source to key by (an install without .py files): draw every time
        return None
    _sweep(folder)
    return folder


@cache  # once per folder and process
def _sweep(folder: Path) -> None:
    """Remove the `.part` files that servers killed mid-write left behind."""
    with contextlib.suppress(OSError):
        for part in folder.glob(".*.part"):
            with contextlib.suppress(OSError):
                if time.time() - part.stat().st_mtime > STALE_PART_S:
                    part.unlink()


def _keep(path: Path, body: bytes) -> None:
    """Write `body` to `path` atomically: another server, in this process or another, may be
    reading or writing it too."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError:
        return
    part = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(body)
        part.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()
