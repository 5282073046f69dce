"""Proxies, end to end: through a real forward proxy (proxy.py) started here, from the
environment (both cases) or `--proxy`; NO_PROXY; the embedded server reached directly."""

from __future__ import annotations

import queue
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import trustme

from flags_async import Mode, Options, ServerError, TransportName, download
from flags_async.cli import main
from flags_async.server._app import make_app
from flags_async.server._catalogue import Catalogue
from flags_async.server._faults import Faults
from flags_async.server._serve import tls_context
from tests.conftest import serving

MakeServer = Callable[..., AbstractContextManager[str]]
VARIANTS = [(Mode.ASYNC, TransportName.AIOHTTP), (Mode.ASYNC, TransportName.HTTPX),
            (Mode.THREADS, TransportName.HTTPX), (Mode.SEQUENTIAL, TransportName.HTTPX)]
IDS = [f"{mode.value}-{transport.value}" for mode, transport in VARIANTS]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Proxy:
    """proxy.py on a free loopback port; `saw(url)` waits for its access line for `url`."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(self.port),
             "--num-workers", "1", "--num-acceptors", "1", "--threaded", *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_until_it_answers()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)  # a port that answers is the readiness signal
        raise AssertionError("proxy.py did not start")

    def saw(self, url: str) -> bool:
        """True once the proxy logs a request for `url` (http://host:port/path)."""
        wanted = f"GET {url.removeprefix('http://')} "
        try:
            while wanted not in self.lines.get(timeout=10):
                pass
        except queue.Empty:
            return False
        return True

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    running = Proxy()
    yield running
    running.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_the_environment_s_proxy_is_used_in_every_mode_and_transport(
    variant: tuple[Mode, TransportName], variable: str, proxy: Proxy, make_server: MakeServer,
    clean_env: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    mode, transport = variant
    clean_env.setenv(variable, proxy.url)
    with make_server() as origin:
        report = download(["BR"], Options(base_url=origin, dest=tmp_path, transport=transport),
                          mode)
        assert report.ok == 1
        assert proxy.saw(f"{origin}/br/br.gif")


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_no_proxy_sends_a_host_around_the_proxy(
    variant: tuple[Mode, TransportName], server_url: str, clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The proxy in the environment does not even listen: only a bypass can succeed."""
    mode, transport = variant
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    options = Options(base_url=server_url, dest=tmp_path, transport=transport, retries=0)
    through_the_proxy = download(["BR"], options, mode)
    assert [r.error for r in through_the_proxy.results] == ["connection failed"]
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    assert download(["BR"], options, mode).ok == 1


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_the_proxy_option_is_used(
    mode: str, proxy: Proxy, make_server: MakeServer, clean_env: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with make_server() as origin:
        assert main(["download", "-q", "-s", origin, "-d", str(tmp_path), "--mode", mode,
                     "--proxy", proxy.url, "BR"]) == 0
        assert proxy.saw(f"{origin}/br/br.gif")
    assert "  1 flag downloaded." in capsys.readouterr().out


def test_the_probe_checks_the_proxy_not_the_origin(
    server_url: str, clean_env: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead = free_port()
    clean_env.setenv("http_proxy", f"http://127.0.0.1:{dead}")
    assert main(["download", "-s", server_url, "-d", str(tmp_path), "BR"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"flags-async: error: cannot connect to proxy 127.0.0.1:{dead}: Connection refused"]


def test_the_embedded_server_is_always_reached_directly(
    server_url: str, clean_env: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    assert main(["download", "-q", "-d", str(tmp_path), "-s", server_url, "BR"]) == 1
    assert "cannot connect to proxy" in capsys.readouterr().err  # a given server: proxied
    assert main(["download", "-q", "-d", str(tmp_path), "BR"]) == 0
    assert "  1 flag downloaded." in capsys.readouterr().out


def test_a_proxy_that_is_not_a_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "--proxy", "localhost:3128", "BR"]) == 2
    assert "invalid proxy URL 'localhost:3128'" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "says"), [
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999", "Port out of range 0-65535"),
    ("http://127.0.0.1:abc", "Port could not be cast"),
    ("http://127.0.0.1:0", "port 0"),
])
def test_a_proxy_url_that_does_not_parse_is_a_usage_error_in_one_line(
    value: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-d", str(tmp_path), "--proxy", value, "BR"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"invalid proxy URL {value!r}: {says}" in err[0]


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_an_environment_proxy_that_does_not_parse_stops_the_run_in_one_line(
    mode: str, server_url: str, clean_env: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("HTTP_PROXY", "127.0.0.1:abc")
    assert main(["download", "-d", str(tmp_path), "-s", server_url, "--mode", mode, "BR"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "flags-async: error: invalid proxy URL 'http://127.0.0.1:abc' in the environment's "
        "HTTP_PROXY or http_proxy: Port could not be cast to integer value as 'abc'"]
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def https_origin(catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[tuple[str, Path]]:
    """The bundled server over https, its certificate from a private CA: (URL, the CA's PEM)."""
    folder = tmp_path_factory.mktemp("proxied-tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(folder / "server.pem"))
    app = lambda: make_app(Faults(), catalogue, random.Random(0))  # noqa: E731
    with serving(app, tls=tls_context(str(folder / "server.pem"), None)) as url:
        yield url, folder / "ca.pem"


@pytest.mark.parametrize("mode", ["async", "threads", "sequential"])
def test_a_certificate_that_fails_through_the_proxy_stops_the_run_before_any_download(
    mode: str, https_origin: tuple[str, Path], proxy: Proxy, clean_env: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Not one error per code, nor, in the sync modes, pool time-outs after the first few
    (encode/httpcore#1023): the probe makes the handshake through the tunnel first."""
    url, _ = https_origin
    host_port = url.split("//")[1].split("/")[0]
    assert main(["download", "-s", url, "-d", str(tmp_path), "--proxy", proxy.url,
                 "--mode", mode, "BR", "IN"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"flags-async: error: cannot connect to {host_port} through the proxy: "
        "certificate verify failed: unable to get local issuer certificate"]
    assert "flags downloaded" not in captured.out


def test_a_trusted_certificate_through_the_proxy_downloads(
    https_origin: tuple[str, Path], proxy: Proxy, clean_env: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    url, ca = https_origin
    clean_env.setenv("HTTPS_PROXY", proxy.url)
    assert main(["download", "-q", "-s", url, "-d", str(tmp_path), "--cacert", str(ca),
                 "BR"]) == 0
    assert "  1 flag downloaded." in capsys.readouterr().out


def test_a_proxy_s_credentials_reach_it_decoded_through_the_tunnel_check(
    https_origin: tuple[str, Path], clean_env: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A password with an @ is written %40 in a URL; the proxy must be sent the @."""
    url, ca = https_origin
    guarded = Proxy("--basic-auth", "user:p@ss")
    try:
        with_credentials = guarded.url.replace("http://", "http://user:p%40ss@")
        assert main(["download", "-q", "-s", url, "-d", str(tmp_path), "--cacert", str(ca),
                     "--proxy", with_credentials, "BR"]) == 0
        assert "  1 flag downloaded." in capsys.readouterr().out
    finally:
        guarded.stop()


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_an_environment_proxy_without_a_scheme_is_an_http_proxy(
    mode: str, proxy: Proxy, make_server: MakeServer, clean_env: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """`http_proxy=host:3128`, as many machines set it, and as httpx and curl read it."""
    clean_env.setenv("http_proxy", proxy.url.removeprefix("http://"))
    with make_server() as origin:
        assert main(["download", "-q", "-s", origin, "-d", str(tmp_path), "--mode", mode,
                     "BR"]) == 0
        assert proxy.saw(f"{origin}/br/br.gif")
    assert "  1 flag downloaded." in capsys.readouterr().out


def test_the_report_names_the_proxy_the_requests_go_through(
    proxy: Proxy, make_server: MakeServer, clean_env: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://bob:s3cret@"))
    with make_server() as origin:
        assert main(["download", "-s", origin, "-d", str(tmp_path / "a"), "BR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "Through the proxy " + proxy.url.replace("http://", "http://bob:***@")
    assert main(["download", "-d", str(tmp_path / "b"), "BR"]) == 0  # the embedded server
    assert not any("proxy" in line for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("mode", ["async", "threads", "sequential"])
def test_an_unusable_environment_proxy_for_another_scheme_is_one_line_in_every_mode(
    mode: str, server_url: str, clean_env: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """httpx reads every proxy variable, whatever the server's scheme: an http:// server
    beside a broken HTTPS_PROXY, or a SOCKS proxy (a library httpx does not have here)."""
    for variable, value, says in [
        ("HTTPS_PROXY", "http://127.0.0.1:abc", "Port could not be cast to integer value"),
        ("ALL_PROXY", "socks5://127.0.0.1:1080", "use http://HOST:PORT"),
    ]:
        clean_env.setenv(variable, value)
        assert main(["download", "-d", str(tmp_path), "-s", server_url, "--mode", mode,
                     "BR"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"flags-async: error: invalid proxy URL {value!r} in the environment's "
                       f"{variable} or {variable.lower()}: " + err[0].rsplit(": ", 1)[1]]
        assert says in err[0]
        with pytest.raises(ServerError, match=variable):  # the library says the same
            download(["BR"], Options(base_url=server_url, dest=tmp_path), Mode(mode))
        clean_env.delenv(variable)
    assert not list(tmp_path.iterdir())
