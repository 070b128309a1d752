"""Fake SMSC and ISMG: the limits that keep idle and hostile clients from shutting the others out
(issue 21) — the connection caps and who gets evicted at them, the pre-bind timeout, the idle
timeout (``enquire_link_timeout``) and the read timeout for a PDU that never completes.

Real TCP on 127.0.0.1, so every client comes from the same address. Timeouts are short and
every wait is for a condition (the connection reaching end of stream, a counter) with a
deadline."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest

from smsengine.fakesmsc import Account, Config, FakeSMSC
from smsengine.smpp import CommandId, CommandStatus, EnquireLink, EnquireLinkResp
from tests._support.cmpp_client import CmppClient, ismg_running
from tests._support.smpp_client import SmppClient, eventually, running

Raw = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def at_eof(reader: asyncio.StreamReader, timeout: float = 3.0) -> bytes:
    """Read until the server ends the stream (a close or a reset); what came before. Fails
    if the stream is still open after ``timeout`` seconds."""
    got = b""

    async def drain() -> None:
        nonlocal got
        with suppress(ConnectionError):
            while chunk := await reader.read(65536):
                got += chunk

    try:
        await asyncio.wait_for(drain(), timeout)
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {timeout} s") from None
    return got


@asynccontextmanager
async def raw_connections(port: int, count: int) -> AsyncIterator[list[Raw]]:
    """``count`` TCP connections that send nothing, closed on the way out."""
    conns: list[Raw] = []
    try:
        for _ in range(count):
            conns.append(await asyncio.open_connection("127.0.0.1", port))
        yield conns
    finally:
        for _, writer in conns:
            writer.close()
        for _, writer in conns:
            with suppress(OSError):
                await writer.wait_closed()


async def ping(c: SmppClient, timeout: float = 2.0) -> None:
    assert isinstance(await c.request(EnquireLink(sequence_number=c.next_seq()), timeout),
                      EnquireLinkResp)


def header(length: int, command_id: int = CommandId.submit_sm, seq: int = 1) -> bytes:
    return struct.pack(">IIII", length, command_id, 0, seq)


# --- caps -----------------------------------------------------------------------------------------


async def test_256_idle_connections_do_not_shut_out_a_client_that_binds() -> None:
    """The attack measured in issue 21: as many idle connections as max_connections, all from
    one address (so is the client: 127.0.0.1). Each newcomer at the per-address cap evicts
    the oldest connection there not bound yet, so the client is served at once, while the
    idle ones are held."""
    cfg = Config()
    async with running(cfg) as smsc, raw_connections(smsc.port, cfg.max_connections) as idle:
        await eventually(lambda: smsc.stats["connections"] == cfg.max_connections)
        # The cap per address held them to 128: the first 128 to come were evicted in turn.
        evicted = cfg.max_connections - cfg.max_connections_per_address
        assert smsc.stats["connections_evicted"] == evicted
        assert smsc.stats["connections_refused"] == 0
        # The evicted ones see their stream end; the others are still open.
        for reader, _ in idle[:evicted]:
            await at_eof(reader, timeout=1.0)
        assert not any(reader.at_eof() for reader, _ in idle[evicted:])

        loop = asyncio.get_running_loop()
        started = loop.time()
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind("transceiver", timeout=1.0)).ok
        assert (await client.submit(timeout=1.0)).ok
        # The bar, with room: the round trips above take milliseconds here.
        assert loop.time() - started < 1.0
        assert smsc.stats["connections_evicted"] == evicted + 1
        assert len(smsc.ledger) == 1
        await client.close()


async def test_the_total_cap_evicts_the_oldest_unbound_connection_too() -> None:
    cfg = Config(max_connections=4, max_connections_per_address=100)
    async with running(cfg) as smsc, raw_connections(smsc.port, 3) as idle:
        bound = await SmppClient.connect(smsc.port)
        assert (await bound.bind()).ok  # the fourth, and bound
        newcomer = await SmppClient.connect(smsc.port)
        assert (await newcomer.bind()).ok
        await at_eof(idle[0][0])  # the oldest unbound went
        assert smsc.stats["connections_evicted"] == 1
        await ping(bound)
        assert not idle[1][0].at_eof()
        await bound.close()
        await newcomer.close()


async def test_bound_sessions_are_never_evicted_the_newcomer_is_refused() -> None:
    async with running(Config(max_connections_per_address=2)) as smsc:
        first = await SmppClient.connect(smsc.port)
        second = await SmppClient.connect(smsc.port)
        assert (await first.bind()).ok and (await second.bind()).ok
        third = await SmppClient.connect(smsc.port)
        assert await third.wait_closed() == []
        assert smsc.stats["connections_refused"] == 1
        assert smsc.stats["connections_evicted"] == 0
        await ping(first)
        await ping(second)
        # A bound session that goes makes room again.
        await first.close()
        await eventually(lambda: len(smsc.binds) == 1)
        again = await SmppClient.connect(smsc.port)
        assert (await again.bind()).ok


# --- pre-bind timeout -----------------------------------------------------------------------------


async def test_a_connection_that_never_binds_is_closed_after_the_pre_bind_timeout() -> None:
    cfg = Config(accounts=[Account("shop", "secret")], pre_bind_timeout=0.3)
    async with running(cfg) as smsc, raw_connections(smsc.port, 1) as [(reader, _)]:
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind("transceiver", "shop", "secret")).ok
        # A refused bind leaves the connection open but not bound: the clock runs on.
        refused = await SmppClient.connect(smsc.port)
        resp = await refused.bind("transceiver", "shop", "wrong")
        assert resp.command_status == CommandStatus.ESME_RINVPASWD
        assert await at_eof(reader) == b""
        assert await refused.wait_closed(3.0) == []
        assert smsc.stats["pre_bind_timeouts"] == 2
        await ping(client)  # bound in time: stays
        await client.close()


async def test_the_ismg_closes_a_connection_without_connect_after_the_pre_bind_timeout() -> None:
    async with ismg_running(pre_bind_timeout=0.3) as ismg:
        silent = await CmppClient.connect(ismg.port)
        client = await CmppClient.connect(ismg.port)
        assert (await client.login()).status == 0
        assert await silent.wait_closed(3.0) == []
        assert ismg.stats["pre_bind_timeouts"] == 1
        assert (await client.submit()).result == 0  # type: ignore[attr-defined]
        await client.close()


async def test_a_pre_bind_timeout_of_zero_is_off() -> None:
    async with running(Config(pre_bind_timeout=0, enquire_link_timeout=0)) as smsc:
        client = await SmppClient.connect(smsc.port)
        await eventually(lambda: smsc.stats["connections"] == 1)
        loop = asyncio.get_running_loop()
        smsc._enforce_timeouts(loop.time() + 3600)
        assert (await client.bind()).ok
        assert smsc.stats["pre_bind_timeouts"] == 0


# --- idle timeout ---------------------------------------------------------------------------------


async def test_the_idle_clock_counts_whole_pdus_not_octets() -> None:
    """A bound client trickling the octets of a PDU that never ends is idle: closed by the
    idle timeout even with the read timeout off."""
    async with running(Config(enquire_link_timeout=0.3, read_timeout=0)) as smsc:
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind()).ok
        trickle = asyncio.ensure_future(slowloris(client.writer, header(100) + b"\0" * 84))
        try:
            assert await at_eof(client.reader) == b""
        finally:
            trickle.cancel()
        assert smsc.stats["idle_timeouts"] == 1
        assert smsc.stats["read_timeouts"] == 0


async def test_no_clock_runs_against_a_client_the_server_does_not_read() -> None:
    async with running(Config(enquire_link_timeout=0.3, read_timeout=0.3)) as smsc:
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind()).ok
        link = EnquireLink(sequence_number=client.next_seq()).encode()
        await client.send(link[:5])  # a PDU begun
        await eventually(lambda: any(c.partial_since for c in smsc._conns))
        smsc.stall("read")
        loop = asyncio.get_running_loop()
        smsc._enforce_timeouts(loop.time() + 3600)  # an hour of silence, all of it ours
        smsc.resume()
        assert smsc.stats["idle_timeouts"] == smsc.stats["read_timeouts"] == 0
        # After the stall the clocks start over: the PDU begun is still allowed its time.
        await client.send(link[5:])
        assert isinstance(await client.recv(), EnquireLinkResp)
        await ping(client)


# --- read timeout -----------------------------------------------------------------------------


async def slowloris(writer: asyncio.StreamWriter, data: bytes, gap: float = 0.05) -> None:
    """Write ``data`` a byte at a time, ``gap`` seconds apart, until done or the stream
    breaks."""
    with suppress(ConnectionError):
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(gap)


@pytest.mark.parametrize("bound", [True, False])
async def test_a_declared_pdu_that_never_comes_is_closed_after_the_read_timeout(
        bound: bool) -> None:
    """The issue's probe: a 70 000-octet command_length (the largest allowed) and silence."""
    cfg = Config(read_timeout=0.3, pre_bind_timeout=0, enquire_link_timeout=0)
    async with running(cfg) as smsc:
        client = await SmppClient.connect(smsc.port)
        if bound:
            assert (await client.bind()).ok
        await client.send(header(cfg.max_pdu_length) + b"\0" * 1000)
        assert await at_eof(client.reader) == b""
        assert smsc.stats["read_timeouts"] == 1


async def test_a_slowloris_is_closed_after_the_read_timeout() -> None:
    cfg = Config(read_timeout=0.3, enquire_link_timeout=0)
    async with running(cfg) as smsc:
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind()).ok
        # A byte every 0.05 s: the 100-octet PDU would take 5 s; bytes keep coming all along.
        trickle = asyncio.ensure_future(slowloris(client.writer, header(100) + b"\0" * 84))
        try:
            assert await at_eof(client.reader) == b""
            assert not trickle.done()
        finally:
            trickle.cancel()
        assert smsc.stats["read_timeouts"] == 1


async def test_pdus_split_across_writes_each_get_the_read_timeout_afresh() -> None:
    """A busy client's batches often end inside a PDU: the clock starts with each new PDU,
    so a stream of them taking longer in all than the timeout is never cut."""
    async with running(Config(read_timeout=0.3)) as smsc:
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind()).ok
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < 1.0:  # over three read timeouts in all
            link = EnquireLink(sequence_number=client.next_seq()).encode()
            await client.send(link[:7])
            await asyncio.sleep(0.1)
            await client.send(link[7:])
            assert isinstance(await client.recv(), EnquireLinkResp)
        assert smsc.stats["read_timeouts"] == 0


async def test_the_ismg_closes_a_slowloris_too() -> None:
    async with ismg_running(read_timeout=0.3, enquire_link_timeout=0) as ismg:
        client = await CmppClient.connect(ismg.port)
        assert (await client.login()).status == 0
        trickle = asyncio.ensure_future(
            slowloris(client.writer, struct.pack(">III", 200, 0x00000004, 1) + b"\0" * 188))
        try:
            assert await client.wait_closed(3.0) == []
        finally:
            trickle.cancel()
        assert ismg.stats["read_timeouts"] == 1


def test_the_limits_are_in_the_smsc_stats() -> None:
    stats = FakeSMSC().stats
    for name in ("connections_evicted", "pre_bind_timeouts", "idle_timeouts", "read_timeouts"):
        assert stats[name] == 0
