"""Fake SMSC configuration: TOML loading, type errors and semantic errors, each naming the
field; ``config_from_dict``; defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsengine.fakesmsc import (
    Account,
    Config,
    ConfigError,
    Delay,
    ReceiptConfig,
    config_from_dict,
    load_config,
)

GOOD = """
max_connections = 64
max_connections_per_address = 8
pre_bind_timeout = 5.0
read_timeout = 2.5
enquire_link_timeout = 60.0
message_id_style = "decimal"
seed = 42

[[accounts]]
system_id = "shop"
password = "secret"
bind_modes = ["transceiver"]
max_binds = 2
tps = 100
window = 50
throttle_status = "ESME_RMSGQFUL"

[[accounts]]
system_id = "bulk"

[latency]
kind = "lognormal"
median = 0.01
sigma = 0.8
high = 0.5

[errors]
ESME_RSYSERR = 0.01

[receipts]
delay = { kind = "uniform", low = 0.05, high = 0.5 }
statuses = { DELIVRD = 0.9, UNDELIV = 0.1 }
err_codes = { UNDELIV = "001" }
profile = "long_dates"
tlvs = false

[faults]
drop_every = 30.0
"""


def test_load_config_reads_every_section(tmp_path: Path) -> None:
    path = tmp_path / "smsc.toml"
    path.write_text(GOOD)
    cfg = load_config(path)
    assert not cfg.open_mode
    shop, bulk = cfg.accounts
    assert shop == Account("shop", "secret", bind_modes=["transceiver"], max_binds=2, tps=100,
                           window=50, throttle_status="ESME_RMSGQFUL")
    assert bulk.password == "" and bulk.bind_modes == ["transmitter", "receiver", "transceiver"]
    assert cfg.latency == Delay("lognormal", median=0.01, sigma=0.8, high=0.5)
    assert cfg.errors == {"ESME_RSYSERR": 0.01}
    assert cfg.receipts.delay == Delay("uniform", low=0.05, high=0.5)
    assert cfg.receipts.statuses == {"DELIVRD": 0.9, "UNDELIV": 0.1}
    assert cfg.receipts.err_codes == {"UNDELIV": "001"}
    assert (cfg.receipts.profile, cfg.receipts.tlvs) == ("long_dates", False)
    assert cfg.faults.drop_every == 30.0
    assert (cfg.max_connections, cfg.message_id_style, cfg.seed) == (64, "decimal", 42)
    assert (cfg.max_connections_per_address, cfg.pre_bind_timeout, cfg.read_timeout,
            cfg.enquire_link_timeout) == (8, 5.0, 2.5, 60.0)


def test_defaults() -> None:
    cfg = Config()
    assert cfg.open_mode
    assert cfg.latency.is_zero and cfg.receipts.delay.is_zero
    assert not Delay("fixed", value=0.1).is_zero and not Delay("uniform").is_zero
    assert cfg.receipts.statuses == {"DELIVRD": 1.0}
    assert cfg.message_id_style == "hex"
    # The limits on clients are on unless turned off (issue 21).
    assert (cfg.max_connections, cfg.max_connections_per_address) == (256, 128)
    assert (cfg.pre_bind_timeout, cfg.read_timeout, cfg.enquire_link_timeout) == (10, 10, 300)
    assert cfg.enquire_link_timeout > cfg.cmpp.active_test_interval


@pytest.mark.parametrize(
    ("toml", "field", "says"),
    [
        ('[[accounts]]\nsystem_id = "a"\ntps = "fast"\n', "accounts[0].tps", "Expected `float`"),
        ('[[accounts]]\nsystem_id = "a"\n[[accounts]]\nsystem_id = "b"\nbind_modes = ["tx"]\n',
         "accounts[1].bind_modes[0]", "Invalid enum value 'tx'"),
        ('[[accounts]]\npassword = "x"\n', "accounts[0]", "missing required field `system_id`"),
        ('[[accounts]]\nsystem_id = "a"\ntsp = 5\n', "accounts[0]", "unknown field `tsp`"),
        ('[receipts]\nprofile = "fancy"\n', "receipts.profile", "Invalid enum value 'fancy'"),
        ('max_connections = 1.5\n', "max_connections", "Expected `int`"),
    ],
)
def test_toml_type_errors_name_the_field(tmp_path: Path, toml: str, field: str,
                                         says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == field
    assert f"$.{field}" in str(info.value)
    assert says in str(info.value)
    assert str(path) in str(info.value)


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[accounts\nsystem_id = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


SEMANTIC = [
    ({"accounts": [{"system_id": "a", "tps": -1}]}, "accounts[0].tps"),
    ({"accounts": [{"system_id": "a", "window": -1}]}, "accounts[0].window"),
    ({"accounts": [{"system_id": "a", "max_binds": 0}]}, "accounts[0].max_binds"),
    ({"accounts": [{"system_id": "a", "bind_modes": []}]}, "accounts[0].bind_modes"),
    ({"accounts": [{"system_id": ""}]}, "accounts[0].system_id"),
    ({"accounts": [{"system_id": "x" * 16}]}, "accounts[0].system_id"),
    ({"accounts": [{"system_id": "a", "password": "x" * 9}]}, "accounts[0].password"),
    ({"accounts": [{"system_id": "a"}, {"system_id": "a"}]}, "accounts[1].system_id"),
    ({"errors": {"ESME_RSYSERR": 1.5}}, "errors.ESME_RSYSERR"),
    ({"errors": {"ESME_RSYSERR": -0.1}}, "errors.ESME_RSYSERR"),
    ({"errors": {"ESME_NOSUCH": 0.1}}, "errors.ESME_NOSUCH"),
    ({"errors": {"ESME_ROK": 0.1}}, "errors.ESME_ROK"),
    ({"errors": {"ESME_RSYSERR": 0.6, "ESME_RTHROTTLED": 0.6}}, "errors"),
    ({"receipts": {"statuses": {"DELIVERED": 1.0}}}, "receipts.statuses.DELIVERED"),
    ({"receipts": {"statuses": {"DELIVRD": 2.0}}}, "receipts.statuses.DELIVRD"),
    ({"receipts": {"statuses": {}}}, "receipts.statuses"),
    ({"receipts": {"statuses": {"DELIVRD": 0.0}}}, "receipts.statuses"),
    ({"receipts": {"err_codes": {"OOPS": "001"}}}, "receipts.err_codes.OOPS"),
    ({"receipts": {"retry_after": 0}}, "receipts.retry_after"),
    ({"receipts": {"max_attempts": 0}}, "receipts.max_attempts"),
    ({"receipts": {"max_pending": 0}}, "receipts.max_pending"),
    ({"receipts": {"delay": {"kind": "uniform", "low": 2, "high": 1}}}, "receipts.delay.high"),
    ({"receipts": {"delay": {"value": -1}}}, "receipts.delay.value"),
    ({"latency": {"kind": "lognormal", "median": 0}}, "latency.median"),
    ({"latency": {"value": float("inf")}}, "latency.value"),
    ({"faults": {"drop_every": -1}}, "faults.drop_every"),
    ({"faults": {"refuse_binds_for": -1}}, "faults.refuse_binds_for"),
    ({"faults": {"drop_after_pdus": -1}}, "faults.drop_after_pdus"),
    ({"max_connections": 0}, "max_connections"),
    ({"max_pdu_length": 15}, "max_pdu_length"),
    ({"output_buffer_limit": 10}, "output_buffer_limit"),
    ({"ledger_limit": 0}, "ledger_limit"),
    ({"enquire_link_timeout": -1}, "enquire_link_timeout"),
    ({"max_connections_per_address": 0}, "max_connections_per_address"),
    ({"pre_bind_timeout": -1}, "pre_bind_timeout"),
    ({"read_timeout": float("nan")}, "read_timeout"),
    ({"system_id": "a-very-long-smsc-name"}, "system_id"),
]


@pytest.mark.parametrize(("data", "field"), SEMANTIC)
def test_semantic_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert info.value.retriable is False


def test_semantic_errors_from_toml_name_the_field_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[accounts]]\nsystem_id = "a"\ntps = -5\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "accounts[0].tps"
    assert str(path) in str(info.value) and ">= 0" in str(info.value)


def test_semantic_errors_when_built_directly() -> None:
    with pytest.raises(ConfigError) as info:
        Config(receipts=ReceiptConfig(statuses={"DELIVRD": 1.0, "LOST": 0.1}))
    assert info.value.field == "receipts.statuses.LOST"


def test_config_from_dict() -> None:
    cfg = config_from_dict({
        "accounts": [{"system_id": "shop", "password": "pw", "tps": 10}],
        "receipts": {"delay": {"kind": "fixed", "value": 0.2}, "profile": "upper"},
        "errors": {"ESME_RTHROTTLED": 0.5, "ESME_RSYSERR": 0.5},
    })
    assert cfg.accounts[0].tps == 10.0
    assert cfg.receipts.delay.value == 0.2 and cfg.receipts.profile == "upper"
    with pytest.raises(ConfigError) as info:
        config_from_dict({"accounts": [{"system_id": "a", "max_binds": "two"}]})
    assert info.value.field == "accounts[0].max_binds"
    assert "$.accounts[0].max_binds" in str(info.value)


def test_public_surface() -> None:
    import inspect

    import smsengine.fakesmsc as fakesmsc

    public = {n for n in dir(fakesmsc)
              if not n.startswith("_") and not inspect.ismodule(getattr(fakesmsc, n))}
    assert set(fakesmsc.__all__) == public
    assert len(fakesmsc.__all__) == len(set(fakesmsc.__all__))
