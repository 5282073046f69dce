"""Putting a flag on disk: only valid GIFs, only inside `dest`, never half-written."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from ._models import Options, Result, Status

if TYPE_CHECKING:
    from ._trace import Trace

GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
#: Room for the `.gif` suffix and a temporary prefix within the usual 255-byte name limit.
MAX_NAME_BYTES = 200
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
#: Names temporary files uniquely within this process; `next()` on it is thread-safe.
_TMP_SEQ = itertools.count()
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def is_gif(image: bytes) -> bool:
    """Complete-enough to keep: non-empty and starting with a GIF87a/GIF89a signature."""
    return image.startswith(GIF_SIGNATURES)


def is_whole_gif(image: bytes) -> bool:
    """A GIF signature at the start and the trailer byte (`;`) at the end, which a GIF cut
    short lacks."""
    return is_gif(image) and image.endswith(b";")


def is_whole_gif_file(path: Path) -> bool:
    """A file worth keeping: a whole GIF (see `is_whole_gif`)."""
    try:
        return is_whole_gif(path.read_bytes())
    except OSError:
        return False


def prepare_dest(dest: Path) -> None:
    """Create `dest` if needed and prove that files can be written there, before any
    download. Raises `OSError` saying why not, naming the folder (`NotADirectoryError` for a
    file).

    The probe is an unnamed temporary file where the system has them (Linux's `O_TMPFILE`), so
    a Ctrl-C at any moment leaves nothing behind; elsewhere it has a name for an instant."""
    import tempfile

    try:
        dest.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # all that mkdir says of a file where the folder should be
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(dest)) from None
    try:
        with tempfile.TemporaryFile(dir=dest, prefix=".flags-async-probe-"):
            pass
    except OSError as exc:  # named after the folder, not the probe
        raise OSError(exc.errno, exc.strerror, str(dest)) from None


def kept_flag(cc: str, stem: str | None, options: Options) -> Result | None:
    """With `skip_existing`: the result for a whole flag already in `dest`, else None. With a
    country name (`--names`), a flag an earlier run saved under the code (its metadata failed
    then) is kept too, rather than saved again beside it."""
    if not options.skip_existing:
        return None
    for name in dict.fromkeys([stem or cc.lower(), cc.lower()]):
        path = options.dest / f"{name}.gif"
        if is_whole_gif_file(path):
            return Result(cc, Status.SKIPPED, path, path.stat().st_size, attempts=0)
    return None


def safe_name(country: str) -> str | None:
    """A file-name stem from untrusted text, or None if nothing usable is left.

    Spaces become underscores as in the book's flags3; separators, control characters, leading
    dots and reserved device names are removed, so the result never leaves `dest`.
    """
    text = unicodedata.normalize("NFC", country)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\s+", "_", text.strip())
    text = text.strip("._")
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    if not text or text.split(".")[0].upper() in _WINDOWS_RESERVED:
        return None
    return text


def save_flag(image: bytes, dest: Path, stem: str) -> Path:
    """Write `image` as `dest/<stem>.gif`, atomically (see `write_atomically`)."""
    if not is_gif(image):
        raise ValueError("refusing to save a body that is not a GIF")
    path = dest / f"{stem}.gif"
    write_atomically(path, image)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file renamed into place.

    An exception, Ctrl-C or a full disk leaves either the old file or the whole new one, and
    no temporary file behind. A process killed outright (SIGKILL) may leave its temporary
    `.<name>.<pid>-<n>.part`, never a partial `path`. Nothing is synced to disk: that a power
    cut spares the new file is the file system's business, as for any program that saves.
    """
    while True:
        tmp = path.with_name(f".{path.stem}.{os.getpid()}-{next(_TMP_SEQ)}.part")
        try:  # O_EXCL: never write into a file someone else owns; 0o666 minus the umask
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:  # left by a crashed process that had our pid
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_result(cc: str, image: bytes, attempts: int, stem: str | None, options: Options,
                trace: Trace | None = None) -> Result:
    """Save a fetched flag and say how it went; `stem` is the country name with `--names`."""
    if options.names and (kept := kept_flag(cc, stem, options)):
        return kept  # with --names the file's name is known only now
    try:
        with contextlib.nullcontext() if trace is None else trace.saving(cc):
            path = save_flag(image, options.dest, stem or cc.lower())
    except OSError as exc:
        return Result(cc, Status.ERROR, attempts=attempts, error=f"cannot save: {exc.strerror}")
    named_by = ("metadata" if stem else "code") if options.names else None
    return Result(cc, Status.OK, path, len(image), attempts, named_by=named_by)
