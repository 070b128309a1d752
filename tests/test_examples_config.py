"""examples/engine.toml, the annotated engine configuration, loads and says what it shows: a
field added to the config and not written there fails here, so the example cannot rot."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from smsengine.engine import (
    ChannelConfig,
    EngineConfig,
    OptOutConfig,
    ReceiptConfig,
    RouteConfig,
    load_engine_config,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "engine.toml"


def test_loads_with_the_values_it_shows() -> None:
    cfg = load_engine_config(EXAMPLE)
    assert cfg.lanes == ["otp", "notification", "marketing"]
    assert cfg.validity == {"otp": 300.0, "notification": 86400.0}
    assert cfg.optout.suppressed_kinds == ["marketing"] and "退订" in cfg.optout.keywords
    smpp, backup, cmcc = cfg.channels
    assert (smpp.protocol, smpp.tps, smpp.max_parts, smpp.plus) == ("smpp", 200.0, 10, "strip")
    assert (backup.plus, backup.country_code, backup.dest_ton) == ("national", "44", 2)
    assert (cmcc.protocol, cmcc.window_size, cmcc.encoding_names) == ("cmpp", 16,
                                                                      ["ascii", "ucs2"])
    assert [r.mode for r in cfg.routes] == ["failover", "weighted", "failover", "failover"]
    assert cfg.routes[0].kinds == ["otp"] and cfg.routes[1].weights == [3.0, 1.0]


def _fields(struct: type[msgspec.Struct]) -> set[str]:
    return set(struct.__struct_fields__)


def test_every_field_is_written_out() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    written = {
        "engine": set(data),
        "channels": set().union(*(set(ch) for ch in data["channels"])),
        "routes": set().union(*(set(r) for r in data["routes"])),
        "receipts": set(data["receipts"]),
        "optout": set(data["optout"]),
    }
    expected = {
        "engine": _fields(EngineConfig),
        "channels": _fields(ChannelConfig),
        "routes": _fields(RouteConfig),
        "receipts": _fields(ReceiptConfig),
        "optout": _fields(OptOutConfig),
    }
    missing = {part: sorted(expected[part] - written[part]) for part in expected
               if expected[part] - written[part]}
    assert not missing, f"examples/engine.toml does not show (and explain) {missing}"
