"""What the bundled server serves: a GIF and a metadata.json for each of the 194 countries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

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


def build_catalogue() -> dict[str, Entry]:
    """Every servable file by its path below `/flags/` (for example `br/br.gif`)."""
    from ._flagart import draw_flag  # Pillow is imported only by the server

    catalogue = {}
    for country in countries():
        cc = country.iso_cc.lower()
        catalogue[f"{cc}/{cc}.gif"] = Entry(draw_flag(country.iso_cc), GIF_TYPE)
        body = json.dumps(country.metadata(), ensure_ascii=False).encode("utf-8")
        catalogue[f"{cc}/metadata.json"] = Entry(body, JSON_TYPE)
    return catalogue


def export(root: Path) -> int:
    """Write `root/flags/<cc>/...` for a static server (nginx, `python -m http.server`)."""
    count = 0
    for relative, entry in build_catalogue().items():
        path = root / "flags" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(entry.body)
        count += 1
    return count
