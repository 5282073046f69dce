"""What the bundled server serves: a GIF and a metadata.json for each of the 194 countries."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from .._saving import write_atomically
from ._drawing_cache import cached_flag

GIF_TYPE = "image/gif"
JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class Country:
    iso_cc: str
    gec_cc: str
    name: str

    def metadata(self) -> dict[str, str]:
        """The book's metadata.json fields."""
        tld = "uk" if self.iso_cc == "GB" else self.iso_cc.lower()
        return {"tld_cc": f".{tld}", "iso_cc": self.iso_cc, "country": self.name,
                "gec_cc": self.gec_cc}


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    content_type: str


@cache
def countries() -> tuple[Country, ...]:
    text = resources.files("flags_async").joinpath("data/countries.tsv").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return tuple(Country(iso, gec, name) for iso, gec, name in rows)


class Catalogue(Mapping[str, Entry]):
    """Every servable file by its path below `/flags/` (for example `br/br.gif`).

    A flag is made the first time it is asked for (from the drawing cache, or drawn), then
    kept: the server answers as soon as it listens, and a run that asks for one flag does not
    wait for 194 drawings.
    """

    def __init__(self) -> None:
        self._countries = {country.iso_cc.lower(): country for country in countries()}
        self._made: dict[str, Entry] = {}

    def __getitem__(self, path: str) -> Entry:
        entry = self._made.get(path)
        if entry is None:
            entry = self._made[path] = self._make(path)
        return entry

    def __iter__(self) -> Iterator[str]:
        for cc in self._countries:
            yield f"{cc}/{cc}.gif"
            yield f"{cc}/metadata.json"

    def __len__(self) -> int:
        return 2 * len(self._countries)

    def _make(self, path: str) -> Entry:
        cc, _, name = path.partition("/")
        country = self._countries.get(cc)
        if country is not None and name == f"{cc}.gif":
            return Entry(cached_flag(country.iso_cc), GIF_TYPE)
        if country is not None and name == "metadata.json":
            body = json.dumps(country.metadata(), ensure_ascii=False).encode("utf-8")
            return Entry(body, JSON_TYPE)
        raise KeyError(path)


def build_catalogue() -> Catalogue:
    """The catalogue; files are made when first asked for (see `Catalogue`)."""
    return Catalogue()


def export(root: Path) -> int:
    """Write `root/flags/<cc>/...` for a static server (nginx, `python -m http.server`)."""
    count = 0
    for relative, entry in build_catalogue().items():
        path = root / "flags" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, entry.body)  # a failure leaves no half-written file
        count += 1
    return count
