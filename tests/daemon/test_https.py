"""The daemon over HTTPS (``[server] tls_cert``/``tls_key``), with a throwaway CA made in the
test (tests/_support/tls.py): a verified client sends a message end to end; a client trusting
another CA, or asking for another name, is refused; a plaintext client and a silent one on the
HTTPS port fail cleanly and the daemon goes on; bad certificate or key files are startup errors
naming the field. The port's connection caps hold for connections still in their handshake:
beyond the per-address cap they are closed at once, at the total cap the oldest is evicted,
and a stalled handshake is aborted at the head's deadline (under uvloop and asyncio's loop)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import ssl
import subprocess
import sys
import termios
import time
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import KEY, Daemon, daemon, daemon_config
from tests._support.tls import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return make_pki(folder)


def _client(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def _tls_config(tmp_path: Path, port: int, cert: str, key: str) -> Path:
    return daemon_config(tmp_path, port, server=f"""
tls_cert = "{cert}"
tls_key = "{key}"
header_timeout = 2.0
""")


def _port(gw: Daemon) -> int:
    return int(gw.base.rsplit(":", 1)[1])


async def test_a_verified_client_sends_a_message_end_to_end(
        smsc: FakeSMSC, pki: Pki, tmp_path: Path) -> None:
    config = _tls_config(tmp_path, smsc.port, pki.server_chain, pki.server_key)
    async with daemon(config, ssl_context=_client(pki.ca)) as gw:
        assert gw.base.startswith("https://127.0.0.1:")
        message_id = await gw.send(to="8613800138000", text="over https")
        found = await gw.until(message_id, lambda m: m["state"] == "delivered")
        assert found["state"] == "delivered"
        assert [e.destination_addr for e in smsc.ledger] == ["8613800138000"]

        # Another CA, another name: the client refuses the server.
        for context, url in ((_client(pki.other_ca), gw.base),
                             (_client(pki.ca), f"https://localhost:{_port(gw)}")):
            async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=context)) as other:
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await other.get(url + "/healthz")

        # Plain HTTP on the HTTPS port: no HTTP answer, the connection closes.
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(gw))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            answer = await asyncio.wait_for(reader.read(), 10)
        except ConnectionError:
            answer = b""
        writer.close()
        assert not answer.startswith(b"HTTP/"), answer
        # A TCP connection that never starts its handshake: closed at header_timeout.
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(gw))
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(reader.read(), 2.0 + 8)
        writer.close()

        status, body, _ = await gw.request("GET", "/healthz")
        assert status == 200, body
        assert gw.proc.returncode is None
        assert "Traceback" not in "".join(gw.log)


def _serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smsengine", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=60,
                          env={"TEST_SMSENGINE_SEND_KEY": "test-send-key-0123456789",
                               "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize(("cert", "key", "field"), [
    ("missing.pem", "server_key", "server.tls_cert"),
    ("server_chain", "missing.pem", "server.tls_key"),
    ("server_chain", "client_key", "server.tls_cert"),  # (a key of another certificate)
    ("ca_key_as_cert", "server_key", "server.tls_cert"),  # (not a certificate)
])
def test_bad_certificate_or_key_files_are_startup_errors_naming_the_field(
        pki: Pki, tmp_path: Path, cert: str, key: str, field: str) -> None:
    (tmp_path / "ca_key_as_cert").write_text("not a PEM file\n")

    def path(name: str) -> str:
        return str(getattr(pki, name, None) or tmp_path / name)

    done = _serve(_tls_config(tmp_path, 1, path(cert), path(key)))
    assert done.returncode == 2, done.stderr
    assert f"smsengine serve: {field}: " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert KEY not in done.stderr + done.stdout


def test_an_encrypted_key_is_refused_not_prompted_for(pki: Pki, tmp_path: Path) -> None:
    """The daemon takes no key password: an encrypted tls_key is a startup error naming it,
    never OpenSSL's 'Enter PEM pass phrase' prompt on the terminal, which would hold a daemon
    started from one forever. (Run with a terminal as its controlling one, as from a shell.)"""
    key = serialization.load_pem_private_key(Path(pki.server_key).read_bytes(), None)
    encrypted = tmp_path / "encrypted_key.pem"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a key password 0123")))
    config = _tls_config(tmp_path, 1, pki.server_chain, str(encrypted))
    controller, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smsengine", "serve", "--config", str(config)],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, env={"TEST_SMSENGINE_SEND_KEY": "test-send-key-0123456789",
                                         "PATH": "/usr/bin:/bin"},
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("smsengine serve waited on the terminal for the key's password")
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 2, stderr
    assert "smsengine serve: server.tls_key: " in stderr and "encrypted" in stderr, stderr


LOOPS = pytest.mark.parametrize("loop_env", [{}, {"SMSENGINE_NO_UVLOOP": "1"}],
                                ids=["uvloop", "asyncio"])
SLACK = 4.0  # (a generous margin on a loaded machine; the limit itself is the bound)


def _limits_config(tmp_path: Path, pki: Pki, server: str) -> Path:
    return daemon_config(tmp_path, 1, server=f"""
tls_cert = "{pki.server_chain}"
tls_key = "{pki.server_key}"
{server}
""")


async def _silent(gw: Daemon, count: int, local: str = "127.0.0.1"
                  ) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``count`` TCP connections to the HTTPS port that never start a handshake."""
    return [await asyncio.open_connection("127.0.0.1", _port(gw), local_addr=(local, 0))
            for _ in range(count)]


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """What came before the daemon closed the connection, or None if it did not within."""
    got = b""
    try:
        async with asyncio.timeout(seconds):
            while chunk := await reader.read(65536):
                got += chunk
    except TimeoutError:
        return None
    except ConnectionError:  # (aborted: a reset)
        pass
    return got


async def _served_from(gw: Daemon, pki: Pki, local: str, times: int = 1) -> float:
    """Seconds for ``times`` verified GET /healthz, each on a new connection from ``local``."""
    connector = aiohttp.TCPConnector(ssl=_client(pki.ca), local_addr=(local, 0),
                                     force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        started = time.monotonic()
        for _ in range(times):
            async with client.get(gw.base + "/healthz") as response:
                assert response.status == 200, await response.text()
        return time.monotonic() - started


async def _metric(gw: Daemon, pki: Pki, local: str, name: str) -> float:
    connector = aiohttp.TCPConnector(ssl=_client(pki.ca), local_addr=(local, 0))
    async with aiohttp.ClientSession(connector=connector) as client, client.get(
            gw.base + "/metrics", headers={"Authorization": f"Bearer {KEY}"}) as response:
        text = await response.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name))


@LOOPS
async def test_connections_in_their_handshake_beyond_the_per_address_cap_are_closed_at_once(
        pki: Pki, tmp_path: Path, loop_env: dict[str, str]) -> None:
    """They were admitted only once through the handshake: 50 silent ones from one address
    all stayed open (until header_timeout) with the cap at 5."""
    config = _limits_config(tmp_path, pki, """
header_timeout = 8.0
max_connections_per_address = 5
""")
    async with daemon(config, ssl_context=_client(pki.ca), env=loop_env) as gw:
        held = await _silent(gw, 50)
        try:
            closed = await asyncio.gather(*(_closed_within(r, 1.0) for r, _ in held))
            assert sum(c is not None for c in closed) == 45, closed
            assert all(c in (None, b"") for c in closed), closed  # (no plaintext answer)
            # A verified client from another address, a new connection a request: served.
            assert await _served_from(gw, pki, "127.0.0.2", times=20) < 20 * 1.0
            assert await _served_from(gw, pki, "127.0.0.2") < 1.0
            assert await _metric(gw, pki, "127.0.0.3", "smsengine_http_connections_closed_"
                                 'total{reason="address_cap"}') == 45
        finally:
            for _, writer in held:
                writer.close()
        assert gw.proc.returncode is None
        assert "Traceback" not in "".join(gw.log)


@LOOPS
async def test_at_the_total_cap_a_connection_in_its_handshake_is_evicted(
        pki: Pki, tmp_path: Path, loop_env: dict[str, str]) -> None:
    config = _limits_config(tmp_path, pki, """
header_timeout = 8.0
max_connections = 10
max_connections_per_address = 100
""")
    async with daemon(config, ssl_context=_client(pki.ca), env=loop_env) as gw:
        held = await _silent(gw, 15)
        try:
            closed = await asyncio.gather(*(_closed_within(r, 1.0) for r, _ in held))
            # (the five longest idle: accepted first)
            assert [c is not None for c in closed] == [True] * 5 + [False] * 10, closed
            assert await _served_from(gw, pki, "127.0.0.2") < 1.0
            still = await asyncio.gather(*(_closed_within(r, 0.1) for r, _ in held[5:]))
            assert sum(c is not None for c in still) >= 1  # (made room for the client)
            assert await _metric(gw, pki, "127.0.0.3", "smsengine_http_connections_closed_"
                                 'total{reason="evicted"}') >= 6
        finally:
            for _, writer in held:
                writer.close()
        assert "Traceback" not in "".join(gw.log)


def _client_hello() -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing,
                                                server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@LOOPS
async def test_a_stalled_handshake_is_aborted_at_header_timeout(
        pki: Pki, tmp_path: Path, loop_env: dict[str, str]) -> None:
    config = _limits_config(tmp_path, pki, "header_timeout = 2.0")
    async with daemon(config, ssl_context=_client(pki.ca), env=loop_env) as gw:
        for sent in (b"", _client_hello()[:-10]):  # (never begun; a ClientHello cut short)
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(gw))
            started = time.monotonic()
            writer.write(sent)
            answer = await _closed_within(reader, 2.0 + SLACK)
            elapsed = time.monotonic() - started
            writer.close()
            assert answer == b"", answer  # (aborted: no plaintext 408 to a TLS client)
            assert 2.0 - 0.2 <= elapsed <= 2.0 + SLACK
        assert await _served_from(gw, pki, "127.0.0.1") < 1.0
        assert await _metric(gw, pki, "127.0.0.1", "smsengine_http_connections_closed_"
                             'total{reason="header_timeout"}') == 2
