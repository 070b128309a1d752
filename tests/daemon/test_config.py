"""The daemon's config: each bad value named by its path, keys from the environment, and no
key's value in a repr or an error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from smsengine.daemon import DaemonConfigError, load_daemon_config
from smsengine.daemon.config import daemon_config_from_dict

CHANNEL = {"name": "main", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
           "password": "carr1er"}


def _config(**sections: Any) -> dict[str, Any]:
    return {"channels": [CHANNEL], **sections}


@pytest.mark.parametrize(("data", "field"), [
    (_config(server={"port": 70000}), "server.port"),
    (_config(server={"max_batch": 0}), "server.max_batch"),
    (_config(server={"colour": 1}), "server"),
    (_config(server={"header_timeout": 0}), "server.header_timeout"),
    (_config(server={"keepalive_timeout": -1}), "server.keepalive_timeout"),
    (_config(server={"read_timeout": "soon"}), "server.read_timeout"),
    (_config(server={"max_header_bytes": 100}), "server.max_header_bytes"),
    (_config(server={"max_connections": 0}), "server.max_connections"),
    (_config(server={"max_connections_per_address": 0}), "server.max_connections_per_address"),
    (_config(server={"tls_cert": "cert.pem"}), "server.tls_key"),
    (_config(server={"tls_key": "key.pem"}), "server.tls_cert"),
    (_config(server=[1]), "server"),
    (_config(store={"synchronous": "sometimes"}), "store.synchronous"),
    (_config(store={"path": ""}), "store.path"),
    (_config(store={"max_outbox": 0}), "store.max_outbox"),
    (_config(api_keys=[{"name": "a"}]), "api_keys[0]"),
    (_config(api_keys=[{"name": "a", "key": "k" * 20, "key_env": "X"}]), "api_keys[0]"),
    (_config(api_keys=[{"name": "a", "key": "k" * 20, "scopes": ["root"]}]),
     "api_keys[0].scopes[0]"),
    (_config(api_keys=[{"name": "a", "key": "k" * 20}, {"name": "a", "key": "j" * 20}]),
     "api_keys[1].name"),
    ({"channels": [{**CHANNEL, "port": 0}]}, "channels[0].port"),
    ({"channels": []}, "channels"),
])
def test_a_bad_value_is_named(data: dict[str, Any], field: str) -> None:
    with pytest.raises(DaemonConfigError) as caught:
        daemon_config_from_dict(data)
    assert caught.value.field == field, caught.value


def test_keys_from_the_file_or_the_environment_and_never_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = daemon_config_from_dict(_config(api_keys=[
        {"name": "file", "key": "file-key-0123456789"},
        {"name": "env", "key_env": "TEST_DAEMON_KEY", "scopes": ["read"]}]))
    with pytest.raises(DaemonConfigError) as caught:
        config.keys()
    assert caught.value.field == "api_keys[1].key_env" and "TEST_DAEMON_KEY" in str(caught.value)
    monkeypatch.setenv("TEST_DAEMON_KEY", "short")
    with pytest.raises(DaemonConfigError, match="shorter than 16"):
        config.keys()
    monkeypatch.setenv("TEST_DAEMON_KEY", "env-key-0123456789")
    keys = config.keys()
    assert {cfg.name for cfg in keys.values()} == {"file", "env"}
    shown = repr(config) + str(config.api_keys)
    for secret in ("file-key-0123456789", "env-key-0123456789", "carr1er"):
        assert secret not in shown
    assert "<redacted>" in shown
    monkeypatch.setenv("TEST_DAEMON_KEY", "file-key-0123456789")
    with pytest.raises(DaemonConfigError) as caught:
        config.keys()
    assert "file-key" not in str(caught.value)


def test_the_example_config_loads_and_has_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "examples" / "smsengine.toml"
    monkeypatch.setenv("SMSENGINE_SHOP_KEY", "shop-key-0123456789")
    config = load_daemon_config(example)
    assert len(config.keys()) == 2
    text = example.read_text(encoding="utf-8")
    from smsengine.daemon import ServerConfig, StoreConfig

    for kind in (ServerConfig, StoreConfig):
        for name in kind.__struct_fields__:
            assert f"\n{name} = " in text, f"examples/smsengine.toml lacks {name}"


def test_a_file_that_is_not_toml_or_missing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1", encoding="utf-8")
    with pytest.raises(DaemonConfigError, match="not valid TOML"):
        load_daemon_config(bad)
    with pytest.raises(DaemonConfigError, match="cannot be read"):
        load_daemon_config(tmp_path / "none.toml")
    assert os.path.exists(bad)


def test_a_routes_prefix_file_is_read_beside_the_config(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "prefixes.toml").write_text(
        'country_code = "86"\n[carriers.mobile]\nprefixes = ["139"]\n', encoding="utf-8")
    (folder / "smsengine.toml").write_text("""
[[channels]]
name = "cmcc"
host = "127.0.0.1"
port = 7890
system_id = "shop"
password = ""

[[routes]]
prefix_file = "prefixes.toml"
carrier = "mobile"
channels = ["cmcc"]
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # (not the config's folder: the file is found beside it)
    config = load_daemon_config(folder / "smsengine.toml")
    [route] = config.engine.routes
    assert "86139" in route.prefixes


def test_toml_nested_too_deeply_is_named(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    with pytest.raises(DaemonConfigError, match=r"nested too deeply|not valid TOML"):
        load_daemon_config(deep)


def test_cluster_is_opt_in_and_its_bad_values_are_named() -> None:
    assert daemon_config_from_dict(_config()).cluster is None
    config = daemon_config_from_dict(_config(cluster={
        "redis_url": "redis://:s3cret@127.0.0.1:6379/0", "node_id": "n1", "lease_ttl": 3}))
    assert config.cluster is not None and config.cluster.lease_ttl == 3.0
    assert "s3cret" not in repr(config)
    for bad, field in [({"redis_url": "http://x"}, "cluster.redis_url"),
                       ({"redis_url": "redis://h", "lease_ttl": 0}, "cluster.lease_ttl"),
                       ({"redis_url": "redis://h", "colour": 1}, "cluster"),
                       ({"lease_ttl": 1}, "cluster"), ("redis", "cluster")]:
        with pytest.raises(DaemonConfigError) as info:
            daemon_config_from_dict(_config(cluster=bad))
        assert info.value.field == field, (bad, info.value)


def test_the_redis_url_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``[cluster] redis_url_env``: the URL (a password in it) read at load; a variable not
    set, or both forms, is refused naming the field and never the URL."""
    monkeypatch.setenv("SMSENGINE_TEST_REDIS", "redis://:envs3cret@127.0.0.1:6379/2")
    config = daemon_config_from_dict(_config(cluster={"redis_url_env": "SMSENGINE_TEST_REDIS"}))
    assert config.cluster is not None and config.cluster.redis_url.endswith("6379/2")
    assert "envs3cret" not in repr(config) and "envs3cret" not in str(config.cluster)
    for bad in ({"redis_url_env": "SMSENGINE_TEST_NOT_SET"},
                {"redis_url_env": "SMSENGINE_TEST_REDIS", "redis_url": "redis://h"}):
        with pytest.raises(DaemonConfigError) as info:
            daemon_config_from_dict(_config(cluster=bad))
        assert info.value.field == "cluster.redis_url_env"
        assert "envs3cret" not in str(info.value)
