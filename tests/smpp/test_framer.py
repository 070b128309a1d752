"""The streaming framer: any chunking, bounds on command_length, events for bad PDUs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.smpp import (
    CommandId,
    CommandStatus,
    DeliverSm,
    EnquireLink,
    Framer,
    FramingError,
    GenericNack,
    InvalidPdu,
    ReceiptTlvs,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
)
from tests._support.strategies import any_pdu


def header(length: int, command_id: int, status: int = 0, seq: int = 1) -> bytes:
    return struct.pack(">IIII", length, command_id, status, seq)


SUBMIT = SubmitSm(sequence_number=1, destination_addr="123", short_message=b"hello")
RECEIPT = DeliverSm(
    sequence_number=2,
    esm_class=4,
    short_message=b"id:1 stat:DELIVRD",
    tlvs=(Tlv(Tag.receipted_message_id, "1"),),
)
LINK = EnquireLink(sequence_number=3)
STREAM = SUBMIT.encode() + RECEIPT.encode() + LINK.encode()


def test_byte_at_a_time() -> None:
    framer = Framer()
    got = []
    for i in range(len(STREAM)):
        got += framer.feed(STREAM[i : i + 1])
        # Nothing beyond the current incomplete PDU is ever held.
        assert framer.buffered < 200
    assert got == [SUBMIT, RECEIPT, LINK]
    assert framer.buffered == 0


def test_many_pdus_in_one_read() -> None:
    framer = Framer()
    assert framer.feed(STREAM * 50) == [SUBMIT, RECEIPT, LINK] * 50
    assert framer.buffered == 0


def test_accepts_bytearray_and_memoryview() -> None:
    framer = Framer()
    half = len(STREAM) // 2
    got = framer.feed(bytearray(STREAM[:half])) + framer.feed(memoryview(STREAM)[half:])
    assert got == [SUBMIT, RECEIPT, LINK]


@pytest.mark.parametrize("length", [0, 1, 15])
def test_command_length_below_16_is_fatal(length: int) -> None:
    framer = Framer()
    with pytest.raises(FramingError, match=f"command_length {length} is below the minimum"):
        framer.feed(header(length, CommandId.enquire_link))
    # The stream stays failed: the caller must close the connection.
    with pytest.raises(FramingError, match="already failed"):
        framer.feed(LINK.encode())


def test_command_length_above_maximum_is_fatal_from_four_octets() -> None:
    framer = Framer(max_command_length=1000)
    # Only the length field has arrived: the bad length is reported without waiting.
    with pytest.raises(FramingError, match="1001 is above the maximum of 1000") as info:
        framer.feed(struct.pack(">I", 1001))
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert framer.buffered == 0


def test_max_command_length_is_configurable_and_checked() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Framer(max_command_length=10)
    big = SubmitSm(tlvs=(Tlv(Tag.message_payload, b"x" * 5000),)).encode()
    assert Framer().feed(big) != []
    with pytest.raises(FramingError):
        Framer(max_command_length=4096).feed(big)


def test_unknown_command_id_gets_generic_nack() -> None:
    framer = Framer()
    (event,) = framer.feed(header(16, 0x00000099, seq=42))
    assert isinstance(event, InvalidPdu)
    assert event.status == CommandStatus.ESME_RINVCMDID
    assert event.response == GenericNack(
        sequence_number=42, command_status=CommandStatus.ESME_RINVCMDID
    )
    # The stream goes on after it.
    assert framer.feed(LINK.encode()) == [LINK]


def test_unknown_response_command_id_also_gets_generic_nack() -> None:
    (event,) = Framer().feed(header(16, 0x80000099, seq=5))
    assert isinstance(event, InvalidPdu)
    assert event.response == GenericNack(sequence_number=5, command_status=3)


def test_truncated_request_body_gets_its_own_resp_with_invalid_length() -> None:
    body = b"\0\x01\x01123"  # service_type, ton, npi, then source_addr without its NUL
    (event,) = Framer().feed(header(16 + len(body), CommandId.submit_sm, seq=7) + body)
    assert isinstance(event, InvalidPdu)
    assert event.response == SubmitSmResp(
        sequence_number=7, command_status=CommandStatus.ESME_RINVCMDLEN
    )
    assert event.error.field == "source_addr"
    assert "source_addr" in str(event.error)


def test_sm_length_past_end_is_invalid_message_length() -> None:
    good = SubmitSm(sequence_number=8, short_message=b"hello").encode()
    cut = good[:-2]
    cut = struct.pack(">I", len(cut)) + cut[4:]
    (event,) = Framer().feed(cut)
    assert isinstance(event, InvalidPdu)
    assert event.status == CommandStatus.ESME_RINVMSGLEN
    assert event.response == SubmitSmResp(sequence_number=8, command_status=1)
    assert "sm_length 5" in str(event.error)


def test_bad_pdu_in_the_middle_does_not_disturb_neighbours() -> None:
    bad = header(17, CommandId.enquire_link, seq=99) + b"\x01"  # one stray TLV octet
    got = Framer().feed(SUBMIT.encode() + bad + LINK.encode())
    assert got[0] == SUBMIT and got[2] == LINK
    assert isinstance(got[1], InvalidPdu)
    assert got[1].status == CommandStatus.ESME_RINVOPTPARSTREAM
    assert got[1].sequence_number == 99


def test_malformed_response_is_reported_without_a_reply() -> None:
    # A submit_sm_resp whose message_id has no NUL: report it, but never answer a response.
    body = b"ABC"
    (event,) = Framer().feed(header(16 + len(body), CommandId.submit_sm_resp, seq=4) + body)
    assert isinstance(event, InvalidPdu)
    assert event.response is None
    assert event.command_id == CommandId.submit_sm_resp
    assert event.sequence_number == 4


def test_outbind_with_bad_body_gets_generic_nack() -> None:
    # outbind and alert_notification have no response PDU of their own.
    body = b"sys"  # system_id without NUL
    (event,) = Framer().feed(header(16 + len(body), CommandId.outbind, seq=6) + body)
    assert isinstance(event, InvalidPdu)
    assert event.response == GenericNack(sequence_number=6, command_status=2)


PLAIN_RECEIPT = DeliverSm(
    esm_class=4,
    short_message=b"id:7F stat:DELIVRD",
    tlvs=(Tlv(Tag.receipted_message_id, "7F"), Tlv(Tag.message_state, 2)),
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(any_pdu() | st.just(PLAIN_RECEIPT) | st.just(RECEIPT), max_size=8),
    st.lists(st.integers(1, 300), min_size=1, max_size=20),
)
def test_feed_receipts_is_feed_with_plain_receipts_read_short(pdus: list[object],
                                                               cuts: list[int]) -> None:
    stream = b"".join(p.encode(i + 1) for i, p in enumerate(pdus))  # type: ignore[attr-defined]
    whole, short = Framer(), Framer()
    expected: list[object] = []
    got: list[object] = []
    pos = i = 0
    while pos < len(stream):
        chunk = stream[pos : pos + cuts[i % len(cuts)]]
        pos += len(chunk)
        i += 1
        expected += whole.feed(chunk)
        got += short.feed_receipts(chunk)
    assert len(got) == len(expected) == len(pdus)
    for g, e in zip(got, expected, strict=True):
        if type(g) is ReceiptTlvs:
            assert isinstance(e, DeliverSm) and e.is_receipt and g.pdu() == e
            assert (g.message_id, g.message_state) == (
                e.tlv(Tag.receipted_message_id), e.tlv(Tag.message_state))
        else:
            assert g == e
    read_short = [g for g in got if type(g) is ReceiptTlvs]
    assert len(read_short) >= sum(1 for p in pdus if p is PLAIN_RECEIPT)
