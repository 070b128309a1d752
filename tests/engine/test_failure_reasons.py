"""Failure reasons (issue 16, item 6): a message that ends UNDELIVERABLE, EXPIRED or REJECTED
carries what its receipt said (the stat, the text's err:, network_error_code) as a typed
DeliveryFailure, on the handle and in its status; CMPP's Stat likewise."""

from __future__ import annotations

import datetime

import pytest

from smsengine.engine import MessageState
from smsengine.engine.adapter import Receipt
from smsengine.engine.config import engine_config_from_dict
from smsengine.engine.model import DeliveryFailure
from smsengine.engine.smpp_channel import SmppAdapter
from smsengine.smpp import DeliverSm, DeliveryReceipt, Tag, Tlv
from smsengine.smpp import MessageState as SmppState
from smsengine.text import ReferenceCounter
from tests.engine.test_e2e import finished, msg, running


@pytest.mark.parametrize(("stat", "state"), [("UNDELIV", MessageState.UNDELIVERABLE),
                                             ("EXPIRED", MessageState.EXPIRED),
                                             ("REJECTD", MessageState.REJECTED)])
async def test_a_failed_receipts_stat_and_err_reach_the_message(stat: str,
                                                                 state: MessageState) -> None:
    receipts = {"statuses": {stat: 1.0}, "err_codes": {stat: "0x0A1"}}
    async with running(smsc_fields={"receipts": receipts}) as (_, engine):
        handles = await engine.send_many([msg(1, reference="r1"),
                                          msg(2, text="x" * 300, reference="r2")])
        assert await finished(handles) == [state, state]
        for handle in handles:
            assert handle.reason == DeliveryFailure(stat=stat, err="0x0A1")
            assert handle.error is None  # (the carrier took it: no refusal)
            status = engine.status_by_reference(handle.message.reference or "")
            assert status is not None and status.reason == handle.reason


async def test_a_delivered_message_has_no_reason() -> None:
    async with running() as (_, engine):
        handle = await engine.send(msg(1))
        assert await handle.wait(5) is MessageState.DELIVERED
        assert handle.reason is None


def _adapter() -> SmppAdapter:
    config = engine_config_from_dict({"channels": [{
        "name": "a", "host": "127.0.0.1", "port": 1, "system_id": "a", "password": "p"}]})
    return SmppAdapter(config.channels[0], ReferenceCounter())


def _receipt(state: SmppState, stat: str, err: str, *tlvs: Tlv) -> DeliverSm:
    at = datetime.datetime(2026, 12, 7, 12, 0)
    text = DeliveryReceipt.build(id="5f3a", stat=stat, err=err, submitted_at=at, done_at=at)
    return DeliverSm(esm_class=0x04, short_message=text.encode(), tlvs=(
        Tlv(Tag.receipted_message_id, "5f3a"), Tlv(Tag.message_state, int(state)), *tlvs))


def test_network_error_code_is_read_with_the_text() -> None:
    pdu = _receipt(SmppState.UNDELIVERABLE, "UNDELIV", "034",
                   Tlv(Tag.network_error_code, b"\x03\x00\x22"))
    assert _adapter().read(pdu) == Receipt("5f3a", MessageState.UNDELIVERABLE, DeliveryFailure(
        stat="UNDELIV", err="034", network_type=3, network_code=0x22))


def test_a_failure_without_text_is_named_by_its_state() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=b"", tlvs=(
        Tlv(Tag.receipted_message_id, "77"), Tlv(Tag.message_state, int(SmppState.EXPIRED))))
    assert _adapter().read(pdu) == Receipt("77", MessageState.EXPIRED,
                                           DeliveryFailure(stat="EXPIRED"))


def test_a_delivered_receipt_reads_without_a_reason() -> None:
    pdu = _receipt(SmppState.DELIVERED, "DELIVRD", "000")
    assert _adapter().read(pdu) == Receipt("5f3a", MessageState.DELIVERED, None)


async def test_a_cmpp_reports_stat_is_the_reason() -> None:
    from tests.engine.test_cmpp import number as cmpp_number
    from tests.engine.test_cmpp import running as cmpp_running

    async with cmpp_running({"receipts": {"statuses": {"UNDELIV": 1.0}}}) as (_, engine):
        handle = await engine.send(destination=cmpp_number(1), text="Code 1")
        assert await handle.wait(5) is MessageState.UNDELIVERABLE
        assert handle.reason == DeliveryFailure(stat="UNDELIV")
