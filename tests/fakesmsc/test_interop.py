"""Fake SMSC against a peer no one here wrote: aiosmpplib's ESME binds as a transceiver, sends
messages asking for receipts, correlates the receipts to what it sent, takes MO traffic, and
unbinds cleanly. (aiosmpplib is a test-only peer; smsengine never imports it.)"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmpplib import ESME, NPI, TON, PhoneNumber
from aiosmpplib import DeliverSm as PeerDeliverSm
from aiosmpplib import SubmitSm as PeerSubmitSm
from aiosmpplib import SubmitSmResp as PeerSubmitSmResp
from aiosmpplib.hook import AbstractHook

from smsengine.fakesmsc import Account, Config, ReceiptConfig
from tests._support.smpp_client import eventually, running


class Recorder(AbstractHook):
    """aiosmpplib's hook: everything its ESME receives, as it parsed it."""

    def __init__(self) -> None:
        self.resps: list[PeerSubmitSmResp] = []
        self.receipts: list[PeerDeliverSm] = []
        self.mo: list[PeerDeliverSm] = []
        self.errors: list[Exception] = []

    async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        return None

    async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        if type(smpp_message) is PeerSubmitSmResp:
            self.resps.append(smpp_message)
        elif isinstance(smpp_message, PeerDeliverSm):
            (self.receipts if smpp_message.is_receipt() else self.mo).append(smpp_message)

    async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
        self.errors.append(error)


async def test_aiosmpplib_binds_sends_and_gets_receipts() -> None:
    cfg = Config(accounts=[Account("peer", "secret", bind_modes=["transceiver"])],
                 receipts=ReceiptConfig(statuses={"DELIVRD": 1.0}))
    async with running(cfg) as smsc:
        hook = Recorder()
        esme = ESME("127.0.0.1", smsc.port, "peer", "secret", hook=hook,
                    log_level=logging.WARNING, enquire_link_interval=30.0)
        runner = asyncio.ensure_future(esme.start())
        try:
            await eventually(lambda: len(smsc.binds) == 1)
            assert (smsc.binds[0].account, smsc.binds[0].mode) == ("peer", "transceiver")
            for n in range(3):
                await esme.broker.enqueue(PeerSubmitSm(
                    short_message=f"Your code is 40211{n}",
                    source=PhoneNumber("SHOP", TON.ALPHANUMERIC, NPI.UNKNOWN),
                    destination=PhoneNumber(f"44770090012{n}", TON.INTERNATIONAL, NPI.ISDN),
                    registered_delivery=1,
                    log_id=f"order-{n}",
                ))
            await eventually(lambda: len(hook.receipts) == 3, timeout=5)
            assert hook.errors == []
            # What the SMSC accepted is what aiosmpplib sent.
            entries = smsc.ledger.entries(account="peer")
            assert sorted(e.destination_addr for e in entries) == [
                "447700900120", "447700900121", "447700900122"]
            assert {e.registered_delivery for e in entries} == {1}
            assert sorted(r.message_id for r in hook.resps) == sorted(
                e.message_id for e in entries)
            # aiosmpplib parsed every receipt and tied it to its submit_sm.
            by_log_id = {r.log_id: r.parse_receipt() for r in hook.receipts}
            assert sorted(by_log_id) == ["order-0", "order-1", "order-2"]
            mid_of = {e.destination_addr[-1]: e.message_id for e in entries}
            for log_id, receipt in by_log_id.items():
                assert receipt["stat"] == "DELIVRD"
                assert receipt["id"] == mid_of[log_id[-1]]
                assert receipt["dlvrd"] == 1
            # ... and answered them.
            await eventually(lambda: smsc.stats["receipts_answered"] == 3)

            # MO to aiosmpplib: it answers each deliver_sm.
            result = await smsc.inject_mo("447700900123", "SHOP", "STOP")
            assert result.ok
            await eventually(lambda: len(hook.mo) == 1)
            assert hook.mo[0].short_message == "STOP"
            assert hook.mo[0].source.number == "447700900123"

            # aiosmpplib unbinds; the SMSC answers and lets it go.
            await asyncio.wait_for(esme.stop(), 5)
            await asyncio.wait_for(runner, 5)
            await eventually(lambda: smsc.binds == [])
        finally:
            runner.cancel()


async def test_aiosmpplib_long_message_gets_a_receipt_per_segment() -> None:
    """aiosmpplib splits a long text into UDH segments (esm_class 0x40); the SMSC ledgers each
    with its (ref, total, seqnum) and receipts each; aiosmpplib folds the segment receipts into
    one for its message."""
    cfg = Config(accounts=[Account("peer", "secret")])
    text = "".join(f"{n:03d} " for n in range(100))  # 400 GSM characters: 3 segments
    async with running(cfg) as smsc:
        hook = Recorder()
        esme = ESME("127.0.0.1", smsc.port, "peer", "secret", hook=hook,
                    log_level=logging.WARNING)
        runner = asyncio.ensure_future(esme.start())
        try:
            await esme.broker.enqueue(PeerSubmitSm(
                short_message=text, esm_class=0x40, auto_message_payload=False,
                source=PhoneNumber("SHOP", TON.ALPHANUMERIC, NPI.UNKNOWN),
                destination=PhoneNumber("447700900123", TON.INTERNATIONAL, NPI.ISDN),
                registered_delivery=1, log_id="long-1",
            ))
            await eventually(lambda: smsc.stats["receipts_answered"] == 3, timeout=5)
            segments = [e.segment for e in smsc.ledger]
            assert len(segments) == 3 and None not in segments
            assert [s[1:] for s in segments if s] == [(3, 1), (3, 2), (3, 3)]
            assert len({s[0] for s in segments if s}) == 1
            await eventually(lambda: len(hook.receipts) == 1)
            assert hook.receipts[0].log_id == "long-1"
            assert hook.receipts[0].parse_receipt()["stat"] == "DELIVRD"
            assert hook.errors == []
            await asyncio.wait_for(esme.stop(), 5)
        finally:
            runner.cancel()
