"""Which country codes a run asks for: the book's `expand_cc_args`, with stricter input checks."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from functools import cache

#: The 20 most populous countries: the default selection, as in the book.
POP20_CC = ("CN", "IN", "US", "ID", "BR", "PK", "NG", "BD", "RU", "JP",
            "MX", "PH", "VN", "ET", "EG", "DE", "IR", "TR", "CD", "FR")

_CODE_ARG = re.compile(r"[A-Za-z]{1,2}", re.ASCII)
_A_Z = string.ascii_uppercase


class CodeError(ValueError):
    """A code argument that is neither a letter nor two letters."""


@cache
def country_codes() -> tuple[str, ...]:
    """The 194 codes of `data/country_codes.txt`, shipped inside the package."""
    from importlib import resources  # imported only when the list is needed
    text = resources.files("flags_async").joinpath("data/country_codes.txt").read_text("ascii")
    return tuple(sorted(text.split()))


def every_code() -> tuple[str, ...]:
    """All 676 two-letter combinations AA..ZZ (most are not countries)."""
    return tuple(a + b for a in _A_Z for b in _A_Z)


def checked_codes(codes: Iterable[object]) -> list[str]:
    """`codes` as `download` takes them: two ASCII letters each, upper-cased, each once, in
    order; a `CodeError` for anything else, which could otherwise name a file outside `dest`
    (`../x`) or no flag at all."""
    checked = []
    for cc in codes:
        if not (isinstance(cc, str) and len(cc) == 2 and _CODE_ARG.fullmatch(cc)):
            raise CodeError(f"{cc!r} is not a code: each code must be two letters AA-ZZ")
        checked.append(cc.upper())
    return list(dict.fromkeys(checked))


def expand_codes(args: Iterable[str]) -> set[str]:
    """Turn `CC` arguments into codes: `BR` is BR, a single `B` is BA..BZ.

    Case-insensitive, ASCII letters only: `str.upper()` would turn "ß" into "SS", so the check
    happens before the upper-casing.
    """
    codes: set[str] = set()
    for arg in args:
        if not _CODE_ARG.fullmatch(arg):
            raise CodeError(
                f"{arg!r} is not a code: each CC must be a letter A-Z or two letters AA-ZZ"
            )
        cc = arg.upper()
        if len(cc) == 1:
            codes.update(cc + c for c in _A_Z)
        else:
            codes.add(cc)
    return codes


def select_codes(
    args: Iterable[str] = (),
    *,
    all_cc: bool = False,
    every: bool = False,
    limit: int | None = None,
) -> list[str]:
    """The sorted selection of a run: `--every`, `--all`, the arguments, or the POP20 default."""
    if isinstance(args, str):
        raise TypeError(f"args is a list of codes, not a string: use [{args!r}]")
    args = list(args)
    if all_cc and every:
        raise CodeError("give --all or --every, not both")
    if args and (all_cc or every):
        raise CodeError("give country codes or --all/--every, not both")
    if every:
        codes: Iterable[str] = every_code()
    elif all_cc:
        codes = country_codes()
    elif args:
        codes = expand_codes(args)
    else:
        codes = POP20_CC
    return sorted(codes)[:limit]
