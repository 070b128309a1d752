"""Binds over TLS (issue 21) against the fake SMSC and ISMG on 127.0.0.1, with a throwaway CA
made in the test (tests/_support/tls.py): the contexts smsengine.bind.tls builds, a bind that
verifies the server's certificate by its address or by a name (SNI), a client certificate, and
every refusal surfacing at once as a TLS error, not a hang: a wrong CA and a wrong name as
TlsVerificationError (a keeper's alarm, then its usual back-off), a plaintext port as
TlsHandshakeError."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from smsengine.bind import (
    Backoff,
    BindEvent,
    BindKeeper,
    BindMode,
    CmppBind,
    SessionConfig,
    SmppBind,
    TlsError,
    TlsFileError,
    TlsHandshakeError,
    TlsVerificationError,
    client_context,
    server_context,
)
from smsengine.cmpp import CmppSessionConfig
from smsengine.fakesmsc import FakeISMG, FakeSMSC, config_from_dict
from smsengine.link import NotSentError
from smsengine.smpp import SubmitSm
from tests._support.smpp_client import eventually
from tests._support.tls import SERVER_NAME, Pki, make_pki

SESSION = SessionConfig("shop", "secret", BindMode.TRANSCEIVER)
KEY_PASSWORD = "k3y-Pa55-of-the-client"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
async def tls_smsc(pki: Pki) -> AsyncIterator[FakeSMSC]:
    async with FakeSMSC(config_from_dict({"tls_cert": pki.server_cert})) as smsc:
        yield smsc


async def _open(port: int, context: ssl.SSLContext | None,
                server_hostname: str | None = None) -> SmppBind:
    return await SmppBind.open("127.0.0.1", port, SESSION, ssl=context,
                               server_hostname=server_hostname, connect_timeout=5)


# --- the contexts ---------------------------------------------------------------------------


def test_client_context_verifies_by_default(pki: Pki) -> None:
    context = client_context(ca=pki.ca)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    off = client_context(verify=False)
    assert off.verify_mode is ssl.CERT_NONE and not off.check_hostname


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"ca": "missing.pem"}, "ca", "file not found: missing.pem"),
    ({"ca": "KEY"}, "ca", "not a PEM certificate file"),
    ({"cert": "missing.pem"}, "cert", "file not found"),
    ({"cert": "KEY"}, "cert", "no PEM certificate"),
    ({"cert": "CERT", "key": "OTHER_KEY"}, "key", "do not make a pair"),
    ({"key": "KEY"}, "key", "without its certificate"),
])
def test_client_context_names_the_file_that_cannot_serve(
        pki: Pki, tmp_path: Path, kwargs: dict[str, str], field: str, words: str) -> None:
    other_key = tmp_path / "other_key.pem"
    trustme.CA().issue_cert("other.test").private_key_pem.write_to_path(str(other_key))
    files = {"CERT": pki.client_cert, "KEY": pki.client_key, "OTHER_KEY": str(other_key)}
    paths = {k: files.get(v, v) for k, v in kwargs.items()}
    with pytest.raises(TlsFileError) as info:
        client_context(ca=paths.get("ca", ""), cert=paths.get("cert", ""),
                       key=paths.get("key", ""))
    assert info.value.field == field and words in info.value.message
    assert "PRIVATE KEY" not in str(info.value)  # (what the files hold is never quoted)


def _encrypted_key(pki: Pki, tmp_path: Path) -> str:
    key = serialization.load_pem_private_key(Path(pki.client_key).read_bytes(), None)
    path = tmp_path / "encrypted_key.pem"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode())))
    return str(path)


def test_an_encrypted_key_is_read_with_its_password_and_never_prompts(
        pki: Pki, tmp_path: Path) -> None:
    key = _encrypted_key(pki, tmp_path)
    client_context(ca=pki.ca, cert=pki.client_cert, key=key, key_password=KEY_PASSWORD)
    # Without it (or with a wrong one) an error, not OpenSSL's prompt on the terminal (which
    # would block a test run reading stdin, and a daemon forever).
    for password in ("", "wrong"):
        with pytest.raises(TlsFileError) as info:
            client_context(ca=pki.ca, cert=pki.client_cert, key=key, key_password=password)
        assert info.value.field == "key" and "password" in info.value.message
        assert KEY_PASSWORD not in str(info.value)


def test_server_context_takes_the_chain_and_key_apart_or_in_one_file(pki: Pki) -> None:
    server_context(cert=pki.server_cert)
    server_context(cert=pki.server_chain, key=pki.server_key)
    with pytest.raises(TlsFileError) as info:
        server_context(cert=pki.server_chain)
    assert info.value.field == "key"


# --- binds -----------------------------------------------------------------------------------


async def test_smpp_bind_over_tls_by_address_and_by_name(pki: Pki, tls_smsc: FakeSMSC) -> None:
    for name in (None, SERVER_NAME):
        async with await _open(tls_smsc.port, client_context(ca=pki.ca), name) as bind:
            assert bind._transport is not None
            tls = bind._transport.get_extra_info("ssl_object")
            assert tls is not None and tls.version() in ("TLSv1.2", "TLSv1.3")
            # SNI: the name asked for is what was sent (none for an address, RFC 6066).
            assert tls.server_hostname == (name or "127.0.0.1")
            resp = await bind.send(SubmitSm(source_addr="SHOP", destination_addr="8613800138000",
                                            short_message=b"over TLS"))
            assert resp.command_status == 0
    assert len(tls_smsc.ledger) == 2


async def test_cmpp_bind_over_tls(pki: Pki) -> None:
    config = config_from_dict({"protocol": "cmpp", "tls_cert": pki.server_chain,
                               "tls_key": pki.server_key,
                               "accounts": [{"system_id": "900001", "password": "888888"}]})
    async with FakeISMG(config) as ismg:
        session = CmppSessionConfig("900001", "888888")
        async with await CmppBind.open("127.0.0.1", ismg.port, session,
                                       ssl=client_context(ca=pki.ca), connect_timeout=5) as bind:
            assert bind.is_bound and bind._transport is not None
            assert bind._transport.get_extra_info("ssl_object") is not None


async def test_a_wrong_ca_is_refused_at_once(pki: Pki, tls_smsc: FakeSMSC) -> None:
    started = time.monotonic()
    with pytest.raises(TlsVerificationError) as info:
        await _open(tls_smsc.port, client_context(ca=pki.other_ca))
    assert time.monotonic() - started < 2
    assert "TLS verification" in str(info.value) and "issuer" in str(info.value)
    assert isinstance(info.value, NotSentError) and info.value.retriable  # nothing was sent
    assert tls_smsc.stats["binds"] == 0


async def test_the_system_store_does_not_trust_a_private_ca(tls_smsc: FakeSMSC) -> None:
    with pytest.raises(TlsVerificationError):
        await _open(tls_smsc.port, client_context())


async def test_a_wrong_name_is_refused(pki: Pki, tls_smsc: FakeSMSC) -> None:
    with pytest.raises(TlsVerificationError) as info:
        await _open(tls_smsc.port, client_context(ca=pki.ca), "carrier.example")
    assert "carrier.example" in str(info.value) and "mismatch" in str(info.value).lower()
    # The same name with verification off binds (a test SMSC's option, not a default).
    async with await _open(tls_smsc.port, client_context(verify=False), "carrier.example"):
        pass


async def test_a_tls_client_on_a_plaintext_port_fails_cleanly(pki: Pki, smsc: FakeSMSC) -> None:
    started = time.monotonic()
    with pytest.raises(TlsHandshakeError) as info:
        await _open(smsc.port, client_context(ca=pki.ca))
    assert time.monotonic() - started < 2
    assert "TLS handshake" in str(info.value) and isinstance(info.value, TlsError)
    # The plaintext SMSC lives on for plaintext clients.
    async with await _open(smsc.port, None) as bind:
        assert bind.is_bound


async def test_a_closed_port_is_refused_as_any_connection_not_as_a_handshake(pki: Pki) -> None:
    """No TCP connection, no handshake: the carrier being down reads as it does without TLS
    (ConnectionRefusedError), not as 'TLS handshake failed (is it a TLS port?)', which sent
    an operator to look at certificates."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # (closed again before the connection is tried)
    with pytest.raises(ConnectionRefusedError):
        await _open(port, client_context(ca=pki.ca))

async def test_a_plaintext_client_on_the_tls_port_fails_and_the_server_serves_the_next(
        pki: Pki, tls_smsc: FakeSMSC) -> None:
    started = time.monotonic()
    with pytest.raises(NotSentError, match="connection closed"):
        await _open(tls_smsc.port, None)
    assert time.monotonic() - started < 2
    async with await _open(tls_smsc.port, client_context(ca=pki.ca)) as bind:
        assert bind.is_bound
    assert tls_smsc.stats["binds"] == 1


async def test_the_client_certificate_is_presented(pki: Pki) -> None:
    """A carrier that asks for a client certificate sees ours (a bare TLS server here: the
    fakes do not ask for one)."""
    server = server_context(cert=pki.server_cert)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cafile=pki.ca)
    seen: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set_result(writer.get_extra_info("peercert"))
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        context = client_context(ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        peer = await asyncio.wait_for(seen, 5)
        writer.close()
    finally:
        listener.close()
        await listener.wait_closed()
    assert isinstance(peer, dict) and ("DNS", "client.test") in peer["subjectAltName"]


async def test_a_keeper_raises_the_alarm_and_keeps_trying_with_its_backoff(
        pki: Pki, tls_smsc: FakeSMSC) -> None:
    events: list[BindEvent] = []
    keeper = BindKeeper("127.0.0.1", tls_smsc.port, SESSION, name="k",
                        ssl=client_context(ca=pki.other_ca), on_event=events.append,
                        backoff=Backoff(initial=0.05, maximum=0.1), auth_failure_delay=300)
    async with keeper:
        await eventually(lambda: [e.kind for e in events].count("alarm") >= 2, 5)
    alarm = next(e for e in events if e.kind == "alarm")
    assert "TLS verification" in alarm.detail
    delays = [e.delay for e in events if e.kind == "reconnect_scheduled"]
    assert delays and max(d or 0 for d in delays) <= 0.1  # not the credentials' long wait
    assert keeper.binds_made == 0 and tls_smsc.stats["binds"] == 0
    # Fixed (here: the right CA), the next try binds and no alarm follows.
    events.clear()
    keeper = BindKeeper("127.0.0.1", tls_smsc.port, SESSION, name="k",
                        ssl=client_context(ca=pki.ca), on_event=events.append)
    async with keeper:
        await keeper.wait_bound(5)
    assert "alarm" not in [e.kind for e in events]


def test_the_same_outcomes_on_uvloop(pki: Pki) -> None:
    """The daemon and the fakes' command line run on uvloop, whose TLS transport is its own
    code: the same errors come out of it."""
    import uvloop  # (a runtime dependency on Linux: never skipped)

    async def outcomes() -> list[str]:
        seen = []
        async with FakeSMSC(config_from_dict({"tls_cert": pki.server_cert})) as tls_smsc, \
                FakeSMSC() as plain:
            for port, context, name in ((tls_smsc.port, client_context(ca=pki.ca), None),
                                        (tls_smsc.port, client_context(ca=pki.other_ca), None),
                                        (tls_smsc.port, client_context(ca=pki.ca), "x.test"),
                                        (plain.port, client_context(ca=pki.ca), None),
                                        (tls_smsc.port, None, None)):
                try:
                    async with await _open(port, context, name):
                        seen.append("bound")
                except NotSentError as exc:
                    seen.append(type(exc).__name__)
        return seen

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        seen = runner.run(outcomes())
    assert seen == ["bound", "TlsVerificationError", "TlsVerificationError",
                    "TlsHandshakeError", "NotSentError"]
