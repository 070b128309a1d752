"""The fake SGIP SMG against the SP side's own asyncio pieces (SgipBind, SgipListener): login
(Login Type, credentials, a second Bind), Submit_Resp on the Submit's triple, the ledger,
Reports over the connection back (ReportFlag honoured), throttling and injected Results, MO,
Unbind both ways, the config and the CLI's dispatch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from smsengine.bind.sgip import SgipBind, SgipListener
from smsengine.fakesmsc import ConfigError, config_from_dict
from smsengine.fakesmsc.main import _server_class
from smsengine.fakesmsc.smg import FakeSMG
from smsengine.link import AuthenticationError
from smsengine.sgip import (
    Deliver,
    Report,
    ReportFlag,
    Result,
    SgipReceiverConfig,
    SgipSessionConfig,
    Submit,
)
from tests._support.smpp_client import eventually

SP = {"system_id": "sp_user", "password": "sp_pass"}


def local() -> time.struct_time:
    return time.localtime()


def sp_config(password: str = "sp_pass") -> SgipSessionConfig:
    return SgipSessionConfig("sp_user", password, node_id=3010012345, clock=local)


def submit(n: int = 1, **fields: Any) -> Submit:
    return Submit(sp_number="10655001", user_numbers=(f"86130000{n:05d}",),
                  message_content=b"Code 1", **fields)


@asynccontextmanager
async def smg_and_listener(**fields: Any) -> AsyncIterator[tuple[FakeSMG, list[Any]]]:
    received: list[Any] = []
    listener = SgipListener("127.0.0.1", 0, SgipReceiverConfig("sp_user", "sp_pass"),
                            on_message=received.append)
    await listener.serve()
    fields.setdefault("accounts", [SP])
    config = config_from_dict({"protocol": "sgip", "sgip": {"sp_port": listener.port},
                               **fields})
    try:
        async with FakeSMG(config) as smg:
            yield smg, received
    finally:
        await listener.stop()


async def test_bind_submit_report_and_ledger() -> None:
    async with smg_and_listener() as (smg, received):
        async with await SgipBind.open("127.0.0.1", smg.port, sp_config()) as bind:
            pdu = submit()
            resp = await bind.send(pdu)
            assert resp.result == 0
            await eventually(lambda: len(received) == 1, 5)
        report = received[0]
        assert type(report) is Report
        assert str(report.submit_sequence_number) == resp.message_id
        assert report.user_number == "8613000000001" and report.state == 0
        assert report.sequence_number.node_id == smg.node_id
        (entry,) = smg.ledger.entries()
        assert entry.message_id == resp.message_id and entry.command == "SGIP_SUBMIT"
        assert smg.stats["back_connections"] == 1
        assert smg.stats["receipts_answered"] == 1


async def test_report_flag_never_and_failures_only() -> None:
    async with smg_and_listener() as (smg, received):
        async with await SgipBind.open("127.0.0.1", smg.port, sp_config()) as bind:
            await bind.send(submit(1, report_flag=ReportFlag.NEVER))
            await bind.send(submit(2, report_flag=ReportFlag.ON_FAILURE))
            await asyncio.sleep(0.2)
        assert received == []
        assert len(smg.ledger.entries()) == 2


async def test_wrong_password_and_wrong_login_type_are_refused() -> None:
    async with smg_and_listener() as (smg, _):
        with pytest.raises(AuthenticationError) as info:
            await SgipBind.open("127.0.0.1", smg.port, sp_config("nope"))
        assert info.value.status == Result.ILLEGAL_LOGIN
        assert smg.stats["binds_refused"] == 1


async def test_throttling_and_injected_results() -> None:
    async with smg_and_listener(errors={"NODE_BUSY": 1.0}) as (smg, _):
        async with await SgipBind.open("127.0.0.1", smg.port, sp_config()) as bind:
            resp = await bind.send(submit())
            assert resp.result == Result.NODE_BUSY
        assert smg.stats["errors_injected"] == 1
    async with smg_and_listener(accounts=[{**SP, "tps": 1}]) as (smg, _):
        async with await SgipBind.open("127.0.0.1", smg.port, sp_config()) as bind:
            results = [(await bind.send(submit(i))).result for i in range(5)]
        assert Result.FLOW_CONTROL in results
        assert smg.stats["throttled"] == results.count(Result.FLOW_CONTROL)


async def test_mo_goes_over_the_connection_back() -> None:
    async with smg_and_listener() as (smg, received):
        async with await SgipBind.open("127.0.0.1", smg.port, sp_config()):
            result = await smg.inject_mo("8613000000009", "1065500188", "退订", data_coding=8)
        assert result.ok
        (mo,) = received
        assert type(mo) is Deliver
        assert mo.message_content.decode("utf-16-be") == "退订"
        assert (mo.user_number, mo.sp_number, mo.message_coding) == (
            "8613000000009", "1065500188", 8)


async def test_unbind_all_ends_the_sps_connection() -> None:
    async with smg_and_listener() as (smg, _):
        bind = await SgipBind.open("127.0.0.1", smg.port, sp_config())
        await smg.unbind_all()
        await asyncio.wait_for(bind.closed, 5)
        assert bind.session.logged_out


def test_config_checks_and_cli_dispatch() -> None:
    with pytest.raises(ConfigError):
        config_from_dict({"protocol": "sgip", "sgip": {"sp_port": 70000}})
    with pytest.raises(ConfigError):
        config_from_dict({"protocol": "sgip", "errors": {"NO_SUCH_RESULT": 1.0}})
    assert _server_class("sgip") is FakeSMG
