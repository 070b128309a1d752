"""Logging (issue 16, item 5): through the stdlib under smsengine.*; binds up and down, refused
credentials with their status and back-off, alarms, reroutes, store errors, expired receipts;
nothing per message at INFO; never a secret."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from smsengine.engine import Engine, MemoryCorrelationStore, MessageState
from smsengine.fakesmsc import FakeSMSC
from tests._support.smpp_client import eventually
from tests.engine.test_e2e import channel, engine_config, finished, msg, running, smsc_config

SECRET = "s3cr3t!"


async def test_refused_credentials_are_logged_with_status_and_back_off_never_the_password(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="smsengine")
    async with FakeSMSC(smsc_config()) as smsc:
        wrong = channel(smsc.port, account={"system_id": "shop", "password": SECRET})
        async with Engine(engine_config(smsc.port, channels=[wrong])):
            await eventually(lambda: any(r.levelno == logging.ERROR for r in caplog.records), 5)
            await eventually(lambda: "trying again in 300.0 s" in caplog.text, 5)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("ESME_RINVPASWD" in e and "a#0" in e for e in errors), errors
    assert SECRET not in caplog.text


async def test_binds_up_are_logged_and_nothing_per_message_at_info(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="smsengine")
    async with running() as (_, engine):
        await eventually(lambda: "bind a#0 up" in caplog.text, 5)
        before = len(caplog.records)
        handles = await engine.send_many(msg(i) for i in range(50))
        assert set(await finished(handles)) == {MessageState.DELIVERED}
        assert caplog.records[before:] == []


async def test_reroute_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="smsengine")
    config = engine_config(9, channels=[channel(9, name="a"), channel(9, name="b")],
                           routes=[{"channels": ["a", "b"]}])
    async with Engine(config) as engine:
        engine.submit(msg(1))
        engine._reroute(engine.channels["a"])  # what a refused login (an alarm) on a does
    assert "channel a refuses us: 1 queued messages moved" in caplog.text


class _FailingStore(MemoryCorrelationStore):
    failures = 0

    def flush(self) -> None:
        if self.failures < 2:
            self.failures += 1
            raise sqlite3.OperationalError("disk I/O error")


async def test_a_store_error_is_logged_and_the_engine_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="smsengine")
    store = _FailingStore()
    async with FakeSMSC(smsc_config()) as smsc, Engine(engine_config(smsc.port),
                                                       store=store) as engine:
        await engine.wait_ready(5)
        await eventually(lambda: store.failures == 2, 5)
        handle = await engine.send(msg(1))
        assert await handle.wait(5) is MessageState.DELIVERED
    assert caplog.text.count("store error in housekeeping: OperationalError: disk I/O error") == 2


async def test_receipts_that_never_come_are_logged_as_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="smsengine")
    never = {"receipts": {"delay": {"kind": "fixed", "value": 600}}}
    async with running(smsc_fields=never, receipt_ttl=0.5) as (_, engine):
        handles = await engine.send_many(msg(i) for i in range(3))
        assert set(await finished(handles, 10)) == {MessageState.UNKNOWN}
    assert "channel a: 3 parts had no receipt within receipt_ttl" in caplog.text
