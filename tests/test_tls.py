"""https, end to end: the bundled server with a certificate made here by trustme, a private CA
given with --cacert or SSL_CERT_FILE, and what a user sees when verification fails."""

from __future__ import annotations

import os
import random
import subprocess
import sys
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
def test_an_http_url_to_an_https_server_ends_in_connection_resets(
    https_url: str, mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The probe connects, and every request is closed unanswered: an error per code, in
    every mode, the resume hint, and nothing saved."""
    http = https_url.replace("https://", "HTTP://")  # the scheme in any case
    assert main(["download", "-s", http, "-d", str(tmp_path), "--retries", "0",
                 "--mode", mode, "BR", "IN"]) == 1
    out = capsys.readouterr().out
    assert "  2 errors: 2 connection reset." in out
    assert "To fetch only what is missing" in out
    assert gif_files(tmp_path) == []


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



def test_serve_says_what_a_certificate_file_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """trustme, like most tools, writes the key apart: the certificate alone is not enough,
    and OpenSSL's "PEM lib" gets a word of what --certfile takes; the two together serve."""
    issued = trustme.CA().issue_cert("127.0.0.1")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    for blob in issued.cert_chain_pems:
        with cert.open("ab") as out:
            out.write(blob.bytes())
    issued.private_key_pem.write_to_path(str(key))
    assert main(["serve", "--port", "0", "--certfile", str(cert)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"flags-async: error: cannot use the certificate {cert}: ")
    assert line.endswith("with its private key unless --keyfile gives it)")
    tls_context(str(cert), str(key))  # the two together are what it takes
