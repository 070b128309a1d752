"""``smsengine bench``: the JSON contract, each scenario's invariant, --target mode and the CLI.

Small runs (<= 300 messages): these check what the tool reports, never how fast anything is.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import smsengine.bench as bench_module
from smsengine.bench import SCENARIOS, BenchOptions, bench, compare, run_bench, series
from smsengine.cli import BENCH_SCENARIOS, main
from smsengine.fakesmsc import FakeSMSC, config_from_dict

KEYS = {"scenario", "messages", "segments", "seconds", "msgs_per_s", "client_cpu_us_per_msg",
        "latency_ms", "receipts", "errors"}
CEILING_KEYS = {"ceiling", "fraction_of_ceiling"}  # short (always) and --ceiling


def check_contract(result: dict[str, Any], scenario: str, messages: int) -> None:
    if scenario == "short" and "ceiling" in result:
        assert set(result) == KEYS | CEILING_KEYS | {"target"}
        check_ceiling(result)
    elif scenario in ("cmpp", "sgip", "smgp"):
        assert set(result) == KEYS | {"smpp_short", "fraction_of_smpp_short", "target"}
    else:
        assert set(result) == KEYS
    assert result["scenario"] == scenario
    assert result["messages"] == messages
    assert isinstance(result["segments"], int)
    for key in ("seconds", "msgs_per_s", "client_cpu_us_per_msg"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert set(result["latency_ms"]) == {"p50", "p90", "p99", "max"}
    lat = result["latency_ms"]
    assert all(isinstance(v, float) and v >= 0 for v in lat.values())
    assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert set(result["receipts"]) == {"requested", "matched"}
    assert all(isinstance(v, int) for v in result["receipts"].values())
    assert isinstance(result["errors"], dict)
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in result["errors"].items())
    json.dumps(result)


def test_cli_json_short_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scenario", "short", "--messages", "200", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    check_contract(result, "short", 200)
    assert result["segments"] == 200
    assert result["receipts"] == {"requested": 0, "matched": 0}
    assert result["errors"] == {}
    assert "ceiling" in result  # always measured for short: its target is stated against it
    target = result["target"]
    assert target["fraction_of_ceiling"] == 0.5 and target["client_cpu_us_per_msg"] == 8.0
    assert target["met"] == (result["fraction_of_ceiling"] >= 0.5
                             and result["client_cpu_us_per_msg"] <= 8.0)


def check_ceiling(result: dict[str, Any], window: int = 128, binds: int = 1) -> None:
    """The raw ceiling measured in the same run, with the same window and binds, and our
    fraction of it (which of the two is faster is a benchmark's business, not a test's)."""
    ceiling = result["ceiling"]
    assert set(ceiling) == {"messages", "window", "connections", "loop", "msgs_per_s",
                            "client_cpu_us_per_msg"}
    assert (ceiling["window"], ceiling["connections"]) == (window, binds)
    assert ceiling["messages"] >= result["messages"]
    assert ceiling["msgs_per_s"] > 0 and result["msgs_per_s"] > 0
    assert ceiling["client_cpu_us_per_msg"] > 0
    fraction = result["fraction_of_ceiling"]
    assert fraction > 0
    assert fraction == pytest.approx(result["msgs_per_s"] / ceiling["msgs_per_s"], abs=1e-4)


def test_ceiling_on_another_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scenario", "multi-bind", "--messages", "200", "--binds", "2",
                 "--window", "16", "--ceiling", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == KEYS | CEILING_KEYS  # no target: issue 7 states it for short only
    check_ceiling(result, window=16, binds=2)
    assert result["receipts"] == {"requested": 200, "matched": 200}


def test_ceiling_wrapper_script_prints_its_json() -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "ceiling.py"
    out = subprocess.run([sys.executable, str(script), "--json", "--messages", "2000",
                          "--runs", "2", "--window", "64"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    result = json.loads(out)
    assert {k: result[k] for k in ("messages", "window", "submit_octets", "resp_octets")} == {
        "messages": 2000, "window": 64, "submit_octets": 87, "resp_octets": 18}
    assert result["loop"] in {"uvloop", "asyncio"}
    assert len(result["runs"]) == 2
    assert result["msgs_per_s"] == max(r["msgs_per_s"] for r in result["runs"]) > 0
    assert result["client_cpu_us_per_msg"] > 0


def test_receipts_every_receipt_matched() -> None:
    result = run_bench(BenchOptions("receipts", messages=300))
    check_contract(result, "receipts", 300)
    assert result["receipts"] == {"requested": 300, "matched": 300}
    assert result["errors"] == {}


def test_long_ucs2_is_three_parts_each() -> None:
    result = run_bench(BenchOptions("long-ucs2", messages=100))
    check_contract(result, "long-ucs2", 100)
    assert result["segments"] == 300
    assert result["errors"] == {}


def test_throttled_converges_without_failures() -> None:
    result = run_bench(BenchOptions("throttled", messages=300, rate=600, server_tps=200))
    check_contract(result, "throttled", 300)
    assert result["errors"] == {}
    # 300 messages at a server limit of 200/s (one second's burst): the last 100 take 0.5 s
    # at the server's rate (less a little for the server's millisecond clock).
    assert result["seconds"] > 0.45


def test_multi_bind_matches_receipts_across_binds() -> None:
    result = run_bench(BenchOptions("multi-bind", messages=300, window=16))
    check_contract(result, "multi-bind", 300)
    assert result["receipts"] == {"requested": 300, "matched": 300}


async def test_target_mode_against_any_smpp_server() -> None:
    config = config_from_dict({"accounts": [{"system_id": "shop", "password": "secret",
                                             "tps": 100}]})
    async with FakeSMSC(config) as smsc:
        result = await bench("127.0.0.1", smsc.port,
                             BenchOptions("throttled", messages=300, rate=600),
                             system_id="shop", password="secret")
        check_contract(result, "throttled", 300)
        assert result["errors"] == {}
        assert smsc.stats["throttled"] > 0  # the server really pushed back


async def test_open_loop_latency_is_from_the_intended_time() -> None:
    async with FakeSMSC(config_from_dict({"receipts": {"delay": {"value": 0.0}}})) as smsc:
        result = await bench("127.0.0.1", smsc.port, BenchOptions("receipts", messages=200,
                                                                 rate=1000))
    check_contract(result, "receipts", 200)
    assert result["receipts"] == {"requested": 200, "matched": 200}
    # Open loop at 1000/s: 200 messages take at least their schedule (0.2 s).
    assert result["seconds"] >= 0.19


def test_target_flag_is_parsed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--target", "nohostport", "--json"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in ("--scenario", "--messages", "--rate", "--binds", "--window", "--duration",
                 "--target", "--system-id", "--password", "--json", *SCENARIOS):
        assert word in out


def test_cli_scenarios_agree_with_bench() -> None:
    assert list(BENCH_SCENARIOS) == list(SCENARIOS)



# --- --compare aiosmpplib and --plot ------------------------------------------------------------


def test_compare_aiosmpplib_adds_peer_and_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scenario", "receipts", "--messages", "200", "--compare",
                 "aiosmpplib", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    peer, ratio = result.pop("peer"), result.pop("ratio")
    check_contract(result, "receipts", 200)
    assert result["receipts"] == {"requested": 200, "matched": 200}
    assert peer.pop("library") == "aiosmpplib 0.7.4"
    check_contract(peer, "receipts", 200)  # --messages honoured: below the peer's default cap
    assert peer["segments"] == 200
    # Every receipt arrived; aiosmpplib's correlator matches those whose submit_sm_resp it
    # correlated (all of them, unless a response beat its bookkeeping).
    assert peer["receipts"]["requested"] == 200
    unmatched = peer["errors"].get("UNMATCHED_RECEIPT", 0)
    assert peer["receipts"]["matched"] + unmatched == 200
    assert set(peer["errors"]) <= {"UNMATCHED_RECEIPT", "UNCORRELATED_RESP"}
    assert ratio == round(result["msgs_per_s"] / peer["msgs_per_s"], 2) and ratio > 0


def test_compare_needs_the_peer_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_module, "BENCHMARKS_DIR", tmp_path)  # as in an installed wheel
    assert main(["bench", "--messages", "10", "--compare", "aiosmpplib", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before running anything
    assert "needs a source checkout with benchmarks/" in captured.err
    assert "pip install -e .[dev]" in captured.err


def test_compare_needs_aiosmpplib(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "aiosmpplib" else real(name, *a))
    assert main(["bench", "--messages", "10", "--compare", "aiosmpplib", "--json"]) == 2
    assert "aiosmpplib is not installed" in capsys.readouterr().err


def test_compare_without_peer_figures_has_no_ratio() -> None:
    ours = {"msgs_per_s": 1000.0}
    assert compare(ours, {"error": "no"}) == {**ours, "peer": {"error": "no"}, "ratio": None}
    assert compare(ours, {"msgs_per_s": 10.0})["ratio"] == 100.0


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "short.png"
    assert main(["bench", "--scenario", "short", "--messages", "300", "--json",
                 "--plot", str(png)]) == 0
    check_contract(json.loads(capsys.readouterr().out), "short", 300)  # no series in the JSON
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert b"matplotlib" in data.lower()  # its Software tEXt chunk


def test_plot_needs_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["bench", "--messages", "10", "--plot", str(tmp_path / "x.png")]) == 2
    assert "pip install smsengine[plot]" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_series_buckets_by_acknowledgement_time() -> None:
    start = 1000.0
    samples = [(start + 0.1, 1.0), (start + 0.2, 3.0), (start + 0.6, 5.0)]
    out = series(samples, start, end=start + 0.7)
    assert out["interval"] == 0.25
    assert out["t"] == [0.25, 0.5, 0.7]  # the last interval ends with the run
    assert out["msgs_per_s"] == [8.0, 0.0, 5.0]
    assert out["p50"] == [1.0, None, 5.0] and out["p99"] == [3.0, None, 5.0]  # nearest rank


def test_summary_states_the_fraction_of_the_ceiling() -> None:
    from rich.console import Console

    from smsengine.bench import print_summary

    result = {"scenario": "short", "messages": 100, "segments": 100, "seconds": 0.01,
              "msgs_per_s": 10_000.0, "client_cpu_us_per_msg": 7.5,
              "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
              "receipts": {"requested": 0, "matched": 0}, "errors": {},
              "ceiling": {"msgs_per_s": 20_000, "client_cpu_us_per_msg": 0.25},
              "fraction_of_ceiling": 0.5,
              "target": {"fraction_of_ceiling": 0.5, "client_cpu_us_per_msg": 8.0, "met": True}}
    console = Console(record=True, width=120)
    print_summary(result, console)
    text = console.export_text()
    assert "raw ceiling, same run" in text and "20,000 msgs/s; 0.25 µs/msg" in text
    assert "0.500 (target >= 0.5 and <= 8 µs/msg: met)" in text


def test_cmpp_scenario_against_the_fake_ismg_beside_smpp_short() -> None:
    result = run_bench(BenchOptions("cmpp", messages=300))
    check_contract(result, "cmpp", 300)
    assert result["errors"] == {}
    assert result["receipts"] == {"requested": 300, "matched": 300}  # every status report
    short = result["smpp_short"]
    assert len(short["runs_msgs_per_s"]) == 2  # just before and just after the cmpp run
    assert short["msgs_per_s"] == pytest.approx(sum(short["runs_msgs_per_s"]) / 2, abs=0.1)
    assert result["fraction_of_smpp_short"] == pytest.approx(
        result["msgs_per_s"] / short["msgs_per_s"], abs=0.001)
    assert result["target"]["met"] == (result["fraction_of_smpp_short"] >= 0.6)


def test_compare_refuses_the_cmpp_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scenario", "cmpp", "--messages", "10", "--compare",
                 "aiosmpplib", "--json"]) == 2
    assert "SMPP only" in capsys.readouterr().err
