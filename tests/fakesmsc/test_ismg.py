"""Fake CMPP ISMG: login (authenticators, version negotiation), SUBMIT and its Msg_Id, the
ledger, throttling and injected errors, keep-alive, TERMINATE, QUERY / CANCEL, faults, config."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time

import pytest

from smsengine.cmpp import (
    ActiveTest,
    ActiveTestResp,
    Cancel,
    CancelResp,
    ConnectResp,
    Query,
    QueryResp,
    SubmitResp,
    Terminate,
    TerminateResp,
    Version,
    authenticator_ismg,
    unpack_msg_id,
)
from smsengine.fakesmsc import Config, ConfigError, Delay, FakeISMG, config_from_dict
from tests._support.cmpp_client import SECRET, SP, CmppClient, ismg_running, sp_account
from tests._support.smpp_client import eventually

V20, V30 = Version.V20, Version.V30


async def logged_in(ismg: FakeISMG, version: int = V30) -> CmppClient:
    c = await CmppClient.connect(ismg.port, version)
    resp = await c.login()
    assert resp.status == 0, resp
    return c


# --- login ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "length", "width"), [(V30, 33, 4), (V20, 30, 1)])
async def test_right_secret_logs_in_with_the_clients_layout(version: int, length: int,
                                                            width: int, ismg: FakeISMG) -> None:
    c = await CmppClient.connect(ismg.port, version)
    connect = c.connect_pdu()
    resp = await c.request(connect)
    assert isinstance(resp, ConnectResp)
    assert resp.status == 0 and resp.version == version
    assert resp.authenticator_ismg == authenticator_ismg(
        0, connect.authenticator_source, SECRET, width)
    assert len(b"".join(c.raw)) == length
    [bind] = ismg.binds
    assert bind.account == SP and bind.mode == f"CMPP {version >> 4}.0"
    await c.close()


@pytest.mark.parametrize(("source", "secret", "status"), [
    (SP, "wrong", 3),
    ("900002", SECRET, 2),
])
async def test_bad_logins_are_refused_and_closed(source: str, secret: str, status: int,
                                                 ismg: FakeISMG) -> None:
    c = await CmppClient.connect(ismg.port)
    resp = await c.login(source, secret)
    assert resp.status == status
    assert resp.authenticator_ismg == bytes(16)
    assert await c.wait_closed() == []
    assert ismg.stats["binds_refused"] == 1 and not ismg.binds


async def test_version_too_high_gets_status_4_in_the_ismg_layout() -> None:
    cfg = Config(protocol="cmpp", accounts=[sp_account()])
    cfg20 = config_from_dict({"protocol": "cmpp", "accounts": [{"system_id": SP,
                                                                "password": SECRET}],
                              "cmpp": {"version": "2.0"}})
    assert cfg.cmpp.version == "3.0"
    async with ismg_running(cfg20) as ismg:
        c = await CmppClient.connect(ismg.port, V30)
        resp = await c.login()
        assert (resp.status, resp.version) == (4, V20)
        assert len(b"".join(c.raw)) == 30
        await c.wait_closed()
        c2 = await logged_in(ismg, V20)  # its own version is fine
        await c2.close()
    async with ismg_running() as ismg:
        c = await CmppClient.connect(ismg.port, V30)
        resp = await c.login(version=0x31)
        assert (resp.status, resp.version) == (4, V30)
        assert len(b"".join(c.raw)) == 33


async def test_open_mode_accepts_anyone() -> None:
    async with ismg_running(Config(protocol="cmpp")) as ismg:
        c = await CmppClient.connect(ismg.port)
        assert (await c.login("123456", "whatever")).status == 0
        assert ismg.binds[0].account == "123456"
        await c.close()


async def test_only_connect_before_login(ismg: FakeISMG) -> None:
    c = await CmppClient.connect(ismg.port)
    resp = await c.submit()
    assert isinstance(resp, SubmitResp) and resp.result == 1
    await c.wait_closed()
    c = await CmppClient.connect(ismg.port)
    await c.send(ActiveTest(sequence_id=1))
    assert await c.wait_closed() == []
    assert len(ismg.ledger) == 0


async def test_second_connect_and_max_binds_get_other_error() -> None:
    async with ismg_running(accounts=[sp_account(max_binds=1)]) as ismg:
        c = await logged_in(ismg)
        assert (await c.login()).status == 5  # already logged in; the session lives on
        assert (await c.submit()).result == 0  # type: ignore[attr-defined]
        c2 = await CmppClient.connect(ismg.port)
        assert (await c2.login()).status == 5
        await c2.wait_closed()
        await c.close()


# --- SUBMIT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "length"), [(V30, 24), (V20, 21)])
async def test_submit_gets_a_spec_layout_msg_id(version: int, length: int) -> None:
    async with ismg_running(accounts=[sp_account()], cmpp={"gateway_code": 12345}) as ismg:
        c = await logged_in(ismg, version)
        c.raw.clear()
        before = time.localtime()
        resp = await c.submit()
        after = time.localtime()
        assert isinstance(resp, SubmitResp) and resp.result == 0
        assert len(b"".join(c.raw)) == length
        parts = unpack_msg_id(resp.msg_id)
        assert parts.gateway == 12345
        assert (parts.month, parts.day) in {(before.tm_mon, before.tm_mday),
                                            (after.tm_mon, after.tm_mday)}
        assert before.tm_hour <= parts.hour <= after.tm_hour or after.tm_hour < before.tm_hour
        resp2 = await c.submit()
        assert resp2.msg_id != resp.msg_id  # type: ignore[attr-defined]
        await c.close()


async def test_msg_ids_are_unique_beyond_65536_a_second() -> None:
    ismg = FakeISMG(Config(protocol="cmpp"))
    ismg._wall = 1_700_000_000.5
    ids: list[int] = []
    for n in (1, 7, 99) * 1000 + (1,) * 70_000:
        first = ismg.next_msg_id(n)
        assert (first & 0xFFFF) + n <= 0x10000  # Msg_Id+i never carries into the gateway code
        ids.extend(range(first, first + n))
    assert len(set(ids)) == len(ids)
    assert {unpack_msg_id(i).gateway for i in ids} == {1001}


async def test_ledger_lines_for_multi_destination_and_segments(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    dests = ("13800138000", "13800138001", "13800138002")
    resp = await c.submit(dest_terminal_ids=dests, msg_fmt=8,
                          msg_content="你好".encode("utf-16-be"))
    assert isinstance(resp, SubmitResp) and resp.result == 0
    udh = bytes((5, 0, 3, 0x42, 2, 1))
    seg = await c.submit(tp_udhi=1, pk_total=2, pk_number=1, msg_content=udh + b"part one")
    pk = await c.submit(pk_total=3, pk_number=2, msg_content=b"no udh")
    entries = ismg.ledger.entries()
    assert [e.message_id for e in entries[:3]] == [str(resp.msg_id + i) for i in range(3)]
    assert [e.destination_addr for e in entries[:3]] == list(dests)
    first = entries[0]
    assert (first.account, first.command, first.source_addr) == (SP, "CMPP_SUBMIT",
                                                                 "10690001")
    assert (first.data_coding, first.payload_length, first.segment) == (8, 4, None)
    assert entries[3].message_id == str(seg.msg_id)  # type: ignore[attr-defined]
    assert (entries[3].segment, entries[3].esm_class) == ((0x42, 2, 1), 0x40)
    assert entries[4].message_id == str(pk.msg_id)  # type: ignore[attr-defined]
    assert entries[4].segment == (0, 3, 2)
    out = io.StringIO()
    assert ismg.ledger.dump_jsonl(out) == 5
    line = json.loads(out.getvalue().splitlines()[0])
    assert line["message_id"] == str(resp.msg_id) and line["time"] <= time.time()
    await c.close()


async def test_tps_throttling_answers_result_8() -> None:
    async with ismg_running(accounts=[sp_account(tps=3)]) as ismg:
        c = await logged_in(ismg)
        pdus = [c.submit_pdu() for _ in range(10)]
        await c.send(*pdus)
        results = [(await c.expect(SubmitResp)).result for _ in pdus]
        assert results.count(0) == 3 and results.count(8) == 7
        assert ismg.stats["throttled"] == 7 and len(ismg.ledger) == 3
        # A SUBMIT to N numbers takes N tokens.
        ismg._buckets[SP].tokens = 2.0
        resp = await c.submit(dest_terminal_ids=("1", "2", "3"))
        assert resp.result == 8  # type: ignore[attr-defined]
        await c.close()


async def test_window_against_delayed_responses_answers_result_8() -> None:
    async with ismg_running(accounts=[sp_account(window=2)],
                            latency=Delay(value=0.3)) as ismg:
        c = await logged_in(ismg)
        pdus = [c.submit_pdu() for _ in range(3)]
        await c.send(*pdus)
        first = await c.expect(SubmitResp)  # the refused one is answered after the latency too
        rest = [await c.expect(SubmitResp) for _ in range(2)]
        results = {r.sequence_id: r.result for r in (first, *rest)}
        assert results == {pdus[0].sequence_id: 0, pdus[1].sequence_id: 0,
                           pdus[2].sequence_id: 8}
        await c.close()


async def test_injected_errors_use_cmpp_result_codes() -> None:
    async with ismg_running(accounts=[sp_account()],
                            errors={"SERVICE_ID_ERROR": 0.5, "101": 0.5}, seed=7) as ismg:
        c = await logged_in(ismg)
        results = {(await c.submit()).result for _ in range(40)}  # type: ignore[attr-defined]
        assert results == {7, 101}
        assert len(ismg.ledger) == 0 and ismg.stats["errors_injected"] == 40
        await c.close()


# --- ACTIVE_TEST, TERMINATE, QUERY, CANCEL ---------------------------------------------------


async def test_active_test_is_answered(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    c.raw.clear()
    resp = await c.request(ActiveTest(sequence_id=77))
    assert isinstance(resp, ActiveTestResp)
    assert b"".join(c.raw) == struct.pack(">IIIB", 13, 0x80000008, 77, 0)
    await c.close()


async def test_the_ismg_tests_an_idle_link_and_drops_a_dead_one() -> None:
    cmpp = {"active_test_interval": 0.1, "active_test_timeout": 0.1, "active_test_max_misses": 2}
    async with ismg_running(accounts=[sp_account()], cmpp=cmpp) as ismg:
        c = await logged_in(ismg)
        test = await c.expect(ActiveTest, timeout=2)
        await c.send(ActiveTestResp(sequence_id=test.sequence_id))
        # Answered: the link stays; now go silent and be dropped after two unanswered tests.
        unanswered = [p for p in await c.wait_closed(timeout=3) if isinstance(p, ActiveTest)]
        assert len(unanswered) == 2
        assert ismg.stats["active_test_drops"] == 1
        assert ismg.stats["active_tests_sent"] == 3


async def test_terminate_from_the_client(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    resp = await c.request(Terminate(sequence_id=5))
    assert isinstance(resp, TerminateResp)
    await c.wait_closed()
    await eventually(lambda: not ismg.binds)


async def test_terminate_from_the_ismg(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    unbinding = asyncio.ensure_future(ismg.unbind_all(timeout=2))
    term = await c.expect(Terminate)
    await c.send(TerminateResp(sequence_id=term.sequence_id))
    await c.wait_closed()
    await unbinding
    assert not ismg.binds


async def test_query_and_cancel() -> None:
    async with ismg_running(receipts={"delay": {"value": 30.0}}) as ismg:
        c = await logged_in(ismg)
        resp = await c.submit(registered_delivery=1)
        q = await c.request(Query(sequence_id=c.next_seq(), time="20240101", query_type=0))
        assert isinstance(q, QueryResp) and q.mt_tlmsg == 1
        mid = resp.msg_id  # type: ignore[attr-defined]
        ok = await c.request(Cancel(sequence_id=c.next_seq(), msg_id=mid))
        assert isinstance(ok, CancelResp) and ok.success_id == 0
        again = await c.request(Cancel(sequence_id=c.next_seq(), msg_id=mid + 1))
        assert isinstance(again, CancelResp) and again.success_id == 1
        await c.close()


# --- faults ---------------------------------------------------------------------------------------


async def test_faults_drop_stall_refuse_and_restart_keeping_the_ledger(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    await c.submit()
    assert ismg.drop_connections() == 1
    await c.wait_closed()

    c = await logged_in(ismg)
    ismg.stall("answer")
    await c.send(c.submit_pdu())
    with pytest.raises(TimeoutError):
        await c.recv(timeout=0.2)
    ismg.resume()
    assert (await c.submit()).result == 0  # type: ignore[attr-defined]

    ismg.refuse_binds(30)
    c2 = await CmppClient.connect(ismg.port)
    assert (await c2.login()).status == 5
    ismg.refuse_binds(0)

    await ismg.restart()
    await c.wait_closed()
    assert len(ismg.ledger) == 2
    c = await logged_in(ismg)
    assert (await c.submit()).result == 0  # type: ignore[attr-defined]
    assert len(ismg.ledger) == 3 and ismg.stats["restarts"] == 1

    ismg.drop_after_pdus(4)  # CONNECT and one SUBMIT so far: two more are answered
    await c.send(c.submit_pdu(), c.submit_pdu(), c.submit_pdu())
    got = await c.wait_closed()
    assert [type(p) for p in got] == [SubmitResp, SubmitResp]
    await c.close()


async def test_garbage_from_the_client_closes_the_connection(ismg: FakeISMG) -> None:
    c = await logged_in(ismg)
    await c.send(b"\x00\x00\x00\x05junkjunkjunk")
    await c.wait_closed()
    assert ismg.stats["framing_errors"] == 1


# --- config ---------------------------------------------------------------------------------------


def test_cmpp_config_checks() -> None:
    with pytest.raises(ConfigError) as err:
        Config(protocol="cmpp", accounts=[sp_account().__class__("9000011", "x")])
    assert err.value.field == "accounts[0].system_id"
    long_secret = Config(protocol="cmpp",
                         accounts=[sp_account().__class__(SP, "a-long-shared-secret")])
    assert long_secret.accounts[0].password == "a-long-shared-secret"
    with pytest.raises(ConfigError) as err:
        config_from_dict({"protocol": "cmpp", "errors": {"ESME_RTHROTTLED": 0.1}})
    assert err.value.field == "errors.ESME_RTHROTTLED"
    with pytest.raises(ConfigError) as err:
        config_from_dict({"protocol": "cmpp", "cmpp": {"gateway_code": 1 << 22}})
    assert err.value.field == "cmpp.gateway_code"
    with pytest.raises(ConfigError) as err:
        FakeISMG(Config())
    assert err.value.field == "protocol"
