"""The framer's only fatal error: a Message Length out of bounds.

The PDUs a feed completed before a bad Message Length are handed back in ``.events``, in
order, whatever the chunking; the error names what was wrong; the stream stays failed.
"""

from __future__ import annotations

import struct

import pytest

from smsengine.sgip import (
    DEFAULT_MAX_PDU_LENGTH,
    Deliver,
    Framer,
    FramingError,
    InvalidPdu,
    Result,
    SequenceNumber,
    SubmitResp,
    Unbind,
    encode,
)

SEQ = SequenceNumber(101001, 102030410, 8)
RESP = SubmitResp(sequence_number=SequenceNumber(3010012345, 102030405, 7), result=0)
DELIVER = Deliver(sequence_number=SEQ, user_number="8613012345678", sp_number="1065",
                  message_content=b"TD")  # fmt: skip
UNBIND = Unbind(sequence_number=SequenceNumber(101001, 102030410, 9))
GARBAGE = b"\xde\xad\xbe\xef" * 8  # Message Length 0xdeadbeef: above any maximum
SHORT = struct.pack(">I", 19)  # Message Length 19, below the header, known from four octets


def good() -> bytes:
    return b"".join(encode(pdu) for pdu in (RESP, DELIVER, UNBIND))


@pytest.mark.parametrize(
    ("garbage", "words"),
    [(GARBAGE, "3735928559 is above the maximum of 4096"),
     (SHORT, "19 is below the 20-octet header")],
    ids=["too-long", "too-short"],
)  # fmt: skip
def test_pdus_before_garbage_come_with_the_error(garbage: bytes, words: str) -> None:
    framer = Framer()
    with pytest.raises(FramingError, match=f"Message Length {words}") as info:
        framer.feed(good() + garbage)
    assert info.value.events == [RESP, DELIVER, UNBIND]
    assert info.value.status == Result.LENGTH_ERROR
    assert info.value.retriable is False
    assert framer.buffered == 0


def test_garbage_first_hands_back_nothing_and_the_stream_stays_failed() -> None:
    framer = Framer()
    with pytest.raises(FramingError) as info:
        framer.feed(GARBAGE + good())
    assert info.value.events == []
    with pytest.raises(FramingError, match="already failed") as again:
        framer.feed(good())
    assert again.value.events == []


def test_a_bad_length_is_known_from_four_octets() -> None:
    framer = Framer()
    assert framer.feed(GARBAGE[:3]) == []
    with pytest.raises(FramingError):
        framer.feed(GARBAGE[3:4])


def test_the_maximum_is_configurable_and_inclusive() -> None:
    wire = encode(DELIVER)
    assert Framer(max_pdu_length=len(wire)).feed(wire) == [DELIVER]
    with pytest.raises(FramingError, match=f"above the maximum of {len(wire) - 1}"):
        Framer(max_pdu_length=len(wire) - 1).feed(wire)
    with pytest.raises(ValueError, match="at least 20"):
        Framer(max_pdu_length=19)
    assert Framer().max_pdu_length == DEFAULT_MAX_PDU_LENGTH == 4096


def test_a_pdu_completed_from_the_buffer_is_handed_back() -> None:
    framer = Framer()
    wire = encode(RESP)
    assert framer.feed(wire[:10]) == []
    with pytest.raises(FramingError) as info:
        framer.feed(wire[10:] + encode(UNBIND) + GARBAGE)
    assert info.value.events == [RESP, UNBIND]
    assert framer.buffered == 0


def test_an_invalid_pdu_event_before_garbage_is_handed_back() -> None:
    # QueryRoute (0x09) is GNS-only: skipped by its length and reported.
    unknown = struct.pack(">IIIII", 24, 0x00000009, 1, 2, 42) + b"abcd"
    with pytest.raises(FramingError) as info:
        Framer().feed(unknown + encode(RESP) + GARBAGE)
    invalid, resp = info.value.events
    assert isinstance(invalid, InvalidPdu)
    assert invalid.sequence_number == SequenceNumber(1, 2, 42)
    assert invalid.status == Result.MESSAGE_ID_ERROR and invalid.response is None
    assert resp == RESP


@pytest.mark.parametrize("chunk", [1, 3, 19, 20, 21, 1000])
def test_every_pdu_is_seen_once_whatever_the_chunking(chunk: int) -> None:
    framer = Framer()
    stream = good() * 3 + GARBAGE
    seen: list[object] = []
    with pytest.raises(FramingError) as info:
        for i in range(0, len(stream), chunk):
            seen += framer.feed(stream[i : i + chunk])
    seen += info.value.events
    assert seen == [RESP, DELIVER, UNBIND] * 3


def test_a_framing_error_raised_by_hand_carries_no_events() -> None:
    assert FramingError("x").events == []
