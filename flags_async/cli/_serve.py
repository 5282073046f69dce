"""`flags-async serve`: the bundled flag server, with the book's presets and more faults."""

from __future__ import annotations

import dataclasses
import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import EXIT_INTERRUPTED, app, fail, say_interrupted


class PresetName(StrEnum):
    LOCAL = "local"
    DELAY = "delay"
    ERROR = "error"
    CHAOS = "chaos"


class LimitHeaders(StrEnum):
    NONE = "none"
    RETRY_AFTER = "retry-after"
    RATELIMIT = "ratelimit"


@app.command()
def serve(
    ctx: typer.Context,
    preset: Annotated[PresetName, typer.Option(
        "--preset", case_sensitive=False,
        help="local: fast, port 8000. delay: 0.5-5 s per response, port 8001. "
             "error: delay plus 25% of requests answered 418, port 8002. chaos: 0-0.2 s "
             "delay and a mix of every fault (418, 429, garbage, truncated, reset), port 8003.",
    )] = PresetName.LOCAL,
    port: Annotated[int | None, typer.Option(
        "--port", min=0, max=65535, metavar="PORT", show_default=False,
        help="Port to listen on (default: the preset's; 0 picks a free one).")] = None,
    host: Annotated[str, typer.Option(
        "--host", metavar="HOST", help="Address to bind.")] = "127.0.0.1",
    delay: Annotated[tuple[float, float] | None, typer.Option(
        "--delay", metavar="MIN MAX", show_default=False,
        help="Wait a random MIN..MAX seconds before each response.")] = None,
    latency: Annotated[float | None, typer.Option(
        "--latency", min=0, metavar="MS", show_default=False,
        help="Answer every request MS milliseconds late, as a network round trip would "
             "(a fixed --delay).")] = None,
    error_rate: Annotated[float | None, typer.Option(
        "--error-rate", min=0, max=1, metavar="P", show_default=False,
        help="Answer this fraction of requests with 418 I'm a teapot.")] = None,
    throttle_rate: Annotated[float | None, typer.Option(
        "--throttle-rate", min=0, max=1, metavar="P", show_default=False,
        help="Answer this fraction with 429 and Retry-After: 1.")] = None,
    garbage_rate: Annotated[float | None, typer.Option(
        "--garbage-rate", min=0, max=1, metavar="P", show_default=False,
        help="Answer this fraction with 200 and an HTML page labelled image/gif.")] = None,
    truncate_rate: Annotated[float | None, typer.Option(
        "--truncate-rate", min=0, max=1, metavar="P", show_default=False,
        help="Send half the body promised by Content-Length, then hang up.")] = None,
    reset_rate: Annotated[float | None, typer.Option(
        "--reset-rate", min=0, max=1, metavar="P", show_default=False,
        help="Reset the connection (TCP RST) without answering.")] = None,
    trickle: Annotated[float | None, typer.Option(
        "--trickle", min=0.001, metavar="BYTES_PER_S", show_default=False,
        help="Send every body at this many bytes per second.")] = None,
    rate_limit: Annotated[float | None, typer.Option(
        "--rate-limit", min=0.001, metavar="N", show_default=False,
        help="Answer 429 to a client address asking more than N times a second.")] = None,
    burst: Annotated[int | None, typer.Option(
        "--burst", min=1, metavar="B", show_default=False,
        help="With --rate-limit: requests a client may make at once (default 1).")] = None,
    limit_headers: Annotated[LimitHeaders | None, typer.Option(
        "--limit-headers", case_sensitive=False, show_default=False,
        help="What a 429 of --rate-limit says: none (default, as nginx), retry-after, or "
             "ratelimit (the IETF draft's RateLimit-Policy and RateLimit).")] = None,
    certfile: Annotated[Path | None, typer.Option(
        "--certfile", metavar="PEM", show_default=False,
        help="Serve https with this certificate chain (and its key, unless --keyfile).")] = None,
    keyfile: Annotated[Path | None, typer.Option(
        "--keyfile", metavar="PEM", show_default=False,
        help="The private key for --certfile.")] = None,
    export_dir: Annotated[str | None, typer.Option(
        "--export", metavar="DIR", show_default=False,
        help="Write DIR/flags/<cc>/<cc>.gif and metadata.json for a static server, and exit.",
    )] = None,
) -> None:
    """Run the bundled flag server (GIFs and metadata.json under /flags/)."""
    import asyncio
    import ssl

    from ..server._app import make_app
    from ..server._catalogue import export
    from ..server._faults import PRESETS
    from ..server._serve import listen, serve_until_stopped, tls_context

    if latency is not None and delay is not None:
        raise typer.BadParameter("give --latency or --delay, not both", param_hint="'--latency'")
    if latency is not None:
        delay = (latency / 1000, latency / 1000)
    given: dict[str, Any] = {"delay": delay, "error_rate": error_rate,
                             "throttle_rate": throttle_rate, "garbage_rate": garbage_rate,
                             "truncate_rate": truncate_rate, "reset_rate": reset_rate,
                             "trickle": trickle, "rate_limit": rate_limit, "burst": burst,
                             "limit_headers": limit_headers and limit_headers.value}
    if rate_limit is None and (burst or limit_headers):
        raise typer.BadParameter("needs --rate-limit",
                                 param_hint="'--burst'" if burst else "'--limit-headers'")
    if export_dir is not None:
        if not export_dir:
            raise typer.BadParameter("give a folder, such as 'www'", param_hint="'--export'")
        try:
            count = export(Path(export_dir))
        except OSError as exc:
            fail(f"cannot export to {export_dir}: {exc.strerror or exc}")
        typer.echo(f"Wrote {count} files under {Path(export_dir) / 'flags'}")
        return

    chosen = PRESETS[preset.value]
    try:
        faults = dataclasses.replace(
            chosen.faults, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if keyfile is not None and certfile is None:
        raise typer.BadParameter("needs --certfile", param_hint="'--keyfile'")
    try:
        tls = None if certfile is None else tls_context(str(certfile),
                                                         None if keyfile is None else str(keyfile))
    except ssl.SSLError as exc:  # OpenSSL's words: "PEM lib", at best
        pair = f"the certificate {certfile}" + (f" with the key {keyfile}" if keyfile else "")
        fail(f"cannot use {pair}: {exc} (--certfile takes a PEM certificate chain, with its "
             "private key unless --keyfile gives it)")
    except OSError as exc:
        missing = keyfile if keyfile is not None and not keyfile.exists() else certfile
        what = "the key" if missing is keyfile else "the certificate"
        fail(f"cannot use {what} {missing}: {exc.strerror or exc}")
    port = chosen.port if port is None else port
    try:
        sock = listen(host, port)
    except socket.gaierror as exc:  # an unknown host: its errno is getaddrinfo's, not the OS's
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    except OSError as exc:  # its strerror repeats the address: the OS's words alone
        fail(f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}")

    def announce(url: str) -> None:
        typer.echo(f"Serving flags at {url} ({preset.value} preset). Ctrl-C stops.")

    stopped_by = asyncio.run(serve_until_stopped(make_app(faults), sock, announce, tls=tls))
    if stopped_by is not None:  # Ctrl-C or SIGTERM: interrupted, as the exit codes say
        say_interrupted(ctx, "Stopped.")
        raise typer.Exit(EXIT_INTERRUPTED)
