"""What the bundled server serves: the files shipped under `flags_async/data/flags/`, a GIF and
a metadata.json for each of the 194 countries (drawn by `scripts/draw_flags.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .._saving import write_atomically

CONTENT_TYPES = {".gif": "image/gif", ".json": "application/json"}


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    content_type: str


Catalogue = dict[str, Entry]


def load_catalogue() -> Catalogue:
    """Every servable file by its path below `/flags/` (for example `br/br.gif`), read once
    when the server starts: about 1 MB."""
    root = resources.files("flags_async").joinpath("data", "flags")
    return {f"{folder.name}/{file.name}": Entry(file.read_bytes(),
                                                CONTENT_TYPES[Path(file.name).suffix])
            for folder in root.iterdir() if folder.is_dir()
            for file in folder.iterdir() if Path(file.name).suffix in CONTENT_TYPES}


def export(root: Path) -> int:
    """Write `root/flags/<cc>/...` for a static server (nginx, `python -m http.server`)."""
    files = load_catalogue()
    for relative, entry in files.items():
        path = root / "flags" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, entry.body)  # a failure leaves no half-written file
    return len(files)
