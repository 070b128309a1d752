"""Issue 16, items 7-8 and "Config": the carrier password never shows in a repr or str of the
configuration, a missing password is an error at load (``password = ""`` must be written), and
an over-long field is reported against its own name."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from smsengine.engine import (
    ChannelConfig,
    EngineConfig,
    EngineConfigError,
    engine_config_from_dict,
    load_engine_config,
)

SECRET = "Pa55w0rd"  # 8 characters: the longest SMPP password
SHARED_SECRET = "sh4red-s3cret-of-the-SP"  # CMPP has no length limit on it


def channel(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
            "password": SECRET, **fields}


def cmpp_channel(**fields: Any) -> dict[str, Any]:
    return channel(name="c", protocol="cmpp", system_id="900001", password=SHARED_SECRET,
                   **fields)


def config_error(data: dict[str, Any]) -> EngineConfigError:
    with pytest.raises(EngineConfigError) as info:
        engine_config_from_dict(data)
    return info.value


# --- secrets are redacted ----------------------------------------------------------------------


def renderings(value: object) -> list[str]:
    """Every way a config becomes text: repr, str, format, a log line, inside a list, rich."""
    rich_pretty = pytest.importorskip("rich.pretty")
    logged = logging.LogRecord("smsengine", logging.INFO, __file__, 1, "%s %r", (value, value),
                               None).getMessage()
    return [repr(value), str(value), f"{value}", logged, repr([value]),
            rich_pretty.pretty_repr(value)]


def test_no_repr_or_str_of_the_config_shows_a_password() -> None:
    cfg = engine_config_from_dict({"channels": [channel(), cmpp_channel()]})
    for value in (cfg, cfg.channels[0], cfg.channels[1]):
        for text in renderings(value):
            assert SECRET not in text and SHARED_SECRET not in text, text
            assert "<redacted>" in text, text


def test_the_redacted_repr_still_shows_everything_else() -> None:
    ch = engine_config_from_dict({"channels": [channel(tps=200)]}).channels[0]
    text = repr(ch)
    assert text.startswith("ChannelConfig(name='a', host='127.0.0.1', port=2775, ")
    assert "system_id='shop'" in text and "password=<redacted>" in text and "tps=200" in text
    assert repr(ch.password) not in text


def test_an_empty_password_is_shown_as_empty() -> None:
    """That there is none is what a reader debugging a refused bind needs; it is no secret."""
    ch = engine_config_from_dict({"channels": [channel(password="")]}).channels[0]
    assert "password=''" in repr(ch)


def test_a_config_built_in_python_is_redacted_too() -> None:
    ch = ChannelConfig(name="a", host="h", port=1, system_id="shop", password=SECRET)
    cfg = EngineConfig(channels=[ch])
    assert SECRET not in repr(cfg) and SECRET not in str(ch)
    assert ch.password == SECRET  # (redacted in text only)


# --- a missing password is an error at load --------------------------------------------------


def test_a_channel_without_password_is_refused_naming_the_field() -> None:
    data = channel()
    del data["password"]
    error = config_error({"channels": [channel(name="ok"), data]})
    assert error.field == "channels[1].password"
    assert 'password = ""' in str(error)
    assert error.retriable is False


def test_a_cmpp_channel_without_shared_secret_is_refused_too() -> None:
    data = cmpp_channel()
    del data["password"]
    assert config_error({"channels": [data]}).field == "channels[0].password"


def test_an_explicit_empty_password_loads() -> None:
    cfg = engine_config_from_dict({"channels": [channel(password="")]})
    assert cfg.channels[0].password == ""


def test_toml_without_password_is_refused_and_with_an_empty_one_loads(tmp_path: Path) -> None:
    path = tmp_path / "engine.toml"
    head = '[[channels]]\nname = "a"\nhost = "h"\nport = 2775\nsystem_id = "shop"\n'
    path.write_text(head)
    with pytest.raises(EngineConfigError) as info:
        load_engine_config(path)
    assert info.value.field == "channels[0].password"
    assert str(path) in str(info.value)
    path.write_text(head + 'password = ""\n')
    assert load_engine_config(path).channels[0].password == ""


def test_python_construction_needs_the_password_too() -> None:
    with pytest.raises(TypeError, match="password"):
        ChannelConfig(name="a", host="h", port=1, system_id="shop")  # type: ignore[call-arg]


def test_other_errors_still_name_their_own_field_first() -> None:
    """The password check does not hide a wrong type elsewhere in the same channel."""
    assert config_error({"channels": [channel(port="x")]}).field == "channels[0].port"


# --- an over-long field is reported against its own name --------------------------------------


@pytest.mark.parametrize(("fields", "field"), [
    ({"password": "x" * 9}, "channels[0].password"),
    ({"password": "密码"}, "channels[0].password"),  # not Latin-1: no C-octet string holds it
    ({"system_id": "s" * 16}, "channels[0].system_id"),
    ({"system_type": "t" * 13}, "channels[0].system_type"),
    ({"default_source": "S" * 21}, "channels[0].default_source"),
])
def test_an_over_long_smpp_field_is_reported_against_its_own_name(
        fields: dict[str, Any], field: str) -> None:
    error = config_error({"channels": [channel(**fields)]})
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    if "password" in fields:
        assert fields["password"] not in str(error), "the error never quotes the password"


def test_the_longest_smpp_fields_load() -> None:
    cfg = engine_config_from_dict({"channels": [channel(
        system_id="s" * 15, password="p" * 8, system_type="t" * 12, default_source="S" * 20)]})
    assert cfg.channels[0].system_type == "t" * 12


def test_a_password_of_the_wrong_type_is_named_without_its_value() -> None:
    from smsengine.engine import ChannelConfig, EngineConfig, EngineConfigError

    with pytest.raises(EngineConfigError, match=r"channels\[0\]\.password") as info:
        EngineConfig(channels=[ChannelConfig(name="a", host="h", port=1, system_id="s",
                                             password=b"hunter2")])  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)


def test_a_password_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """``password_env`` (and ``tls_key_password_env``) name a variable read at load; a
    variable not set, or both forms at once, is refused naming the field, never the value."""
    monkeypatch.setenv("SMSENGINE_TEST_CARRIER_PW", "Env5ecr3")
    channel = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
               "password_env": "SMSENGINE_TEST_CARRIER_PW"}
    config = engine_config_from_dict({"channels": [channel]})
    assert config.channels[0].password == "Env5ecr3"
    assert "Env5ecr3" not in repr(config) and "Env5ecr3" not in str(config)
    toml = tmp_path / "engine.toml"
    toml.write_text('[[channels]]\nname = "a"\nhost = "h"\nport = 2775\nsystem_id = "shop"\n'
                    'password_env = "SMSENGINE_TEST_CARRIER_PW"\n', encoding="utf-8")
    assert load_engine_config(toml).channels[0].password == "Env5ecr3"

    monkeypatch.delenv("SMSENGINE_TEST_CARRIER_PW")
    with pytest.raises(EngineConfigError) as missing:
        engine_config_from_dict({"channels": [channel]})
    assert missing.value.field == "channels[0].password_env"
    assert "SMSENGINE_TEST_CARRIER_PW" in str(missing.value) and "not set" in str(missing.value)
    with pytest.raises(EngineConfigError) as both:
        engine_config_from_dict({"channels": [{**channel, "password": "x"}]})
    assert both.value.field == "channels[0].password_env"
    with pytest.raises(EngineConfigError) as key:
        engine_config_from_dict({"channels": [
            {**{k: v for k, v in channel.items() if k != "password_env"}, "password": "",
             "tls_key_password_env": "SMSENGINE_TEST_NOT_SET"}]})
    assert key.value.field == "channels[0].tls_key_password_env"
