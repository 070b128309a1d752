"""The engine's channels over TLS (issue 21) against the real fakes on 127.0.0.1, with a
throwaway CA made in the test: SMPP, CMPP and SMGP messages sent end to end with their receipts
over TLS; a channel whose carrier's certificate is refused (wrong CA, wrong name) raises the
alarm naming TLS verification, is skipped by routing and keeps retrying; TLS settings checked
at load, each error naming its field; the key's password never shown.

Every wait is a condition with a deadline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from smsengine.bind import BindEvent
from smsengine.engine import (
    Engine,
    EngineConfigError,
    MessageRefusedError,
    MessageState,
    engine_config_from_dict,
    load_engine_config,
)
from smsengine.fakesmsc import FakeISMG, FakeSMGW, FakeSMSC, config_from_dict
from tests._support.smpp_client import eventually
from tests._support.tls import SERVER_NAME, Pki, make_pki

KEY_PASSWORD = "Tls-k3y-pa55w0rd-7781"  # distinctive: grepped for in reprs, errors and logs
ACCOUNTS = {
    "smpp": {"system_id": "shop", "password": "pw"},
    "cmpp": {"system_id": "900001", "password": "888888"},
    "smgp": {"system_id": "sp001", "password": "secret"},
}
FAKES = {"smpp": FakeSMSC, "cmpp": FakeISMG, "smgp": FakeSMGW}
NUMBERS = {"smpp": "8613800{:06d}", "cmpp": "1380013{:04d}", "smgp": "1331234{:04d}"}


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def channel(protocol: str, port: int, pki: Pki, **fields: Any) -> dict[str, Any]:
    return {"name": "c", "host": "127.0.0.1", "port": port, "protocol": protocol,
            "default_source": "10690001", "tls": True, "tls_ca": pki.ca,
            **ACCOUNTS[protocol], **fields}


@asynccontextmanager
async def fake(protocol: str, pki: Pki) -> AsyncIterator[Any]:
    config = config_from_dict({"protocol": protocol, "accounts": [ACCOUNTS[protocol]],
                               "tls_cert": pki.server_cert})
    async with FAKES[protocol](config) as server:
        yield server


@pytest.mark.parametrize("protocol", ["smpp", "cmpp", "smgp"])
async def test_messages_and_receipts_end_to_end_over_tls(pki: Pki, protocol: str) -> None:
    async with fake(protocol, pki) as server:
        config = engine_config_from_dict({"channels": [
            channel(protocol, server.port, pki, tls_server_name=SERVER_NAME, transceivers=2)]})
        async with Engine(config) as engine:
            await engine.wait_ready(5)
            handles = [await engine.send(destination=NUMBERS[protocol].format(i),
                                         text=f"Your code is {i:04d}") for i in range(40)]
            for handle in handles:
                assert await handle.wait(10) is MessageState.DELIVERED
            counters = engine.channels["c"].counters
            assert counters["receipts_matched"] + counters["receipts_early"] == 40
            keeper = engine.channels["c"]._keepers[0]
            assert keeper.bind is not None and keeper.bind._transport is not None
            assert keeper.bind._transport.get_extra_info("ssl_object") is not None
        assert len(server.ledger) == 40


@pytest.mark.parametrize("wrong", ["ca", "name"])
async def test_a_refused_certificate_raises_the_alarm_naming_tls(
        pki: Pki, wrong: str, caplog: pytest.LogCaptureFixture) -> None:
    fields = {"tls_ca": pki.other_ca} if wrong == "ca" else {"tls_server_name": "carrier.example"}
    async with fake("smpp", pki) as server:
        config = engine_config_from_dict({"channels": [channel("smpp", server.port, pki,
                                                               **fields)]})
        events: list[BindEvent] = []
        with caplog.at_level(logging.DEBUG, logger="smsengine"):
            async with Engine(config) as engine:
                chan = engine.channels["c"]
                forward = chan._on_event

                def record(event: BindEvent) -> None:
                    events.append(event)
                    forward(event)

                chan._on_event = record  # (nothing has connected yet: start() awaits no I/O)
                await eventually(lambda: chan.alarm, 5)
                assert not chan.bound
                with pytest.raises(MessageRefusedError) as info:
                    await engine.send(destination="8613800138000", text="Code 1")
                assert info.value.retriable  # nowhere to go now; later, once it binds
                await eventually(lambda: any(e.kind == "reconnect_scheduled" for e in events))
        alarm = next(e for e in events if e.kind == "alarm")
        assert "TLS verification" in alarm.detail
        assert ("mismatch" if wrong == "name" else "issuer") in alarm.detail.lower()
        delays = [e.delay or 0 for e in events if e.kind == "reconnect_scheduled"]
        assert max(delays) <= 60  # the usual back-off, not the credentials' minutes
        assert server.stats["binds"] == 0
        assert any("TLS verification" in r.getMessage() and r.levelno == logging.ERROR
                   for r in caplog.records)


# --- the config ------------------------------------------------------------------------------


def config_error(data: dict[str, Any]) -> EngineConfigError:
    with pytest.raises(EngineConfigError) as info:
        engine_config_from_dict(data)
    return info.value


def _channel(pki: Pki, **fields: Any) -> dict[str, Any]:
    return {**channel("smpp", 2775, pki), **fields}


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"tls_ca": "missing-ca.pem"}, "tls_ca", "file not found: missing-ca.pem"),
    ({"tls_cert": "missing.pem"}, "tls_cert", "file not found"),
    ({"tls_cert": "CLIENT", "tls_key": "missing-key.pem"}, "tls_key", "file not found"),
    ({"tls_cert": "CA"}, "tls_key", "do not make a pair"),  # a certificate, no key
    ({"tls_key": "KEY"}, "tls_key", "without its certificate"),
    ({"tls_server_name": "bad name"}, "tls_server_name", "not a host name"),
    ({"tls": False}, "tls_ca", "tls is not"),
    ({"tls": False, "tls_ca": "", "tls_server_name": "x"}, "tls_server_name", "tls is not"),
    ({"protocol": "sgip", "system_id": "sp", "tls_ca": ""}, "tls", "not for SGIP"),
])
def test_each_tls_error_names_its_field(pki: Pki, fields: dict[str, Any], field: str,
                                        words: str) -> None:
    files = {"CLIENT": pki.client_cert, "KEY": pki.client_key, "CA": pki.ca}
    fields = {k: files.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    error = config_error({"channels": [
        {"name": "ok", "host": "h", "port": 1, "system_id": "s", "password": ""},
        _channel(pki, **fields)]})
    assert error.field == f"channels[1].{field}", error
    assert words in error.message and str(error).startswith(f"channels[1].{field}: ")


def test_defaults_verify_and_name_the_host(pki: Pki) -> None:
    ch = engine_config_from_dict({"channels": [_channel(pki)]}).channels[0]
    assert ch.tls and ch.tls_verify and ch.tls_server_name == ""
    context = ch.ssl_context()
    assert context is not None and context.check_hostname
    plain = engine_config_from_dict({"channels": [
        {"name": "p", "host": "h", "port": 1, "system_id": "s", "password": ""}]}).channels[0]
    assert not plain.tls and plain.ssl_context() is None


def test_files_are_relative_to_the_config_file(pki: Pki, tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "carrier-ca.pem").write_bytes(Path(pki.ca).read_bytes())
    (folder / "engine.toml").write_text(
        '[[channels]]\nname = "c"\nhost = "127.0.0.1"\nport = 2775\nsystem_id = "s"\n'
        'password = ""\ntls = true\ntls_ca = "carrier-ca.pem"\n')
    ch = load_engine_config(folder / "engine.toml").channels[0]
    assert ch.tls_ca == str(folder / "carrier-ca.pem")
    (folder / "carrier-ca.pem").unlink()
    with pytest.raises(EngineConfigError) as info:
        load_engine_config(folder / "engine.toml")
    assert info.value.field == "channels[0].tls_ca" and "file not found" in str(info.value)
    assert str(folder / "engine.toml") in str(info.value)


def _encrypted_key(pki: Pki, tmp_path: Path) -> str:
    key = serialization.load_pem_private_key(Path(pki.client_key).read_bytes(), None)
    path = tmp_path / "encrypted.pem"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode())))
    return str(path)


def test_the_key_password_is_never_shown(pki: Pki, tmp_path: Path) -> None:
    key = _encrypted_key(pki, tmp_path)
    cfg = engine_config_from_dict({"channels": [_channel(
        pki, tls_cert=pki.client_cert, tls_key=key, tls_key_password=KEY_PASSWORD)]})
    assert cfg.channels[0].ssl_context() is not None
    for shown in (repr(cfg), str(cfg), repr(cfg.channels[0]),
                  repr(cfg.channels[0].__rich_repr__())):
        assert KEY_PASSWORD not in shown
        assert "tls_key_password=<redacted>" in shown or "<redacted>" in shown
    error = config_error({"channels": [_channel(
        pki, tls_cert=pki.client_cert, tls_key=key, tls_key_password=KEY_PASSWORD[:-1])]})
    assert error.field == "channels[0].tls_key" and "password" in error.message
    assert KEY_PASSWORD[:-1] not in str(error) and "PRIVATE" not in str(error)


async def test_a_tls_run_at_debug_logs_no_secret(pki: Pki, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A channel with an encrypted client key and distinctive secrets, through a message and a
    refused certificate, at DEBUG: neither the key's password nor the account's is logged."""
    key = _encrypted_key(pki, tmp_path)
    secrets = {"password": "Pw5ecr3t", "tls_key_password": KEY_PASSWORD}
    account = {"system_id": "shop", "password": secrets["password"]}
    config = config_from_dict({"accounts": [account], "tls_cert": pki.server_cert})
    async with FakeSMSC(config) as server:
        ok = {**channel("smpp", server.port, pki), "name": "ok", "tls_cert": pki.client_cert,
              "tls_key": key, **secrets}
        refused = {**ok, "name": "refused", "tls_server_name": "carrier.example"}
        engine_config = engine_config_from_dict({"channels": [ok, refused]})
        with caplog.at_level(logging.DEBUG):
            async with Engine(engine_config) as engine:
                await eventually(lambda: engine.channels["ok"].bound
                                 and engine.channels["refused"].alarm, 5)
                handle = await engine.send(destination="8613800138000", text="Code 1")
                assert await handle.wait(10) is MessageState.DELIVERED
                text = repr(engine.stats()) + repr(engine_config) + str(engine_config)
    text += caplog.text
    assert "TLS verification" in caplog.text
    for secret in secrets.values():
        assert secret not in text
