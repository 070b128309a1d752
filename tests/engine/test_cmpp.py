"""The engine with ``protocol = "cmpp"`` channels against the fake ISMG over 127.0.0.1: long
Chinese messages in UCS2 and GB18030 with their status reports all correlated, both protocol
versions, Result 8 throttling absorbed by flow control, reports of 60 octets on 3.0, report
states other than DELIVRD, MO reassembly with opt-out, a wrong shared secret (alarm, no retry
storm), and a mixed SMPP + CMPP engine routing by prefix.

Every wait is a condition with a deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from smsengine.bind import BindEvent
from smsengine.cmpp import Submit, SubmitResult, unpack_msg_id
from smsengine.engine import (
    Engine,
    Message,
    MessageRefusedError,
    MessageState,
    MoMessage,
    engine_config_from_dict,
)
from smsengine.fakesmsc import FakeISMG, FakeSMSC, config_from_dict
from tests._support.smpp_client import eventually

SP = {"system_id": "900001", "password": "888888"}

NOTICE = ("【商城】尊敬的会员，您的订单已由顺丰速运发出，运单号SF1234567890，预计明天送达。"  # noqa: RUF001
          "如有疑问请致电客服热线400-800-1234，我们将竭诚为您服务。回T退订")  # noqa: RUF001


def ismg_config(**fields: Any) -> Any:
    fields.setdefault("accounts", [SP])
    return config_from_dict({"protocol": "cmpp", **fields})


def cmpp_channel(port: int, name: str = "cm", **fields: Any) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": port, "protocol": "cmpp",
            "default_source": "10690001", "service_id": "MALL", **SP, **fields}


@asynccontextmanager
async def running(ismg_fields: dict[str, Any] | None = None, *, engine_fields: dict[str, Any]
                  | None = None, **channel_fields: Any) -> AsyncIterator[tuple[FakeISMG, Engine]]:
    async with FakeISMG(ismg_config(**(ismg_fields or {}))) as ismg:
        config = engine_config_from_dict({
            "channels": [cmpp_channel(ismg.port, **channel_fields)], **(engine_fields or {})})
        async with Engine(config) as engine:
            await engine.wait_ready(5)
            yield ismg, engine


def number(i: int) -> str:
    return f"1380013{i:04d}"


async def test_long_chinese_notices_and_short_codes_all_delivered_and_correlated() -> None:
    async with running() as (ismg, engine):
        long_ = [await engine.send(destination=number(i), text=NOTICE * 2) for i in range(20)]
        short = [await engine.send(destination=number(100 + i), text=f"Code {i:06d}",
                                   kind="otp") for i in range(50)]
        for handle in long_ + short:
            assert await handle.wait(10) is MessageState.DELIVERED
        # UCS2: 2 x 81 characters = 162 > 70, so three parts of at most 67.
        assert {len(h.segments) for h in long_} == {3}
        assert {len(h.segments) for h in short} == {1}
        entries = ismg.ledger.entries()
        assert len(entries) == 20 * 3 + 50
        # Every segment's id is the ISMG's Msg_Id, in the canonical decimal form.
        ids = {e.message_id for e in entries}
        assert {s.message_id for h in long_ + short for s in h.segments} == ids
        assert unpack_msg_id(int(next(iter(ids)))).gateway == ismg.config.cmpp.gateway_code
        counters = engine.channels["cm"].counters
        assert counters["receipts_matched"] + counters["receipts_early"] == 110
        assert counters["receipts_unmatched"] == 0


async def test_submit_fields_carry_pk_total_udhi_msg_fmt_and_the_account() -> None:
    seen: list[Submit] = []
    async with running() as (_, engine):
        handle = await engine.send(destination=number(1), text=NOTICE * 2)
        assert await handle.wait(10) is MessageState.DELIVERED
        channel = engine.channels["cm"]
        # What the engine built is what went out: read back from the PDUs it queued.
        seen = [s.pdu for s in handle.segments]  # type: ignore[attr-defined]
        assert channel.counters["segments"] == 3
    assert [(p.pk_total, p.pk_number, p.tp_udhi, p.msg_fmt) for p in seen] == [
        (3, 1, 1, 8), (3, 2, 1, 8), (3, 3, 1, 8)]
    refs = {p.msg_content[3] for p in seen}
    assert len(refs) == 1  # one UDH reference for the three parts
    assert all(p.msg_content[:3] == b"\x05\x00\x03" and p.msg_content[4] == 3 for p in seen)
    assert [p.msg_content[5] for p in seen] == [1, 2, 3]
    first = seen[0]
    assert (first.service_id, first.msg_src, first.src_id, first.dest_terminal_ids,
            first.registered_delivery, first.fee_user_type, first.fee_type) == (
        "MALL", "900001", "10690001", (number(1),), 1, 2, "01")


async def test_gb18030_and_ascii_formats() -> None:
    async with running(encodings=["ascii", "gb18030"]) as (_, engine):
        chinese = await engine.send(destination=number(1), text=NOTICE)
        latin = await engine.send(destination=number(2), text="Your code is 402113")
        assert await chinese.wait(10) is MessageState.DELIVERED
        assert await latin.wait(10) is MessageState.DELIVERED
        pdus = [s.pdu for s in chinese.segments]  # type: ignore[attr-defined]
        assert {p.msg_fmt for p in pdus} == {15}
        # GB18030: two octets per Chinese character; 81 characters in 140-octet parts.
        assert b"".join(p.msg_content[6:] for p in pdus).decode("gb18030") == NOTICE
        assert latin.segments[0].pdu.msg_fmt == 0  # type: ignore[attr-defined]


async def test_cmpp_20_end_to_end() -> None:
    async with running(cmpp_version="2.0") as (ismg, engine):
        handles = [await engine.send(destination=number(i), text=NOTICE) for i in range(10)]
        for handle in handles:
            assert await handle.wait(10) is MessageState.DELIVERED
        assert ismg.binds[0].mode == "CMPP 2.0"


async def test_60_octet_reports_on_30_still_correlate() -> None:
    async with running({"cmpp": {"short_reports": True}}) as (_, engine):
        handles = [await engine.send(destination=number(i), text="Code 1") for i in range(20)]
        for handle in handles:
            assert await handle.wait(10) is MessageState.DELIVERED


async def test_report_states_roll_up() -> None:
    statuses = {"receipts": {"statuses": {"UNDELIV": 1.0}}}
    async with running(statuses) as (_, engine):
        handle = await engine.send(destination=number(1), text="Code 1")
        assert await handle.wait(10) is MessageState.UNDELIVERABLE


async def test_result_8_is_throttling_and_every_message_still_goes() -> None:
    # The ISMG allows 100 submits a second; the channel starts unlimited with a 16 window.
    async with running({"accounts": [{**SP, "tps": 100}]}) as (ismg, engine):
        handles = [await engine.send(destination=number(i), text=f"Code {i}",
                                     registered_delivery=False) for i in range(300)]
        for handle in handles:
            assert await handle.wait(20) is MessageState.SUBMITTED
        channel = engine.channels["cm"]
        assert channel.counters["throttled"] > 0  # the ISMG really answered Result 8
        assert channel.counters["failed"] == 0
        assert ismg.stats["throttled"] == channel.counters["throttled"]
        assert len(ismg.ledger.entries()) == 300


async def test_other_results_fail_with_the_cmpp_status() -> None:
    errors = {"errors": {"SERVICE_ID_ERROR": 1.0}}
    async with running(errors) as (_, engine):
        handle = await engine.send(destination=number(1), text="Code 1")
        assert await handle.wait(10) is MessageState.FAILED
        assert handle.status == SubmitResult.SERVICE_ID_ERROR
        assert handle.error is not None and not handle.error.retriable
        assert handle.status_name is not None and "SERVICE_ID" in handle.status_name.upper()


async def test_mo_long_message_reassembled_and_opt_out_suppresses_marketing() -> None:
    received: list[MoMessage] = []
    async with running() as (ismg, engine):
        engine.on_mo(received.append)
        await ismg.inject_mo(number(7), "106900017", NOTICE * 2, data_coding=8)
        await ismg.inject_mo(number(8), "106900017", "退订", data_coding=15)
        await eventually(lambda: len(received) == 2, 5)
        long_mo = next(m for m in received if m.source == number(7))
        assert long_mo.text == NOTICE * 2 and long_mo.complete
        assert long_mo.destination == "106900017"
        try:
            await engine.send(destination=number(8), text="Sale!", kind="marketing")
        except MessageRefusedError:
            pass
        else:
            raise AssertionError("marketing to an opted-out number was accepted")
        otp = await engine.send(destination=number(8), text="Code 1", kind="otp")
        assert await otp.wait(10) is MessageState.DELIVERED


async def test_wrong_secret_raises_the_alarm_and_does_not_hammer() -> None:
    async with FakeISMG(ismg_config()) as ismg:
        config = engine_config_from_dict({"channels": [
            cmpp_channel(ismg.port, password="wrong")]})
        async with Engine(config) as engine:
            channel = engine.channels["cm"]
            events: list[BindEvent] = []
            forward = channel._on_event

            def record(event: BindEvent) -> None:
                events.append(event)
                forward(event)

            channel._on_event = record  # (nothing has connected yet: start() awaits no I/O)
            await eventually(lambda: channel.alarm, 5)
            assert not channel.bound
            refused = ismg.stats["binds_refused"]
            assert refused == 1
            # A message for it is refused at once rather than queued behind a dead account.
            try:
                await engine.send(destination=number(1), text="Code 1")
            except MessageRefusedError as exc:
                assert exc.retriable
            else:
                raise AssertionError("a message was queued on a channel in alarm")
            # The keeper waits auth_failure_delay (minutes) before trying again.
            await eventually(lambda: any(e.kind == "reconnect_scheduled" for e in events), 5)
            delays = [e.delay for e in events if e.kind == "reconnect_scheduled"]
            assert delays and min(d or 0 for d in delays) >= 60
            assert [e.kind for e in events].count("alarm") == 1


async def test_smpp_and_cmpp_channels_in_one_engine_route_by_prefix() -> None:
    async with (FakeISMG(ismg_config()) as ismg,
                FakeSMSC(config_from_dict({"accounts": [{"system_id": "shop",
                                                         "password": "pw"}]})) as smsc):
        config = engine_config_from_dict({
            "channels": [
                cmpp_channel(ismg.port),
                {"name": "intl", "host": "127.0.0.1", "port": smsc.port, "system_id": "shop",
                 "password": "pw", "default_source": "SHOP"},
            ],
            "routes": [{"prefixes": ["138"], "channels": ["cm"]},
                       {"channels": ["intl"]}],
        })
        async with Engine(config) as engine:
            await engine.wait_ready(5)
            china = await engine.send(Message(destination=number(1), text=NOTICE))
            abroad = await engine.send(Message(destination="447700900123", text="Code 1"))
            assert await china.wait(10) is MessageState.DELIVERED
            assert await abroad.wait(10) is MessageState.DELIVERED
            assert china.channel == "cm" and abroad.channel == "intl"
            assert len(ismg.ledger.entries()) == 2  # the long notice's two parts
            assert len(smsc.ledger.entries()) == 1


async def test_a_number_the_protocol_cannot_carry_is_refused_naming_the_field() -> None:
    async with running() as (ismg, engine):
        bad = Message(destination="1380013８000", text="Code 1")  # a fullwidth digit  # noqa: RUF001
        try:
            engine.submit(bad)
        except MessageRefusedError as exc:  # (refused by the engine, before CMPP sees it)
            assert "destination" in str(exc) and not exc.retriable
        else:
            raise AssertionError("a non-ASCII number was accepted")
        # A field only the protocol checks: a sender that Src_Id cannot carry.
        with pytest.raises(MessageRefusedError, match="src_id") as refused:
            engine.submit(Message(destination=number(2), text="Code 3", source="1069０"))  # noqa: RUF001
        assert not refused.value.retriable
        handles = await engine.send_many([bad, Message(destination=number(1), text="Code 2")])
        assert handles[0].state is MessageState.FAILED
        assert await handles[1].wait(10) is MessageState.DELIVERED  # the campaign went on
        assert len(ismg.ledger.entries()) == 1
