"""Fake SMSC: fault injection (drops, stalls, garbage, refused binds, restart), scheduled
faults, and the bounds that protect it (max connections, max PDU length, silent binds)."""

from __future__ import annotations

import asyncio

import pytest

from smsengine.fakesmsc import Account, Config, Delay, FakeSMSC, FaultSchedule, ReceiptConfig
from smsengine.smpp import (
    BindTransmitter,
    BindTransmitterResp,
    CommandStatus,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    FramingError,
    InvalidPdu,
    Tag,
    Unbind,
)
from tests._support.smpp_client import Closed, SmppClient, eventually, running

S = CommandStatus
TWO = Config(accounts=[Account("shop", "secret"), Account("other", "pw")])


async def bound(smsc: FakeSMSC, system_id: str = "shop", password: str = "secret",
                mode: str = "transceiver") -> SmppClient:
    c = await SmppClient.connect(smsc.port)
    assert (await c.bind(mode, system_id, password)).ok
    return c


async def ping(c: SmppClient, timeout: float = 2.0) -> EnquireLinkResp:
    resp = await c.request(EnquireLink(sequence_number=c.next_seq()), timeout)
    assert isinstance(resp, EnquireLinkResp)
    return resp


async def test_drop_connections_of_one_account() -> None:
    async with running(TWO) as smsc:
        shop, other = await bound(smsc), await bound(smsc, "other", "pw")
        assert smsc.drop_connections("shop") == 1
        assert await shop.wait_closed() == []
        await ping(other)
        await eventually(lambda: [b.account for b in smsc.binds] == ["other"])
        assert smsc.drop_connections() == 1
        assert await other.wait_closed() == []
        assert smsc.stats["faults_dropped"] == 2


async def test_drop_after_pdus_answers_that_many_then_closes(smsc: FakeSMSC) -> None:
    smsc.drop_after_pdus(3)
    c = await bound(smsc)  # PDU 1
    await ping(c)  # 2
    await ping(c)  # 3: answered, then the connection goes
    assert await c.wait_closed() == []
    assert smsc.stats["faults_dropped"] == 1


async def test_drop_after_pdus_counts_inside_a_batch() -> None:
    async with running(Config(faults=FaultSchedule(drop_after_pdus=3))) as smsc:
        c = await SmppClient.connect(smsc.port)
        bind = BindTransmitter(sequence_number=c.next_seq(), system_id="x")
        await c.send(bind, *(EnquireLink(sequence_number=c.next_seq()) for _ in range(4)))
        got = await c.wait_closed()
        assert [type(p) for p in got] == [BindTransmitterResp, EnquireLinkResp,
                                          EnquireLinkResp]
        # Turned off again, connections live on.
        smsc.drop_after_pdus(0)
        c = await bound(smsc)
        for _ in range(4):
            await ping(c)


async def test_drop_every_schedule() -> None:
    async with running(Config(faults=FaultSchedule(drop_every=0.3))) as smsc:
        c = await bound(smsc)
        assert await c.wait_closed(timeout=2.0) == []
        c = await bound(smsc)  # reconnecting works, and is dropped again later
        assert await c.wait_closed(timeout=2.0) == []
        assert smsc.stats["faults_dropped"] >= 2


async def test_stall_read_then_resume(smsc: FakeSMSC) -> None:
    c = await bound(smsc)
    smsc.stall("read")
    await c.send(EnquireLink(sequence_number=41))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(c.recv(), 0.3)
    late = await SmppClient.connect(smsc.port)  # a new connection is not read either
    await late.send(EnquireLink(sequence_number=1))
    with pytest.raises(TimeoutError):
        await late.recv(timeout=0.2)
    smsc.resume()
    resp = await c.recv()
    assert isinstance(resp, EnquireLinkResp) and resp.sequence_number == 41
    assert isinstance(await late.recv(), EnquireLinkResp)


async def test_stall_answer_reads_and_forgets(smsc: FakeSMSC) -> None:
    c = await bound(smsc)
    smsc.stall("answer")
    await c.send(EnquireLink(sequence_number=50), c.submit_sm())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(c.recv(), 0.3)
    smsc.resume()
    resp = await ping(c)  # the next response is for the new request: the others are lost
    assert resp.sequence_number != 50
    assert len(smsc.ledger) == 0
    assert (await c.submit()).ok


def test_stall_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="stall mode"):
        FakeSMSC().stall("sideways")


async def test_send_garbage_breaks_the_clients_framing() -> None:
    async with running(TWO) as smsc:
        shop, other = await bound(smsc), await bound(smsc, "other", "pw")
        assert smsc.send_garbage(account="shop") == 1
        with pytest.raises(FramingError):
            await shop.recv()
        await ping(other)


async def test_send_garbage_that_frames_as_an_unknown_pdu(smsc: FakeSMSC) -> None:
    c = await bound(smsc)
    assert smsc.send_garbage(bytes.fromhex("00000010" "0000abcd" "00000000" "00000007")) == 1
    event = await c.recv()
    assert isinstance(event, InvalidPdu)
    assert event.status == S.ESME_RINVCMDID


async def test_refuse_binds_then_accept(smsc: FakeSMSC) -> None:
    smsc.refuse_binds(0.3)
    c = await SmppClient.connect(smsc.port)
    assert (await c.bind()).command_status == S.ESME_RBINDFAIL
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while (await c.bind()).command_status == S.ESME_RBINDFAIL:
        assert loop.time() < deadline, "binds still refused"
        await asyncio.sleep(0.05)
    assert len(smsc.binds) == 1
    assert smsc.stats["binds_refused"] >= 1


async def test_refuse_binds_from_start_by_config() -> None:
    async with running(Config(faults=FaultSchedule(refuse_binds_for=0.3))) as smsc:
        c = await SmppClient.connect(smsc.port)
        assert (await c.bind()).command_status == S.ESME_RBINDFAIL
        await eventually(lambda: smsc._loop.time() >= smsc._refuse_binds_until)
        assert (await c.bind()).ok


async def test_restart_loses_binds_keeps_ledger_and_pending_receipts() -> None:
    cfg = Config(receipts=ReceiptConfig(delay=Delay("fixed", value=0.3)))
    async with running(cfg) as smsc:
        port = smsc.port
        c = await bound(smsc)
        mid = (await c.submit(registered_delivery=1)).message_id  # type: ignore[attr-defined]
        restarting = asyncio.ensure_future(smsc.restart(down_for=0.5))
        assert await c.wait_closed() == []
        with pytest.raises(ConnectionRefusedError):
            await SmppClient.connect(port)
        assert not restarting.done()
        await restarting
        assert smsc.port == port
        assert smsc.binds == []
        assert [e.message_id for e in smsc.ledger] == [mid]
        assert smsc.stats["restarts"] == 1
        c = await bound(smsc, mode="receiver")
        receipt = await c.expect(DeliverSm)
        assert receipt.tlv(Tag.receipted_message_id) == mid
        await c.send(receipt.response())
        tx = await bound(smsc, mode="transmitter")
        assert (await tx.submit()).ok
        assert len(smsc.ledger) == 2


async def test_restart_without_down_time(smsc: FakeSMSC) -> None:
    c = await bound(smsc)
    await smsc.restart()
    assert await c.wait_closed() == []
    c = await bound(smsc)
    await ping(c)


async def test_silent_binds_are_closed_after_enquire_link_timeout() -> None:
    async with running(Config(enquire_link_timeout=0.5)) as smsc:
        silent = await bound(smsc)
        chatty = await bound(smsc)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        while True:
            assert loop.time() < deadline, "the silent bind was not closed"
            await ping(chatty)  # heard from every 0.1 s: never closed
            try:
                pdu = await silent.recv(timeout=0.1)
            except TimeoutError:
                continue
            except Closed:
                break
            raise AssertionError(f"unexpected {pdu!r}")
        await ping(chatty)


async def test_max_connections() -> None:
    async with running(Config(max_connections=1)) as smsc:
        first = await bound(smsc)
        extra = await SmppClient.connect(smsc.port)
        assert await extra.wait_closed() == []
        assert smsc.stats["connections_refused"] == 1
        await ping(first)


async def test_pdu_longer_than_max_pdu_length_closes_the_connection() -> None:
    async with running(Config(max_pdu_length=100)) as smsc:
        c = await bound(smsc)
        assert (await c.submit(short_message=b"x" * 40)).ok
        await c.send(c.submit_sm(short_message=b"x" * 150))
        assert await c.wait_closed() == []
        assert smsc.stats["framing_errors"] == 1
        assert len(smsc.ledger) == 1


async def test_submit_during_unbind_is_refused(smsc: FakeSMSC) -> None:
    c = await bound(smsc)
    unbinding = asyncio.ensure_future(smsc.unbind_all(timeout=1.0))
    unbind = await c.expect(Unbind)
    resp = await c.submit()
    assert resp.command_status == S.ESME_RINVBNDSTS
    await c.send(unbind.response())
    await unbinding
    assert len(smsc.ledger) == 0
