"""The bundled server's flags, drawn once per machine and kept on disk between runs.

Drawing is the server's costliest work, and every run that starts the embedded server would
pay it again: `make run` would spend longer drawing than downloading (docs/design.md has the
figures). So each drawing goes to the user's cache folder (`~/.cache/flags-async` on Linux,
as `platformdirs` says; XDG_CACHE_HOME moves it) under a key of the drawing code and the Pillow
that ran it: a change to either starts a new folder, so a drawing is only ever served by the
code that made it. A cache that cannot be read or written changes nothing but speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from functools import cache
from pathlib import Path

GIF_START, GIF_END = b"GIF89a", b";"


def cached_flag(cc: str) -> bytes:
    """The GIF of `cc`'s flag: from the cache if it is there whole, else drawn and kept."""
    path = cache_folder() / f"{cc.lower()}.gif"
    with contextlib.suppress(OSError):
        body = path.read_bytes()
        if body.startswith(GIF_START) and body.endswith(GIF_END):
            return body
    from ._flagart import draw_flag  # Pillow is imported only when a flag must be drawn

    body = draw_flag(cc)
    _keep(path, body)
    return body


def cache_folder() -> Path:
    """Where drawings made by this drawing code and this Pillow are kept."""
    import PIL  # the package alone: its version, not the imaging machinery
    import platformdirs

    return (Path(platformdirs.user_cache_dir("flags-async"))
            / f"flags-{_key(PIL.__version__)}")


@cache
def _key(pillow_version: str) -> str:
    drawing_code = Path(__file__).with_name("_flagart.py").read_bytes()
    return hashlib.sha256(drawing_code + pillow_version.encode()).hexdigest()[:16]


def _keep(path: Path, body: bytes) -> None:
    """Write `body` to `path` atomically (another server may be reading or writing it too)."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(body)
        part.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()
