"""Fake SMGP SMGW: login (authenticators, versions, modes, refusals), Submit and its MsgIDs,
the ledger, throttling and injected errors, status reports (both layouts) and their resends,
MO, keep-alive, Exit both ways, Query, the admin CLI's protocol switch, config."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from smsengine.fakesmsc import ConfigError, FakeSMGW, config_from_dict
from smsengine.fakesmsc.main import DEFAULT_PORTS, _server_class
from smsengine.smgp import (
    ActiveTest,
    ActiveTestResp,
    Deliver,
    DeliverResp,
    Exit,
    ExitResp,
    LoginResp,
    MsgId,
    Query,
    QueryResp,
    Submit,
    SubmitResp,
    authenticator_server,
    parse_report,
)
from tests._support.smgp_client import CLIENT_ID, SECRET, Closed, SmgpClient
from tests._support.smpp_client import eventually


def smgw_config(**fields: object) -> object:
    fields.setdefault("accounts", [{"system_id": CLIENT_ID, "password": SECRET}])
    return config_from_dict({"protocol": "smgp", **fields})


def submit(n: int = 0, *, report: int = 1, dests: int = 1) -> Submit:
    return Submit(dest_term_ids=tuple(f"1331234{n + i:04d}" for i in range(dests)),
                  msg_content=b"Code 1", need_report=report, src_term_id="10690001")


async def logged_in(smgw: FakeSMGW, version: int = 0x30, mode: int = 2) -> SmgpClient:
    c = await SmgpClient.connect(smgw.port, version)
    resp = await c.login(mode=mode)
    assert resp.status == 0, resp
    return c


async def test_login_answers_the_4_octet_authenticator_and_speaks_the_clients_version() -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await SmgpClient.connect(smgw.port, 0x20)
        login = c.login_pdu()
        resp = await c.request(login)
        assert isinstance(resp, LoginResp) and resp.status == 0 and resp.server_version == 0x30
        assert resp.authenticator_server == authenticator_server(
            0, login.authenticator_client, SECRET)
        [bind] = smgw.binds
        assert (bind.account, bind.mode) == (CLIENT_ID, "SMGP 2.0 transceiver")
        await c.close()


@pytest.mark.parametrize(("client_id", "secret", "version", "status"), [
    (CLIENT_ID, "wrong", 0x30, 21), ("nobody", SECRET, 0x30, 21), (CLIENT_ID, SECRET, 0x31, 22),
])
async def test_a_refused_login_is_answered_then_closed(client_id: str, secret: str,
                                                       version: int, status: int) -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await SmgpClient.connect(smgw.port, version)
        resp = await c.request(c.login_pdu(client_id, secret))
        assert isinstance(resp, LoginResp) and resp.status == status
        assert resp.authenticator_server == bytes(16)
        assert await c.closed()
        assert smgw.stats["binds_refused"] == 1 and not smgw.binds


async def test_refuse_binds_and_max_binds() -> None:
    cfg = smgw_config(accounts=[{"system_id": CLIENT_ID, "password": SECRET, "max_binds": 1}])
    async with FakeSMGW(cfg) as smgw:  # type: ignore[arg-type]
        first = await logged_in(smgw)
        second = await SmgpClient.connect(smgw.port)
        assert (await second.login()).status == 2
        smgw.refuse_binds(5)
        third = await SmgpClient.connect(smgw.port)
        assert (await third.login()).status == 1
        await first.close()


async def test_nothing_but_login_first() -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await SmgpClient.connect(smgw.port)
        resp = await c.request(submit())
        assert isinstance(resp, SubmitResp) and resp.status == 10
        assert await c.closed()


async def test_submit_gets_consecutive_bcd_msg_ids_and_ledger_lines() -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        resp = await c.request(submit(report=0, dests=3))
        assert isinstance(resp, SubmitResp) and resp.status == 0
        first = MsgId(resp.msg_id)
        assert first.is_bcd and first.parts().smgw_code == "010061"
        entries = smgw.ledger.entries()
        assert [e.message_id for e in entries] == [first.text, first.next().text,
                                                   first.next(2).text]
        assert {e.command for e in entries} == {"SMGP_SUBMIT"}
        out = io.StringIO()
        assert smgw.ledger.dump_jsonl(out) == 3
        assert json.loads(out.getvalue().splitlines()[0])["source_addr"] == "10690001"
        await c.close()


@pytest.mark.parametrize("style", ["spec", "smsgate"])
async def test_a_report_per_destination_answered_once(style: str) -> None:
    async with FakeSMGW(smgw_config(smgp={"report_style": style})) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        resp = await c.request(submit(dests=2))
        assert isinstance(resp, SubmitResp)
        reports = [await c.recv(), await c.recv()]
        for pdu in reports:
            assert isinstance(pdu, Deliver) and pdu.is_report == 1
            assert len(pdu.msg_content) == (122 if style == "spec" else 100)  # (no text)
            await c.send(DeliverResp(sequence_id=pdu.sequence_id, msg_id=pdu.msg_id))
        ids = [parse_report(p.msg_content).message_id for p in reports]  # type: ignore[union-attr]
        first = MsgId(resp.msg_id)
        assert ids == [first.text, first.next().text]
        assert {parse_report(p.msg_content).stat for p in reports} == {"DELIVRD"}  # type: ignore[union-attr]
        await eventually(lambda: smgw.stats["receipts_answered"] == 2, 2)
        await c.close()


async def test_an_unanswered_report_is_sent_again_the_same() -> None:
    cfg = smgw_config(receipts={"retry_after": 0.2})
    async with FakeSMGW(cfg) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        await c.request(submit())
        first = await c.recv()
        again = await c.recv(3)
        assert isinstance(first, Deliver) and isinstance(again, Deliver)
        assert (first.msg_id, first.msg_content) == (again.msg_id, again.msg_content)
        assert smgw.stats["receipts_retried"] >= 1
        await c.close()


async def test_throttling_answers_status_1_and_errors_inject_their_status() -> None:
    cfg = smgw_config(accounts=[{"system_id": CLIENT_ID, "password": SECRET, "tps": 1}])
    async with FakeSMGW(cfg) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        statuses = []
        for i in range(3):
            resp = await c.request(submit(i, report=0))
            assert isinstance(resp, SubmitResp)
            statuses.append(resp.status)
        assert statuses[0] == 0 and 1 in statuses[1:]
        assert smgw.stats["throttled"] >= 1
    async with FakeSMGW(smgw_config(errors={"SP_DAILY_LIMIT": 1.0})) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        resp = await c.request(submit(report=0))
        assert isinstance(resp, SubmitResp) and resp.status == 75
        await c.close()


async def test_a_receive_only_login_gets_mo_but_cannot_submit() -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw, mode=1)
        resp = await c.request(submit())
        assert isinstance(resp, SubmitResp) and resp.status == 11
        task = asyncio.create_task(smgw.inject_mo("13312345678", "10690001", "退订",
                                                  data_coding=15, link_id="abc"))
        mo = await c.recv()
        assert isinstance(mo, Deliver) and mo.is_report == 0 and mo.msg_format == 15
        assert mo.msg_content.decode("gb18030") == "退订" and mo.link_id == "abc"
        await c.send(DeliverResp(sequence_id=mo.sequence_id, msg_id=mo.msg_id))
        assert (await task).ok
        await c.close()


async def test_long_mo_goes_in_udh_parts() -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        task = asyncio.create_task(smgw.inject_mo("13312345678", "10690001", "测" * 100))
        parts = [await c.recv(), await c.recv()]
        for p in parts:
            assert isinstance(p, Deliver) and p.tp_udhi == 1 and p.msg_content[:3] == b"\5\0\3"
            await c.send(DeliverResp(sequence_id=p.sequence_id, msg_id=p.msg_id))
        result = await task
        assert result.ok and result.parts == 2
        await c.close()


async def test_active_test_both_ways_and_a_silent_client_dropped() -> None:
    cfg = smgw_config(smgp={"active_test_interval": 0.2, "active_test_timeout": 0.2,
                            "active_test_max_misses": 2})
    async with FakeSMGW(cfg) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        resp = await c.request(ActiveTest())
        assert isinstance(resp, ActiveTestResp)
        test = await c.recv(2)
        assert isinstance(test, ActiveTest)
        await c.send(ActiveTestResp(sequence_id=test.sequence_id))
        with pytest.raises(Closed):  # then silence: dropped after two more unanswered
            while True:
                await c.recv(3)
        assert smgw.stats["active_tests_sent"] >= 3 and smgw.stats["active_test_drops"] == 1


async def test_exit_both_ways_and_query() -> None:
    async with FakeSMGW(smgw_config()) as smgw:  # type: ignore[arg-type]
        c = await logged_in(smgw)
        await c.request(submit(report=0))
        resp = await c.request(Query(query_time="20250102"))
        assert isinstance(resp, QueryResp) and resp.mt_tlmsg == 1
        resp = await c.request(Exit())
        assert isinstance(resp, ExitResp)
        assert await c.closed()
        c2 = await logged_in(smgw)
        unbind = asyncio.create_task(smgw.unbind_all())
        goodbye = await c2.recv()
        assert isinstance(goodbye, Exit)
        await c2.send(ExitResp(sequence_id=goodbye.sequence_id))
        await unbind
        assert not smgw.binds


def test_config_checks_and_the_cli_dispatch() -> None:
    with pytest.raises(ConfigError, match="smgw_code"):
        config_from_dict({"protocol": "smgp", "smgp": {"smgw_code": "12"}})
    with pytest.raises(ConfigError, match="system_id"):
        config_from_dict({"protocol": "smgp", "accounts": [{"system_id": "123456789"}]})
    with pytest.raises(ConfigError, match="errors"):
        config_from_dict({"protocol": "smgp", "errors": {"NO_SUCH": 0.1}})
    with pytest.raises(ConfigError, match="protocol"):
        FakeSMGW(config_from_dict({}))
    assert _server_class("smgp") is FakeSMGW and DEFAULT_PORTS["smgp"] == 8890
