"""The shared meaning of a fetch: statuses, Retry-After, metadata, the retry policy's waits."""

from __future__ import annotations

import email.utils
from pathlib import Path

import httpx
import pytest

from flags_async import Options
from flags_async.client._fetch import (
    FetchFailure,
    NotFound,
    check_status,
    country_from_metadata,
    flag_url,
    metadata_url,
    parse_retry_after,
)
from flags_async.client._retry import MAX_BACKOFF, MAX_RETRY_AFTER, backoff_seconds, retry_wait


def test_urls_use_lower_case_codes_as_the_book_does() -> None:
    assert flag_url("http://h/flags", "BR") == "http://h/flags/br/br.gif"
    assert metadata_url("http://h/flags", "BR") == "http://h/flags/br/metadata.json"


def test_options_strip_a_trailing_slash_from_the_base_url() -> None:
    assert Options(base_url="http://h/flags/").base_url == "http://h/flags"


def test_options_take_dest_as_any_path_like() -> None:
    assert Options(base_url="http://h", dest="flags").dest == Path("flags")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"max_req": 0}, {"timeout": 0}, {"timeout": float("nan")},
                                 {"timeout": float("inf")}, {"retries": -1}])
def test_options_refuse_impossible_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Options(base_url="http://h", **bad)  # type: ignore[arg-type]


def test_404_is_not_found_and_2xx_passes() -> None:
    with pytest.raises(NotFound):
        check_status(httpx.Response(404))
    check_status(httpx.Response(200))


@pytest.mark.parametrize("code", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_marked_for_retry(code: int) -> None:
    with pytest.raises(FetchFailure) as info:
        check_status(httpx.Response(code))
    assert info.value.transient and info.value.reason == f"HTTP {code}"


@pytest.mark.parametrize("code", [400, 401, 403, 410, 418, 501])
def test_other_errors_are_final(code: int) -> None:
    with pytest.raises(FetchFailure) as info:
        check_status(httpx.Response(code))
    assert not info.value.transient and not isinstance(info.value, NotFound)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_429_carries_its_retry_after() -> None:
    with pytest.raises(FetchFailure) as info:
        check_status(httpx.Response(429, headers={"Retry-After": "7"}))
    assert info.value.retry_after == 7.0


def test_backoff_honours_retry_after_up_to_a_cap() -> None:
    options = Options(base_url="http://h", backoff=0.1)
    assert backoff_seconds(FetchFailure("x", transient=True, retry_after=2), 1, options) == 2
    huge = FetchFailure("HTTP 503", transient=True, retry_after=3600)
    assert backoff_seconds(huge, 1, options) == MAX_RETRY_AFTER
    assert retry_wait(huge, 1, options) == MAX_RETRY_AFTER


@pytest.mark.parametrize(("retry", "ceiling"), [(1, 0.2), (2, 0.4), (3, 0.8), (40, MAX_BACKOFF)])
def test_backoff_grows_exponentially_with_full_jitter(retry: int, ceiling: float) -> None:
    options = Options(base_url="http://h", backoff=0.1)
    waits = {backoff_seconds(FetchFailure("x", transient=True), retry, options)
             for _ in range(200)}
    assert all(0 <= w <= ceiling for w in waits)
    assert len(waits) > 100  # jitter: spread out, not one value
    assert max(waits) > ceiling / 2  # and it does reach up towards the ceiling


def test_the_policy_waits_longer_after_each_failed_attempt() -> None:
    options = Options(base_url="http://h", backoff=0.1, retries=5)
    failure = FetchFailure("x", transient=True)
    ceilings = []
    for attempt in (1, 2, 3):
        waits = [retry_wait(failure, attempt, options) for _ in range(300)]
        assert all(w is not None for w in waits)
        ceilings.append(max(w for w in waits if w is not None))
    assert ceilings[0] <= 0.2 < ceilings[1] <= 0.4 < ceilings[2] <= 0.8


def test_transient_failures_are_retried_until_the_retries_run_out() -> None:
    options = Options(base_url="http://h", backoff=0, retries=2)
    transient = FetchFailure("HTTP 503", transient=True)
    assert [retry_wait(transient, attempt, options) for attempt in (1, 2, 3)] == [0, 0, None]
    assert retry_wait(transient, 1, Options(base_url="http://h", retries=0)) is None


def test_final_failures_are_never_retried() -> None:
    options = Options(base_url="http://h", retries=5)
    assert retry_wait(FetchFailure("HTTP 418"), 1, options) is None
    assert retry_wait(NotFound(), 1, options) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"country": "Brazil", "iso_cc": "BR"}', "Brazil"),
        ('{"country": "Côte d\'Ivoire"}'.encode(), "Côte d'Ivoire"),
        (b'{"country": ""}', None),
        (b'{"country": 42}', None),
        (b'["country"]', None),
        (b"not json", None),
        (b"\xff\xfe", None),
    ],
)
def test_country_from_metadata(body: bytes, expected: str | None) -> None:
    assert country_from_metadata(body) == expected
