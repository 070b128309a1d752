"""The fake SMSC and ISMG serving TLS (issue 21): ``tls_cert`` / ``tls_key`` in the config,
each bad file named; raw clients binding over TLS; a plaintext client on the TLS port closed
at once while the server goes on serving the next; a connection that never starts the handshake
closed at the pre-bind timeout; ``smsengine fakesmsc --tls-cert/--tls-key`` as a process."""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path

import pytest

from smsengine.bind import client_context
from smsengine.cmpp import ConnectResp, SubmitResp, Version
from smsengine.fakesmsc import ConfigError, config_from_dict, load_config
from smsengine.smpp import BindTransceiverResp
from tests._support.cmpp_client import Closed as CmppClosed
from tests._support.cmpp_client import CmppClient, ismg_running
from tests._support.fakesmsc_process import fakesmsc
from tests._support.smpp_client import Closed, SmppClient, running
from tests._support.tls import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


async def smpp_over_tls(port: int, pki: Pki) -> SmppClient:
    return SmppClient(*await asyncio.open_connection("127.0.0.1", port,
                                                     ssl=client_context(ca=pki.ca)))


# --- the config ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"tls_cert": "missing.pem"}, "tls_cert", "file not found: missing.pem"),
    ({"tls_cert": "CHAIN"}, "tls_key", "do not make a pair"),  # the key is not in that file
    ({"tls_cert": "CHAIN", "tls_key": "missing.pem"}, "tls_key", "file not found"),
    ({"tls_cert": "KEY"}, "tls_cert", "no PEM certificate"),
    ({"tls_key": "KEY"}, "tls_key", "give tls_cert too"),
])
def test_each_tls_error_names_its_field(pki: Pki, fields: dict[str, str], field: str,
                                        words: str) -> None:
    files = {"CHAIN": pki.server_chain, "KEY": pki.server_key}
    with pytest.raises(ConfigError) as info:
        config_from_dict({k: files.get(v, v) for k, v in fields.items()})
    assert info.value.field == field and words in info.value.message
    assert "PRIVATE KEY" not in str(info.value)


def test_the_toml_takes_the_chain_and_key(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "fake.toml"
    path.write_text(f'tls_cert = "{pki.server_chain}"\ntls_key = "{pki.server_key}"\n')
    config = load_config(path)
    assert config.ssl_context() is not None
    assert config_from_dict({}).ssl_context() is None


# --- serving ---------------------------------------------------------------------------------


async def test_smpp_clients_bind_over_tls_and_a_plaintext_one_is_closed(pki: Pki) -> None:
    async with running(config_from_dict({"tls_cert": pki.server_cert})) as smsc:
        for _ in range(3):
            # A plaintext bind on the TLS port: the server reads no TLS record, closes the
            # connection at once (no hang, no bind_resp in clear)...
            plain = await SmppClient.connect(smsc.port)
            with pytest.raises(Closed):
                await plain.bind()
            await plain.close()
            # ...and the next client, over TLS, is served.
            client = await smpp_over_tls(smsc.port, pki)
            resp = await client.bind()
            assert isinstance(resp, BindTransceiverResp) and resp.command_status == 0
            assert (await client.submit()).command_status == 0
            await client.close()
        assert smsc.stats["binds"] == 3 and len(smsc.ledger) == 3


async def test_the_ismg_serves_cmpp_over_tls(pki: Pki) -> None:
    async with ismg_running(tls_cert=pki.server_chain, tls_key=pki.server_key) as ismg:
        plain = await CmppClient.connect(ismg.port)
        with pytest.raises(CmppClosed):
            await plain.login()
        await plain.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", ismg.port,
                                                       ssl=client_context(ca=pki.ca))
        client = CmppClient(reader, writer, Version.V30)
        resp = await client.login()
        assert isinstance(resp, ConnectResp) and resp.status == 0
        submitted = await client.submit()
        assert isinstance(submitted, SubmitResp) and submitted.result == 0
        await client.close()
        assert len(ismg.ledger) == 1


async def test_a_connection_that_never_starts_the_handshake_is_closed(pki: Pki) -> None:
    config = config_from_dict({"tls_cert": pki.server_cert, "pre_bind_timeout": 0.3})
    async with running(config) as smsc:
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed, nothing said
        writer.close()
        client = await smpp_over_tls(smsc.port, pki)
        assert (await client.bind()).command_status == 0
        await client.close()


# --- the command line ------------------------------------------------------------------------


async def test_the_cli_serves_tls(pki: Pki) -> None:
    async with fakesmsc("--tls-cert", pki.server_chain, "--tls-key", pki.server_key) as smsc:
        client = await smpp_over_tls(smsc.port, pki)
        assert (await client.bind()).command_status == 0
        assert (await client.submit()).command_status == 0
        await client.close()
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection("127.0.0.1", smsc.port,
                                          ssl=client_context(ca=pki.other_ca))
        assert (await smsc.get("/stats"))["binds"] == 1


async def test_the_cli_refuses_a_missing_certificate_naming_the_option(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0",
        "--tls-cert", str(tmp_path / "none.pem"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert b"tls_cert: file not found" in err and b"none.pem" in err
