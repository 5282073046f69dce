"""The command line: what people type, what they see, and the exit codes."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flags_async import ServerError, __version__
from flags_async.cli import main
from flags_async.client._server_url import resolve_server
from flags_async.server._embedded import ChildServer, given_or_started
from flags_async.server._faults import Faults
from tests.conftest import cli_process, gif_files

MakeServer = Callable[..., AbstractContextManager[str]]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"flags-async {__version__}"


def test_no_arguments_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: flags-async") and "error" not in err.splitlines()[0]
    assert "download" in err and "serve" in err


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["download", "--help"], ["serve", "-h"]])
def test_help_exits_0(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("Usage: flags-async")


def test_download_help_shows_the_books_max_req_spelling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["download", "--help"]) == 0
    assert "-m, --max-req, --max_req N" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["download", "XYZ"], "Invalid value: 'XYZ' is not a code"),
        (["download", "B1"], "'B1' is not a code"),
        (["download", "-l", "0"], "--limit"),
        (["download", "-m", "0"], "'-m' / '--max-req' / '--max_req'"),  # the book's spelling
        (["download", "--max_req", "-5"], "'-m' / '--max-req' / '--max_req'"),  # is shown too
        (["download", "-s", "nowhere"], "unknown server 'nowhere'"),
        (["download", "-s", "ftp://example.com/flags"],
         "invalid server URL 'ftp://example.com/flags': not an http:// or https:// URL"),
        (["download", "--timeout", "-1"], "not a number of seconds above 0"),
        (["download", "--timeout", "0"], "not a number of seconds above 0"),
        (["download", "--timeout", "nan"], "not a number of seconds above 0"),
        (["download", "--timeout", "inf"], "not a number of seconds above 0"),
        (["download", "--timeout", "1e10"], "up to 3600"),
        (["bench", "--timeout", "inf"], "not a number of seconds above 0"),
        (["serve", "--delay", "0", "inf"], "delay"),
        (["download", "--mode", "fibers"], "--mode"),
        (["download", "--mode", "threads", "--transport", "aiohttp"], "async mode only"),
        (["download", "--mode", "sequential", "--transport", "httpx"], "async mode only"),
        (["download", "-a", "-e"], "not both"),
        (["download", "BR", "-a"], "not both"),
        (["download", "-v", "-q"], "not both"),
        (["download", "--json", "-q"], "give --json or --quiet, not both"),
        (["download", "--retries", "-1"], "--retries"),
        (["download", "--bogus"], "--bogus"),
        (["serve", "--delay", "3", "1"], "delay"),
        (["serve", "--error-rate", "2"], "--error-rate"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--preset", "wild"], "--preset"),
        (["serve", "--export", ""], "give a folder"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert message in lines[0] and "error:" in lines[0]
    assert ". (see" not in lines[0]  # one stop, after the hint


@pytest.mark.parametrize(("args", "where"), [
    (["download", "-s"], "flags-async download"),  # click gives this error no command
    (["bench", "--runs"], "flags-async bench"),
    (["download", "--bogus"], "flags-async download"),
    (["--version=3"], "flags-async"),
])
def test_a_usage_error_names_its_command(
    args: list[str], where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"{where}: error: ")
    assert error.endswith(f"(see '{where} --help')")


def test_labels_are_case_insensitive_and_urls_accepted() -> None:
    assert resolve_server("local") == ("LOCAL", "http://localhost:8000/flags")
    assert resolve_server("Embedded") == ("EMBEDDED", None)
    assert resolve_server("http://127.0.0.1:9/flags/") == ("URL", "http://127.0.0.1:9/flags")
    with pytest.raises(ServerError, match="URL with a host"):
        resolve_server("http:///flags")


@pytest.mark.parametrize(("url", "why"), [
    ("http://[::1/flags", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/flags", "Port out of range"),
    ("http://127.0.0.1:http/flags", "Port could not be cast"),
    ("http://127.0.0.1:0/flags", "port 0"),
    ("http://exa mple.com/flags", "a space in the host"),
])
def test_a_malformed_server_url_is_a_one_line_usage_error(
    url: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ServerError, match=f"invalid server URL .*{why}"):
        resolve_server(url)
    for command in ("download", "bench"):
        assert main([command, "-s", url, "BR"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "invalid server URL" in lines[0], lines


def test_download_prints_the_books_report(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-s", server_url, "-d", str(tmp_path), "BR", "zz", "C"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"URL site: {server_url}"
    assert lines[1] == "Searching for 28 flags: from BR to ZZ"
    assert lines[2] == "28 concurrent connections will be used."
    assert lines[3] == "Mode: async, aiohttp transport."
    assert lines[4] == "-" * 20
    assert lines[5:8] == [" 16 flags downloaded.", " 12 not found.", "  0 errors."]
    assert lines[8].startswith("Elapsed time: ") and lines[8].endswith("s")
    assert len(gif_files(tmp_path)) == 16


def test_sequential_mode_says_one_connection(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-s", server_url, "-d", str(tmp_path), "--mode", "sequential",
                 "BR"]) == 0
    out = capsys.readouterr().out
    assert "Searching for 1 flag: BR\n1 connection will be used.\n" in out
    assert "Mode: sequential, httpx transport." in out


def test_json_is_the_only_thing_on_stdout(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["download", "-s", server_url, "-d", str(tmp_path), "-e", "--json", "-v"])
    assert code == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # fails if anything else is on stdout
    assert (data["requested"], data["ok"], data["not_found"], data["errors"]) == (676, 194, 482, 0)
    assert len(captured.err.splitlines()) == 676  # -v lines go to stderr beside --json


def test_json_gives_the_whole_process_time_beside_the_download_phase(tmp_path: Path) -> None:
    """Start-up (interpreter, imports, the embedded server) is never hidden."""
    child = cli_process("download", "BR", "--json", "-d", str(tmp_path))
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    data = json.loads(out)
    assert data["ok"] == 1
    assert data["process_s"] > data["elapsed_s"] > 0


def test_json_has_the_same_keys_in_every_run(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A script may read `data["interrupted"]` or a result's `"named_by"` after any run."""
    for extra in ([], ["--names"]):
        assert main(["download", "-s", server_url, "-d", str(tmp_path / str(len(extra))),
                     "--json", "BR", "ZZ", *extra]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["interrupted"] is False
        assert [r["named_by"] for r in data["results"]] == (
            ["metadata", None] if extra else [None, None])
        assert list(data) == ["server", "mode", "transport", "requested", "ok", "not_found",
                              "errors", "skipped", "elapsed_s", "refused", "settled_rate",
                              "interrupted", "results", "process_s"]


def test_quiet_prints_only_the_counts(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-s", server_url, "-d", str(tmp_path), "-q", "-l", "3", "-a"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "  3 flags downloaded.", "  0 not found.", "  0 errors."]


def test_skip_existing_reports_what_it_kept(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["download", "-s", server_url, "-d", str(tmp_path), "-q", "BR", "IN", "ZZ"]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--skip-existing"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "  0 flags downloaded.", "  1 not found.", "  0 errors.", "  2 already there, kept."]


def test_verbose_prints_a_line_per_code(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-s", server_url, "-d", str(tmp_path), "-v", "BR", "ZZ"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "BR ok" in out and "ZZ not found" in out


def test_the_report_groups_errors_by_reason_and_quiet_keeps_the_counts(
    make_server: MakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with make_server(Faults(error_rate=0.5, garbage_rate=0.25), seed=5) as url:
        args = ["download", "-s", url, "-d", str(tmp_path), "-a", "--retries", "0"]
        assert main(args) == 1
        text = capsys.readouterr().out
        assert main([*args, "-q", "-d", str(tmp_path / "q")]) == 1
        quiet = capsys.readouterr().out
    (errors,) = [line for line in text.splitlines() if " error" in line]
    count, reasons = errors.split(" errors: ")
    counted = dict(reversed(part.split(" ", 1)) for part in reasons.rstrip(".").split(", "))
    assert set(counted) == {"HTTP 418", "not a GIF"}
    assert sum(int(n) for n in counted.values()) == int(count)
    assert int(counted["HTTP 418"]) > int(counted["not a GIF"])  # most frequent first
    assert next(line for line in quiet.splitlines() if "error" in line).endswith(" errors.")


@pytest.mark.parametrize("output", [[], ["-q"], ["--json"]])
def test_a_server_url_where_every_code_is_404_is_a_failure_that_says_so(
    server_url: str, output: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = server_url.removesuffix("/flags") + "/flag"
    assert main(["download", "-s", wrong, "-d", str(tmp_path), "BR", "IN", *output]) == 1
    captured = capsys.readouterr()
    said = captured.out if not output else captured.err
    assert ("Every code answered 404 Not Found: is the server URL right? "
            f"For BR it asked for {wrong}/br/br.gif") in said


def test_codes_that_are_no_countries_may_all_be_404_without_a_failure(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "-e", "-l", "3", "-s", server_url, "-d", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  3 not found." in out and "server URL" not in out


def test_errors_exit_1_and_name_their_reason(
    make_server: MakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with make_server(Faults(error_rate=1.0)) as url:
        code = main(["download", "-s", url, "-d", str(tmp_path), "-v", "BR"])
    assert code == 1
    assert "BR error: HTTP 418" in capsys.readouterr().out
    assert gif_files(tmp_path) == []


@pytest.mark.parametrize(("dest", "message"), [
    ("file/sub", "Not a directory: {tmp}/file/sub"),
    ("file", "Not a directory: {tmp}/file"),  # the same words as the OS's for file/sub
])
def test_an_unusable_dest_is_one_error_line(
    dest: str, message: str, server_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert main(["download", "-s", server_url, "-d", str(tmp_path / dest), "BR"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flags-async: error: " + message.format(tmp=tmp_path)]
    assert (tmp_path / "file").read_text() == "not a folder"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_cannot_be_written_stops_the_run_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """/proc/self is a folder in which nobody, root included, can create a file."""
    with socket.socket() as probe:  # nothing listens: a request would fail differently
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["download", "-s", f"http://127.0.0.1:{port}/flags", "-d", "/proc/self"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        f"flags-async: error: {os.strerror(errno.ENOENT)}: /proc/self"]


def test_an_empty_dest_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "-d", "", "BR"]) == 2
    assert "'-d' / '--dest'" in capsys.readouterr().err


def test_nothing_listening_stops_the_run_at_once_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["download", "-s", f"http://127.0.0.1:{port}/flags", "-d", str(tmp_path), "-e"])
    assert code == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == [f"flags-async: error: cannot connect to 127.0.0.1:{port}: Connection refused"]
    assert "flags downloaded" not in captured.out  # no per-code run happened


def test_an_unresolvable_host_stops_the_run_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:

    def no_such_host(host: str, *args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    code = main(["download", "-s", "http://flags.invalid/flags", "-d", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flags-async: error: cannot resolve host 'flags.invalid'"]


def test_serve_reports_a_port_in_use_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flags-async: error: cannot listen on 127.0.0.1:{port}: "
                   f"{os.strerror(errno.EADDRINUSE)}"]


def test_serve_reports_an_unknown_host_in_the_resolvers_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(socket.gaierror) as resolver:
        socket.getaddrinfo("flags.invalid", 0, family=socket.AF_INET, type=socket.SOCK_STREAM)
    assert main(["serve", "--host", "flags.invalid", "--port", "0"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"flags-async: error: cannot listen on flags.invalid:0: {resolver.value.strerror}"]


def test_serve_stopped_with_ctrl_c_says_so_and_exits_130(ctrl_c_enabled: None) -> None:
    child = cli_process("serve", "--port", "0")
    assert child.stdout is not None
    assert child.stdout.readline().startswith("Serving flags at http://127.0.0.1:")  # ready
    os.kill(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 130
    assert err == "\nStopped.\n"


def test_serve_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--export", str(tmp_path)]) == 0
    assert (tmp_path / "flags" / "zw" / "zw.gif").read_bytes().startswith(b"GIF89a")
    assert "Wrote 388 files" in capsys.readouterr().out


def test_the_bench_s_child_server_serves_and_stops_with_the_block(tmp_path: Path) -> None:
    import httpx

    with given_or_started(None, in_child=True) as server:
        url = server()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/br/br.gif").content.startswith(b"GIF89a")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/br/br.gif")


KILLED_CLIENT = """
import os, signal
from flags_async.server._embedded import ChildServer
server = ChildServer()
print(server.base_url(), server._child.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_child_server_ends_with_a_client_killed_outright() -> None:
    """SIGKILL leaves the client (a bench) no way to stop its server: the server notices."""
    import httpx

    done = subprocess.run([sys.executable, "-c", KILLED_CLIENT], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    url, pid = done.stdout.split()
    assert url.startswith("http://127.0.0.1:")
    try:
        for _ in range(100):  # it looks every 0.5 s: gone within seconds, not minutes
            try:
                httpx.head(url, timeout=1)
            except httpx.ConnectError:
                return
            time.sleep(0.1)
        raise AssertionError(f"the server at {url} outlived its client")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def test_python_m_runs_the_default_embedded_server_and_writes_only_into_dest(
    tmp_path: Path,
) -> None:
    home, work, dest = tmp_path / "home", tmp_path / "work", tmp_path / "dest"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    child = cli_process("download", "-l", "3", "-d", str(dest), cwd=work,
                        env={**env, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"})
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.startswith("EMBEDDED site: http://127.0.0.1:")
    assert "  3 flags downloaded." in out
    assert [p.name for p in gif_files(dest)] == ["bd.gif", "br.gif", "cd.gif"]
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []  # no cache, no droppings


def test_download_from_a_given_server_starts_no_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server_url: str,
) -> None:
    from flags_async.server import _embedded

    def no_server(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an embedded server was started")

    monkeypatch.setattr(_embedded, "embedded", no_server)
    assert main(["download", "BR", "-q", "-d", str(tmp_path), "-s", server_url]) == 0
    assert [p.name for p in gif_files(tmp_path)] == ["br.gif"]


def test_a_server_that_cannot_be_started_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from flags_async.server import _serve

    def no_socket(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(_serve, "listen", no_socket)
    assert main(["download", "BR", "-d", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        "flags-async: error: cannot start the embedded flag server: Too many open files\n")


def test_ctrl_c_before_the_command_starts_is_exit_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import typer

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(typer.main, "get_command", interrupted)
    assert main(["download", "BR"]) == 130
    assert capsys.readouterr().err == "\nInterrupted.\n"


def test_no_resume_hint_when_the_command_line_is_unknown(
    make_server: MakeServer, tmp_path: Path,
) -> None:
    """Run through typer's own runner, not `main`: no command line to repeat, so no hint
    (not one made from the host program's arguments)."""
    from typer.testing import CliRunner

    from flags_async.cli import app

    with make_server(Faults(error_rate=1.0)) as url:
        result = CliRunner().invoke(app, ["download", "BR", "-s", url, "-d", str(tmp_path),
                                          "--retries", "0"])
    assert result.exit_code == 1
    assert "1 error" in result.output
    assert "To fetch only what is missing" not in result.output


def test_no_resume_hint_when_an_interrupted_run_had_done_every_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Ctrl-C after the last code: the report says so, but nothing is missing to fetch."""
    from flags_async import Mode, Result, Status, TransportName
    from flags_async._models import Report
    from flags_async.cli._download import print_report

    done = [Result("BR", Status.OK, Path("br.gif"), 10), Result("ZZ", Status.NOT_FOUND)]
    for requested, hinted in ((2, False), (3, True)):
        report = Report("http://127.0.0.1:8000/flags", Mode.ASYNC, TransportName.AIOHTTP,
                        done, 0.1, requested=requested, interrupted=True)
        print_report(report, None, json_out=False, quiet=False, args=["download", "BR", "ZZ"])
        out = capsys.readouterr().out
        assert f"Interrupted: 2 of {requested} codes done" in out
        assert ("To fetch only what is missing" in out) is hinted


def test_a_download_run_through_typer_leaves_the_callers_signal_handlers_alone(
    server_url: str, tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from flags_async.cli import app

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    result = CliRunner().invoke(app, ["download", "BR", "-s", server_url, "-d", str(tmp_path)])
    assert result.exit_code == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_the_bench_s_child_server_has_a_process_group_of_its_own() -> None:
    """So a Ctrl-C at the terminal, sent to our group, does not reach it while it starts."""
    server = ChildServer()
    try:
        assert os.getpgid(server._child.pid) == server._child.pid != os.getpgrp()
    finally:
        server.close()


@pytest.fixture
def fresh_trust_store() -> Iterator[None]:
    """`ssl_context` is made once per process: these tests need it made under their setting."""
    from flags_async.client._http import ssl_context

    ssl_context.cache_clear()
    yield
    ssl_context.cache_clear()


@pytest.mark.usefixtures("fresh_trust_store")
@pytest.mark.parametrize("command", [["download", "BR"], ["bench", "-l", "3", "--runs", "1",
                                                          "--latency", "0"]])
def test_an_unusable_ssl_cert_file_is_named_in_one_line(
    command: list[str], server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    dest = ["-d", str(tmp_path / "flags")] if command[0] == "download" else []
    assert main([*command, "-s", server_url, *dest]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"flags-async: error: cannot use SSL_CERT_FILE={tmp_path / 'missing.pem'}: "
        "No such file or directory"]


def test_a_password_in_the_server_url_is_masked_in_reports_and_tables(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = server_url.replace("http://", "http://bob:s3cret@")
    assert main(["download", "--json", "-s", secret, "-d", str(tmp_path), "BR"]) == 0
    assert json.loads(capsys.readouterr().out)["server"] == secret.replace("s3cret", "***")
    wrong = secret.removesuffix("/flags") + "/flag"  # every code 404: the hint names a URL
    assert main(["download", "-s", wrong, "-d", str(tmp_path), "BR"]) == 1
    out = capsys.readouterr().out
    assert "s3cret" not in out and "For BR it asked for http://bob:***@" in out
    assert main(["bench", "-s", secret, "-l", "2", "--runs", "1", "--modes", "async"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "server http://bob:***@" in out


@pytest.mark.parametrize("args", [
    ["-s", "http://bob:s3cret@127.0.0.1:99999/flags"],  # port out of range
    ["-s", "http://bob:s3cret@[::1/flags"],  # a broken IPv6 host
    ["--proxy", "socks9://bob:s3cret@127.0.0.1:1080"],
])
def test_a_password_in_a_url_refused_as_input_is_masked_in_the_error(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "BR", "-d", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err and "bob:***@" in err



def test_the_resume_hint_runs_after_a_double_dash_and_masks_a_password(
    make_server: MakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with make_server(Faults(error_rate=1.0)) as failing:
        secret = failing.replace("http://", "http://bob:s3cret@")
        assert main(["download", "-q", "--retries", "0", "-s", secret, "-d", str(tmp_path),
                     "--", "BR", "IN"]) == 1
    hint = capsys.readouterr().err.strip().splitlines()[-1]
    assert "s3cret" not in hint
    assert hint.startswith("To fetch only what is missing (with your password for ***): ")
    resume = shlex.split(hint.split(": ", 1)[1])
    assert resume[resume.index("download") + 1] == "--skip-existing"
    assert resume[-3:] == ["--", "BR", "IN"]
    with make_server() as working:  # the same command, against a server that answers
        again = [working if arg.startswith("http://bob:***@") else arg for arg in resume]
        assert main(again[again.index("download"):]) == 0
    assert "  2 flags downloaded." in capsys.readouterr().out


def test_a_flag_that_names_could_not_name_is_said_per_line_and_counted() -> None:
    from flags_async import Mode, Report, Result, Status, TransportName
    from flags_async.cli._report import final_report, result_line

    named = Result("BR", Status.OK, Path("d/Brazil.gif"), 4804, 1, named_by="metadata")
    by_code = Result("AD", Status.OK, Path("d/ad.gif"), 4804, 1, named_by="code")
    assert result_line(named) == "BR ok"
    assert result_line(by_code) == "AD ok, as ad.gif"
    report = Report("http://h/flags", Mode.ASYNC, TransportName.AIOHTTP, [by_code, named],
                    0.5, 2)
    assert "1 saved as <cc>.gif: their metadata.json was unusable." in final_report(report)
    assert "metadata" not in final_report(replace(report, results=[named]))


@pytest.mark.parametrize("arg", ["--server=http://bob:s3cret@127.0.0.1:1/flags",
                                 "-shttp://bob:s3cret@127.0.0.1:1/flags",
                                 "--proxy=http://bob:s3cret@127.0.0.1:3128"])
def test_the_resume_hint_masks_a_password_given_with_its_option(arg: str) -> None:
    from flags_async.cli._download import resume_hint

    hint = resume_hint(["download", arg, "BR"])
    assert "s3cret" not in hint and arg.replace("s3cret", "***") in shlex.split(hint)


def test_quiet_says_how_much_an_interrupted_run_did(capsys: pytest.CaptureFixture[str]) -> None:
    from flags_async import Mode, Report, Result, Status, TransportName
    from flags_async.cli._download import print_report

    done = [Result("BR", Status.OK, Path("d/br.gif"), 4804, 1)]
    report = Report("http://h/flags", Mode.ASYNC, TransportName.AIOHTTP, done, 0.5, 676,
                    interrupted=True)
    print_report(report, None, json_out=False, quiet=True, args=None)
    assert capsys.readouterr().out.splitlines()[-1] == "Interrupted: 1 of 676 codes done."


def test_serve_names_a_missing_key_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import trustme

    cert = tmp_path / "server.pem"
    trustme.CA().issue_cert("127.0.0.1").cert_chain_pems[0].write_to_path(str(cert))
    assert main(["serve", "--port", "0", "--certfile", str(cert), "--keyfile",
                 str(tmp_path / "missing.key")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"flags-async: error: cannot use the key {tmp_path / 'missing.key'}: "
        "No such file or directory")


def test_the_resume_hint_names_the_program_as_the_shell_will_find_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By name when that name on PATH is this very program, else by its path (a `.venv/bin/`
    not on PATH): the printed command must run as pasted."""
    from flags_async.cli._download import resume_hint

    script = tmp_path / "bin" / "flags-async"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "download"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert shlex.split(resume_hint(["download"]).split(": ", 1)[1])[0] == str(script)
    monkeypatch.setenv("PATH", str(script.parent))
    assert shlex.split(resume_hint(["download"]).split(": ", 1)[1])[0] == "flags-async"
    monkeypatch.setattr(sys, "argv", ["/x/flags_async/__main__.py", "download"])
    assert shlex.split(resume_hint(["download"]).split(": ", 1)[1])[:3] == [
        sys.executable, "-m", "flags_async"]  # its directory is not on PATH now
