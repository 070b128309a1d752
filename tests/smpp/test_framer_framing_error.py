"""Issue 16, item 8: the PDUs a feed completed before a bad command_length are handed back.

Good PDUs followed by garbage in ONE read: the FramingError carries them in ``.events``, in
order, whatever the chunking, for ``feed`` and ``feed_receipts``.
"""

from __future__ import annotations

import struct

import pytest

from smsengine.smpp import (
    CommandStatus,
    DeliverSm,
    EnquireLink,
    Framer,
    FramingError,
    InvalidPdu,
    ReceiptTlvs,
    SubmitSmResp,
    Tag,
    Tlv,
)

RESP = SubmitSmResp(sequence_number=7, message_id="abc")
RECEIPT = DeliverSm(
    sequence_number=8,
    esm_class=4,
    short_message=b"id:abc stat:DELIVRD",
    tlvs=(Tlv(Tag.receipted_message_id, "abc"), Tlv(Tag.message_state, 2)),
)
LINK = EnquireLink(sequence_number=9)
GOOD = RESP.encode() + RECEIPT.encode() + LINK.encode()
GARBAGE = b"\xde\xad\xbe\xef" * 8  # command_length 0xdeadbeef: above any maximum
SHORT = struct.pack(">I", 5)  # command_length 5, known from four octets on


@pytest.mark.parametrize("garbage", [GARBAGE, SHORT], ids=["too-long", "too-short"])
def test_pdus_before_garbage_come_with_the_error(garbage: bytes) -> None:
    framer = Framer()
    with pytest.raises(FramingError) as info:
        framer.feed(GOOD + garbage)
    assert info.value.events == [RESP, RECEIPT, LINK]
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.retriable is False
    assert framer.buffered == 0


def test_the_issue_reproduction() -> None:
    with pytest.raises(FramingError) as info:
        Framer().feed(RESP.encode() + b"\xde\xad\xbe\xef" * 8)
    assert info.value.events == [RESP]


def test_garbage_first_hands_back_nothing_and_the_stream_stays_failed() -> None:
    framer = Framer()
    with pytest.raises(FramingError) as info:
        framer.feed(GARBAGE + GOOD)
    assert info.value.events == []
    with pytest.raises(FramingError, match="already failed") as again:
        framer.feed(GOOD)
    assert again.value.events == []  # nothing is decoded once the stream has failed


def test_a_pdu_completed_from_the_buffer_is_handed_back() -> None:
    """The first PDU's head arrived in an earlier read; its tail, the next PDU and garbage
    arrive together (the buffered path of the framer)."""
    framer = Framer()
    wire = RESP.encode()
    assert framer.feed(wire[:10]) == []
    with pytest.raises(FramingError) as info:
        framer.feed(wire[10:] + LINK.encode() + GARBAGE)
    assert info.value.events == [RESP, LINK]
    assert framer.buffered == 0


def test_an_invalid_pdu_event_before_garbage_is_handed_back() -> None:
    bad = struct.pack(">IIII", 16, 0x00000099, 0, 42)  # unknown command_id: generic_nack
    with pytest.raises(FramingError) as info:
        Framer().feed(bad + RESP.encode() + GARBAGE)
    invalid, resp = info.value.events
    assert isinstance(invalid, InvalidPdu) and invalid.status == CommandStatus.ESME_RINVCMDID
    assert invalid.response is not None and invalid.response.sequence_number == 42
    assert resp == RESP


def test_feed_receipts_hands_back_the_receipt() -> None:
    with pytest.raises(FramingError) as info:
        Framer().feed_receipts(RECEIPT.encode() + GARBAGE)
    (receipt,) = info.value.events
    assert isinstance(receipt, ReceiptTlvs)
    assert (receipt.sequence_number, receipt.message_id) == (8, "abc")


@pytest.mark.parametrize("chunk", [1, 3, 16, 17, 1000])
def test_every_pdu_is_seen_once_whatever_the_chunking(chunk: int) -> None:
    """What the feeds returned plus what the error carries is every good PDU, once, in order."""
    framer = Framer()
    stream = GOOD * 3 + GARBAGE
    seen: list[object] = []
    with pytest.raises(FramingError) as info:
        for i in range(0, len(stream), chunk):
            seen += framer.feed(stream[i : i + chunk])
    seen += info.value.events
    assert seen == [RESP, RECEIPT, LINK] * 3


def test_a_framing_error_raised_by_hand_carries_no_events() -> None:
    """Code that builds its own FramingError (a subclass, a fake peer) need not pass any."""
    assert FramingError("x").events == []
