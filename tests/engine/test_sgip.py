"""The engine with ``protocol = "sgip"`` channels against the fake SMG over 127.0.0.1: the SP's
connection submits, the SMG connects back to the channel's listener with Reports and MO. Long
Chinese notices with every report correlated by the Submit's Sequence Number, Result 88
throttling absorbed by flow control, MO with 退订 honoured, a refused login raising the alarm
with a long back-off, Reports that overtake their Submit_Resp, the idle connection closed and
reopened on demand, and a wrong login on the connection back refused.

Every wait is a condition with a deadline."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from smsengine.bind import BindEvent
from smsengine.engine import (
    Engine,
    MessageRefusedError,
    MessageState,
    MoMessage,
    engine_config_from_dict,
)
from smsengine.fakesmsc import config_from_dict
from smsengine.fakesmsc.smg import FakeSMG
from smsengine.sgip import SequenceNumber, Submit
from tests._support.smpp_client import eventually

SP = {"system_id": "sp_user", "password": "sp_pass"}

NOTICE = ("【商城】尊敬的会员，您的订单已由顺丰速运发出，运单号SF1234567890，预计明天送达。"  # noqa: RUF001
          "如有疑问请致电客服热线400-800-1234，我们将竭诚为您服务。回T退订")  # noqa: RUF001


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def smg_config(sp_port: int, **fields: Any) -> Any:
    fields.setdefault("accounts", [SP])
    sgip = {"sp_port": sp_port, **fields.pop("sgip", {})}
    return config_from_dict({"protocol": "sgip", "sgip": sgip, **fields})


def sgip_channel(port: int, listen_port: int, name: str = "cu", **fields: Any) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": port, "protocol": "sgip",
            "default_source": "10655001", "service_id": "MALL", "corp_id": "12345",
            "sgip_node_id": 3010012345, "listen_host": "127.0.0.1", "listen_port": listen_port,
            **SP, **fields}


@asynccontextmanager
async def running(smg_fields: dict[str, Any] | None = None, *,
                  engine_fields: dict[str, Any] | None = None,
                  **channel_fields: Any) -> AsyncIterator[tuple[FakeSMG, Engine]]:
    listen = free_port()
    async with FakeSMG(smg_config(listen, **(smg_fields or {}))) as smg:
        config = engine_config_from_dict({
            "channels": [sgip_channel(smg.port, listen, **channel_fields)],
            **(engine_fields or {})})
        async with Engine(config) as engine:
            await engine.wait_ready(5)
            yield smg, engine


def number(i: int) -> str:
    return f"1300013{i:04d}"


async def test_long_chinese_notices_and_short_codes_all_delivered_and_correlated() -> None:
    async with running() as (smg, engine):
        long_ = [await engine.send(destination=number(i), text=NOTICE * 2) for i in range(20)]
        short = [await engine.send(destination=number(100 + i), text=f"Code {i:06d}",
                                   kind="otp") for i in range(50)]
        for handle in long_ + short:
            assert await handle.wait(10) is MessageState.DELIVERED
        assert {len(h.segments) for h in long_} == {3}
        entries = smg.ledger.entries()
        assert len(entries) == 20 * 3 + 50
        # Every part's id is its Submit's Sequence Number: our node, 30 digits.
        ids = {e.message_id for e in entries}
        assert {s.message_id for h in long_ + short for s in h.segments} == ids
        assert all(SequenceNumber.parse(i).node_id == 3010012345 for i in ids)
        assert {e.destination_addr for e in entries} >= {"86" + number(0)}
        counters = engine.channels["cu"].counters
        assert counters["receipts_matched"] + counters["receipts_early"] == 110
        assert counters["receipts_unmatched"] == 0
        assert smg.stats["back_connections"] >= 1


async def test_submit_fields() -> None:
    async with running() as (_, engine):
        handle = await engine.send(destination="+86" + number(1), text=NOTICE * 2)
        assert await handle.wait(10) is MessageState.DELIVERED
        seen: list[Submit] = [s.pdu for s in handle.segments]  # type: ignore[attr-defined]
    assert [(p.tp_udhi, p.message_coding, p.report_flag) for p in seen] == [(1, 8, 1)] * 3
    assert [p.message_content[5] for p in seen] == [1, 2, 3]
    first = seen[0]
    assert (first.sp_number, first.user_numbers, first.corp_id, first.service_type) == (
        "10655001", ("86" + number(1),), "12345", "MALL")


async def test_reports_before_the_submit_resp_are_matched() -> None:
    # Submit_Resp held back 0.3 s, Reports sent at once on the other connection: they win.
    async with running({"latency": {"kind": "fixed", "value": 0.3}}) as (_, engine):
        handles = [await engine.send(destination=number(i), text="Code 1") for i in range(20)]
        for handle in handles:
            assert await handle.wait(10) is MessageState.DELIVERED
        counters = engine.channels["cu"].counters
        assert counters["receipts_early"] > 0
        assert counters["receipts_unmatched"] == 0


async def test_failed_reports_carry_the_error_code() -> None:
    async with running({"receipts": {"statuses": {"UNDELIV": 1.0}}}) as (_, engine):
        handle = await engine.send(destination=number(1), text="Code 1")
        assert await handle.wait(10) is MessageState.UNDELIVERABLE
        reason = handle.reason
        assert reason is not None and reason.err == "21"


async def test_result_88_is_throttling_and_every_message_still_goes() -> None:
    async with running({"accounts": [{**SP, "tps": 100}]}) as (smg, engine):
        handles = [await engine.send(destination=number(i), text=f"Code {i}",
                                     registered_delivery=False) for i in range(300)]
        for handle in handles:
            assert await handle.wait(20) is MessageState.SUBMITTED
        channel = engine.channels["cu"]
        assert channel.counters["throttled"] > 0
        assert channel.counters["failed"] == 0
        assert smg.stats["throttled"] == channel.counters["throttled"]
        assert len(smg.ledger.entries()) == 300


async def test_mo_long_message_reassembled_and_opt_out_suppresses_marketing() -> None:
    received: list[MoMessage] = []
    async with running() as (smg, engine):
        engine.on_mo(received.append)
        assert (await smg.inject_mo("86" + number(7), "1065500117", NOTICE * 2,
                                    data_coding=8)).ok
        assert (await smg.inject_mo("86" + number(8), "1065500117", "退订", data_coding=15)).ok
        await eventually(lambda: len(received) == 2, 5)
        long_mo = next(m for m in received if m.source == "86" + number(7))
        assert long_mo.text == NOTICE * 2 and long_mo.complete
        assert long_mo.destination == "1065500117"
        try:
            await engine.send(destination="+86" + number(8), text="Sale!", kind="marketing")
        except MessageRefusedError:
            pass
        else:
            raise AssertionError("marketing to an opted-out number was accepted")
        otp = await engine.send(destination="+86" + number(8), text="Code 1", kind="otp")
        assert await otp.wait(10) is MessageState.DELIVERED


async def test_wrong_password_raises_the_alarm_and_does_not_hammer() -> None:
    listen = free_port()
    async with FakeSMG(smg_config(listen)) as smg:
        config = engine_config_from_dict({"channels": [
            sgip_channel(smg.port, listen, password="wrong")]})
        async with Engine(config) as engine:
            channel = engine.channels["cu"]
            events: list[BindEvent] = []
            forward = channel._on_event

            def record(event: BindEvent) -> None:
                events.append(event)
                forward(event)

            channel._on_event = record
            await eventually(lambda: channel.alarm, 5)
            assert not channel.bound
            assert smg.stats["binds_refused"] == 1
            try:
                await engine.send(destination=number(1), text="Code 1")
            except MessageRefusedError as exc:
                assert exc.retriable
            else:
                raise AssertionError("a message was queued on a channel in alarm")
            await eventually(lambda: any(e.kind == "reconnect_scheduled" for e in events), 5)
            delays = [e.delay for e in events if e.kind == "reconnect_scheduled"]
            assert delays and min(d or 0 for d in delays) >= 60
            assert [e.kind for e in events].count("alarm") == 1


async def test_idle_connection_closes_and_reopens_on_demand() -> None:
    async with running(idle_close=0.3) as (smg, engine):
        first = await engine.send(destination=number(1), text="Code 1")
        assert await first.wait(10) is MessageState.DELIVERED
        channel = engine.channels["cu"]
        keeper = channel._keepers[0]
        await eventually(lambda: keeper.dormant, 5)  # type: ignore[attr-defined]
        assert channel.bound  # dormant counts as available for routing
        assert not smg.binds or all(b.mode != "SGIP 1.2" for b in smg.binds)
        second = await engine.send(destination=number(2), text="Code 2")
        assert await second.wait(10) is MessageState.DELIVERED
        assert keeper.binds_made == 2
        assert smg.stats["binds"] == 2


async def test_the_smg_must_present_the_accounts_credentials_on_the_way_back() -> None:
    smg_fields = {"sgip": {"login_name": "intruder", "login_password": "x"}}
    async with running(smg_fields) as (smg, engine):
        handle = await engine.send(destination=number(1), text="Code 1")
        # Accepted (Submit_Resp 0) but its Report cannot come back: refused on the listener.
        await eventually(lambda: smg.stats["back_binds_refused"] >= 1, 5)
        assert handle.state is MessageState.SUBMITTED
