"""``smsengine bench``: the JSON contract, each scenario's invariant, --target mode and the CLI.

Small runs (<= 300 messages): these check what the tool reports, never how fast anything is.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from smsengine.bench import SCENARIOS, BenchOptions, bench, run_bench
from smsengine.cli import BENCH_SCENARIOS, main
from smsengine.fakesmsc import FakeSMSC, config_from_dict

KEYS = {"scenario", "messages", "segments", "seconds", "msgs_per_s", "client_cpu_us_per_msg",
        "latency_ms", "receipts", "errors"}


def check_contract(result: dict[str, Any], scenario: str, messages: int) -> None:
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
    # 300 messages at a server limit of 200/s (one second's burst) cannot all go in 0.5 s.
    assert result["seconds"] > 0.5


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

