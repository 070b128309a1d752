"""Fake SMSC: accounts and binds, bind errors, enquire_link, unbind both ways, bind states,
generic_nack for what an SMSC does not take."""

from __future__ import annotations

import pytest

from smsengine.fakesmsc import Account, Config, FakeSMSC
from smsengine.smpp import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CommandStatus,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
)
from tests._support.smpp_client import SmppClient, eventually, running

S = CommandStatus

SHOP = Account("shop", "secret", bind_modes=["transmitter", "transceiver"], max_binds=2)
CONFIG = Config(accounts=[SHOP, Account("rx", "pw", bind_modes=["receiver"])])


@pytest.mark.parametrize(
    ("mode", "resp_class"),
    [("transmitter", BindTransmitterResp), ("transceiver", BindTransceiverResp)],
)
async def test_bind_succeeds_and_is_listed(mode: str, resp_class: type) -> None:
    async with FakeSMSC(Config(accounts=[SHOP], system_id="carrier")) as smsc:
        c = await SmppClient.connect(smsc.port)
        resp = await c.bind(mode)
        assert isinstance(resp, resp_class)
        assert resp.command_status == 0
        assert resp.system_id == "carrier"  # type: ignore[attr-defined]
        assert resp.tlv(Tag.sc_interface_version) == 0x34
        [info] = smsc.binds
        assert (info.account, info.mode) == ("shop", mode)
        assert smsc.stats["binds"] == 1
        await c.close()


async def test_receiver_bind() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        resp = await c.bind("receiver", "rx", "pw")
        assert isinstance(resp, BindReceiverResp) and resp.ok
        assert [b.mode for b in smsc.binds] == ["receiver"]


@pytest.mark.parametrize(
    ("system_id", "password", "mode", "status"),
    [
        ("shop", "wrong", "transmitter", S.ESME_RINVPASWD),
        ("nobody", "secret", "transmitter", S.ESME_RINVSYSID),
        ("shop", "secret", "receiver", S.ESME_RBINDFAIL),  # mode not allowed for the account
        ("rx", "pw", "transceiver", S.ESME_RBINDFAIL),
    ],
)
async def test_bind_errors(system_id: str, password: str, mode: str, status: int) -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        resp = await c.bind(mode, system_id, password)
        assert resp.command_status == status
        assert smsc.binds == []
        assert smsc.stats["binds_refused"] == 1
        # The connection stays open and a correct bind then works.
        ok = await c.bind("transmitter")
        assert ok.command_status == 0


async def test_max_binds_reached_is_already_bound() -> None:
    async with running(CONFIG) as smsc:
        clients = [await SmppClient.connect(smsc.port) for _ in range(3)]
        statuses = [(await c.bind("transmitter")).command_status for c in clients]
        assert statuses == [0, 0, S.ESME_RALYBND]
        assert len(smsc.binds) == 2
        # Closing one frees its slot.
        await clients[0].close()
        await eventually(lambda: len(smsc.binds) == 1)
        assert (await clients[2].bind("transmitter")).command_status == 0


async def test_bind_on_a_bound_connection_is_already_bound() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        assert (await c.bind("transmitter")).ok
        again = await c.bind("transceiver")
        assert again.command_status == S.ESME_RALYBND
        assert [b.mode for b in smsc.binds] == ["transmitter"]


async def test_open_mode_accepts_any_credentials(smsc: FakeSMSC) -> None:
    assert smsc.config.open_mode
    a = await SmppClient.connect(smsc.port)
    b = await SmppClient.connect(smsc.port)
    assert (await a.bind("transceiver", "anyone", "x")).ok
    assert (await b.bind("receiver", "", "")).ok
    assert sorted(i.account for i in smsc.binds) == ["anyone", "open"]


async def test_enquire_link_before_and_after_bind() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        resp = await c.request(EnquireLink(sequence_number=c.next_seq()))
        assert isinstance(resp, EnquireLinkResp) and resp.ok
        await c.bind("transmitter")
        resp = await c.request(EnquireLink(sequence_number=77))
        assert isinstance(resp, EnquireLinkResp) and resp.sequence_number == 77


async def test_client_unbind_gets_unbind_resp_and_close() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.bind("transmitter")
        resp = await c.request(Unbind(sequence_number=c.next_seq()))
        assert isinstance(resp, UnbindResp) and resp.ok
        assert await c.wait_closed() == []
        await eventually(lambda: smsc.binds == [])


async def test_server_unbind_all() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.bind("transceiver")
        unbound = smsc._loop.create_task(smsc.unbind_all(timeout=2.0))
        unbind = await c.expect(Unbind)
        await c.send(unbind.response())
        assert await c.wait_closed() == []
        await unbound
        assert smsc.binds == []


async def test_server_unbind_all_closes_clients_that_do_not_answer() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.bind("transceiver")
        await smsc.unbind_all(timeout=0.2)
        assert isinstance(await c.recv(), Unbind)
        assert await c.wait_closed() == []


async def test_stop_unbinds_clients() -> None:
    smsc = FakeSMSC(CONFIG)
    await smsc.start()
    c = await SmppClient.connect(smsc.port)
    await c.bind("transmitter")
    stopping = smsc._loop.create_task(smsc.stop())
    unbind = await c.expect(Unbind)
    await c.send(unbind.response())
    await stopping
    assert await c.wait_closed() == []


async def test_submit_before_bind_is_invalid_bind_status() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        resp = await c.submit()
        assert isinstance(resp, SubmitSmResp)
        assert resp.command_status == S.ESME_RINVBNDSTS
        assert len(smsc.ledger) == 0


async def test_submit_on_receiver_bind_is_invalid_bind_status() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.bind("receiver", "rx", "pw")
        resp = await c.submit()
        assert resp.command_status == S.ESME_RINVBNDSTS
        assert len(smsc.ledger) == 0


async def test_unbind_before_bind_is_invalid_bind_status() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        resp = await c.request(Unbind(sequence_number=c.next_seq()))
        assert isinstance(resp, UnbindResp)
        assert resp.command_status == S.ESME_RINVBNDSTS


async def test_unknown_command_id_gets_generic_nack() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.send(bytes.fromhex("00000010" "00000099" "00000000" "00000005"))
        nack = await c.expect(GenericNack)
        assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDID, 5)
        assert smsc.stats["invalid_pdus"] == 1
        # The connection lives on.
        assert (await c.bind("transmitter")).ok


@pytest.mark.parametrize("pdu", [DeliverSm(sequence_number=9, short_message=b"x"),
                                 Outbind(sequence_number=9, system_id="x")])
async def test_pdus_only_an_smsc_sends_get_generic_nack(pdu: DeliverSm | Outbind) -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.bind("transceiver")
        await c.send(pdu)
        nack = await c.expect(GenericNack)
        assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDID, 9)


async def test_malformed_body_gets_specific_response() -> None:
    async with running(CONFIG) as smsc:
        c = await SmppClient.connect(smsc.port)
        await c.bind("transmitter")
        # A submit_sm cut short after source_addr_ton: framed fine, body malformed.
        await c.send(bytes.fromhex("00000013" "00000004" "00000000" "00000003" "000001"))
        resp = await c.recv()
        assert isinstance(resp, SubmitSmResp), resp
        assert resp.sequence_number == 3
        assert resp.command_status not in (0, S.ESME_RINVCMDID)
        assert smsc.stats["invalid_pdus"] == 1
        assert len(smsc.ledger) == 0
