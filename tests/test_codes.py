"""Which codes a run asks for: the book's CC arguments, -a, -e and --limit."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flags_async import CodeError, country_codes, select_codes
from flags_async._codes import POP20_CC, expand_codes


def test_default_is_the_20_most_populous_sorted() -> None:
    assert select_codes() == sorted(POP20_CC)
    assert len(select_codes()) == 20


def test_all_is_the_194_shipped_codes_and_every_is_676() -> None:
    assert len(select_codes(all_cc=True)) == 194
    assert select_codes(all_cc=True) == list(country_codes())
    every = select_codes(every=True)
    assert len(every) == 676
    assert every[0] == "AA" and every[-1] == "ZZ"


def test_a_letter_means_every_code_starting_with_it() -> None:
    assert select_codes(["b"]) == [f"B{c}" for c in string.ascii_uppercase]


def test_codes_are_case_insensitive_sorted_and_deduplicated() -> None:
    assert select_codes(["br", "BR", "ar", "Cn"]) == ["AR", "BR", "CN"]


def test_limit_takes_the_first_n_after_sorting() -> None:
    assert select_codes(["zw", "ad", "br"], limit=2) == ["AD", "BR"]
    assert select_codes(every=True, limit=3) == ["AA", "AB", "AC"]


@pytest.mark.parametrize("bad", ["", "ABC", "1", "b2", "ß", "é", " B", "-"])
def test_anything_else_is_a_code_error(bad: str) -> None:
    with pytest.raises(CodeError, match="is not a code"):
        select_codes([bad])


def test_codes_together_with_all_or_every_are_refused() -> None:
    with pytest.raises(CodeError, match="not both"):
        select_codes(["BR"], all_cc=True)
    with pytest.raises(CodeError, match="not both"):
        select_codes(all_cc=True, every=True)


@given(st.lists(st.text(max_size=3), max_size=5))
def test_expansion_yields_only_two_ascii_capitals_or_refuses(args: list[str]) -> None:
    try:
        codes = expand_codes(args)
    except CodeError:
        assert any(
            not (1 <= len(a) <= 2 and all(c in string.ascii_letters for c in a)) for a in args
        )
        return
    assert all(len(cc) == 2 and set(cc) <= set(string.ascii_uppercase) for cc in codes)
    for arg in args:  # every argument is represented in the result
        assert any(cc.startswith(arg.upper()) for cc in codes)


@given(st.lists(st.sampled_from(string.ascii_letters), min_size=1, max_size=4))
def test_single_letters_expand_to_26_codes_each(letters: list[str]) -> None:
    assert len(expand_codes(letters)) == 26 * len({c.upper() for c in letters})


def test_a_bare_string_of_codes_is_refused_not_split_into_letters() -> None:
    with pytest.raises(TypeError, match=r"use \['BR'\]"):
        select_codes("BR")
