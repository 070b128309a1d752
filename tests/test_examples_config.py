"""examples/engine.toml, the annotated engine configuration, loads and says what it shows: a
field added to the config and not written there fails here, so the example cannot rot."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import msgspec

from smsengine.engine import EngineConfig, load_engine_config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "engine.toml"


def test_loads_with_the_values_it_shows() -> None:
    cfg = load_engine_config(EXAMPLE)
    assert cfg.lanes == ["otp", "notification", "marketing"]
    assert cfg.validity == {"otp": 300.0, "notification": 86400.0}
    assert cfg.optout.suppressed_kinds == ["marketing"] and "退订" in cfg.optout.keywords
    smpp, backup, cmcc, unicom, telecom = cfg.channels
    assert (smpp.protocol, smpp.tps, smpp.max_parts, smpp.plus) == ("smpp", 200.0, 10, "strip")
    assert (backup.plus, backup.country_code, backup.dest_ton) == ("national", "44", 2)
    assert (cmcc.protocol, cmcc.window_size, cmcc.encoding_names) == ("cmpp", 16,
                                                                      ["ascii", "ucs2"])
    assert (unicom.protocol, unicom.listen_port, telecom.protocol, telecom.window_size) == (
        "sgip", 8802, "smgp", 16)
    assert [r.mode for r in cfg.routes] == ["failover"] * 3 + ["weighted", "failover",
                                                                 "failover"]
    # (the carriers' prefixes read from cn_prefixes.toml, beside it)
    unicom_route, telecom_route = cfg.routes[:2]
    assert "86130" in unicom_route.prefixes and "130" in unicom_route.national_prefixes
    assert "86133" in telecom_route.prefixes and "1349" in telecom_route.national_prefixes
    assert cfg.routes[2].kinds == ["otp"] and cfg.routes[3].weights == [3.0, 1.0]


def _struct(hint: object) -> type[msgspec.Struct] | None:
    return hint if isinstance(hint, type) and issubclass(hint, msgspec.Struct) else None


def test_every_field_is_written_out() -> None:
    """Every field of EngineConfig, and of each table in it ([[channels]], [[routes]],
    [receipts], [optout], [status], …: found from the types, so a new table counts too), is
    written in at least one place in the example."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    missing: dict[str, list[str]] = {}
    engine_missing = set(EngineConfig.__struct_fields__) - set(data)
    if engine_missing:
        missing["engine"] = sorted(engine_missing)
    for name, hint in typing.get_type_hints(EngineConfig).items():
        args = typing.get_args(hint)
        table = _struct(hint)
        items = _struct(args[0]) if typing.get_origin(hint) is list and args else None
        struct = table or items
        if struct is None or name not in data:
            continue
        rows = data[name] if items is not None else [data[name]]
        written: set[str] = set().union(*(set(row) for row in rows))
        if set(struct.__struct_fields__) - written:
            missing[name] = sorted(set(struct.__struct_fields__) - written)
    assert not missing, f"examples/engine.toml does not show (and explain) {missing}"
