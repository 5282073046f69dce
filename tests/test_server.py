"""The bundled server: its catalogue, its 404s, its faults, its export, its capacity."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import aiohttp
import httpx
import pytest
from PIL import Image

from flags_async import country_codes
from flags_async.server._catalogue import Catalogue, export
from flags_async.server._faults import PRESETS, Faults

MakeServer = Callable[..., AbstractContextManager[str]]


def test_every_country_has_a_distinct_valid_gif_of_realistic_size(
    catalogue: Catalogue,
) -> None:
    gifs = [catalogue[f"{cc.lower()}/{cc.lower()}.gif"].body for cc in country_codes()]
    assert len(gifs) == 194 and len(set(gifs)) == 194
    for body in gifs:
        assert body.startswith(b"GIF89a")
        assert 2_000 <= len(body) <= 20_000
    image = Image.open(io.BytesIO(gifs[0]))
    assert image.format == "GIF" and image.size == (240, 160)


def test_the_catalogue_lists_a_gif_and_metadata_for_every_country(
    catalogue: Catalogue,
) -> None:
    codes = [cc.lower() for cc in country_codes()]
    assert sorted(catalogue) == sorted([f"{cc}/{cc}.gif" for cc in codes]
                                       + [f"{cc}/metadata.json" for cc in codes])
    assert catalogue["zw/metadata.json"].content_type == "application/json"


def test_it_serves_gifs_and_the_books_metadata(server_url: str) -> None:
    gif = httpx.get(f"{server_url}/br/br.gif")
    assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
    assert gif.content.startswith(b"GIF89a")
    meta = httpx.get(f"{server_url}/br/metadata.json")
    assert meta.headers["content-type"].startswith("application/json")
    assert meta.json() == {"tld_cc": ".br", "iso_cc": "BR", "country": "Brazil", "gec_cc": "BR"}
    assert httpx.get(f"{server_url}/gb/metadata.json").json()["tld_cc"] == ".uk"


def _raw_get(url: str, path: str) -> int:
    """Send `path` byte for byte (clients would normalise `..`) and return the status code."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(200).decode("latin-1")
    return int(head.split()[1])


@pytest.mark.parametrize(
    "path",
    ["/flags/xx/xx.gif", "/flags/BR/BR.gif", "/flags/br/other.gif", "/flags/br/",
     "/flags/../../etc/passwd", "/flags/%2e%2e/%2e%2e/etc/passwd", "/flags/br/..%2f..%2fbr.gif",
     "/", "/flags", "/etc/passwd"],
)
def test_anything_outside_the_catalogue_is_404(server_url: str, path: str) -> None:
    assert _raw_get(server_url, path) == 404


def test_error_rate_one_answers_every_request_with_418(make_server: MakeServer) -> None:
    with make_server(Faults(error_rate=1.0)) as url:
        response = httpx.get(f"{url}/br/br.gif")
    assert response.status_code == 418


def test_an_error_rate_fails_about_that_fraction(make_server: MakeServer) -> None:
    with make_server(Faults(error_rate=0.25), seed=1) as url, httpx.Client() as client:
        codes = [client.get(f"{url}/br/br.gif").status_code for _ in range(400)]
    assert set(codes) == {200, 418}
    assert 0.15 < codes.count(418) / len(codes) < 0.35


def test_a_delayed_server_still_answers_correctly(make_server: MakeServer) -> None:
    with make_server(Faults(delay=(0.01, 0.02))) as url:
        assert httpx.get(f"{url}/br/br.gif").status_code == 200


@pytest.mark.parametrize("faults", [{"delay": (2.0, 1.0)}, {"delay": (-1.0, 1.0)},
                                    {"error_rate": 1.5}, {"error_rate": -0.1}])
def test_impossible_faults_are_refused(faults: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Faults(**faults)  # type: ignore[arg-type]


def test_export_writes_the_same_urls_for_a_static_server(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    assert export(tmp_path) == 2 * 194
    assert (tmp_path / "flags/br/br.gif").read_bytes() == catalogue["br/br.gif"].body
    assert json.loads((tmp_path / "flags/br/metadata.json").read_bytes())["country"] == "Brazil"
    assert len(list((tmp_path / "flags").iterdir())) == 194


def test_it_holds_1000_concurrent_slow_requests(make_server: MakeServer) -> None:
    """Delays are asyncio.sleep: 1,000 requests of 1 s each all wait at once, none refused."""

    async def fetch_all(url: str) -> list[int]:
        # aiohttp's client: httpx's own transport is itself slow at 1,000 connections.
        connector = aiohttp.TCPConnector(limit=1000)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def status(n: int) -> int:
                async with session.get(f"{url}/br/br.gif") as reply:
                    await reply.read()
                    return reply.status

            return await asyncio.gather(*(status(n) for n in range(1000)))

    with make_server(Faults(delay=(1.0, 1.0))) as url:
        statuses = asyncio.run(fetch_all(url))
    assert statuses == [200] * 1000


def test_faults_reach_the_bench_s_child_server_as_serve_options() -> None:
    from flags_async.server._embedded import ChildServer

    assert PRESETS["error"].faults.as_options() == ["--delay", "0.5", "5.0", "--error-rate",
                                                    "0.25"]
    server = ChildServer(Faults(delay=(0.0, 0.01), error_rate=1.0))
    try:
        assert httpx.get(f"{server.base_url()}/br/br.gif").status_code == 418
    finally:
        server.close()
