"""What the engine refuses or corrects at submit, and what it never sends late (issue 16 items
1, 2 and 7): kinds are the configured lanes (case folded, anything else refused, so the
opt-out cannot be bypassed by a misspelt kind), destinations are digits with an optional +,
empty texts and over-long messages are refused with the field named, and a message whose
validity lapses while it waits ends EXPIRED and never reaches the carrier."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from smsengine.engine import Engine, Message, MessageRefusedError, MessageState
from smsengine.engine.model import MessageExpiredError
from smsengine.fakesmsc import FakeSMSC
from smsengine.smpp import CommandStatus
from tests.engine.test_e2e import channel, engine_config, finished, running, smsc_config

OPTED_OUT = "8613800000001"


# --- 1. kinds -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["marketing", "Marketing", "MARKETING", " marketing ",
                                  "mArKeTiNg"])
async def test_every_casing_of_marketing_is_marketing_and_respects_the_opt_out(kind: str) -> None:
    async with running() as (smsc, engine):
        engine.suppress(OPTED_OUT)
        with pytest.raises(MessageRefusedError, match="opted out") as refused:
            await engine.send(destination=OPTED_OUT, text="Sale!", kind=kind)
        assert refused.value.status == CommandStatus.ESME_RX_R_APPN
        assert smsc.ledger.entries() == []


@pytest.mark.parametrize("kind", ["marketting", "market", "promo", "", "otp2", "notifications"])
async def test_an_unknown_kind_is_refused_naming_the_known_ones(kind: str) -> None:
    async with running() as (smsc, engine):
        with pytest.raises(MessageRefusedError) as refused:
            await engine.send(destination="8613800138000", text="hi", kind=kind)
        assert "otp, notification, marketing" in str(refused.value)
        assert repr(kind) in str(refused.value)
        assert not refused.value.retriable
        assert engine.stats()["tracked"] == 0 and smsc.ledger.entries() == []


async def test_send_many_refuses_a_misspelt_marketing_kind_and_goes_on() -> None:
    async with running() as (_, engine):
        engine.suppress(OPTED_OUT)
        handles = await engine.send_many([
            Message(destination=OPTED_OUT, text="Sale", kind="marketting"),
            Message(destination=OPTED_OUT, text="Sale", kind="Marketing"),
            Message(destination="8613800138000", text="Sale", kind="MARKETING"),
        ])
        states = await finished(handles)
        assert states == [MessageState.FAILED, MessageState.FAILED, MessageState.DELIVERED]
        assert handles[2].message.kind == "marketing"


async def test_an_upper_case_otp_takes_the_otp_lane() -> None:
    async with running(tps=20) as (_, engine):
        campaign = await engine.send_many(
            Message(destination=f"86138{i:08d}", text="Sale", kind="marketing")
            for i in range(40))
        code = await engine.send(destination="8613900000000", text="Code 1234", kind="OTP")
        assert code.message.kind == "otp"
        assert await code.wait(5) is MessageState.DELIVERED
        # It went ahead of the campaign, most of which is still queued.
        assert sum(not h.final for h in campaign) > 20
        await finished(campaign, 15)


# --- 7. input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("destination", ["86138abcdefgh", "+86 138 0013 8000", "++8613800138000",
                                         "8613800138000+", "١٢٣٤٥٦", "-1", "+"])
async def test_a_destination_that_is_not_a_number_is_refused(destination: str) -> None:
    async with running() as (smsc, engine):
        with pytest.raises(MessageRefusedError, match="destination") as refused:
            await engine.send(destination=destination, text="hi")
        assert refused.value.status == CommandStatus.ESME_RINVDSTADR
        assert smsc.ledger.entries() == []


@pytest.mark.parametrize(("plus", "country_code", "sent"), [
    ("strip", "", "8613800138000"),
    ("keep", "", "+8613800138000"),
    ("national", "86", "13800138000"),
])
async def test_a_leading_plus_is_normalised_per_channel(plus: str, country_code: str,
                                                         sent: str) -> None:
    async with running(plus=plus, country_code=country_code) as (smsc, engine):
        handle = await engine.send(destination="+8613800138000", text="hi")
        assert await handle.wait(5) is MessageState.DELIVERED
        long = await engine.send(destination="+8613800138000", text="x" * 300)
        assert await long.wait(5) is MessageState.DELIVERED
        assert {e.destination_addr for e in smsc.ledger.entries()} == {sent}


async def test_national_needs_a_country_code() -> None:
    from smsengine.engine import EngineConfigError

    with pytest.raises(EngineConfigError, match="country_code"):
        engine_config(1, channels=[channel(1, plus="national")])


@pytest.mark.parametrize("fields", [{"text": ""}, {"data": b""}])
async def test_an_empty_message_is_refused(fields: dict[str, Any]) -> None:
    async with running() as (smsc, engine):
        with pytest.raises(MessageRefusedError, match="empty") as refused:
            await engine.send(destination="8613800138000", **fields)
        assert refused.value.status == CommandStatus.ESME_RINVMSGLEN
        assert smsc.ledger.entries() == []


async def test_more_parts_than_the_channel_allows_is_refused_with_the_count() -> None:
    async with running(max_parts=3) as (_, engine):
        # 5 000 GSM 7-bit characters: 33 parts of 153.
        with pytest.raises(MessageRefusedError, match=r"33 parts.*at most 3") as refused:
            await engine.send(destination="8613800138000", text="x" * 5000)
        assert refused.value.status == CommandStatus.ESME_RINVMSGLEN
        three = await engine.send(destination="8613800138000", text="x" * 400)
        assert len(three.segments) == 3 and await three.wait(5) is MessageState.DELIVERED


async def test_the_default_limit_is_ten_parts() -> None:
    async with running() as (_, engine):
        with pytest.raises(MessageRefusedError, match="at most 10"):
            await engine.send(destination="8613800138000", text="x" * 5000)


# --- 2. local expiry ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_code_whose_validity_lapses_while_the_link_is_down_expires_and_is_never_sent(
        ) -> None:
    port = _free_port()
    config = engine_config(port, channels=[channel(port)])
    async with Engine(config) as engine:  # nothing listens on port: the link is down
        stale = await engine.send(destination="8613800138000", text="Code 1", kind="otp",
                                  validity=1)
        fresh = await engine.send(destination="8613800138001", text="Code 2", kind="otp",
                                  validity=120)
        assert await stale.wait(10) is MessageState.EXPIRED
        assert isinstance(stale.error, MessageExpiredError) and not stale.error.retriable
        assert "validity" in str(stale.error) and stale.segments[0].state is MessageState.EXPIRED
        async with FakeSMSC(smsc_config(), port=port) as smsc:  # the link comes back
            assert await fresh.wait(30) is MessageState.DELIVERED
            assert [e.destination_addr for e in smsc.ledger.entries()] == ["8613800138001"]


async def test_a_code_gets_the_lanes_default_validity() -> None:
    async with running() as (_, engine):
        code = await engine.send(destination="8613800138000", text="Code 1", kind="otp")
        notice = await engine.send(destination="8613800138000", text="Shipped")
        assert code.expires_at == pytest.approx(code.queued_at + 300)
        assert notice.expires_at is None
        await finished([code, notice])


async def test_a_lane_validity_is_configurable_and_a_message_validity_wins() -> None:
    port = _free_port()
    config = engine_config(port, channels=[channel(port)], validity={"otp": 1.0})
    async with Engine(config) as engine:
        code = await engine.send(destination="8613800138000", text="Code 1", kind="otp")
        own = await engine.send(destination="8613800138000", text="Code 2", kind="otp",
                                validity=60)
        assert await code.wait(10) is MessageState.EXPIRED
        assert own.expires_at == pytest.approx(own.queued_at + 60) and not own.final


async def test_an_expired_message_left_in_the_lanes_is_skipped_by_the_dispatcher() -> None:
    # Link up but throttled to 2 TPS: the queue is long; short-lived messages behind it expire
    # in the lane and the dispatcher passes over them.
    async with running(tps=2) as (smsc, engine):
        handles = await engine.send_many(
            Message(destination=f"86138{i:08d}", text="Sale", kind="marketing", validity=1)
            for i in range(10))
        states = await finished(handles, 10)
        expired = [h for h, s in zip(handles, states, strict=True) if s is MessageState.EXPIRED]
        assert len(expired) >= 5
        sent = {e.destination_addr for e in smsc.ledger.entries()}
        assert not sent & {h.message.destination for h in expired}


@pytest.mark.parametrize(("opted", "sent"), [("8613800000001", "+8613800000001"),
                                             ("+8613800000001", "8613800000001")])
async def test_an_opt_out_holds_whether_the_number_is_written_with_a_plus_or_not(
        opted: str, sent: str) -> None:
    async with running() as (smsc, engine):
        engine.suppress(opted)
        with pytest.raises(MessageRefusedError, match="opted out"):
            await engine.send(destination=sent, text="Sale!", kind="marketing")
        assert smsc.ledger.entries() == []
        engine.unsuppress(sent)
        handle = await engine.send(destination=sent, text="Sale!", kind="marketing")
        assert await handle.wait(5) is MessageState.DELIVERED


async def test_max_parts_counts_what_the_carrier_bills_for_a_message_payload() -> None:
    async with running(split="payload", max_parts=3) as (smsc, engine):
        with pytest.raises(MessageRefusedError, match=r"33 parts \(sent whole in message_payload"):
            await engine.send(destination="8613800138000", text="x" * 5000)
        fits = await engine.send(destination="8613800138000", text="x" * 400)  # 3 parts
        assert len(fits.segments) == 1 and await fits.wait(5) is MessageState.DELIVERED
        assert len(smsc.ledger.entries()) == 1
