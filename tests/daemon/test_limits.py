"""Limits on the daemon's HTTP port (smsengine.daemon.listener), against a real
``smsengine serve`` over real sockets: a slowloris, a connection that never speaks, a stalled
body and an idle keep-alive connection are closed within their limits (408 where a request was
begun) while well-behaved clients are served; 10 000 idle connections, from one address or
from many, leave a client served within 1 s, and the daemon's RSS bounded; oversized heads and
bodies get 431 and 413 as problem details, and the daemon goes on."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import socket
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests._support.daemon_process import KEY, Daemon, daemon, daemon_config

HEADER_TIMEOUT = 2.0
READ_TIMEOUT = 2.0
KEEPALIVE = 2.0
SLACK = 4.0  # (a generous margin on a loaded 2-core machine; the limit itself is the bound)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Daemon]:
    # No carrier: the binds fail and retry, which these tests do not need.
    config = daemon_config(tmp_path, 1, server=f"""
header_timeout = {HEADER_TIMEOUT}
read_timeout = {READ_TIMEOUT}
keepalive_timeout = {KEEPALIVE}
max_body = 4096
max_header_bytes = 8192
max_connections = 2000
max_connections_per_address = 100
""")
    async with daemon(config) as running:
        yield running


def _address(gw: Daemon) -> tuple[str, int]:
    host, port = gw.base.removeprefix("http://").split(":")
    return host, int(port)


async def _open(gw: Daemon, local: str = "127.0.0.1"
                ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*_address(gw), local_addr=(local, 0))


async def _get_healthz(gw: Daemon, local: str = "127.0.0.1",
                       path: str = "/healthz") -> tuple[bytes, float]:
    """(the raw answer to GET ``path`` on a new connection from ``local``, seconds taken)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await _open(gw, local)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     f"Authorization: Bearer {KEY}\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    return answer, loop.time() - started


def _problem(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in head, answer
    return dict(json.loads(body))


async def _closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the daemon sent before closing (EOF, or a reset)."""
    got = b""
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                got += chunk
    except ConnectionError:  # (reset, or a broken pipe found by a write)
        pass
    return got


async def test_a_slowloris_is_closed_at_the_head_deadline_while_others_are_served(
        gw: Daemon) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await _open(gw)
    started = loop.time()
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100

    dripped = 0

    async def drip() -> None:  # a byte a second, for longer than the deadline
        nonlocal dripped
        for byte in head:
            writer.write(bytes([byte]))
            dripped += 1
            await asyncio.sleep(1.0)

    async def watch() -> tuple[bytes, float]:
        answer = await _closed(reader, HEADER_TIMEOUT + SLACK)
        return answer, loop.time() - started

    dripping = loop.create_task(drip())
    watching = loop.create_task(watch())
    try:
        served = 0
        while not watching.done():
            answer, _ = await _get_healthz(gw)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            served += 1
            await asyncio.sleep(0.2)
        answer, elapsed = await watching
    finally:
        dripping.cancel()
        writer.close()
    assert dripped < len(head)  # (closed with its head unfinished)
    assert HEADER_TIMEOUT - 0.2 <= elapsed <= HEADER_TIMEOUT + SLACK
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert _problem(answer)["type"] == "urn:smsengine:problem:header-timeout"
    assert served >= 2


async def test_a_connection_that_never_speaks_is_closed_at_the_head_deadline(
        gw: Daemon) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await _open(gw)
    answer = await _closed(reader, HEADER_TIMEOUT + SLACK)
    writer.close()
    assert loop.time() - started >= HEADER_TIMEOUT - 0.2
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_an_idle_keepalive_connection_is_closed_after_keepalive_timeout(
        gw: Daemon) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await _open(gw)
    for _ in range(2):  # (two requests on it: the connection is kept between them)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
    answered = loop.time()
    rest = await _closed(reader, KEEPALIVE + SLACK)
    writer.close()
    assert rest == b""  # (closed quietly: no request was begun)
    assert KEEPALIVE - 0.2 <= loop.time() - answered <= KEEPALIVE + SLACK


async def test_a_stalled_body_gets_408_and_a_slow_steady_one_is_read(gw: Daemon) -> None:
    loop = asyncio.get_running_loop()
    body = json.dumps({"to": "8613800138000", "text": "slow but steady"}).encode()
    head = (f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()

    stalled_reader, stalled = await _open(gw)
    stalled.write(head + body[:10])  # ... and nothing more
    stalled_at = loop.time()

    steady_reader, steady = await _open(gw)
    steady.write(head)
    for i in range(0, len(body), 4):  # 4 bytes every 0.4 s: longer than READ_TIMEOUT in all
        steady.write(body[i:i + 4])
        await asyncio.sleep(0.4)
    steady_answer = await _closed(steady_reader, 10)
    steady.close()
    assert steady_answer.startswith(b"HTTP/1.1 202"), steady_answer

    answer = await _closed(stalled_reader, READ_TIMEOUT + SLACK)
    stalled.close()
    assert loop.time() - stalled_at >= READ_TIMEOUT - 0.2
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert _problem(answer)["type"] == "urn:smsengine:problem:read-timeout"


async def test_oversized_heads_and_bodies_get_431_and_413_and_the_daemon_goes_on(
        gw: Daemon) -> None:
    # A head over max_header_bytes (8192), in one header and in many small ones.
    for head in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                 + b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 60) for i in range(200)) + b"\r\n"):
        reader, writer = await _open(gw)
        writer.write(head)
        answer = await _closed(reader, 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 431"), answer
        assert _problem(answer)["type"] == "urn:smsengine:problem:header-too-large"
    # A body over max_body (4096): with its length given, and chunked.
    big = json.dumps({"to": "8613800138000", "text": "x" * 5000}).encode()
    status, problem, _ = await gw.request("POST", "/v1/messages", data=big,
                                          headers={"Content-Type": "application/json"})
    assert status == 413 and problem["type"] == "urn:smsengine:problem:body-too-large"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]

    status, problem, _ = await gw.request("POST", "/v1/messages", data=chunks(),
                                          headers={"Content-Type": "application/json"})
    assert status == 413 and problem["type"] == "urn:smsengine:problem:body-too-large"
    answer, _ = await _get_healthz(gw)
    assert answer.startswith(b"HTTP/1.1 200")
    assert gw.proc.returncode is None


async def test_a_body_sent_after_its_answer_is_not_taken_for_a_head(gw: Daemon) -> None:
    """A handler may answer before reading the body (here /healthz, or a 401); aiohttp then
    reads and drops the rest of it. Those bytes are no head: 9 000 of them (over
    max_header_bytes) and a next request on the same connection get that request's answer,
    not a 431 (they were counted as the next request's head)."""
    reader, writer = await _open(gw)
    body = b"z" * 9000
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:100])
    status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    writer.write(body[100:] + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await _closed(reader, 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _hold(gw: Daemon, count: int, addresses: list[str]) -> list[socket.socket]:
    """``count`` connections that never send a byte, spread over ``addresses``; the ones the
    daemon refused or closed are among them too (they are only held open here)."""
    loop = asyncio.get_running_loop()
    target = _address(gw)
    held: list[socket.socket] = []

    async def one(local: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((local, 0))
        held.append(sock)
        with contextlib.suppress(OSError):
            await loop.sock_connect(sock, target)

    for start in range(0, count, 500):
        await asyncio.gather(*(one(addresses[n % len(addresses)])
                               for n in range(start, min(count, start + 500))))
    return held


async def _metric(gw: Daemon, name: str) -> dict[str, float]:
    answer, _ = await _get_healthz(gw, "127.0.0.4", "/metrics")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    text = answer.partition(b"\r\n\r\n")[2].decode()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith(name)}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
async def test_ten_thousand_idle_connections_leave_a_client_served_within_a_second(
        gw: Daemon) -> None:
    answer, _ = await _get_healthz(gw)
    assert answer.startswith(b"HTTP/1.1 200")
    before = _rss_kib(gw.proc.pid)

    # From one address: all but max_connections_per_address (100) are refused at once.
    held = await _hold(gw, 10_000, ["127.0.0.1"])
    try:
        answer, took = await _get_healthz(gw, "127.0.0.2")
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert took < 1.0
        closed = await _metric(gw, "smsengine_http_connections_closed_total")
        assert closed['smsengine_http_connections_closed_total{reason="address_cap"}'] >= 9000
    finally:
        for sock in held:
            sock.close()

    # From 100 addresses (100 each, within the per-address cap): past max_connections (2000)
    # each new connection closes the longest idle one, so a newcomer still gets in.
    held = await _hold(gw, 10_000, [f"127.0.1.{n}" for n in range(1, 101)])
    try:
        answer, took = await _get_healthz(gw, "127.0.0.3")
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert took < 1.0
        gauge = await _metric(gw, "smsengine_http_connections ")
        assert gauge["smsengine_http_connections"] <= 2000 + 1
        closed = await _metric(gw, "smsengine_http_connections_closed_total")
        assert closed['smsengine_http_connections_closed_total{reason="evicted"}'] >= 7000
        grown = _rss_kib(gw.proc.pid) - before
        print(f"daemon RSS {before // 1024} MiB before, +{grown // 1024} MiB holding 2 000 of "
              "10 000 idle connections")
        assert grown < 150 * 1024
    finally:
        for sock in held:
            sock.close()
    answer, took = await _get_healthz(gw)
    assert answer.startswith(b"HTTP/1.1 200")


async def test_when_every_connection_is_busy_a_new_one_gets_503(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, 1, server=f"""
read_timeout = {READ_TIMEOUT}
max_connections = 5
""")
    async with daemon(config) as gw:
        # (100-continue: its answer comes once aiohttp has the head, which the limits took
        # as the request's start: then the connection is busy, not evictable)
        head = (f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n"
                "Expect: 100-continue\r\n\r\n").encode()
        busy = [await _open(gw) for _ in range(5)]
        for reader, writer in busy:
            writer.write(head)
            assert await asyncio.wait_for(reader.readline(), 10) == b"HTTP/1.1 100 Continue\r\n"
            assert await asyncio.wait_for(reader.readline(), 10) == b"\r\n"
            writer.write(b"{")  # (a body begun: each is busy with a request)
        answer, _ = await _get_healthz(gw)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert _problem(answer)["type"] == "urn:smsengine:problem:too-many-connections"
        for reader, writer in busy:  # (their read timeout frees the port)
            assert (await _closed(reader, READ_TIMEOUT + SLACK)).startswith(b"HTTP/1.1 408")
            writer.close()
        answer, _ = await _get_healthz(gw)
        assert answer.startswith(b"HTTP/1.1 200"), answer


async def _slow_reader(gw: Daemon, count: int) -> socket.socket:
    """A connection that sent ``count`` pipelined GETs of console.js and does not read (a 4 KiB
    receive buffer), once its receive buffer has filled (the daemon's writes are held)."""
    loop = asyncio.get_running_loop()
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    await loop.sock_connect(slow, _address(gw))
    await loop.sock_sendall(
        slow, b"GET /console/console.js HTTP/1.1\r\nHost: x\r\n\r\n" * count)
    waiting, before = bytearray(4), -1
    while True:  # (until answers have come and stopped coming: the client is not reading)
        fcntl.ioctl(slow.fileno(), termios.FIONREAD, waiting)
        now = int.from_bytes(waiting, sys.byteorder)
        if now and now == before:
            return slow
        before = now
        await asyncio.sleep(0.2)


async def test_at_the_cap_a_slow_readers_answer_is_not_cut_mid_write(tmp_path: Path) -> None:
    """A connection became idle (evictable) when its handler returned, before aiohttp had
    written the answer: at the cap a newcomer closed a slow reader's connection mid-answer.
    Here 200 pipelined GETs of console.js (8 MB, over what the kernel buffers) to a client not
    reading (a 4 KiB receive buffer), then one silent connection (max_connections 2): a third is
    served by evicting the silent one, and the slow reader gets all 200 answers whole."""
    config = daemon_config(tmp_path, 1, server="max_connections = 2")
    script = Path(__file__).parents[2] / "smsengine" / "daemon" / "console" / "console.js"
    async with daemon(config) as gw:
        loop = asyncio.get_running_loop()
        count = 200
        slow = await _slow_reader(gw, count)
        reader, writer = await _open(gw)  # (silent: the one to evict)
        try:
            answer, _ = await _get_healthz(gw)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            assert await _closed(reader, 1.0) == b""  # (evicted, not the slow reader)
        finally:
            writer.close()
        body = script.read_bytes()
        got = bytearray()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while got.count(body) < count and (
                        chunk := await loop.sock_recv(slow, 1 << 20)):
                    got += chunk
        slow.close()
        assert got.count(b"HTTP/1.1 200 OK\r\n") == count, f"{len(got)} bytes"
        assert got.count(body) == count, f"{len(got)} bytes"


async def test_clients_that_never_read_their_answers_cannot_fill_the_port(
        tmp_path: Path) -> None:
    """Slow readers are passed over for eviction while another connection can go, but when
    every connection is one, a newcomer still evicts the oldest (not 503, as when all are busy
    with a request): they would otherwise hold the port until aiohttp's write ends, never."""
    config = daemon_config(tmp_path, 1, server="max_connections = 2")
    async with daemon(config) as gw:
        slow = [await _slow_reader(gw, 200) for _ in range(2)]
        try:
            answer, _ = await _get_healthz(gw)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            closed = await _metric(gw, "smsengine_http_connections_closed_total")
            assert closed['smsengine_http_connections_closed_total{reason="evicted"}'] >= 1
        finally:
            for sock in slow:
                sock.close()
