#!/usr/bin/env python3
"""Draw the bundled server's flags into the package: `make flags`, or
`python scripts/draw_flags.py [OUT_DIR]` (default: flags_async/data/flags).

These are not the real flags (which we cannot fetch offline): each is a pattern and colours
derived from a hash of the code, with the code drawn on it and a soft "waving" shade that
makes the images about as large as real flag GIFs (a few KB), so transfers are realistic.
Beside each `<cc>/<cc>.gif` goes the book's `<cc>/metadata.json`, from `countries.tsv`.

The output is shipped in the package, so that no run draws anything and Pillow is needed only
here; `tests/test_shipped_flags.py` checks that the shipped files are exactly what this script
draws. Same code and same Pillow, same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
COUNTRIES = HERE / "countries.tsv"
PACKAGE_FLAGS = HERE.parent / "flags_async" / "data" / "flags"
WIDTH, HEIGHT = 240, 160
RGB = tuple[int, int, int]

#: Colours that real flags use, so the pictures look like flags rather than noise.
PALETTE: tuple[RGB, ...] = (
    (206, 17, 38), (0, 56, 147), (255, 206, 0), (0, 122, 61), (255, 255, 255), (0, 0, 0),
    (0, 114, 198), (239, 51, 64), (252, 209, 22), (0, 150, 57), (255, 130, 0), (117, 170, 219),
    (128, 0, 32), (0, 98, 51),
)

Painter = Callable[[ImageDraw.ImageDraw, tuple[RGB, RGB, RGB]], None]


def _horizontal(draw: ImageDraw.ImageDraw, c: tuple[RGB, RGB, RGB]) -> None:
    for i, colour in enumerate(c):
        draw.rectangle((0, i * HEIGHT // 3, WIDTH, (i + 1) * HEIGHT // 3), fill=colour)


def _vertical(draw: ImageDraw.ImageDraw, c: tuple[RGB, RGB, RGB]) -> None:
    for i, colour in enumerate(c):
        draw.rectangle((i * WIDTH // 3, 0, (i + 1) * WIDTH // 3, HEIGHT), fill=colour)


def _nordic(draw: ImageDraw.ImageDraw, c: tuple[RGB, RGB, RGB]) -> None:
    draw.rectangle((0, 0, WIDTH, HEIGHT), fill=c[0])
    draw.rectangle((66, 0, 98, HEIGHT), fill=c[1])
    draw.rectangle((0, 64, WIDTH, 96), fill=c[1])
    draw.rectangle((74, 0, 90, HEIGHT), fill=c[2])
    draw.rectangle((0, 72, WIDTH, 88), fill=c[2])


def _diagonal(draw: ImageDraw.ImageDraw, c: tuple[RGB, RGB, RGB]) -> None:
    draw.polygon([(0, 0), (WIDTH, 0), (0, HEIGHT)], fill=c[0])
    draw.polygon([(WIDTH, 0), (WIDTH, HEIGHT), (0, HEIGHT)], fill=c[1])
    draw.line([(0, HEIGHT), (WIDTH, 0)], fill=c[2], width=24)


def _hoist(draw: ImageDraw.ImageDraw, c: tuple[RGB, RGB, RGB]) -> None:
    draw.rectangle((0, 0, WIDTH, HEIGHT // 2), fill=c[0])
    draw.rectangle((0, HEIGHT // 2, WIDTH, HEIGHT), fill=c[1])
    draw.polygon([(0, 0), (WIDTH * 2 // 5, HEIGHT // 2), (0, HEIGHT)], fill=c[2])


PATTERNS: tuple[Painter, ...] = (_horizontal, _vertical, _nordic, _diagonal, _hoist)


def _colours(digest: bytes) -> tuple[RGB, RGB, RGB]:
    """Three different palette colours chosen by the hash."""
    picked: list[RGB] = []
    for byte in digest[1:]:
        colour = PALETTE[byte % len(PALETTE)]
        if colour not in picked:
            picked.append(colour)
        if len(picked) == 3:
            break
    return picked[0], picked[1], picked[2]


def _contrast(colour: RGB) -> RGB:
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=44)


@cache
def _shade() -> Image.Image:
    """A multiply mask of gentle vertical folds, as if the flag were waving."""
    row = [int(205 + 50 * math.sin(x / 17.0) * math.cos(x / 41.0)) for x in range(WIDTH)]
    strip = Image.new("L", (WIDTH, 1))
    strip.putdata(row)
    return Image.merge("RGB", [strip.resize((WIDTH, HEIGHT))] * 3)


def draw_flag(cc: str) -> bytes:
    """A GIF89a of `cc`'s made-up flag: same code, same bytes."""
    digest = hashlib.sha256(cc.upper().encode("ascii")).digest()
    colours = _colours(digest)
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    PATTERNS[digest[0] % len(PATTERNS)](draw, colours)
    emblem = colours[2] if digest[0] % len(PATTERNS) != 2 else colours[0]
    draw.ellipse((150, 20, 220, 90), fill=_contrast(emblem), outline=emblem, width=6)
    draw.text((185, 55), cc.upper(), font=_font(), anchor="mm", fill=emblem,
              stroke_width=2, stroke_fill=_contrast(emblem))
    image = ImageChops.multiply(image, _shade())
    buffer = io.BytesIO()
    gif = image.quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    gif.info["version"] = b"89a"
    gif.save(buffer, "GIF")
    return buffer.getvalue()


def metadata(iso_cc: str, gec_cc: str, name: str) -> bytes:
    """The book's metadata.json for one country."""
    tld = "uk" if iso_cc == "GB" else iso_cc.lower()
    fields = {"tld_cc": f".{tld}", "iso_cc": iso_cc, "country": name, "gec_cc": gec_cc}
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def draw_all(countries: Path = COUNTRIES) -> dict[str, bytes]:
    """Every file the bundled server serves, by its path below `/flags/` (`br/br.gif`)."""
    files: dict[str, bytes] = {}
    for line in countries.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            iso_cc, gec_cc, name = line.split("\t")
            cc = iso_cc.lower()
            files[f"{cc}/{cc}.gif"] = draw_flag(iso_cc)
            files[f"{cc}/metadata.json"] = metadata(iso_cc, gec_cc, name)
    return files


def main(out: Path) -> None:
    for relative, body in draw_all().items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    print(f"Wrote {len(list(out.rglob('*.*')))} files under {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE_FLAGS)
