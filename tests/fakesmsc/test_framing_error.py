"""The fake servers answer what came before garbage (issue 16, item 8): good PDUs followed by a
length no framer can take, in one read, are each answered before the connection closes."""

from __future__ import annotations

from smsengine.cmpp import SubmitResp as CmppSubmitResp
from smsengine.fakesmsc import FakeISMG, FakeSMSC
from smsengine.smpp import EnquireLinkResp, SubmitSmResp
from tests._support.cmpp_client import CmppClient
from tests._support.smpp_client import SmppClient

GARBAGE = b"\xde\xad\xbe\xef" * 8  # a command_length of 0xdeadbeef


async def test_the_fake_smsc_answers_what_came_before_garbage(smsc: FakeSMSC) -> None:
    client = await SmppClient.connect(smsc.port)
    assert (await client.bind()).command_status == 0
    first, second = client.submit_sm(), client.submit_sm(destination_addr="8613800138001")
    await client.send(first, second, GARBAGE)
    answers = await client.wait_closed()
    assert [(type(p), p.sequence_number) for p in answers] == [
        (SubmitSmResp, first.sequence_number), (SubmitSmResp, second.sequence_number)]
    assert all(p.command_status == 0 for p in answers)  # type: ignore[union-attr]
    assert smsc.stats["framing_errors"] == 1
    assert len(smsc.ledger.entries()) == 2  # accepted, as their answers said
    await client.close()


async def test_the_fake_smsc_closes_at_once_on_garbage_alone(smsc: FakeSMSC) -> None:
    client = await SmppClient.connect(smsc.port)
    assert (await client.bind()).command_status == 0
    await client.send(GARBAGE)
    assert await client.wait_closed() == []
    assert smsc.stats["framing_errors"] == 1
    await client.close()


async def test_the_fake_ismg_answers_what_came_before_garbage(ismg: FakeISMG) -> None:
    client = await CmppClient.connect(ismg.port)
    await client.login()
    submit = client.submit_pdu()
    await client.send(submit, GARBAGE)
    answers = await client.wait_closed()
    assert [(type(p), p.sequence_id) for p in answers] == [  # type: ignore[union-attr]
        (CmppSubmitResp, submit.sequence_id)]
    assert ismg.stats["framing_errors"] == 1
    await client.close()


async def test_an_enquire_link_before_garbage_is_answered(smsc: FakeSMSC) -> None:
    from smsengine.smpp import EnquireLink

    client = await SmppClient.connect(smsc.port)
    assert (await client.bind()).command_status == 0
    link = EnquireLink(sequence_number=client.next_seq())
    await client.send(link, GARBAGE)
    [answer] = await client.wait_closed()
    assert isinstance(answer, EnquireLinkResp) and answer.sequence_number == link.sequence_number
    await client.close()


async def test_answers_held_back_by_latency_still_go_out_before_the_close() -> None:
    from smsengine.fakesmsc import config_from_dict
    from tests._support.smpp_client import running

    config = config_from_dict({"latency": {"kind": "fixed", "value": 0.2}})
    async with running(config) as smsc:
        client = await SmppClient.connect(smsc.port)
        assert (await client.bind()).command_status == 0
        submit = client.submit_sm()
        await client.send(submit, GARBAGE)
        await client.send(client.submit_sm())  # (after the garbage: never read)
        answers = await client.wait_closed(timeout=3)
        assert [(type(p), p.sequence_number) for p in answers] == [
            (SubmitSmResp, submit.sequence_number)]
        await client.close()
