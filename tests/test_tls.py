"""https, end to end: the bundled server with a certificate made here by trustme, a private CA
given with --cacert or SSL_CERT_FILE, and what a user sees when verification fails."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from flags_async import Mode, Options, Status, TransportName, download
from flags_async.cli import main
from flags_async.server._app import make_app
from flags_async.server._catalogue import Catalogue
from flags_async.server._faults import Faults
from flags_async.server._serve import tls_context
from tests.conftest import gif_files, serving

VARIANTS = [(Mode.ASYNC, TransportName.AIOHTTP), (Mode.ASYNC, TransportName.HTTPX),
            (Mode.THREADS, TransportName.HTTPX), (Mode.SEQUENTIAL, TransportName.HTTPX)]
IDS = [f"{mode.value}-{transport.value}" for mode, transport in VARIANTS]


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A private CA's certificate, and the server's certificate chain with its key."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    return folder / "ca.pem", folder / "server.pem"


@pytest.fixture(scope="module")
def https_url(pems: tuple[Path, Path], catalogue: Catalogue) -> Iterator[str]:
    _, server_pem = pems
    app = lambda: make_app(Faults(), catalogue, random.Random(0))  # noqa: E731
    with serving(app, tls=tls_context(str(server_pem), None)) as url:
        yield url


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_a_private_ca_given_with_cacert_is_trusted(
    variant: tuple[Mode, TransportName], https_url: str, pems: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    mode, transport = variant
    assert https_url.startswith("https://")
    options = Options(base_url=https_url, dest=tmp_path, transport=transport, cacert=pems[0])
    report = download(["BR", "ZZ"], options, mode)
    assert (report.ok, report.not_found, report.errors) == (1, 1, 0)
    assert [p.name for p in gif_files(tmp_path)] == ["br.gif"]


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_an_untrusted_certificate_is_said_in_the_tls_words_and_not_retried(
    variant: tuple[Mode, TransportName], https_url: str, tmp_path: Path
) -> None:
    mode, transport = variant
    options = Options(base_url=https_url, dest=tmp_path, transport=transport, retries=2)
    report = download(["BR"], options, mode)
    (result,) = report.results
    assert (result.status, result.attempts) == (Status.ERROR, 1)
    assert result.error == "certificate verify failed: unable to get local issuer certificate"


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_an_https_url_to_a_plain_http_server_says_so(
    variant: tuple[Mode, TransportName], server_url: str, tmp_path: Path
) -> None:
    mode, transport = variant
    https = server_url.replace("http://", "https://")
    report = download(["BR"], Options(base_url=https, dest=tmp_path, transport=transport), mode)
    (result,) = report.results
    assert result.status is Status.ERROR and result.attempts == 1
    assert result.error is not None and "the server does not speak TLS" in result.error


def test_the_probe_stops_an_untrusted_certificate_before_any_download(
    https_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-s", https_url, "-d", str(tmp_path), "BR"]) == 1
    captured = capsys.readouterr()
    host_port = https_url.split("//")[1].split("/")[0]
    assert captured.err.strip().splitlines() == [
        f"flags-async: error: cannot connect to {host_port}: "
        "certificate verify failed: unable to get local issuer certificate"]
    assert "flags downloaded" not in captured.out


def test_the_probe_says_when_an_https_url_reaches_a_plain_http_server(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    https = server_url.replace("http://", "https://")
    assert main(["download", "-s", https, "-d", str(tmp_path), "BR"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "the server does not speak TLS" in line and "is it an http:// URL?" in line


@pytest.mark.parametrize("mode", ["async", "threads", "sequential"])
def test_an_http_url_to_an_https_server_says_so_after_the_run(
    https_url: str, mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The TCP probe passes, and every request is closed unanswered: the report says why,
    and no resume hint, which could not help."""
    http = https_url.replace("https://", "HTTP://")  # the scheme in any case
    host_port = http.split("//")[1].split("/")[0]
    assert main(["download", "-s", http, "-d", str(tmp_path), "--retries", "0",
                 "--mode", mode, "BR", "IN"]) == 1
    out = capsys.readouterr().out
    assert "  2 errors: 2 connection reset." in out
    assert out.rstrip().endswith(
        f"No flag came, and {host_port} speaks TLS: is it an https:// URL?")
    assert "--skip-existing" not in out
    assert gif_files(tmp_path) == []


def test_the_tls_hint_names_no_credentials(https_url: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    host_port = https_url.split("//")[1].split("/")[0]
    http = https_url.replace("https://", "http://bob:s3cret@")
    assert main(["download", "-s", http, "-d", str(tmp_path), "--retries", "0", "BR"]) == 1
    out = capsys.readouterr().out
    assert f"No flag came, and {host_port} speaks TLS" in out
    assert "s3cret" not in out and "URL site: http://bob:***@" in out


@contextlib.contextmanager
def hanging_up() -> Iterator[str]:
    """A port that accepts every connection and closes it at once: `http://127.0.0.1:PORT`."""
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up() -> None:
        with contextlib.suppress(OSError):
            while True:
                listener.accept()[0].close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept up
        listener.close()


def test_a_run_with_no_answer_from_a_plain_http_port_gets_no_tls_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port that accepts and hangs up at once is not taken for TLS."""
    with hanging_up() as url:
        assert main(["download", "-s", f"{url}/flags", "-d", str(tmp_path), "--retries", "0",
                     "BR"]) == 1
    out = capsys.readouterr().out
    assert "1 error" in out and "TLS" not in out and "--skip-existing" in out


@pytest.mark.parametrize("through_a_proxy", [False, True])
def test_the_tls_check_is_never_made_through_a_proxy(
    through_a_proxy: bool, https_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through a proxy (one that hangs up on every request, here) the server is not what the
    check would reach, so it is not made; without one it is."""
    checked: list[str] = []
    monkeypatch.setattr("flags_async.cli._download.speaks_tls",
                        lambda url, timeout: checked.append(url) or True)
    http = https_url.replace("https://", "http://")
    with hanging_up() as proxy:
        extra = ["--proxy", proxy] if through_a_proxy else []
        assert main(["download", "-s", http, "-d", str(tmp_path), "--retries", "0", *extra,
                     "BR"]) == 1
    assert checked == ([] if through_a_proxy else [http])
    assert ("speaks TLS" in capsys.readouterr().out) is not through_a_proxy


def test_ctrl_c_during_the_tls_check_keeps_the_report(
    https_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(url: str, timeout: float) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr("flags_async.cli._download.speaks_tls", interrupted)
    http = https_url.replace("https://", "http://")
    assert main(["download", "-s", http, "-d", str(tmp_path), "--retries", "0", "BR"]) == 1
    out = capsys.readouterr().out
    assert "  1 error: 1 connection reset." in out and "Elapsed time:" in out


def test_cacert_from_the_command_line(
    https_url: str, pems: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-q", "-s", https_url, "-d", str(tmp_path), "--cacert",
                 str(pems[0]), "BR"]) == 0
    assert "  1 flag downloaded." in capsys.readouterr().out


def test_a_cacert_that_is_not_pem_is_one_line(
    https_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert main(["download", "-s", https_url, "-d", str(tmp_path / "d"), "--cacert",
                 str(junk), "BR"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"flags-async: error: cannot use --cacert {junk}: ")


def test_serve_certfile_and_ssl_cert_file_work_together(
    pems: tuple[Path, Path], tmp_path: Path
) -> None:
    """Both as a user would: `serve --certfile` in one process; `download` in another, which
    trusts the private CA through SSL_CERT_FILE."""
    ca_pem, server_pem = pems
    server = subprocess.Popen(
        [sys.executable, "-m", "flags_async", "serve", "--port", "0", "--certfile",
         str(server_pem)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # ready: "Serving flags at https://..."
        url = line.split(" at ")[1].split(" ")[0]
        assert url.startswith("https://127.0.0.1:")
        done = subprocess.run(
            [sys.executable, "-m", "flags_async", "download", "-q", "-s", url, "-d",
             str(tmp_path), "BR", "IN"],
            env={**os.environ, "SSL_CERT_FILE": str(ca_pem)}, capture_output=True, text=True,
            timeout=60, check=False)
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert done.returncode == 0, done.stderr
    assert "  2 flags downloaded." in done.stdout



def test_serve_says_which_part_of_a_certificate_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OpenSSL says only "PEM lib": trustme, like most tools, writes the key apart."""
    issued = trustme.CA().issue_cert("127.0.0.1")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    for blob in issued.cert_chain_pems:
        with cert.open("ab") as out:
            out.write(blob.bytes())
    issued.private_key_pem.write_to_path(str(key))
    cases = [
        (["--certfile", str(cert)], f"no private key in {cert}: give its key file with --keyfile"),
        (["--certfile", str(key)], f"no certificate in {key}"),
        (["--certfile", str(cert), "--keyfile", str(cert)], f"no private key in {cert}"),
    ]
    for args, says in cases:
        assert main(["serve", "--port", "0", *args]) == 1
        assert capsys.readouterr().err.strip().splitlines() == [
            f"flags-async: error: cannot use the certificate {args[1]}: {says}"]
    tls_context(str(cert), str(key))  # the two together are what it takes
