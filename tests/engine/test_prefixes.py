"""Prefix tables in a data file (smsengine.engine.prefixes) and routes built from them: the
example table's carriers, national and international forms of a number, a "+" keeping a foreign
number foreign, the file read relative to the config, and each mistake refused naming it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from smsengine.engine import (
    EngineConfig,
    EngineConfigError,
    Message,
    PrefixTableError,
    RouteConfig,
    engine_config_from_dict,
    load_engine_config,
    load_prefix_table,
)
from smsengine.engine.engine import _Route

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TABLE = EXAMPLES / "cn_prefixes.toml"
CHANNEL = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
           "password": "pw"}


def route_of(config: RouteConfig) -> _Route:
    return _Route(config, {name: object() for name in config.channels}, {})  # type: ignore[misc]


def carrier_of(table_routes: dict[str, _Route], destination: str) -> str | None:
    found = [c for c, r in table_routes.items() if r.matches(Message(destination=destination,
                                                                     text="x"))]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_the_example_table() -> None:
    table = load_prefix_table(TABLE)
    assert table.country_code == "86"
    assert set(table.carriers) == {"china_mobile", "china_unicom", "china_telecom"}
    assert {"135", "139", "147", "150", "178", "188", "198"} <= set(table.carriers["china_mobile"])
    assert {"130", "155", "166", "175", "186"} <= set(table.carriers["china_unicom"])
    assert {"133", "149", "153", "173", "180", "189", "199"} <= set(
        table.carriers["china_telecom"])
    assert table.prefixes("china_mobile")[0] == "861340"
    assert table.national_prefixes("china_mobile")[0] == "1340"


def test_numbers_reach_their_carrier_in_every_form() -> None:
    table = load_prefix_table(TABLE)
    routes = {c: route_of(RouteConfig(channels=["a"], prefixes=table.prefixes(c),
                                      national_prefixes=table.national_prefixes(c)))
              for c in table.carriers}
    for number, carrier in [("13800138000", "china_mobile"), ("13012345678", "china_unicom"),
                            ("13312345678", "china_telecom"), ("13412345678", "china_mobile"),
                            ("13491234567", "china_telecom"), ("17031234567", "china_mobile"),
                            ("17041234567", "china_unicom"), ("17001234567", "china_telecom"),
                            ("19912345678", "china_telecom"), ("18612345678", "china_unicom")]:
        for written in (number, "86" + number, "+86" + number):
            assert carrier_of(routes, written) == carrier, written
    # Written with "+", a number is international: +1 310 is Los Angeles, not Unicom's 131.
    assert carrier_of(routes, "+13105551234") is None
    assert carrier_of(routes, "13105551234") == "china_unicom"  # (bare: taken as national)
    assert carrier_of(routes, "+447700900123") is None
    assert carrier_of(routes, "19212345678") is None  # China Broadnet: none of the three


def test_routes_name_the_table_relative_to_the_config(tmp_path: Path) -> None:
    cfg = load_engine_config(EXAMPLES / "three_carriers.toml")
    assert [(r.carrier, r.channels[0]) for r in cfg.routes] == [
        ("china_mobile", "cmcc"), ("china_unicom", "cu"), ("china_telecom", "ct"), ("", "intl")]
    table = load_prefix_table(TABLE)
    assert cfg.routes[0].prefixes == table.prefixes("china_mobile")
    assert cfg.routes[0].national_prefixes == table.national_prefixes("china_mobile")
    # From a dict: relative to base (else the working directory); the route's own prefixes kept.
    data: dict[str, Any] = {"channels": [CHANNEL], "routes": [
        {"prefix_file": "cn_prefixes.toml", "carrier": "china_unicom", "prefixes": ["999"],
         "channels": ["a"]}]}
    loaded = engine_config_from_dict(data, base=EXAMPLES)
    assert loaded.routes[0].prefixes == ["999", *table.prefixes("china_unicom")]
    assert "prefixes" in data["routes"][0] and data["routes"][0]["prefixes"] == ["999"]
    with pytest.raises(EngineConfigError) as missing:
        engine_config_from_dict(data, base=tmp_path)
    assert missing.value.field == "routes[0].prefix_file" and "cannot be read" in str(
        missing.value)


def test_a_table_without_a_country_code_is_taken_as_written(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text('[carriers.x]\nprefixes = ["4477"]\n', encoding="utf-8")
    table = load_prefix_table(tmp_path / "t.toml")
    assert (table.prefixes("x"), table.national_prefixes("x")) == (["4477"], [])


@pytest.mark.parametrize(("text", "says"), [
    ('[carriers.a]\nprefixes = ["134"]\n[carriers.b]\nprefixes = ["1349"]\n',
     "1349 (b) starts with 134 (a)"),
    ('[carriers.a]\nprefixes = ["134", "134"]\n', "134 is listed twice"),
    ('[carriers.a]\nprefixes = ["13x"]\n', "'13x' is not digits"),
    ('[carriers.a]\nprefixes = []\n', "carriers.a.prefixes is empty"),
    ('country_code = "+86"\n[carriers.a]\nprefixes = ["1"]\n', "country_code must be digits"),
    ('carriers = {}\n', "no [carriers.*] tables"),
    ('[carriers.a]\nprefix = ["1"]\n', "not a prefix table"),
    ('[carriers.a\n', "not a prefix table"),
])
def test_a_wrong_table_is_refused_saying_what(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PrefixTableError, match=re.escape(says)) as refused:
        load_prefix_table(path)
    assert str(path) in str(refused.value)


@pytest.mark.parametrize(("route", "field", "says"), [
    ({"prefix_file": "cn_prefixes.toml", "carrier": "china_broadnet"}, "routes[0].carrier",
     "not a carrier"),
    ({"prefix_file": "cn_prefixes.toml"}, "routes[0].carrier", "not a carrier"),
    ({"carrier": "china_mobile"}, "routes[0].carrier", "go together"),
])
def test_a_route_naming_the_table_wrongly_is_refused(route: dict[str, Any], field: str,
                                                     says: str) -> None:
    with pytest.raises(EngineConfigError, match=says) as refused:
        engine_config_from_dict({"channels": [CHANNEL], "routes": [{**route, "channels": ["a"]}]},
                                base=EXAMPLES)
    assert refused.value.field == field


def test_in_python_the_prefixes_are_given() -> None:
    with pytest.raises(EngineConfigError, match="load_prefix_table") as refused:
        EngineConfig(channels=[engine_config_from_dict({"channels": [CHANNEL]}).channels[0]],
                     routes=[RouteConfig(channels=["a"], prefix_file="t.toml", carrier="x")])
    assert refused.value.field == "routes[0].prefix_file"
