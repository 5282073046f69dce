"""Client logic in all three modes, against respx-mocked responses (no network at all)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from flags_async import CodeError, Mode, Options, Report, Result, Status, TransportName, download
from tests.conftest import gif_files, leftovers

BASE = "http://flags.test/flags"
GIF = b"GIF89a" + bytes(range(256)) * 4 + b";"  # signature ... trailer
MODES = list(Mode)


def run(mode: Mode, dest: Path, codes: list[str] | None = None, **kwargs: Any) -> Report:
    options = Options(base_url=BASE, dest=dest, backoff=0, **kwargs)
    return download(codes or ["BR"], options, mode)


def only(report: Report) -> Result:
    assert len(report.results) == 1
    return report.results[0]


@pytest.fixture
def router() -> Any:
    with respx.mock(using="httpx", base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.mark.parametrize("mode", MODES)
def test_a_gif_is_saved_as_lower_case_code(router: Any, mode: Mode, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    result = only(run(mode, tmp_path))
    assert result.status is Status.OK and result.attempts == 1 and result.size == len(GIF)
    assert result.path == tmp_path / "br.gif"
    assert (tmp_path / "br.gif").read_bytes() == GIF
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_404_is_not_found_not_an_error_and_not_retried(
    router: Any, mode: Mode, tmp_path: Path
) -> None:
    route = router.get("/br/br.gif").respond(404)
    result = only(run(mode, tmp_path))
    assert result.status is Status.NOT_FOUND and result.error is None
    assert route.call_count == 1 and result.attempts == 1
    assert gif_files(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_until_success(
    router: Any, mode: Mode, code: int, tmp_path: Path
) -> None:
    route = router.get("/br/br.gif")
    route.side_effect = [httpx.Response(code), httpx.Response(code),
                         httpx.Response(200, content=GIF)]
    result = only(run(mode, tmp_path, retries=2))
    assert result.status is Status.OK and result.attempts == 3 and route.call_count == 3


@pytest.mark.parametrize("mode", MODES)
def test_retries_run_out_into_an_error_with_the_reason(
    router: Any, mode: Mode, tmp_path: Path
) -> None:
    route = router.get("/br/br.gif").respond(503)
    result = only(run(mode, tmp_path, retries=3))
    assert result.status is Status.ERROR and result.error == "HTTP 503"
    assert result.attempts == 4 and route.call_count == 4
    assert gif_files(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_final_error_status_is_not_retried(router: Any, mode: Mode, tmp_path: Path) -> None:
    route = router.get("/br/br.gif").respond(418)
    result = only(run(mode, tmp_path, retries=3))
    assert result.status is Status.ERROR and result.error == "HTTP 418"
    assert route.call_count == 1 and result.attempts == 1


@pytest.mark.parametrize("mode", MODES)
def test_429_with_retry_after_is_retried(router: Any, mode: Mode, tmp_path: Path) -> None:
    route = router.get("/br/br.gif")
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "0"}),
                         httpx.Response(200, content=GIF)]
    assert only(run(mode, tmp_path)).attempts == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectError("refused"), "connection failed"),
        (httpx.ConnectTimeout("slow"), "timed out after 10 s"),
        (httpx.ReadTimeout("slow"), "timed out after 10 s"),
        (httpx.ReadError("reset"), "connection reset"),
        (httpx.RemoteProtocolError("Server disconnected"), "connection reset"),
        (httpx.WriteError("broken pipe"), "connection reset"),
    ],
)
def test_network_failures_are_retried_then_reported(
    router: Any, mode: Mode, exc: Exception, reason: str, tmp_path: Path
) -> None:
    route = router.get("/br/br.gif").mock(side_effect=exc)
    result = only(run(mode, tmp_path, retries=1))
    assert result.status is Status.ERROR and result.error == reason
    assert route.call_count == 2 and result.attempts == 2


class CutShort(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body whose connection fails after its first chunk, with `error`'s words (which must
    not matter: where it failed does)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        yield GIF[:10]
        raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield GIF[:10]
        raise self.error


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("error", [httpx.ReadError("Connection reset by peer"),
                                   httpx.RemoteProtocolError("Server disconnected"),
                                   httpx.RemoteProtocolError("")])
def test_a_body_cut_short_is_truncated_whatever_the_message(
    router: Any, mode: Mode, error: Exception, tmp_path: Path
) -> None:
    route = router.get("/br/br.gif")
    route.side_effect = lambda request: httpx.Response(
        200, headers={"Content-Length": str(len(GIF))}, stream=CutShort(error))
    result = only(run(mode, tmp_path, retries=1))
    assert (result.status, result.error, result.attempts) == (Status.ERROR, "truncated", 2)
    assert route.call_count == 2 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"<html>Sign in to the Wi-Fi</html>", "not a GIF"), (b"\x89PNG\r\n", "not a GIF"),
     (b"", "empty body"), (GIF[:100], "incomplete GIF")],
)
def test_a_200_that_is_not_a_gif_is_an_error_and_not_saved(
    router: Any, mode: Mode, body: bytes, reason: str, tmp_path: Path
) -> None:
    router.get("/br/br.gif").respond(200, content=body, headers={"Content-Type": "image/gif"})
    result = only(run(mode, tmp_path))
    assert result.status is Status.ERROR and result.error == reason and result.attempts == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_body_that_does_not_match_its_content_encoding_is_an_error(
    router: Any, mode: Mode, tmp_path: Path
) -> None:
    router.get("/br/br.gif").side_effect = lambda request: httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(GIF))  # not gzip
    result = only(run(mode, tmp_path))
    assert (result.status, result.error, result.attempts) == (Status.ERROR, "undecodable body", 1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_body_over_max_bytes_is_abandoned(router: Any, mode: Mode, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    result = only(run(mode, tmp_path, max_bytes=100))
    assert result.status is Status.ERROR and result.error == "too large"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
def test_redirects_are_followed(router: Any, mode: Mode, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(301, headers={"Location": f"{BASE}/moved/br.gif"})
    router.get("/moved/br.gif").respond(200, content=GIF)
    assert only(run(mode, tmp_path)).status is Status.OK


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_is_an_error_not_a_hang(router: Any, mode: Mode, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(302, headers={"Location": f"{BASE}/br/br.gif"})
    result = only(run(mode, tmp_path))
    assert result.status is Status.ERROR and result.error == "too many redirects"


@pytest.mark.parametrize("mode", MODES)
def test_names_come_from_metadata(router: Any, mode: Mode, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    router.get("/br/metadata.json").respond(200, json={"country": "Brazil", "iso_cc": "BR"})
    result = only(run(mode, tmp_path, names=True))
    assert result.path == tmp_path / "Brazil.gif" and result.named_by == "metadata"
    assert (tmp_path / "Brazil.gif").read_bytes() == GIF


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "metadata",
    [httpx.Response(404), httpx.Response(200, content=b"{oops"),
     httpx.Response(200, json={"country": "../.."})],
)
def test_unusable_metadata_falls_back_to_the_code(
    router: Any, mode: Mode, metadata: httpx.Response, tmp_path: Path
) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    router.get("/br/metadata.json").mock(return_value=metadata)
    result = only(run(mode, tmp_path, names=True))
    assert result.status is Status.OK and result.named_by == "code"
    assert [p.name for p in tmp_path.iterdir()] == ["br.gif"]


@pytest.mark.parametrize("mode", MODES)
def test_a_hostile_country_name_stays_inside_dest(router: Any, mode: Mode, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    router.get("/br/metadata.json").respond(200, json={"country": "../../evil/name"})
    result = only(run(mode, tmp_path / "dest", names=True))
    assert result.path == tmp_path / "dest" / "evil_name.gif"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]


@pytest.mark.parametrize("mode", MODES)
def test_every_code_is_reported_once_in_order_and_on_result_sees_each(
    router: Any, mode: Mode, tmp_path: Path
) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    router.get("/zz/zz.gif").respond(404)
    router.get("/ar/ar.gif").respond(500)
    seen: list[str] = []
    options = Options(base_url=BASE, dest=tmp_path, backoff=0, retries=0)
    report = download(["ZZ", "BR", "AR"], options, mode, lambda r: seen.append(r.cc))
    assert [r.cc for r in report.results] == ["AR", "BR", "ZZ"]
    assert sorted(seen) == ["AR", "BR", "ZZ"]
    assert (report.ok, report.not_found, report.errors) == (1, 1, 1)


@pytest.mark.parametrize("transport", list(TransportName))
def test_the_json_report_has_the_documented_shape(
    router: Any, transport: TransportName, tmp_path: Path
) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    router.get("/zz/zz.gif").respond(404)
    report = download(["BR", "ZZ"], Options(base_url=BASE, dest=tmp_path, transport=transport))
    data = report.as_dict()
    assert set(data) == {"server", "mode", "transport", "requested", "ok", "not_found", "errors",
                         "skipped", "elapsed_s", "refused", "settled_rate", "interrupted",
                         "results"}
    assert data["interrupted"] is False
    assert (data["server"], data["mode"], data["transport"]) == (BASE, "async", transport.value)
    assert (data["requested"], data["ok"], data["not_found"], data["errors"]) == (2, 1, 1, 0)
    assert data["results"][0] == {"cc": "BR", "status": "ok", "path": str(tmp_path / "br.gif"),
                                  "bytes": len(GIF), "attempts": 1, "error": None,
                                  "named_by": None}
    assert data["results"][1]["status"] == "not_found"
    assert isinstance(data["elapsed_s"], float) and data["elapsed_s"] >= 0


def test_sync_modes_report_the_httpx_transport(router: Any, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    assert run(Mode.THREADS, tmp_path).transport is TransportName.HTTPX


def test_download_refuses_a_bare_string_of_codes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"use \['BR'\]"):
        download("BR", Options(base_url=BASE, dest=tmp_path))  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("codes", [["../../x"], ["BRA"], ["B"], [1], ["BR", "b/"], ["ß"]])
def test_download_refuses_what_is_not_a_two_letter_code_before_any_request(
    router: Any, codes: list[Any], tmp_path: Path
) -> None:
    """A code names the file: `../../x` would land outside `dest`."""
    with pytest.raises(CodeError, match="each code must be two letters"):
        download(codes, Options(base_url=BASE, dest=tmp_path))
    assert not router.calls
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_download_takes_codes_in_either_case_once_each(router: Any, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    report = download(["br", "BR", "Br"], Options(base_url=BASE, dest=tmp_path))
    assert [r.cc for r in report.results] == ["BR"] and report.ok == 1


def test_modes_and_transports_may_be_given_by_name(router: Any, tmp_path: Path) -> None:
    router.get("/br/br.gif").respond(200, content=GIF)
    options = Options(base_url=BASE, dest=tmp_path, transport="httpx")  # type: ignore[arg-type]
    assert options.transport is TransportName.HTTPX
    report = download(["BR"], options, "async")  # type: ignore[arg-type]
    assert (report.mode, report.transport) == (Mode.ASYNC, TransportName.HTTPX)
    assert report.as_dict()["transport"] == "httpx"


@pytest.mark.parametrize(("fields", "error", "words"), [
    ({"transport": "curl"}, ValueError, "'curl' is not a valid TransportName"),
    ({"max_req": "5"}, TypeError, "max_req must be an int"),
    ({"max_req": 2.5}, TypeError, "max_req must be an int"),
    ({"timeout": "3"}, TypeError, "timeout must be a number of seconds"),
    ({"max_bytes": 0}, ValueError, "max_bytes must be at least 1"),
    ({"timeout": True}, TypeError, "timeout must be a number of seconds"),
    ({"backoff": -1}, ValueError, "backoff must not be negative"),
    ({"base_url": "http://127.0.0.1:99999/flags"}, ValueError, "Port out of range"),
    ({"base_url": "http://127.0.0.1:0/flags"}, ValueError, "base_url .*: port 0"),
    ({"proxy": "http://127.0.0.1:99999"}, ValueError, "proxy 'http://127.0.0.1:99999': Port out"),
    ({"proxy": "socks5://127.0.0.1:1080"}, ValueError, "proxy must be an http:// or https://"),
    ({"proxy": "http://[::1"}, ValueError, "Invalid IPv6 URL"),
])
def test_options_refuse_what_a_run_could_not_use(
    fields: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        Options(**{"base_url": BASE, **fields})


def test_an_unknown_mode_is_a_value_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'fast' is not a valid Mode"):
        download(["BR"], Options(base_url=BASE, dest=tmp_path), "fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("base_url", ["LOCAL", "ftp://127.0.0.1/flags", "http:///flags", ""])
def test_options_want_an_http_url_with_a_host(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url must be an http:// or https:// URL"):
        Options(base_url=base_url)


def test_download_wants_options_not_a_url(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"options is an Options, not 'http://x/flags'"):
        download(["BR"], "http://x/flags")  # type: ignore[arg-type]


def test_a_dest_that_is_a_file_or_a_missing_cacert_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(NotADirectoryError) as not_a_folder:
        download(["BR"], Options(base_url=BASE, dest=tmp_path / "file"))
    assert not_a_folder.value.filename == str(tmp_path / "file")
    missing = tmp_path / "missing.pem"
    with pytest.raises(FileNotFoundError) as no_cacert:
        download(["BR"], Options(base_url=BASE, dest=tmp_path / "d", cacert=missing))
    assert no_cacert.value.filename == str(missing)


def test_options_refusing_a_base_url_mask_its_password(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'ftp://bob:\*\*\*@host/flags'") as refused:
        Options(base_url="ftp://bob:s3cret@host/flags", dest=tmp_path)
    assert "s3cret" not in str(refused.value)


def test_async_mode_inside_a_running_event_loop_says_how_to_call_it(tmp_path: Path) -> None:
    """As in a notebook: a clear error before anything is done, and no coroutine left
    unawaited; in a thread it works."""
    import asyncio
    import warnings

    async def in_a_loop() -> None:
        with pytest.raises(RuntimeError, match=r"asyncio\.to_thread\(download"):
            download(["BR"], Options(base_url=BASE, dest=tmp_path / "no"))
        with respx.mock(base_url=BASE) as mock:
            mock.get("/br/br.gif").respond(content=GIF)
            options = Options(base_url=BASE, dest=tmp_path / "yes",
                              transport=TransportName.HTTPX)  # what respx mocks
            report = await asyncio.to_thread(download, ["BR"], options)
        assert report.ok == 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail here
        asyncio.run(in_a_loop())
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("mode", MODES)
def test_names_with_skip_existing_keep_a_flag_without_fetching_it(
    router: Any, mode: Mode, tmp_path: Path
) -> None:
    """The name comes first when resuming: a flag already saved under it costs one small
    request, not its GIF (here the GIF would fail), and is kept, not counted an error."""
    (tmp_path / "Brazil.gif").write_bytes(GIF)
    router.get("/br/metadata.json").respond(200, json={"country": "Brazil", "iso_cc": "BR"})
    gif = router.get("/br/br.gif").respond(500)
    router.get("/zz/metadata.json").respond(404)
    router.get("/zz/zz.gif").respond(404)
    report = run(mode, tmp_path, ["BR", "ZZ"], names=True, skip_existing=True, retries=0)
    assert [(r.cc, r.status) for r in report.results] == [
        ("BR", Status.SKIPPED), ("ZZ", Status.NOT_FOUND)]
    assert not gif.called
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Brazil.gif"]
