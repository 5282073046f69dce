"""The bench command: runs, summaries, sweeps, table, JSON and charts."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

from flags_async._models import Mode, Options, Report
from flags_async.bench._runner import (
    SCENARIOS,
    Run,
    Scenario,
    ScenarioResult,
    Summary,
    bench_scenario,
    format_sweep,
    format_table,
    rate,
    sample,
    summarize,
    with_speedups,
)
from flags_async.cli import main
from flags_async.server._faults import Faults


def _run(variant: str, n: int, seconds: float, ok: int = 1) -> Run:
    return Run("fast", variant, 1, n, seconds, 2, ok, 2 - ok, 0)


def test_summary_takes_median_min_max_and_rate() -> None:
    runs = [_run("async", 1, 0.3), _run("async", 2, 0.1), _run("async", 3, 0.2),
            _run("threads", 1, 9.0)]
    s = summarize(runs, "async", 1)
    assert (s.median_s, s.min_s, s.max_s) == (0.2, 0.1, 0.3)
    assert s.requests_per_s == pytest.approx(2 / 0.2)


def test_speedups_compare_rates_with_sequential_s() -> None:
    """Sequential may run over fewer codes: requests per second are what is compared."""
    summaries = [Summary("sequential", 1, 10, 2.0, 2, 2, 5.0, 0, 0, 0),
                 Summary("async", 100, 676, 6.76, 6.76, 6.76, 100.0, 0, 0, 0)]
    assert [s.speedup for s in with_speedups(summaries)] == [1.0, 20.0]
    assert with_speedups(summaries[1:])[0].speedup is None


def test_the_sample_is_spread_evenly_and_sized_by_the_server_s_wait() -> None:
    codes = [f"{a}{b}" for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    assert sample(codes, 0.0) == codes  # a fast server: every code
    picked = sample(codes, 0.020)  # 2 s at 20 ms a response, one at a time: 100 codes
    assert len(picked) == 100 and picked[0] == "AA" and picked[-1].startswith("Z")
    assert picked == sorted(set(picked))
    assert sample(codes, 0.020, max_req=10) == codes  # 10 in flight: all in about 1.4 s
    assert len(sample(codes, 2.75)) == 5  # never fewer than a handful


def test_each_run_gets_a_fresh_folder_and_all_go_when_the_scenario_ends(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No run's clean-up falls inside the next run's timing."""
    import flags_async.bench._runner as bench

    folders: list[Path] = []
    real = bench.download

    def recording(codes: list[str], options: Options, mode: Mode, trace: None) -> Report:
        assert not options.dest.exists()  # fresh
        assert all((f / "br.gif").is_file() for f in folders)  # the earlier runs' files stay
        folders.append(options.dest)
        return real(codes, options, mode, trace=trace)

    monkeypatch.setattr(bench, "download", recording)
    bench_scenario(SCENARIOS["fast"], ["sequential", "async"], ["BR"], max_reqs=[1], runs=2,
                   server_url=server_url)
    assert len(set(folders)) == 4
    assert len({f.parent for f in folders}) == 1
    assert not folders[0].parent.exists()  # all removed at the end


def test_bench_scenario_alternates_variants_and_counts_every_run(server_url: str) -> None:
    seen: list[tuple[int, str]] = []
    result = bench_scenario(SCENARIOS["fast"], ["sequential", "async", "async-httpx"],
                            ["BR", "ZZ"], max_reqs=[2], runs=2, server_url=server_url,
                            on_run=lambda r: seen.append((r.run, r.variant)))
    assert seen == [(1, "sequential"), (1, "async"), (1, "async-httpx"),
                    (2, "sequential"), (2, "async"), (2, "async-httpx")]
    assert all((r.ok, r.not_found, r.errors) == (1, 1, 0) for r in result.runs)
    assert [s.variant for s in result.summary] == ["sequential", "async", "async-httpx"]
    assert result.summary[0].speedup == 1.0
    table = format_table(result)
    assert "fast scenario: 2 codes (BR to ZZ), 2 runs each" in table
    assert "async-httpx" in table


def test_a_slow_scenario_measures_sequential_over_a_sample_and_says_so(server_url: str) -> None:
    slow = Scenario("slow", Faults(delay=(1.0, 1.0)), "all", max_req=5, runs=1)  # says 1 s
    codes = ["AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AR", "AT"]
    result = bench_scenario(slow, ["sequential", "async"], codes, max_reqs=[5], runs=1,
                            server_url=server_url)
    assert [(r.variant, r.requested) for r in result.runs] == [("sequential", 5), ("async", 10)]
    seq, asy = result.summary
    assert (seq.requested, seq.ok + seq.not_found) == (5, 5)  # measured: its own run's counts
    assert seq.median_s == result.runs[0].elapsed_s
    assert asy.speedup == pytest.approx(asy.requests_per_s / seq.requests_per_s)
    assert ("sequential -m 1 ran over 5 of the 10 codes, evenly spread, the smallest sample, "
            "however slow the server" in format_table(result))


def test_a_concurrency_sweep_runs_each_max_req_and_sequential_once_per_round(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "scaling.png"
    assert main(["bench", "--scenario", "fast", "-s", server_url, "--runs", "2", "-l", "10",
                 "--max-req", "1,10", "--modes", "sequential,async", "--json",
                 "--plot", str(chart)]) == 0
    (scenario,) = json.loads(capsys.readouterr().out)["scenarios"]
    assert [(r["variant"], r["max_req"]) for r in scenario["runs"]] == [
        ("sequential", 1), ("async", 1), ("async", 10)] * 2
    assert [(s["variant"], s["max_req"]) for s in scenario["summary"]] == [
        ("sequential", 1), ("async", 1), ("async", 10)]
    assert_image(chart)


def test_a_latency_sweep_starts_a_server_per_latency_and_measures_every_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "sweep.png"
    assert main(["bench", "--latency", "0,20", "--runs", "1", "-l", "10",
                 "--modes", "sequential,threads,async", "--json", "--plot", str(chart)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["process_s"] > 0
    zero, twenty = data["scenarios"]
    assert (zero["latency_ms"], twenty["latency_ms"]) == (0, 20)
    assert zero["server"] != twenty["server"]
    for scenario in (zero, twenty):
        assert [r["variant"] for r in scenario["runs"]] == ["sequential", "threads", "async"]
        assert all(r["ok"] + r["not_found"] == r["requested"] for r in scenario["runs"])
    sequential_at_20 = twenty["runs"][0]
    # 20 ms per response, one response at a time: the server's latency is really there.
    assert sequential_at_20["elapsed_s"] >= sequential_at_20["requested"] * 0.020
    assert_image(chart)


@pytest.mark.parametrize(("args", "why"), [
    (["--latency", "fast"], "give milliseconds"),
    (["--latency", "-5"], "give milliseconds"),
    (["--max-req", "0,10"], "Invalid value for '-m' / '--max-req': '0,10': give request counts"),
    (["--max-req", "1,,10"], "Invalid value for '-m' / '--max-req': '1,,10'"),  # a typo
    (["--latency", "0,"], "Invalid value for '--latency': '0,': give milliseconds"),
    (["--latency", "10", "--scenario", "fast"], "not both"),
    (["--modes", ""], "give at least one of sequential, threads, async"),
    (["-s", "http://127.0.0.1:9/flags", "--latency", "0,20"], "give the one latency"),
    (["--modes", "async,fibers"], "unknown mode fibers: use sequential"),
])
def test_bad_sweeps_are_usage_errors(
    args: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args]) == 2
    assert why in capsys.readouterr().err


def test_a_concurrency_sweep_runs_at_0_and_20_ms_unless_told(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--max-req", "1,2", "--runs", "1", "-l", "3", "--modes", "async",
                 "--json"]) == 0
    scenarios = json.loads(capsys.readouterr().out)["scenarios"]
    assert [s["latency_ms"] for s in scenarios] == [0, 20]
    assert [[r["max_req"] for r in s["runs"]] for s in scenarios] == [[1, 2], [1, 2]]


@pytest.mark.parametrize("max_req", [[], ["--max-req", "1,2"]])
def test_a_server_of_the_user_s_is_one_scenario_of_unknown_latency(
    server_url: str, max_req: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    """Not the latency sweep's scenarios, which would all be this one server, mislabelled."""
    pytest.importorskip("matplotlib")
    from flags_async.bench._chart import sweep_chart

    assert main(["bench", "-s", server_url, "--runs", "1", "-l", "3", "--modes", "async",
                 *max_req, "--json"]) == 0
    (scenario,) = json.loads(capsys.readouterr().out)["scenarios"]
    assert (scenario["scenario"], scenario["latency_ms"]) == ("given server", None)
    assert (scenario["server"], scenario["bundled"]) == (server_url, False)

    result = ScenarioResult("given server", server_url, ["AA", "AB", "AC"], bundled=False)
    result.summary = with_speedups([Summary("async", m, 3, 0.1, 0.1, 0.1, 30.0, 1, 2, 0)
                                    for m in (1, 2)])
    (axes,) = sweep_chart([result], by_max_req=True).axes[:1]
    assert server_url in axes.get_title() and "bundled" not in axes.get_title()


@pytest.mark.parametrize(("requests_per_s", "shown"), [
    (1973.4, "1973"), (10.0, "10"), (9.96, "10"), (5.25, "5.2"), (0.368, "0.37"), (0.0, "0"),
])
def test_a_slow_rate_keeps_two_figures(requests_per_s: float, shown: str) -> None:
    assert rate(requests_per_s) == shown


def test_a_sampled_run_s_chart_says_up_to_how_many_requests() -> None:
    pytest.importorskip("matplotlib")
    from flags_async.bench._chart import sweep_chart

    codes = [f"A{letter}" for letter in "ABCDEFGHIJ"]
    result = ScenarioResult("latency 50 ms", "http://x", codes, 50)
    result.summary = with_speedups([
        Summary("sequential", 1, 5, 0.3, 0.3, 0.3, 16.7, 5, 0, 0),
        Summary("async", 10, 10, 0.06, 0.06, 0.06, 167.0, 10, 0, 0)])
    (axes,) = sweep_chart([result], by_max_req=True).axes[:1]
    assert "up to 10 requests per run" in axes.get_title()
    result.summary[0] = Summary("sequential", 1, 10, 0.6, 0.6, 0.6, 16.7, 10, 0, 0)
    (axes,) = sweep_chart([result], by_max_req=True).axes[:1]
    assert "\n10 requests per run" in axes.get_title()


def assert_image(path: Path) -> None:
    """`path` holds a whole, valid image."""
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] > 400 and image.size[1] > 300


def test_bench_cli_prints_json_and_draws_a_png(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "bench.png"
    timeline = tmp_path / "timeline.png"
    code = main(["bench", "--scenario", "fast", "-s", server_url, "--runs", "1", "BR", "ZZ",
                 "--modes", "async,threads", "--json", "--plot", str(chart),
                 "--timeline", str(timeline)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    (scenario,) = data["scenarios"]
    assert scenario["scenario"] == "fast" and scenario["codes"] == 2
    assert [r["variant"] for r in scenario["runs"]] == ["async", "threads"]
    assert {s["variant"] for s in scenario["summary"]} == {"async", "threads"}
    assert chart.read_bytes().startswith(b"\x89PNG\r\n")
    assert_image(chart)
    assert_image(timeline)


def test_the_timeline_has_a_panel_per_mode_with_its_lanes(server_url: str) -> None:
    """One traced run of each mode, beside the timed ones: a panel each, on one time axis,
    with sequential's one lane, threads' workers and async's slots and writer."""
    from flags_async import Trace
    from flags_async.bench._chart import timeline_chart

    traced: dict[str, Trace] = {}
    result = bench_scenario(SCENARIOS["fast"], ["sequential", "threads", "async"],
                            ["AD", "AE", "AF", "ZZ"], max_reqs=[2], runs=1,
                            server_url=server_url, traced=traced)
    assert len(result.runs) == 3 and list(traced) == ["sequential", "threads", "async"]
    fig = timeline_chart(traced, "fast")
    labels = [ax.get_ylabel() for ax in fig.axes]  # a worker may take every code
    assert labels[0] == "sequential\n1 lane" and labels[1] in ("threads\n1 lane",
                                                               "threads\n2 lanes")
    assert labels[2].startswith("async\n") and labels[2] != "async\n1 lane"
    assert len({ax.get_xlim() for ax in fig.axes}) == 1  # one time axis


def test_the_default_bench_starts_its_own_server_per_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--scenario", "fast", "--runs", "1", "-l", "3", "-a",
                 "--modes", "async"]) == 0
    out = capsys.readouterr().out
    assert "fast scenario: 3 codes (AD to AF)" in out and "server http://127.0.0.1:" in out


@pytest.mark.parametrize(("chart", "why"), [
    ("missing/bench.png", "no folder"),
    (".", "is a folder"),
    ("bench.txt", "cannot draw a chart as 'bench.txt'"),
])
def test_a_chart_that_cannot_be_drawn_is_refused_before_the_bench_runs(
    chart: str, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    # Nothing listens on port 1: a bench that ran would fail to connect, with exit code 1.
    assert main(["bench", "--scenario", "fast", "-s", "http://127.0.0.1:1/flags", "BR",
                 "--plot", chart]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'--plot'" in line and why in line
    assert os.listdir(tmp_path) == []  # no chart, no folder made


def test_a_chart_without_matplotlib_is_one_line_before_the_bench_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("matplotlib", "matplotlib.backend_bases"):
        monkeypatch.setitem(sys.modules, name, None)  # `import` of it raises ImportError
    assert main(["bench", "--scenario", "fast", "-s", "http://127.0.0.1:1/flags", "BR",
                 "--plot", str(tmp_path / "bench.png")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "flags-async: error: --plot needs matplotlib: pip install 'flags-async[bench]'"]


def test_a_chart_that_cannot_be_written_keeps_the_printed_results(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flags_async.bench import _chart as _plot

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_plot, "write_atomically", disk_full)
    chart = tmp_path / "bench.png"
    code = main(["bench", "--scenario", "fast", "-s", server_url, "--runs", "1", "BR",
                 "--modes", "async", "--json", "--plot", str(chart)])
    assert code == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["scenarios"][0]["summary"][0]["ok"] == 1
    assert captured.err.strip().splitlines()[-1] == (
        f"flags-async: error: cannot write the chart '{chart}': No space left on device")
    assert not chart.exists()


@pytest.mark.parametrize("modes", ["fibers", "async,fibers", ","])
def test_unknown_modes_are_a_usage_error(modes: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--modes", modes]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_scenario_result_json_counts_codes() -> None:
    result = ScenarioResult("fast", "http://x", ["AA", "AB"], 0.0)
    assert result.as_dict()["codes"] == 2


def test_a_server_with_nothing_listening_stops_the_bench_before_any_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--scenario", "fast", "-s", "http://127.0.0.1:1/flags", "BR"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "flags-async: error: cannot connect to 127.0.0.1:1: Connection refused"]
    assert captured.out == ""  # no table of failed runs


def test_a_limit_alone_limits_the_scenario_s_own_codes(
    server_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--scenario", "fast", "-s", server_url, "--runs", "1", "-l", "30",
                 "--modes", "async"]) == 0
    assert "fast scenario: 30 codes (AA to BD), 1 run each" in capsys.readouterr().out


def _sweep_point(latency_ms: float, rates: dict[str, float]) -> ScenarioResult:
    result = ScenarioResult(f"latency {latency_ms:g} ms", "http://x", ["AA"], latency_ms)
    result.summary = with_speedups([
        Summary(variant, 1 if variant == "sequential" else 100, 676, 676 / rate, 676 / rate,
                676 / rate, rate, 194, 482, 0) for variant, rate in rates.items()])
    return result


@pytest.mark.parametrize(("modes", "columns"), [
    (("sequential", "threads", "async"), ["async/seq", "async/threads"]),
    (("threads", "async"), ["async/threads"]),
    (("sequential", "async"), ["async/seq"]),
    (("sequential", "threads"), []),
    (("sequential",), []),
])
def test_the_sweep_table_has_a_ratio_column_only_where_both_modes_ran(
        modes: tuple[str, ...], columns: list[str]) -> None:
    rates = {"sequential": 100.0, "threads": 400.0, "async": 1000.0}
    table = format_sweep([_sweep_point(ms, {m: rates[m] for m in modes}) for ms in (0, 20)])
    heading, *rows = table.splitlines()[1:]
    assert heading.split() == ["scenario", "max-req", *modes, *columns]
    assert len(rows) == 2  # one per latency, sequential alone included
    ratio = {"async/seq": "10.0x", "async/threads": "2.5x"}
    for row in rows:
        cells = row.split()
        assert cells[len(cells) - len(columns):] == [ratio[c] for c in columns]
