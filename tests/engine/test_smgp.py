"""The engine with ``protocol = "smgp"`` channels against the fake SMGW over 127.0.0.1: long
Chinese notices in UCS2 and GB18030 with every status report correlated, SMGP 2.0, Status 1
throttling absorbed by flow control, report states other than DELIVRD, the SMSGate-style report
variant, MO reassembly with 退订 honoured, and a refused Login raising the alarm with a long
back-off.

Every wait is a condition with a deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from smsengine.bind import BindEvent
from smsengine.engine import (
    Engine,
    Message,
    MessageRefusedError,
    MessageState,
    MoMessage,
    engine_config_from_dict,
)
from smsengine.fakesmsc import FakeSMGW, config_from_dict
from smsengine.smgp import MsgId, Status, Submit
from tests._support.smpp_client import eventually

SP = {"system_id": "sp001", "password": "secret"}

NOTICE = ("【商城】尊敬的会员，您的订单已由顺丰速运发出，运单号SF1234567890，预计明天送达。"  # noqa: RUF001
          "如有疑问请致电客服热线400-800-1234，我们将竭诚为您服务。回T退订")  # noqa: RUF001


def smgw_config(**fields: Any) -> Any:
    fields.setdefault("accounts", [SP])
    return config_from_dict({"protocol": "smgp", **fields})


def smgp_channel(port: int, name: str = "ct", **fields: Any) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": port, "protocol": "smgp",
            "default_source": "10690001", "service_id": "MALL", **SP, **fields}


@asynccontextmanager
async def running(smgw_fields: dict[str, Any] | None = None, *, engine_fields: dict[str, Any]
                  | None = None, **channel_fields: Any) -> AsyncIterator[tuple[FakeSMGW, Engine]]:
    async with FakeSMGW(smgw_config(**(smgw_fields or {}))) as smgw:
        config = engine_config_from_dict({
            "channels": [smgp_channel(smgw.port, **channel_fields)], **(engine_fields or {})})
        async with Engine(config) as engine:
            await engine.wait_ready(5)
            yield smgw, engine


def number(i: int) -> str:
    return f"1331234{i:04d}"


async def test_long_chinese_notices_and_short_codes_all_delivered_and_correlated() -> None:
    async with running() as (smgw, engine):
        long_ = [await engine.send(destination=number(i), text=NOTICE * 2) for i in range(20)]
        short = [await engine.send(destination=number(100 + i), text=f"Code {i:06d}",
                                   kind="otp") for i in range(50)]
        for handle in long_ + short:
            assert await handle.wait(10) is MessageState.DELIVERED
        assert {len(h.segments) for h in long_} == {3}
        assert {len(h.segments) for h in short} == {1}
        entries = smgw.ledger.entries()
        assert len(entries) == 20 * 3 + 50
        # Every segment's id is the SMGW's MsgID in its canonical text (here BCD digits).
        ids = {e.message_id for e in entries}
        assert {s.message_id for h in long_ + short for s in h.segments} == ids
        first = MsgId.from_text(next(iter(ids)))
        assert first.is_bcd and first.parts().smgw_code == smgw.config.smgp.smgw_code
        counters = engine.channels["ct"].counters
        assert counters["receipts_matched"] + counters["receipts_early"] == 110
        assert counters["receipts_unmatched"] == 0


async def test_submit_fields_carry_the_udh_tlvs_msg_format_and_the_account() -> None:
    async with running() as (_, engine):
        handle = await engine.send(destination=number(1), text=NOTICE * 2)
        assert await handle.wait(10) is MessageState.DELIVERED
        seen: list[Submit] = [s.pdu for s in handle.segments]  # type: ignore[attr-defined]
    assert [(p.pk_total, p.pk_number, p.tp_udhi, p.msg_format) for p in seen] == [
        (3, 1, 1, 8), (3, 2, 1, 8), (3, 3, 1, 8)]
    assert len({p.msg_content[3] for p in seen}) == 1  # one UDH reference for the three
    assert all(p.msg_content[:3] == b"\x05\x00\x03" and p.msg_content[4] == 3 for p in seen)
    first = seen[0]
    assert (first.service_id, first.src_term_id, first.dest_term_ids, first.need_report,
            first.fee_type, first.fixed_fee) == (
        "MALL", "10690001", (number(1),), 1, "01", "000000")


async def test_gb18030_and_ascii_formats() -> None:
    async with running(encodings=["ascii", "gb18030"]) as (_, engine):
        chinese = await engine.send(destination=number(1), text=NOTICE)
        latin = await engine.send(destination=number(2), text="Your code is 402113")
        assert await chinese.wait(10) is MessageState.DELIVERED
        assert await latin.wait(10) is MessageState.DELIVERED
        pdus = [s.pdu for s in chinese.segments]  # type: ignore[attr-defined]
        assert {p.msg_format for p in pdus} == {15}
        assert b"".join(p.msg_content[6:] for p in pdus).decode("gb18030") == NOTICE
        assert latin.segments[0].pdu.msg_format == 0  # type: ignore[attr-defined]


async def test_smgp_20_end_to_end() -> None:
    async with running(smgp_version="2.0") as (smgw, engine):
        handles = [await engine.send(destination=number(i), text=NOTICE) for i in range(10)]
        for handle in handles:
            assert await handle.wait(10) is MessageState.DELIVERED
        assert smgw.binds[0].mode == "SMGP 2.0 transceiver"


async def test_the_smsgate_report_layout_correlates_too() -> None:
    async with running({"smgp": {"report_style": "smsgate"}}) as (_, engine):
        handles = [await engine.send(destination=number(i), text="Code 1") for i in range(20)]
        for handle in handles:
            assert await handle.wait(10) is MessageState.DELIVERED


async def test_report_states_roll_up_with_the_stat_and_err() -> None:
    receipts = {"receipts": {"statuses": {"UNDELIV": 1.0}, "err_codes": {"UNDELIV": "005"}}}
    async with running(receipts) as (_, engine):
        handle = await engine.send(destination=number(1), text="Code 1")
        assert await handle.wait(10) is MessageState.UNDELIVERABLE
        assert handle.reason is not None
        assert (handle.reason.stat, handle.reason.err) == ("UNDELIV", "005")


async def test_status_1_is_throttling_and_every_message_still_goes() -> None:
    # The SMGW allows 100 submits a second; the channel starts unlimited with a 16 window.
    async with running({"accounts": [{**SP, "tps": 100}]}) as (smgw, engine):
        handles = [await engine.send(destination=number(i), text=f"Code {i}",
                                     registered_delivery=False) for i in range(300)]
        for handle in handles:
            assert await handle.wait(20) is MessageState.SUBMITTED
        channel = engine.channels["ct"]
        assert channel.counters["throttled"] > 0  # the SMGW really answered Status 1
        assert channel.counters["failed"] == 0
        assert smgw.stats["throttled"] == channel.counters["throttled"]
        assert len(smgw.ledger.entries()) == 300


async def test_other_statuses_fail_with_the_smgp_status() -> None:
    async with running({"errors": {"INVALID_SERVICE_ID": 1.0}}) as (_, engine):
        handle = await engine.send(destination=number(1), text="Code 1")
        assert await handle.wait(10) is MessageState.FAILED
        assert handle.status == Status.INVALID_SERVICE_ID
        assert handle.error is not None and not handle.error.retriable


async def test_mo_long_message_reassembled_and_opt_out_suppresses_marketing() -> None:
    received: list[MoMessage] = []
    async with running() as (smgw, engine):
        engine.on_mo(received.append)
        assert (await smgw.inject_mo(number(7), "106900017", NOTICE * 2, data_coding=8)).ok
        assert (await smgw.inject_mo(number(8), "106900017", "退订", data_coding=15,
                                     link_id="1234567890")).ok
        await eventually(lambda: len(received) == 2, 5)
        long_mo = next(m for m in received if m.source == number(7))
        assert long_mo.text == NOTICE * 2 and long_mo.complete
        assert long_mo.destination == "106900017"
        with pytest.raises(MessageRefusedError):
            await engine.send(destination=number(8), text="Sale!", kind="marketing")
        otp = await engine.send(destination=number(8), text="Code 1", kind="otp")
        assert await otp.wait(10) is MessageState.DELIVERED


async def test_a_refused_login_raises_the_alarm_and_backs_off_long() -> None:
    async with FakeSMGW(smgw_config()) as smgw:
        config = engine_config_from_dict({"channels": [
            smgp_channel(smgw.port, password="wrong")]})
        async with Engine(config) as engine:
            channel = engine.channels["ct"]
            events: list[BindEvent] = []
            forward = channel._on_event

            def record(event: BindEvent) -> None:
                events.append(event)
                forward(event)

            channel._on_event = record  # (nothing has connected yet: start() awaits no I/O)
            await eventually(lambda: channel.alarm, 5)
            assert not channel.bound
            assert smgw.stats["binds_refused"] == 1
            with pytest.raises(MessageRefusedError) as refused:
                await engine.send(destination=number(1), text="Code 1")
            assert refused.value.retriable
            await eventually(lambda: any(e.kind == "reconnect_scheduled" for e in events), 5)
            delays = [e.delay for e in events if e.kind == "reconnect_scheduled"]
            assert delays and min(d or 0 for d in delays) >= 60
            assert [e.kind for e in events].count("alarm") == 1


async def test_a_sender_smgp_cannot_carry_is_refused_naming_the_field() -> None:
    async with running() as (smgw, engine):
        with pytest.raises(MessageRefusedError) as refused:
            engine.submit(Message(destination=number(2), text="Code 3", source="1" * 22))
        assert not refused.value.retriable and refused.value.field == "source"
        ok = await engine.send(destination=number(1), text="Code 2")
        assert await ok.wait(10) is MessageState.DELIVERED
        assert len(smgw.ledger.entries()) == 1
