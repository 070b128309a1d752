"""The engine configuration: defaults per protocol, validation errors that name the field, and
loading from TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsengine.engine import (
    EngineConfig,
    EngineConfigError,
    engine_config_from_dict,
    load_engine_config,
)


def channel(**fields: object) -> dict[str, object]:
    return {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
            "password": "pw", **fields}


def config_error(data: dict[str, object]) -> EngineConfigError:
    with pytest.raises(EngineConfigError) as info:
        engine_config_from_dict(data)
    return info.value


def test_config_defaults() -> None:
    cfg = engine_config_from_dict({"channels": [channel()]})
    assert isinstance(cfg, EngineConfig)
    assert cfg.lanes == ["otp", "notification", "marketing"]
    assert cfg.channels[0].tps == 0
    assert cfg.channels[0].resend_unknown is False
    assert "TD" in cfg.optout.keywords and "退订" in cfg.optout.keywords
    assert cfg.optout.suppressed_kinds == ["marketing"]
    assert cfg.store == ""


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"channels": [channel(port=70000)]}, "channels[0].port", "TCP port"),
    ({"channels": [channel(port=0)]}, "channels[0].port", "TCP port"),
    ({"channels": [channel(tps=-1)]}, "channels[0].tps", ">= 0"),
    ({"channels": [channel(tps=float("nan"))]}, "channels[0].tps", ">= 0"),
    ({"channels": [channel(tps="fast")]}, "channels[0].tps", "float"),
    ({"channels": [channel(burst=-5)]}, "channels[0].burst", ">= 0"),
    ({"channels": [channel(window=-1)]}, "channels[0].window", ">= 1"),
    ({"channels": [channel(response_timeout=0)]}, "channels[0].response_timeout", "> 0"),
    ({"channels": [channel(transceivers=0)]}, "channels[0].transceivers", "at least one"),
    ({"channels": [channel(receivers=-1)]}, "channels[0].receivers", ">= 0"),
    ({"channels": [channel(encodings=["gb18030"])]}, "channels[0].encodings", "CMPP"),
    ({"channels": [channel(protocol="cmpp", system_id="9000011")]}, "channels[0].system_id",
     "6 ASCII"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", encodings=["gsm7"])]},
     "channels[0].encodings", "not gsm7"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", split="sar")]},
     "channels[0].split", "udh8 or udh16"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", receivers=1)]},
     "channels[0].transmitters", "transceivers"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", service_id="S" * 11)]},
     "channels[0].service_id", "10"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", fee_user_type=4)]},
     "channels[0].fee_user_type", "0-3"),
    ({"channels": [channel(encodings=["ebcdic"])]}, "channels[0].encodings[0]", "ebcdic"),
    ({"channels": [channel(split="zip")]}, "channels[0].split", "zip"),
    ({"channels": [channel(system_id="x" * 16)]}, "channels[0].system_id", "15"),
    ({"channels": [channel(default_source="S" * 21)]}, "channels[0].default_source", "20"),
    ({"channels": [channel(colour="red")]}, "channels[0]", "colour"),
    ({"channels": [channel(protocol="ucp")]}, "channels[0].protocol", "ucp"),
    ({"channels": [channel(), channel(port=2776)]}, "channels[1].name", "unique"),
    ({"channels": []}, "channels", "at least one"),
    ({"channels": [channel()], "routes": [{"channels": ["b"]}]}, "routes[0].channels", "'b'"),
    ({"channels": [channel()], "routes": [{"channels": []}]}, "routes[0].channels", "at least"),
    ({"channels": [channel()], "routes": [{"channels": ["a"], "pattern": "86(["}]},
     "routes[0].pattern", "regular expression"),
    ({"channels": [channel()], "routes": [{"channels": ["a"], "weights": [1, 2]}]},
     "routes[0].weights", "one weight per channel"),
    ({"channels": [channel()], "routes": [{"channels": ["a"], "mode": "random"}]},
     "routes[0].mode", "random"),
    ({"channels": [channel()], "lanes": ["otp", "otp"]}, "lanes", "distinct"),
    ({"channels": [channel()], "lane_min_share": 0.9}, "lane_min_share", "0.5"),
    ({"channels": [channel()], "optout": {"keywords": "STOP"}}, "optout.keywords", "array"),
])
def test_config_errors_name_the_field(data: dict[str, object], field: str, words: str) -> None:
    error = config_error(data)
    assert error.field == field
    assert words in str(error)
    assert error.retriable is False
    assert str(error).startswith(f"{field}: ")
    assert str(error).count(f"{field}:") == 1, "the field is named once"


def test_load_engine_config_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "engine.toml"
    path.write_text("""
        store = "engine.db"
        lanes = ["otp", "bulk"]

        [[channels]]
        name = "cmcc"
        host = "127.0.0.1"
        port = 2775
        system_id = "shop"
        password = "secret"
        tps = 200

        [[channels]]
        name = "backup"
        host = "127.0.0.1"
        port = 2776
        system_id = "shop2"
        password = ""

        [[routes]]
        prefixes = ["86"]
        channels = ["cmcc", "backup"]
        mode = "failover"

        [optout]
        keywords = ["QUIT"]
        suppressed_kinds = ["bulk"]  # (a kind is a lane: the default, marketing, is not one)
    """)
    cfg = load_engine_config(path)
    assert [c.name for c in cfg.channels] == ["cmcc", "backup"]
    assert cfg.channels[0].tps == 200
    assert cfg.routes[0].channels == ["cmcc", "backup"]
    assert cfg.optout.keywords == ["QUIT"]
    assert cfg.lanes == ["otp", "bulk"]
    assert cfg.optout.suppressed_kinds == ["bulk"]
    assert cfg.store == "engine.db"


def test_load_engine_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[channels]]\nname = "a"\nhost = "h"\nport = 99999\nsystem_id = "s"\n'
                    'password = "p"\n')
    with pytest.raises(EngineConfigError) as info:
        load_engine_config(path)
    assert info.value.field == "channels[0].port"
    assert str(path) in str(info.value)
    path.write_text("channels = [")
    with pytest.raises(EngineConfigError, match="not valid TOML") as info:
        load_engine_config(path)
    assert info.value.field == str(path)


def test_window_and_encodings_default_per_protocol() -> None:
    smpp = engine_config_from_dict({"channels": [channel()]}).channels[0]
    assert (smpp.window_size, smpp.encoding_names) == (64, ["gsm7", "ucs2"])
    cmpp = engine_config_from_dict(
        {"channels": [channel(protocol="cmpp", system_id="900001")]}).channels[0]
    assert (cmpp.window_size, cmpp.encoding_names) == (16, ["ascii", "ucs2"])
    chosen = engine_config_from_dict({"channels": [channel(
        protocol="cmpp", system_id="900001", window=32, encodings=["gb18030", "ucs2"])]})
    assert chosen.channels[0].window_size == 32
    assert chosen.channels[0].encoding_names == ["gb18030", "ucs2"]
