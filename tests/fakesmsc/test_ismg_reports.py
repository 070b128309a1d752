"""Fake CMPP ISMG: status reports (71 / 60 octets, Msg_Id matching SUBMIT_RESP, Msg_Id+i for
several destinations, the status mix, retries, waiting for a login) and MO DELIVERs (UCS2,
GB18030, multi-part with UDH, opt-out replies)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from smsengine.cmpp import Deliver, DeliverResp, SubmitResp, Version, parse_report
from smsengine.fakesmsc import FakeISMG
from smsengine.fakesmsc.ismg import _mo_parts
from tests._support.cmpp_client import SP, CmppClient, ismg_running, sp_account
from tests._support.smpp_client import eventually

V20, V30 = Version.V20, Version.V30


async def logged_in(ismg: FakeISMG, version: int = V30) -> CmppClient:
    c = await CmppClient.connect(ismg.port, version)
    assert (await c.login()).status == 0
    return c


@pytest.mark.parametrize(("version", "short", "length", "total"), [
    (V30, False, 71, 180),
    (V30, True, 60, 169),
    (V20, False, 60, 145),
])
async def test_report_layouts(version: int, short: bool, length: int, total: int) -> None:
    async with ismg_running(accounts=[sp_account()], cmpp={"short_reports": short}) as ismg:
        c = await logged_in(ismg, version)
        c.raw.clear()
        resp = await c.submit(registered_delivery=1, src_id="1069000101", service_id="SVC")
        assert isinstance(resp, SubmitResp) and resp.result == 0
        [report] = await c.delivers(1)
        assert report.registered_delivery == 1 and len(report.msg_content) == length
        # Everything read since CONNECT_RESP: the SUBMIT_RESP and the report DELIVER.
        assert len(b"".join(c.raw)) == (24 if version == V30 else 21) + total
        assert (report.dest_id, report.service_id, report.src_terminal_id) == (
            "1069000101", "SVC", "13800138000")
        r = parse_report(report.msg_content)
        assert r.msg_id == resp.msg_id and r.stat == "DELIVRD"
        assert r.dest_terminal_id == "13800138000"
        assert len(r.submit_time) == 10 and len(r.done_time) == 10 and r.submit_time.isdigit()
        assert report.msg_id != resp.msg_id  # the report DELIVER has an id of its own
        await eventually(lambda: ismg.stats["receipts_answered"] == 1)
        await c.close()


async def test_one_report_per_destination_with_msg_id_plus_i(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    dests = tuple(f"1380013800{i}" for i in range(5))
    resp = await c.submit(registered_delivery=1, dest_terminal_ids=dests)
    reports = [parse_report(d.msg_content) for d in await c.delivers(5)]
    assert sorted((r.msg_id, r.dest_terminal_id) for r in reports) == [
        (resp.msg_id + i, dest) for i, dest in enumerate(dests)]  # type: ignore[attr-defined]
    await c.close()


async def test_no_report_unless_registered_delivery_is_1(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    await c.submit(registered_delivery=0)
    await c.submit(registered_delivery=2)  # 2.0's "bill only"
    resp = await c.submit(registered_delivery=1)
    [report] = await c.delivers(1)
    assert parse_report(report.msg_content).msg_id == resp.msg_id  # type: ignore[attr-defined]
    assert ismg.stats["receipts_sent"] == 1
    await c.close()


async def test_status_mix_and_delay_come_from_the_receipts_config() -> None:
    receipts = {"statuses": {"DELIVRD": 0.5, "UNDELIV": 0.3, "EXPIRED": 0.2},
                "delay": {"kind": "uniform", "low": 0.0, "high": 0.05}}
    async with ismg_running(accounts=[sp_account()], receipts=receipts, seed=3) as ismg:
        c = await logged_in(ismg)
        pdus = [c.submit_pdu(registered_delivery=1) for _ in range(200)]
        await c.send(*pdus)
        delivers = await c.delivers(200, timeout=5)
        stats = Counter(parse_report(d.msg_content).stat for d in delivers)
        assert set(stats) == {"DELIVRD", "UNDELIV", "EXPIRED"}
        assert stats["DELIVRD"] > stats["EXPIRED"]
        await c.close()


async def test_unanswered_reports_are_retried() -> None:
    receipts = {"retry_after": 0.1, "max_attempts": 3}
    async with ismg_running(accounts=[sp_account()], receipts=receipts) as ismg:
        c = await logged_in(ismg)
        await c.submit(registered_delivery=1)
        first = await c.delivers(1, answer=False)
        second = await c.delivers(1)  # resent: nobody answered the first
        assert first[0].msg_content == second[0].msg_content
        assert ismg.stats["receipts_retried"] == 1
        await c.close()


async def test_a_report_due_while_nobody_is_logged_in_waits_for_a_login() -> None:
    async with ismg_running(accounts=[sp_account()], receipts={"delay": {"value": 0.1}}) as ismg:
        c = await logged_in(ismg)
        resp = await c.submit(registered_delivery=1)
        await c.close()
        await eventually(lambda: not ismg.binds)
        await eventually(lambda: SP in ismg._waiting)  # due, and parked for the account
        c2 = await logged_in(ismg, V20)  # and delivered in the new login's layout
        [late] = await c2.delivers(1)
        assert len(late.msg_content) == 60
        assert parse_report(late.msg_content).msg_id == resp.msg_id  # type: ignore[attr-defined]
        await c2.close()


# --- MO ---------------------------------------------------------------------------------------


def _reassemble(parts: list[Deliver]) -> tuple[int, bytes]:
    udhs = [p.msg_content[: p.msg_content[0] + 1] for p in parts]
    assert all(p.tp_udhi == 1 for p in parts)
    assert {u[:3] for u in udhs} == {b"\x05\x00\x03"}
    assert len({u[3] for u in udhs}) == 1 and {u[4] for u in udhs} == {len(parts)}
    ordered = sorted(parts, key=lambda p: p.msg_content[5])
    assert all(len(p.msg_content) <= 140 for p in parts)
    return parts[0].msg_fmt, b"".join(p.msg_content[6:] for p in ordered)


@pytest.mark.parametrize(("msg_fmt", "codec"), [(8, "utf-16-be"), (15, "gb18030")])
@pytest.mark.parametrize("version", [V30, V20])
async def test_multi_part_mo(msg_fmt: int, codec: str, version: int, ismg: FakeISMG) -> None:
    text = "您好 这是一条很长的上行短信 用来测试分段😀" * 6
    c = await logged_in(ismg, version)
    count = len(_mo_parts(text, None, msg_fmt))
    task = asyncio.ensure_future(
        ismg.inject_mo("13800138000", "10690001123", text, data_coding=msg_fmt))
    parts = await c.delivers(count)
    result = await task
    assert result.ok and result.parts == len(parts) > 1
    assert all(p.registered_delivery == 0 for p in parts)
    assert {(p.src_terminal_id, p.dest_id) for p in parts} == {("13800138000",
                                                                "10690001123")}
    fmt, payload = _reassemble(parts)
    assert fmt == msg_fmt and payload.decode(codec) == text
    assert ismg.stats["mo_sent"] == len(parts)
    await c.close()


@pytest.mark.parametrize(("text", "msg_fmt", "codec"), [
    ("退订", 15, "gb18030"), ("退订", None, "utf-16-be"), ("TD", None, "ascii"), ("T", 0, "ascii"),
])
async def test_opt_out_replies(text: str, msg_fmt: int | None, codec: str, ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    task = asyncio.ensure_future(ismg.inject_mo("13800138000", "106900011", text,
                                                data_coding=msg_fmt, link_id="LINK1"))
    [mo] = await c.delivers(1)
    assert (await task).ok
    assert mo.tp_udhi == 0 and mo.registered_delivery == 0
    assert mo.msg_content.decode(codec) == text and mo.link_id == "LINK1"
    await c.close()


async def test_mo_result_carries_the_deliver_resp_result() -> None:
    async with ismg_running(accounts=[sp_account()], receipts={"max_attempts": 1}) as ismg:
        c = await logged_in(ismg)
        task = asyncio.ensure_future(ismg.inject_mo("13800138000", "1069", "hi", account=SP))
        mo = await c.expect(Deliver)
        await c.send(DeliverResp(sequence_id=mo.sequence_id, msg_id=mo.msg_id, result=8))
        result = await task
        assert result.statuses == [8] and not result.ok
        await c.close()


async def test_mo_without_a_login_raises(ismg: FakeISMG) -> None:
    with pytest.raises(RuntimeError):
        await ismg.inject_mo("13800138000", "1069", "hi")


def test_report_job_sets_every_job_slot() -> None:
    """_ReportJob fills Job's slots itself (it skips Job.__init__ on the hot path): a slot
    added to Job must be set there too."""
    from smsengine.fakesmsc._common import Job
    from smsengine.fakesmsc.ismg import _ReportJob

    job = _ReportJob("sp", 7, "7", "DELIVRD", 1.5, 0.0, b"13800138000", b"10690001", b"MALL")
    reference = Job("sp", "7", "DELIVRD", 1.5, 0.0, (0, 0, b"13800138000"),
                    (0, 0, b"10690001"), b"")
    for slot in Job.__slots__:
        assert getattr(job, slot) == getattr(reference, slot), slot
